"""A StyleGAN2-style generator and a residual discriminator (Karras et al. 2019, "A Style-Based
Generator Architecture for GANs"; Karras et al. 2020, "Analyzing and Improving the Image Quality of
StyleGAN").

- A mapping network turns noise z into a style vector w; each layer of the synthesis network reads
  its own w (the rows of ``ws``), so styles from two vectors can be mixed layer by layer.
- Synthesis starts from a learned 4×4 constant. Each convolution is *modulated* (its input
  channels scaled by an affine map of w) and *demodulated* (its output channels divided by the norm
  the modulated weights would give a unit-variance input), then gets per-pixel noise with a
  learned strength. Each resolution adds its own RGB output to the upsampled sum (skip outputs).
- Every weight is stored at unit variance and scaled by He's constant at run time (equalised
  learning rate); the mapping network learns 100× slower.
- Modulation is applied to the activations, not folded into per-sample weights, which computes
  the same thing with one ordinary convolution for the whole batch (StyleGAN2-ADA's unfused path).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

SQRT2 = math.sqrt(2.0)


@dataclass(frozen=True)
class GANConfig:
    image_size: int = 64
    z_dim: int = 128
    w_dim: int = 128
    mapping_layers: int = 4
    channels: tuple[int, ...] = (128, 128, 128, 64, 32)  # the generator's, at 4, 8, 16 … image_size px
    disc_channels: tuple[int, ...] = (32, 64, 128, 128, 128)  # the discriminator's, at image_size … 4 px
    mapping_lr: float = 0.01  # the mapping network's learning-rate multiplier
    w_avg_beta: float = 0.995  # of the running mean of w that truncation pulls towards

    def __post_init__(self):
        for name in ("channels", "disc_channels"):
            if isinstance(getattr(self, name), list):
                object.__setattr__(self, name, tuple(getattr(self, name)))
        if 4 * 2 ** (len(self.channels) - 1) != self.image_size:
            raise ValueError(
                f"{len(self.channels)} generator resolutions from 4 px reach "
                f"{4 * 2 ** (len(self.channels) - 1)} px, not image_size {self.image_size}"
            )
        if len(self.disc_channels) != len(self.channels):
            raise ValueError("the discriminator needs one width per resolution, as the generator has")

    @property
    def num_ws(self) -> int:
        """How many style vectors the synthesis network reads: two per resolution."""
        return 2 * len(self.channels)

    def to_dict(self) -> dict:
        return asdict(self)


class EqualLinear(nn.Module):
    def __init__(self, cin: int, cout: int, bias_init: float = 0.0, lr_mul: float = 1.0, act: bool = False):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(cout, cin) / lr_mul)
        self.bias = nn.Parameter(torch.full((cout,), float(bias_init) / lr_mul))
        self.scale, self.lr_mul, self.act = lr_mul / math.sqrt(cin), lr_mul, act

    def forward(self, x):
        x = F.linear(x, self.weight * self.scale, self.bias * self.lr_mul)
        return F.leaky_relu(x, 0.2) * SQRT2 if self.act else x


class EqualConv(nn.Module):
    def __init__(self, cin: int, cout: int, k: int, bias: bool = True, act: bool = True):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(cout, cin, k, k))
        self.bias = nn.Parameter(torch.zeros(cout)) if bias else None
        self.scale, self.pad, self.act = 1 / math.sqrt(cin * k * k), k // 2, act

    def forward(self, x):
        x = F.conv2d(x, self.weight * self.scale, self.bias, padding=self.pad)
        return F.leaky_relu(x, 0.2) * SQRT2 if self.act else x


class ModConv(nn.Module):
    """A modulated convolution: (x, w) -> conv of x with weights scaled per sample by A(w), then
    (``demod``) normalised per output channel; with ``noise_res``, per-pixel noise and a bias and
    leaky ReLU follow (a synthesis layer), else only a bias (an RGB output)."""

    def __init__(self, cin: int, cout: int, w_dim: int, k: int, up: bool = False, demod: bool = True, noise_res=None):
        super().__init__()
        self.affine = EqualLinear(w_dim, cin, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(cout, cin, k, k))
        self.bias = nn.Parameter(torch.zeros(cout))
        self.scale, self.pad, self.up, self.demod = 1 / math.sqrt(cin * k * k), k // 2, up, demod
        self.layer = noise_res is not None
        if self.layer:
            self.noise_strength = nn.Parameter(torch.zeros(()))
            self.register_buffer("noise_const", torch.randn(1, 1, noise_res, noise_res))

    def forward(self, x, w, noise_mode: str = "random", generator: torch.Generator | None = None):
        s = self.affine(w)  # (B, cin)
        weight = self.weight * self.scale
        if self.up:
            x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        x = F.conv2d(x * s[:, :, None, None], weight, padding=self.pad)
        if self.demod:
            d = torch.rsqrt((s.square() @ weight.square().sum((2, 3)).T) + 1e-8)  # (B, cout)
            x = x * d[:, :, None, None]
        if not self.layer:
            return x + self.bias[None, :, None, None]
        if noise_mode == "random":
            noise = torch.randn(x.shape[0], 1, *x.shape[2:], generator=generator).to(x.device)
            x = x + noise * self.noise_strength
        elif noise_mode == "const":
            x = x + self.noise_const * self.noise_strength
        return F.leaky_relu(x + self.bias[None, :, None, None], 0.2) * SQRT2


NOISE_MODES = ("random", "const", "none")


class Mapping(nn.Module):
    def __init__(self, cfg: GANConfig):
        super().__init__()
        dims = [cfg.z_dim] + [cfg.w_dim] * cfg.mapping_layers
        self.net = nn.Sequential(
            *[EqualLinear(a, b, lr_mul=cfg.mapping_lr, act=True) for a, b in zip(dims[:-1], dims[1:])]
        )

    def forward(self, z):
        z = z * torch.rsqrt(z.square().mean(1, keepdim=True) + 1e-8)  # onto the sphere of radius √z_dim
        return self.net(z)


class Synthesis(nn.Module):
    def __init__(self, cfg: GANConfig):
        super().__init__()
        c = cfg.channels
        self.const = nn.Parameter(torch.randn(c[0], 4, 4))
        self.convs, self.to_rgb = nn.ModuleList(), nn.ModuleList()
        for i, cout in enumerate(c):
            res = 4 * 2**i
            if i:
                self.convs.append(ModConv(c[i - 1], cout, cfg.w_dim, 3, up=True, noise_res=res))
            self.convs.append(ModConv(cout, cout, cfg.w_dim, 3, noise_res=res))
            self.to_rgb.append(ModConv(cout, 3, cfg.w_dim, 1, demod=False))

    def forward(self, ws: torch.Tensor, noise_mode: str = "random", generator: torch.Generator | None = None):
        """ws (B, num_ws, w_dim) -> pictures (B, 3, S, S), about [-1, 1], not clamped. Resolution i
        reads rows 2i-1 and 2i (the 4 px one only row 0) and its RGB output row 2i+1."""
        x = self.const[None].expand(ws.shape[0], -1, -1, -1)
        x = self.convs[0](x, ws[:, 0], noise_mode, generator)
        img = self.to_rgb[0](x, ws[:, 1])
        for i in range(1, len(self.to_rgb)):
            x = self.convs[2 * i - 1](x, ws[:, 2 * i - 1], noise_mode, generator)
            x = self.convs[2 * i](x, ws[:, 2 * i], noise_mode, generator)
            img = F.interpolate(img, scale_factor=2, mode="bilinear", align_corners=False)
            img = img + self.to_rgb[i](x, ws[:, 2 * i + 1])
        return img


class Generator(nn.Module):
    def __init__(self, cfg: GANConfig):
        super().__init__()
        self.config = cfg
        self.mapping, self.synthesis = Mapping(cfg), Synthesis(cfg)
        self.register_buffer("w_avg", torch.zeros(cfg.w_dim))

    def ws(self, z: torch.Tensor, truncation: float = 1.0) -> torch.Tensor:
        """Noise (B, z_dim) -> one style vector per layer (B, num_ws, w_dim), pulled towards the mean
        w by ``truncation`` (1 keeps it, 0 gives the mean); in training mode the mean follows."""
        w = self.mapping(z)
        if self.training:
            with torch.no_grad():
                self.w_avg.lerp_(w.detach().mean(0), 1 - self.config.w_avg_beta)
        if truncation != 1.0:
            w = self.w_avg + truncation * (w - self.w_avg)
        return w[:, None].repeat(1, self.config.num_ws, 1)

    def forward(self, z, truncation: float = 1.0, noise_mode: str = "random", generator=None):
        return self.synthesis(self.ws(z, truncation), noise_mode, generator)


def mix(ws_a: torch.Tensor, ws_b: torch.Tensor, rows) -> torch.Tensor:
    """``ws_a`` with the style rows in ``rows`` (a range or list of indices) taken from ``ws_b``."""
    out = ws_a.clone()
    rows = list(rows)
    out[:, rows] = ws_b[:, rows]
    return out


class DiscBlock(nn.Module):
    """Two 3×3 convolutions, the second halving the side, beside a 1×1 skip of the halved input."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv0, self.conv1 = EqualConv(cin, cin, 3), EqualConv(cin, cout, 3)
        self.skip = EqualConv(cin, cout, 1, bias=False, act=False)

    def forward(self, x):
        skip = self.skip(F.avg_pool2d(x, 2))
        x = F.avg_pool2d(self.conv1(self.conv0(x)), 2)
        return (skip + x) / SQRT2


