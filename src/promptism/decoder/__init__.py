"""The unCLIP decoder: CLIP image embedding (+ caption) -> 32 px picture."""

from .model import Decoder, DecoderConfig

__all__ = ["Decoder", "DecoderConfig"]
