"""The unCLIP decoder: CLIP image embedding (+ caption) -> 32 px picture."""

from .model import PLAIN_SHARE, Decoder, DecoderConfig, random_keep_masks, widen_for_inpainting

__all__ = ["PLAIN_SHARE", "Decoder", "DecoderConfig", "random_keep_masks", "widen_for_inpainting"]
