"""Layers shared by every model, written once."""

from .layers import MLP, Attention, TransformerBlock

__all__ = ["MLP", "Attention", "TransformerBlock"]