class Discriminator(nn.Module):
    """Residual discriminator: RGB in, one logit out; minibatch standard deviation before the head
    (Karras et al. 2018) lets it see a batch's lack of variety."""

    def __init__(self, cfg: GANConfig, group: int = 4):
        super().__init__()
        c = cfg.disc_channels
        self.from_rgb = EqualConv(3, c[0], 1)
        self.blocks = nn.Sequential(*[DiscBlock(a, b) for a, b in zip(c[:-1], c[1:])])
        self.group = group
        self.conv = EqualConv(c[-1] + 1, c[-1], 3)
        self.fc = EqualLinear(c[-1] * 16, c[-1], act=True)
        self.out = EqualLinear(c[-1], 1)

    def minibatch_std(self, x):
        b, c, h, w = x.shape
        g = min(self.group, b)
        while b % g:
            g -= 1
        y = x.reshape(g, -1, c, h, w)
        y = (y - y.mean(0)).square().mean(0).add(1e-8).sqrt().mean((1, 2, 3))  # (B/g,)
        y = y.reshape(-1, 1, 1, 1).repeat(g, 1, h, w)
        return torch.cat([x, y], 1)

    def forward(self, img):
        x = self.blocks(self.from_rgb(img))
        x = self.conv(self.minibatch_std(x))
        return self.out(self.fc(x.flatten(1))).squeeze(1)
