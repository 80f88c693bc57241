"""unCLIP upsamplers: 32 -> 64 and 64 -> 128 px."""

from .model import Upsampler, UpsamplerConfig, back_project, gaussian_blur

__all__ = ["Upsampler", "UpsamplerConfig", "back_project", "gaussian_blur"]
