"""unCLIP's upsamplers (Ramesh et al. 2022, §2.1 and Appendix C): diffusion UNets that take a
picture from one resolution to twice it, conditioned on the low-resolution picture.

The low-resolution picture is blurred and noised during training (the paper's "Gaussian
blur" conditioning augmentation; Ho et al. 2022's noise conditioning augmentation), so the
upsampler learns to repair what the stage below gets wrong; the noise level is given to the
network. No attention, and few sampling steps, as the paper's upsamplers.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from ..nn.unet import UNet, UNetConfig, timestep_embedding


@dataclass(frozen=True)
class UpsamplerConfig:
    low_size: int = 32
    image_size: int = 64
    aug_dim: int = 32  # width of the augmentation-level embedding
    unet: UNetConfig = field(default_factory=lambda: UNetConfig(in_channels=6, channels=(32, 64, 128),
                                                               attention=(False, False, False), cond_dim=32,
                                                               unshuffle=2))

    def __post_init__(self):
        if isinstance(self.unet, dict):
            object.__setattr__(self, "unet", UNetConfig(**self.unet))
        if self.image_size != 2 * self.low_size:
            raise ValueError(f"an upsampler doubles the resolution: {self.low_size} -> {2 * self.low_size}, not {self.image_size}")
        if self.unet.in_channels != 6 or self.unet.cond_dim != self.aug_dim or self.unet.context_dim:
            raise ValueError("the upsampler's UNet takes 6 channels (noisy picture + low-res picture), "
                             "cond_dim = aug_dim and no context")

    def to_dict(self) -> dict:
        return asdict(self)


def gaussian_blur(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """Blur each picture of (B, C, H, W) with its own σ (B,) using a separable 5-tap kernel."""
    r = torch.arange(-2, 3, dtype=x.dtype, device=x.device)
    k = torch.exp(-(r[None] ** 2) / (2 * sigma.clamp(min=1e-3)[:, None] ** 2))
    k = k / k.sum(1, keepdim=True)  # (B, 5)
    b, c, h, w = x.shape
    y = x.reshape(1, b * c, h, w)
    kh = k.repeat_interleave(c, 0)[:, None, None, :]  # (B*C, 1, 1, 5)
    y = F.conv2d(F.pad(y, (2, 2, 0, 0), mode="replicate"), kh, groups=b * c)
    y = F.conv2d(F.pad(y, (0, 0, 2, 2), mode="replicate"), kh.transpose(2, 3), groups=b * c)
    return y.view(b, c, h, w)


class Upsampler(nn.Module):
    def __init__(self, cfg: UpsamplerConfig):
        super().__init__()
        self.config = cfg
        self.unet = UNet(cfg.unet)

    def forward(self, x: torch.Tensor, t: torch.Tensor, low: torch.Tensor, aug_t: torch.Tensor) -> torch.Tensor:
        # x: (B, 3, S, S) noisy picture; low: (B, 3, S/2, S/2) the (augmented) low-res picture;
        # aug_t: (B,) the timestep of the noise added to ``low``
        up = F.interpolate(low, size=x.shape[-2:], mode="bilinear", align_corners=False)
        cond = timestep_embedding(aug_t, self.config.aug_dim)
        return self.unet(torch.cat([x, up], 1), t, cond=cond)
