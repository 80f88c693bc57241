"""Guidance as wrappers around a denoise function; samplers never change for it."""

from __future__ import annotations

from collections.abc import Callable

import torch

PairDenoise = Callable[[torch.Tensor, int], torch.Tensor]


def classifier_free(denoise_pair: PairDenoise, scale: float) -> Callable[[torch.Tensor, int], torch.Tensor]:
    """Classifier-free guidance (Ho & Salimans 2022, Eq. 6). ``denoise_pair`` takes the batch
    twice, [x; x], and conditions the first half and not the second (or on the negative
    prompt); the estimates are mixed as x̂ᵤ + s·(x̂꜀ − x̂ᵤ). Mixing x̂₀ is the same as mixing ε
    or v at a fixed x_t, since each is affine in the others."""
    if scale == 1.0:
        return lambda x, t: denoise_pair(torch.cat([x, x]), t)[: len(x)]

    def guided(x: torch.Tensor, t: int) -> torch.Tensor:
        cond, uncond = denoise_pair(torch.cat([x, x]), t).chunk(2)
        return uncond + scale * (cond - uncond)

    return guided


def classifier_free_two(
    denoise_triple: PairDenoise, scale: float, second_scale: float
) -> Callable[[torch.Tensor, int], torch.Tensor]:
    """Guidance on two conditions at once (Liu et al. 2022, "Compositional Visual Generation";
    Brooks et al. 2023, InstructPix2Pix, Eq. 3). ``denoise_triple`` takes [x; x; x]: both
    conditions, neither, the first alone. The mix is x̂ᵤ + s·(x̂꜀ − x̂ᵤ) + s₂·(x̂꜀ − x̂₁): plain
    classifier-free guidance, plus a push along what the second condition adds to the first.
    With s₂ = 0 the mix is ``classifier_free``'s, for half again the work."""

    def guided(x: torch.Tensor, t: int) -> torch.Tensor:
        both, neither, first = denoise_triple(torch.cat([x, x, x]), t).chunk(3)
        return neither + scale * (both - neither) + second_scale * (both - first)

    return guided


def dynamic_threshold(
    denoise: Callable[[torch.Tensor, int], torch.Tensor], percentile: float = 0.995, floor: float = 1.0
) -> Callable[[torch.Tensor, int], torch.Tensor]:
    """Imagen's dynamic thresholding (Saharia et al. 2022, §2.3): per picture, s = the given
    percentile of |x̂₀| (at least ``floor``); clip x̂₀ to [−s, s] and divide by s."""

    def thresholded(x: torch.Tensor, t: int) -> torch.Tensor:
        x0 = denoise(x, t)
        s = torch.quantile(x0.abs().flatten(1), percentile, dim=1).clamp(min=floor)
        s = s.view(-1, *([1] * (x0.ndim - 1)))
        return x0.clamp(-s, s) / s

    return thresholded
