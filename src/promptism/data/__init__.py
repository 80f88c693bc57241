"""Readers for image–caption data: WebDataset shards and folders of pictures with captions."""

from .pairs import Pairs, load_pairs

__all__ = ["Pairs", "load_pairs"]
