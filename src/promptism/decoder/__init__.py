"""The unCLIP decoder: CLIP image embedding (+ caption) -> 32 px picture."""

from .model import Decoder, DecoderConfig, random_keep_masks, widen_for_inpainting

__all__ = ["Decoder", "DecoderConfig", "random_keep_masks", "widen_for_inpainting"]
