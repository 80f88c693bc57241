"""The unCLIP diffusion prior: caption -> CLIP image embedding."""

from .model import Prior, PriorConfig

__all__ = ["Prior", "PriorConfig"]
