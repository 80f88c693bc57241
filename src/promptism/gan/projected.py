"""A projected discriminator (Sauer et al. 2021, "Projected GANs Converge Faster"): the pictures go
through a frozen, already trained feature network, and small discriminators judge its features.

- Features: the stages of one of our CLIPs' image tower (``promptism.clip``), frozen and kept in
  evaluation mode (its BatchNorm uses its stored statistics, whatever mode the trainer is in). The
  FID-style yardstick (benchmarks/fid_world.py) reads an ImageNet network's features and the judge
  reads the scene, so neither yardstick is the network the discriminator looks through.
- Cross-channel mixing: each stage's features pass through a fixed random 1×1 convolution.
- Cross-scale mixing: from the deepest stage up, each mixed map is upsampled through a fixed random
  3×3 convolution and added to the next shallower one (a feature pyramid whose weights never train).
- One small trained discriminator per scale: 3×3 convolutions that halve the side down to 4 px
  or less, then one logit per remaining position (patch logits). Spectral normalisation keeps
  them Lipschitz, as in the paper; the losses are the trainer's own (non-saturating).

The random projections are buffers drawn from a fixed seed, so a resumed run reads them back
from its checkpoint unchanged.
"""

from __future__ import annotations

import copy
import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm


def feature_stages(name: str) -> nn.Sequential:
    """The stages of a CLIP's image tower (a shipped name or a model folder), copied and frozen."""
    from ..clip import load

    body = copy.deepcopy(load(name).model.image.body)
    for p in body.parameters():
        p.requires_grad_(False)
    return body.eval()


def _random_conv(cout: int, cin: int, k: int, g: torch.Generator) -> torch.Tensor:
    return torch.randn(cout, cin, k, k, generator=g) * math.sqrt(2.0 / (cin * k * k))


class ScaleHead(nn.Module):
    """Halving 3×3 convolutions from ``side`` px down to 4 px or less, then a 1×1 to one logit a position."""

    def __init__(self, width: int, side: int):
        super().__init__()
        layers: list[nn.Module] = []
        while side > 4:
            layers += [spectral_norm(nn.Conv2d(width, width, 3, padding=1)), nn.LeakyReLU(0.2), nn.AvgPool2d(2)]
            side //= 2
        self.body = nn.Sequential(*layers)
        self.out = spectral_norm(nn.Conv2d(width, 1, 1))

    def forward(self, x):
        return self.out(self.body(x)).flatten(1)


class ProjectedDiscriminator(nn.Module):
    """Pictures in [-1, 1] -> (B, patches) logits from every scale of a frozen CLIP's image tower."""

    def __init__(self, stages: nn.Sequential, image_size: int, width: int = 64, seed: int = 0):
        super().__init__()
        self.features = stages
        with torch.no_grad():
            maps = self._maps(torch.zeros(1, 3, image_size, image_size))
        g = torch.Generator().manual_seed(seed)
        for i, m in enumerate(maps):
            self.register_buffer(f"ccm{i}", _random_conv(width, m.shape[1], 1, g))
            if i + 1 < len(maps):
                self.register_buffer(f"csm{i}", _random_conv(width, width, 3, g))
        self.heads = nn.ModuleList(ScaleHead(width, m.shape[-1]) for m in maps)

    def train(self, mode: bool = True):
        super().train(mode)
        self.features.eval()  # frozen: its BatchNorm keeps its stored statistics
        return self

    def _maps(self, x):
        maps = []
        x = x.contiguous(memory_format=torch.channels_last)
        for stage in self.features:
            x = stage(x)
            maps.append(x)
        return maps

    def forward(self, img):
        maps = [F.conv2d(m, getattr(self, f"ccm{i}")) for i, m in enumerate(self._maps(img))]
        for i in range(len(maps) - 2, -1, -1):
            deeper = F.interpolate(maps[i + 1], size=maps[i].shape[-2:], mode="bilinear", align_corners=False)
            maps[i] = maps[i] + F.conv2d(deeper, getattr(self, f"csm{i}"), padding=1)
        return torch.cat([head(m) for head, m in zip(self.heads, maps)], 1)
