"""Differentiable augmentation (Zhao et al. 2020, "Differentiable Augmentation for Data-Efficient
GAN Training"): the same random transforms are applied to real and generated pictures before the
discriminator sees them, and the generator's gradient flows through them, so the discriminator
cannot memorise a small dataset while the generator is not taught to draw the transforms.

Every draw comes from an explicit generator, so a training step's augmentation is a function of
its seed (exact resume)."""

from __future__ import annotations

import torch

from ..errors import PromptismError


def _uniform(n: int, lo: float, hi: float, g: torch.Generator, device) -> torch.Tensor:
    return (lo + (hi - lo) * torch.rand(n, 1, 1, 1, generator=g)).to(device)


def color(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """Brightness ±0.25 (of the [-1, 1] range's half), saturation ×[0, 2], contrast ×[0.5, 1.5]."""
    n = x.shape[0]
    x = x + _uniform(n, -0.5, 0.5, g, x.device)
    mean = x.mean(1, keepdim=True)
    x = (x - mean) * _uniform(n, 0.0, 2.0, g, x.device) + mean
    mean = x.mean((1, 2, 3), keepdim=True)
    return (x - mean) * _uniform(n, 0.5, 1.5, g, x.device) + mean


def translation(x: torch.Tensor, g: torch.Generator, ratio: float = 0.125) -> torch.Tensor:
    """A shift of up to ``ratio`` of the side in each direction, filled with zeros (mid grey)."""
    n, _, h, w = x.shape
    shift = torch.randint(-int(h * ratio), int(h * ratio) + 1, (n, 2), generator=g).to(x.device)
    ys = torch.arange(h, device=x.device)[None, :] - shift[:, :1]  # (n, h): the row each output row reads
    xs = torch.arange(w, device=x.device)[None, :] - shift[:, 1:]
    inside = ((ys >= 0) & (ys < h))[:, None, :, None] & ((xs >= 0) & (xs < w))[:, None, None, :]
    ys, xs = ys.clamp(0, h - 1), xs.clamp(0, w - 1)
    rows = torch.gather(x, 2, ys[:, None, :, None].expand(-1, x.shape[1], -1, w))
    out = torch.gather(rows, 3, xs[:, None, None, :].expand(-1, x.shape[1], h, -1))
    return out * inside


def cutout(x: torch.Tensor, g: torch.Generator, ratio: float = 0.5) -> torch.Tensor:
    """A square of ``ratio`` of the side, anywhere (partly outside allowed), set to zero."""
    n, _, h, w = x.shape
    ch, cw = int(h * ratio), int(w * ratio)
    top = torch.randint(0, h + (1 - ch % 2), (n, 1), generator=g).to(x.device) - ch // 2
    left = torch.randint(0, w + (1 - cw % 2), (n, 1), generator=g).to(x.device) - cw // 2
    ys, xs = torch.arange(h, device=x.device)[None], torch.arange(w, device=x.device)[None]
    rows = (ys >= top) & (ys < top + ch)
    cols = (xs >= left) & (xs < left + cw)
    keep = ~(rows[:, :, None] & cols[:, None, :])
    return x * keep[:, None].to(x.dtype)


AUGMENTATIONS = {"color": color, "translation": translation, "cutout": cutout}


def parse_augment(text: str) -> tuple[str, ...]:
    """'translation,cutout' -> ('translation', 'cutout'); '' means none."""
    names = tuple(a.strip() for a in text.split(",") if a.strip())
    unknown = [a for a in names if a not in AUGMENTATIONS]
    if unknown:
        raise PromptismError(f"unknown augmentation {unknown[0]!r}; choose from {', '.join(AUGMENTATIONS)}")
    return names


def augment(x: torch.Tensor, names: tuple[str, ...], g: torch.Generator) -> torch.Tensor:
    for name in names:
        x = AUGMENTATIONS[name](x, g)
    return x
