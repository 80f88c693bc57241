"""unCLIP's upsamplers (Ramesh et al. 2022, §2.1 and Appendix C): diffusion UNets that take a
picture from one resolution to twice it, conditioned on the low-resolution picture.

The low-resolution picture is blurred and noised during training (the paper's "Gaussian
blur" conditioning augmentation; Ho et al. 2022's noise conditioning augmentation), so the
upsampler learns to repair what the stage below gets wrong; the noise level is given to the
network. No attention, and few sampling steps, as the paper's upsamplers.

With ``residual`` > 0 the diffusion runs on the residual over a bicubic upscaling of the
(augmented) low-res input, times ``residual``: r = (x - bicubic(low)) * residual, as SRDiff
(Li et al. 2022) does. The network then only adds what bicubic upscaling misses (edges, and
undoing the augmentation); a flat background is a residual of zero, not something to redraw.
Trained without it, our 32->64 upsampler was far worse than bicubic at a CPU's training budget:
grainy backgrounds and shapes that lost their corners.
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
    residual: float = 0.0  # > 0: diffuse (x - bicubic(low)) * residual instead of x (see the module's text)
    max_aug_t: int = 250  # training noises the low-res input to a timestep drawn from [0, max_aug_t)
    # the sampling steps the pipelines draw it in when the settings name no count
    # (Settings.upsampler_steps None): one trained for its estimate from pure noise (timesteps
    # near the end of the schedule) is drawn in one or two, a full diffusion upsampler in more
    sample_steps: int = 8
    # drawn only when a size asks for it: with no size asked, a chain stops before its first such
    # stage (the shipped 64->128 one, since every score of the shipped models is measured at 64 px)
    when_asked: bool = False
    unet: UNetConfig = field(
        default_factory=lambda: UNetConfig(
            in_channels=6, channels=(32, 64, 128), attention=(False, False, False), cond_dim=32, unshuffle=2
        )
    )

    def __post_init__(self):
        if isinstance(self.unet, dict):
            object.__setattr__(self, "unet", UNetConfig(**self.unet))
        if self.image_size != 2 * self.low_size:
            raise ValueError(
                f"an upsampler doubles the resolution: {self.low_size} -> {2 * self.low_size}, not {self.image_size}"
            )
        if self.unet.in_channels != 6 or self.unet.cond_dim != self.aug_dim or self.unet.context_dim:
            raise ValueError(
                "the upsampler's UNet takes 6 channels (noisy picture + low-res picture), "
                "cond_dim = aug_dim and no context"
            )
        if not 0 < self.max_aug_t <= 1000:
            raise ValueError(f"max_aug_t must be in 1..1000, got {self.max_aug_t}")
        if not (isinstance(self.sample_steps, int) and 1 <= self.sample_steps <= 1000):
            raise ValueError(f"sample_steps must be a whole number from 1 to 1000, got {self.sample_steps!r}")
        if not self.residual >= 0:
            raise ValueError(f"residual must be >= 0 (0 = off), got {self.residual}")

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


def back_project(x: torch.Tensor, low: torch.Tensor, iterations: int) -> torch.Tensor:
    """Iterative back-projection (Irani & Peleg 1991): add the bicubic upscaling of what the
    area-downsampled ``x`` (B, C, H, W) misses of ``low`` (B, C, h, w), ``iterations`` times, so
    that the upscaled picture shrinks back to its input while keeping the detail it added. Values
    stay in [-1, 1]."""
    size = x.shape[-2:]
    for _ in range(iterations):
        miss = low - F.interpolate(x, size=low.shape[-2:], mode="area")
        x = (x + F.interpolate(miss, size=size, mode="bicubic", align_corners=False)).clamp(-1, 1)
    return x


class Upsampler(nn.Module):
    def __init__(self, cfg: UpsamplerConfig):
        super().__init__()
        self.config = cfg
        self.unet = UNet(cfg.unet)

    def reference(self, low: torch.Tensor) -> torch.Tensor | None:
        """What the residual is taken over: the (augmented) low-res picture (B, 3, S/2, S/2)
        upscaled bicubically to (B, 3, S, S); None without ``residual``."""
        if not self.config.residual:
            return None
        return F.interpolate(low, scale_factor=2, mode="bicubic", align_corners=False)

    def encode(self, x: torch.Tensor, ref: torch.Tensor | None) -> torch.Tensor:
        """A picture (B, 3, S, S) in [-1, 1] -> what the diffusion runs on."""
        return x if ref is None else (x - ref) * self.config.residual

    def decode(self, r: torch.Tensor, ref: torch.Tensor | None) -> torch.Tensor:
        """What the diffusion runs on -> the picture (not clamped)."""
        return r if ref is None else ref + r / self.config.residual

    def forward(self, x: torch.Tensor, t: torch.Tensor, low: torch.Tensor, aug_t: torch.Tensor) -> torch.Tensor:
        # x: (B, 3, S, S) noisy picture (or residual); low: (B, 3, S/2, S/2) the (augmented)
        # low-res picture; aug_t: (B,) the timestep of the noise added to ``low``
        ref = self.reference(low)
        up = ref if ref is not None else F.interpolate(low, size=x.shape[-2:], mode="bilinear", align_corners=False)
        cond = timestep_embedding(aug_t, self.config.aug_dim)
        return self.unet(torch.cat([x, up], 1), t, cond=cond)
