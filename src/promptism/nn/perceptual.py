"""A perceptual distance without downloaded weights: LPIPS's form (Zhang et al. 2018) on the first
stages of a shipped CLIP's image tower, frozen. The VQGAN trains with it; the GAN's projection
searches with it."""

from __future__ import annotations

import torch
import torch.nn.functional as F

PERCEPTUAL_STAGES = 3  # the CLIP image tower's first stages whose features are compared


def clip_features(name: str):
    """x (B, 3, S, S) in [-1, 1] -> the first stages' activations of a shipped CLIP's image tower."""
    from ..clip import load

    clip = load(name)
    body = clip.model.image.body
    body.requires_grad_(False).eval()

    def features(x: torch.Tensor) -> list[torch.Tensor]:
        body.to(x.device)
        out = []
        for stage in list(body)[:PERCEPTUAL_STAGES]:
            x = stage(x)
            out.append(x)
        return out

    return features


def perceptual_distance(features, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """LPIPS's form without its learned weights: channel-normalised features, squared differences,
    averaged, summed over stages."""
    total = x.new_zeros(())
    for a, b in zip(features(x), features(y)):
        total = total + (F.normalize(a, dim=1) - F.normalize(b, dim=1)).pow(2).mean()
    return total
