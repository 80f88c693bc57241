"""Noise schedules: the cumulative signal level ᾱ_t of T discrete timesteps.

x_t = sqrt(ᾱ_t)·x_0 + sqrt(1 − ᾱ_t)·ε  (Ho et al. 2020, Eq. 4). ᾱ decreases from ~1 at t = 0
to ~0 at t = T − 1; samplers walk a decreasing subset of the timesteps.
"""

from __future__ import annotations

import math

import torch

SCHEDULES = ("cosine", "linear")


def alphas_cumprod(kind: str = "cosine", T: int = 1000) -> torch.Tensor:
    """ᾱ_t for t = 0 … T−1 (float64)."""
    if kind == "cosine":
        # Nichol & Dhariwal 2021, Eq. 17, offset s = 0.008; β_t clipped at 0.999 (their §3.2)
        s = 0.008
        f = lambda t: math.cos((t / T + s) / (1 + s) * math.pi / 2) ** 2  # noqa: E731
        betas = torch.tensor([min(1 - f(t + 1) / f(t), 0.999) for t in range(T)], dtype=torch.float64)
    elif kind == "linear":
        betas = torch.linspace(1e-4 * 1000 / T, 0.02 * 1000 / T, T, dtype=torch.float64)  # Ho et al. 2020, §4
    else:
        raise ValueError(f"unknown noise schedule {kind!r}; known: {', '.join(SCHEDULES)}")
    return torch.cumprod(1.0 - betas, dim=0)


SPACINGS = ("trailing", "logsnr")


def spaced_timesteps(T: int, steps: int, spacing: str = "trailing", abar: torch.Tensor | None = None) -> list[int]:
    """``steps`` decreasing timesteps from T−1 down to 0.

    * "trailing": evenly spaced in t (Lin et al. 2024, Table 2: the first step starts from the
      noisiest timestep);
    * "logsnr": evenly spaced in λ = log(α/σ) (Lu et al. 2022, §3.4), needs ``abar``; DPM-Solver++
      lands far closer to the many-step solution this way than with trailing spacing
      (tests/diffusion/test_diffusion.py holds it to that), while DDIM prefers trailing.
      Neighbouring λ values may round to one timestep, so at large step counts there can be
      fewer steps than asked for.
    """
    if not 1 <= steps <= T:
        raise ValueError(f"steps must be between 1 and {T}, got {steps}")
    if spacing == "logsnr":
        if abar is None:
            raise ValueError("logsnr spacing needs the schedule's abar")
        lam = 0.5 * (torch.log(abar.double()) - torch.log1p(-abar.double()))
        targets = torch.linspace(float(lam[T - 1]), float(lam[0]), steps, dtype=torch.float64)
        ts = [int((lam - v).abs().argmin()) for v in targets]
    elif spacing == "trailing":
        ts = [round(T - 1 - i * (T - 1) / max(steps - 1, 1)) for i in range(steps)] if steps > 1 else [T - 1]
    else:
        raise ValueError(f"unknown spacing {spacing!r}; spacings are {', '.join(SPACINGS)}")
    out: list[int] = []
    for t in ts:  # rounding may repeat a timestep at large step counts
        if not out or t < out[-1]:
            out.append(t)
    return out


def snr(abar: torch.Tensor) -> torch.Tensor:
    return abar / (1 - abar)
