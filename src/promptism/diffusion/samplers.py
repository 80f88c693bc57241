"""Samplers as pure functions (k-diffusion's habit): each takes

    denoise(x_t, t) -> x̂₀   (t: an int timestep; any guidance is already wrapped in)
    x                       the starting noise, (B, ...)
    abar                    the schedule's ᾱ, (T,)
    timesteps               the decreasing timesteps to visit (schedules.spaced_timesteps)

and returns the clean sample. Randomness comes only from ``generators``: one torch.Generator
per picture, so picture i is the same whatever else is in the batch. ``callback(i, n, x̂₀)``
is called after every step (progress bars, previews).

``select(i, x̂₀)``, called after step i's callback, may narrow the batch for the steps after it:
it returns None to go on as before, or ``(rows, denoise)`` to go on with those rows of the batch
(their generators and any state the sampler carries) and a ``denoise`` made for them. Each kept
row goes on exactly as it would have in the whole batch (early reranking of candidates).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

Denoise = Callable[[torch.Tensor, int], torch.Tensor]
Callback = Callable[[int, int, torch.Tensor], None] | None
Select = Callable[[int, torch.Tensor], "tuple[Sequence[int], Denoise] | None"] | None


def noise(shape: Sequence[int], generators: Sequence[torch.Generator], device=None) -> torch.Tensor:
    """Standard normal noise, row i drawn from generators[i]."""
    if len(generators) != shape[0]:
        raise ValueError(f"{len(generators)} generators for a batch of {shape[0]}")
    return torch.stack([torch.randn(tuple(shape[1:]), generator=g) for g in generators]).to(device)


def _narrow(select: Select, i: int, x0: torch.Tensor, denoise: Denoise, generators, *rows_of):
    """``select``'s choice after step i: (denoise, generators, *tensors) for the rows it keeps, or
    the same ones when it keeps them all."""
    picked = select(i, x0) if select else None
    if picked is None:
        return (denoise, generators, *rows_of)
    rows, denoise = picked
    rows = list(rows)
    kept = None if generators is None else [generators[r] for r in rows]
    return (denoise, kept, *(None if t is None else t[rows] for t in rows_of))


def _pairs(abar: torch.Tensor, timesteps: Sequence[int]):
    """(t, ᾱ_t, ᾱ_prev) along the path; the step after the last lands on clean data (ᾱ = 1)."""
    ab = [float(abar[t]) for t in timesteps] + [1.0]
    return [(t, ab[i], ab[i + 1]) for i, t in enumerate(timesteps)]


def ddim(
    denoise: Denoise,
    x: torch.Tensor,
    abar: torch.Tensor,
    timesteps: Sequence[int],
    generators: Sequence[torch.Generator] | None = None,
    eta: float = 0.0,
    callback: Callback = None,
    select: Select = None,
) -> torch.Tensor:
    """DDIM (Song et al. 2021, Eq. 12); eta = 0 is deterministic, eta = 1 is ancestral."""
    if eta and generators is None:
        raise ValueError("DDIM with eta > 0 needs generators")
    path = _pairs(abar, timesteps)
    for i, (t, a, a_prev) in enumerate(path):
        x0 = denoise(x, t)
        eps = (x - a**0.5 * x0) / (1 - a) ** 0.5
        sigma = eta * ((1 - a_prev) / (1 - a) * (1 - a / a_prev)) ** 0.5 if a_prev < 1 else 0.0
        x = a_prev**0.5 * x0 + max(1 - a_prev - sigma**2, 0.0) ** 0.5 * eps
        if sigma:
            x = x + sigma * noise(x.shape, generators, x.device)
        if callback:
            callback(i, len(path), x0)
        denoise, generators, x = _narrow(select, i, x0, denoise, generators, x)
    return x


def ddpm(
    denoise: Denoise,
    x: torch.Tensor,
    abar: torch.Tensor,
    timesteps: Sequence[int],
    generators: Sequence[torch.Generator],
    callback: Callback = None,
    select: Select = None,
) -> torch.Tensor:
    """Ancestral sampling from the posterior q(x_prev | x_t, x̂₀) (Ho et al. 2020, Eqs. 6–7),
    with α_t = ᾱ_t / ᾱ_prev so that strided timesteps work too."""
    path = _pairs(abar, timesteps)
    for i, (t, a, a_prev) in enumerate(path):
        x0 = denoise(x, t)
        alpha = a / a_prev
        beta = 1 - alpha
        mean = (a_prev**0.5 * beta / (1 - a)) * x0 + (alpha**0.5 * (1 - a_prev) / (1 - a)) * x
        var = beta * (1 - a_prev) / (1 - a)  # β̃_t
        x = mean + (var**0.5 * noise(x.shape, generators, x.device) if var > 0 else 0.0)
        if callback:
            callback(i, len(path), x0)
        denoise, generators, x = _narrow(select, i, x0, denoise, generators, x)
    return x


def dpmpp_2m(
    denoise: Denoise,
    x: torch.Tensor,
    abar: torch.Tensor,
    timesteps: Sequence[int],
    generators: Sequence[torch.Generator] | None = None,
    callback: Callback = None,
    select: Select = None,
) -> torch.Tensor:
    """DPM-Solver++(2M) (Lu et al. 2022, Algorithm 2): a second-order multistep solver of the
    diffusion ODE in the data-prediction form, λ = log(α/σ). Deterministic."""
    path = _pairs(abar, timesteps)
    lam = lambda a: 0.5 * (torch.log(torch.tensor(a)) - torch.log1p(torch.tensor(-a)))  # noqa: E731
    x0_prev, h_prev = None, None
    for i, (t, a, a_next) in enumerate(path):
        x0 = denoise(x, t)
        if a_next >= 1.0:  # the last step lands on the data: take the estimate itself
            x = x0
        else:
            h = float(lam(a_next) - lam(a))
            sigma, sigma_next, alpha_next = (1 - a) ** 0.5, (1 - a_next) ** 0.5, a_next**0.5
            if x0_prev is None:
                d = x0  # first step: DPM-Solver++(1), i.e. DDIM
            else:
                r = h_prev / h
                d = (1 + 1 / (2 * r)) * x0 - (1 / (2 * r)) * x0_prev
            x = (sigma_next / sigma) * x - alpha_next * torch.expm1(torch.tensor(-h)).item() * d
            h_prev = h
        x0_prev = x0
        if callback:
            callback(i, len(path), x0)
        denoise, generators, x, x0_prev = _narrow(select, i, x0, denoise, generators, x, x0_prev)
    return x


def ddim_invert(
    denoise: Denoise, x0: torch.Tensor, abar: torch.Tensor, timesteps: Sequence[int], callback: Callback = None
) -> torch.Tensor:
    """DDIM inversion: run the deterministic DDIM step backwards, from clean data up to the
    noisiest of ``timesteps`` (given in sampling order, noisiest first), so that ``ddim(...,
    eta=0)`` along the same timesteps brings the result back to about ``x0`` (Song et al. 2021,
    §4.3; Ramesh et al. 2022, §3.1 use it for variations). Each step takes ε from the model at the
    point it leaves, the usual first-order approximation, and keeps the x̂₀ that point implies."""
    x = x0
    a_cur = 1.0
    for i, t in enumerate(reversed(list(timesteps))):
        a = float(abar[t])
        x0_hat = denoise(x, t)
        eps = (x - a**0.5 * x0_hat) / (1 - a) ** 0.5
        # the clean picture the current point implies under ε (itself at the start)
        x0_cur = (x - (1 - a_cur) ** 0.5 * eps) / a_cur**0.5
        x = a**0.5 * x0_cur + (1 - a) ** 0.5 * eps
        a_cur = a
        if callback:
            callback(i, len(timesteps), x0_cur)
    return x


def repaint(
    denoise: Denoise,
    x: torch.Tensor,
    abar: torch.Tensor,
    timesteps: Sequence[int],
    generators: Sequence[torch.Generator],
    known: torch.Tensor,
    keep: torch.Tensor,
    resample: int = 1,
    callback: Callback = None,
) -> torch.Tensor:
    """RePaint (Lugmayr et al. 2022, Algorithm 1) with an unconditional or conditional model:
    each step draws the repainted region from the DDPM posterior, the kept region from
    q(x_prev | known), and joins them with ``keep`` (1 = keep ``known``, 0 = repaint; it
    broadcasts against x). ``resample`` > 1 sends the joined sample back up one step with fresh
    noise and redoes the step, ``resample`` times in all, so that the repainted region can
    agree with what is kept (their jump length is one of our strided steps)."""
    if resample < 1:
        raise ValueError(f"resample must be at least 1, got {resample}")
    path = _pairs(abar, timesteps)
    for i, (t, a, a_prev) in enumerate(path):
        alpha = a / a_prev
        beta = 1 - alpha
        rounds = resample if a_prev < 1 else 1
        for u in range(rounds):
            x0 = denoise(x, t)
            mean = (a_prev**0.5 * beta / (1 - a)) * x0 + (alpha**0.5 * (1 - a_prev) / (1 - a)) * x
            var = beta * (1 - a_prev) / (1 - a)
            if a_prev < 1:
                painted = mean + var**0.5 * noise(x.shape, generators, x.device)
                kept = a_prev**0.5 * known + (1 - a_prev) ** 0.5 * noise(x.shape, generators, x.device)
            else:
                painted, kept = mean, known
            x_prev = keep * kept + (1 - keep) * painted
            if u < rounds - 1:  # back up to t with q(x_t | x_prev) and do the step again
                x = alpha**0.5 * x_prev + beta**0.5 * noise(x.shape, generators, x.device)
            else:
                x = x_prev
        if callback:
            callback(i, len(path), x0)
    return x


SAMPLERS = {"ddpm": ddpm, "ddim": ddim, "dpm++2m": dpmpp_2m}
SPACING = {"ddpm": "trailing", "ddim": "trailing", "dpm++2m": "logsnr"}  # what each does best with (schedules.py)


def run(
    name: str,
    denoise: Denoise,
    x: torch.Tensor,
    abar: torch.Tensor,
    timesteps: Sequence[int],
    generators: Sequence[torch.Generator],
    eta: float = 0.0,
    callback: Callback = None,
    select: Select = None,
) -> torch.Tensor:
    """Dispatch by name, giving each sampler only the arguments it takes."""
    if name == "ddim":
        return ddim(denoise, x, abar, timesteps, generators, eta=eta, callback=callback, select=select)
    if name == "ddpm":
        return ddpm(denoise, x, abar, timesteps, generators, callback=callback, select=select)
    if name == "dpm++2m":
        return dpmpp_2m(denoise, x, abar, timesteps, generators, callback=callback, select=select)
    raise ValueError(f"unknown sampler {name!r}; samplers are {', '.join(SAMPLERS)}")
