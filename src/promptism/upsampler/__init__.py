"""unCLIP upsamplers: 32 -> 64 and 64 -> 128 px."""

from .model import Upsampler, UpsamplerConfig, gaussian_blur

__all__ = ["Upsampler", "UpsamplerConfig", "gaussian_blur"]
