"""Projection: the styles that make the generator redraw a given picture (Karras et al. 2020, §5
"Projection of images to latent space"). Starting from the mean style, Adam moves one w per picture
(or, with ``w_plus``, one per layer) to lower a perceptual distance (LPIPS's form on a shipped
CLIP's first stages, promptism.nn.perceptual) plus a weighted pixel distance. As in StyleGAN2's
projector, noise is added to w early on and fades out by three quarters of the way, and the
learning rate ramps up over the first 5% and down over the last 25%. The per-pixel noise stays
the model's fixed noise ('const')."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from ..errors import PromptismError
from ..pipelines.common import Bar, to_images
from ..responsible.energy import footprinted
from .pipeline import _meta

MAX_STEPS, MAX_TARGETS = 5000, 64
W_STATS_SAMPLES = 10_000


@dataclass
class Projection:
    images: list[Image.Image]  # the generator's redrawing of each target
    ws: torch.Tensor  # (n, num_ws, w_dim): the styles found
    frames: list[list[Image.Image]]  # per target, the search every ``frame_every`` steps
    losses: list[float]  # per target, the final loss
    metadata: list[dict]


@torch.no_grad()
def w_stats(generator) -> tuple[torch.Tensor, float]:
    """The mean style and the spread of styles about it (root mean squared distance), measured on
    10,000 noise vectors from a fixed seed."""
    z = torch.randn(W_STATS_SAMPLES, generator.config.z_dim, generator=torch.Generator().manual_seed(123))
    w = generator.mapping(z)
    mean = w.mean(0)
    return mean, float((w - mean).square().sum(1).mean().sqrt())


def _targets(pictures, side: int) -> tuple[torch.Tensor, list[str]]:
    from ..pipelines.images import open_image, square

    if not pictures or len(pictures) > MAX_TARGETS:
        raise PromptismError(f"give from 1 to {MAX_TARGETS} pictures to project")
    tensors, digests = [], []
    for p in pictures:
        src = open_image(p, "picture to project")
        im = square(src.image, side)
        tensors.append(torch.from_numpy(np.array(im)).permute(2, 0, 1).float() / 127.5 - 1)
        digests.append(src.sha256)
    return torch.stack(tensors), digests


@footprinted
def project(
    pictures: list,
    model: str = "world",
    steps: int = 300,
    w_plus: bool = False,
    lr: float = 0.05,
    pixel_weight: float = 1.0,
    perceptual_clip: str = "world",
    seed: int = 0,
    frame_every: int = 10,
    progress: bool = False,
) -> Projection:
    """The styles that redraw each picture (paths, bytes or PIL images), searched together."""
    from ..nn.perceptual import clip_features, perceptual_distance
    from . import loaded

    if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= MAX_STEPS:
        raise PromptismError(f"steps must be a whole number from 1 to {MAX_STEPS}, got {steps!r}")
    if not (isinstance(lr, (int, float)) and 0 < lr <= 1):
        raise PromptismError(f"lr must be a number above 0 and at most 1, got {lr!r}")
    if not (isinstance(pixel_weight, (int, float)) and pixel_weight >= 0):
        raise PromptismError(f"the pixel weight must be a number ≥ 0, got {pixel_weight!r}")
    t0 = time.time()
    m = loaded(str(model))
    gen, cfg = m.generator, m.generator.config
    target, digests = _targets(pictures, cfg.image_size)
    features = clip_features(perceptual_clip)
    gen.requires_grad_(False)
    w_avg, w_std = w_stats(gen)
    rows = cfg.num_ws if w_plus else 1
    w = w_avg.expand(len(target), rows, -1).clone().requires_grad_(True)
    opt = torch.optim.Adam([w], lr=lr, betas=(0.9, 0.999))
    g = torch.Generator().manual_seed(seed)
    frames: list[list[Image.Image]] = [[] for _ in range(len(target))]
    bar = Bar("projecting", steps, progress)
    try:
        for i in range(steps):
            t = i / steps
            noise_scale = w_std * 0.05 * max(0.0, 1.0 - t / 0.75) ** 2
            ramp = min(1.0, (1.0 - t) / 0.25)
            ramp = 0.5 - 0.5 * math.cos(ramp * math.pi)
            for group in opt.param_groups:
                group["lr"] = lr * ramp * min(1.0, t / 0.05)
            noisy = w + torch.randn(w.shape, generator=g) * noise_scale
            img = gen.synthesis(noisy.expand(-1, cfg.num_ws, -1), "const")
            per = [
                perceptual_distance(features, img[k : k + 1], target[k : k + 1])
                + pixel_weight * F.mse_loss(img[k : k + 1], target[k : k + 1])
                for k in range(len(target))
            ]
            loss = torch.stack(per).sum()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if frame_every and (i % frame_every == 0 or i == steps - 1):
                for k, im in enumerate(to_images(img.detach())):
                    frames[k].append(im)
            bar.update(1)
    finally:
        bar.close()
        gen.requires_grad_(True)
    ws = w.detach().expand(-1, cfg.num_ws, -1).clone()
    with torch.no_grad():
        final = gen.synthesis(ws, "const")
        losses = [
            float(perceptual_distance(features, final[k : k + 1], target[k : k + 1]) + pixel_weight
                  * F.mse_loss(final[k : k + 1], target[k : k + 1]))
            for k in range(len(target))
        ]  # fmt: skip
    meta = [
        _meta(
            m,
            "project",
            t0,
            target_sha256=d,
            steps=steps,
            w_plus=w_plus,
            lr=lr,
            pixel_weight=pixel_weight,
            perceptual_clip=perceptual_clip,
            seed=seed,
            loss=round(lo, 5),
            noise_mode="const",
        )
        for d, lo in zip(digests, losses)
    ]
    return Projection(to_images(final), ws, frames, losses, meta)
