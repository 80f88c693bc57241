"""Progressive distillation (Salimans & Ho 2022, "Progressive Distillation for Fast Sampling of
Diffusion Models", Algorithm 2), as pure functions of a teacher's ``x̂₀`` estimate.

A teacher samples with deterministic DDIM along a path of N timesteps (``path``; after its last
entry the sample lands on clean data). Its student takes every second timestep of that path, and
one student step must land where two teacher steps land. For a noisy sample z_t the two teacher
steps go t → t′ → t″; the x̂₀ that takes one DDIM step from z_t straight to that z_t″ is

    x̃ = (z_t″ − (σ_t″ / σ_t) z_t) / (α_t″ − (σ_t″ / σ_t) α_t)           (Algorithm 2)

and x̃ = z_t″ where t″ is clean data (σ = 0). The student regresses x̃ from (z_t, t) with the
"truncated SNR" weight max(SNR_t, 1) on the x̂₀ error (§4). Halving N again with the student as
the next teacher reaches a few steps in log₂ N rounds.

``teacher(z, t)`` takes a batch and a (B,) tensor of timesteps, each sample its own. A timestep
equal to T (one past the schedule) means clean data throughout.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

Teacher = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def student_path(path: Sequence[int]) -> list[int]:
    """Every second timestep of a teacher's path: the student's, half as many steps."""
    if len(path) < 2 or len(path) % 2:
        raise ValueError(f"a teacher's path halves only with an even number of steps (at least 2), not {len(path)}")
    return list(path[::2])


def _coef(abar: torch.Tensor, t: torch.Tensor, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """α and σ at each t, T meaning clean data (α 1, σ 0), shaped to broadcast over ``like``."""
    ab = torch.cat([abar, abar.new_ones(1)]).to(like.device)[t].view(-1, *([1] * (like.ndim - 1)))
    return ab.sqrt(), (1 - ab).clamp(min=0).sqrt()


def ddim_step(abar: torch.Tensor, z: torch.Tensor, x0: torch.Tensor, t: torch.Tensor, t_next: torch.Tensor):
    """One deterministic DDIM step from z at t to t_next, given x̂₀ (Song et al. 2021, Eq. 12)."""
    a, s = _coef(abar, t, z)
    a_next, s_next = _coef(abar, t_next, z)
    eps = (z - a * x0) / s
    return a_next * x0 + s_next * eps


def pairs_of(path: Sequence[int], T: int, i: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """For student steps ``i`` (a (B,) tensor), the teacher's (t, t′, t″): path[2i], path[2i+1] and
    path[2i+2], T where that is past the path's end (clean data)."""
    full = torch.tensor([*path, T], dtype=torch.long)
    return full[2 * i], full[2 * i + 1], full[2 * i + 2]


@torch.no_grad()
def two_step_target(teacher: Teacher, abar: torch.Tensor, z: torch.Tensor, t, t_mid, t_end) -> torch.Tensor:
    """x̃: the x̂₀ with which one DDIM step from z at t lands where the teacher's two steps
    (t → t_mid → t_end) land."""
    z_mid = ddim_step(abar, z, teacher(z, t), t, t_mid)
    z_end = ddim_step(abar, z_mid, teacher(z_mid, t_mid), t_mid, t_end)
    a, s = _coef(abar, t, z)
    a_end, s_end = _coef(abar, t_end, z)
    ratio = s_end / s  # 0 where t_end is clean data, and then x̃ = z_end
    return (z_end - ratio * z) / (a_end - ratio * a)


def truncated_snr_weight(abar: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """max(SNR_t, 1), the weight on the x̂₀ error (Salimans & Ho 2022, §4)."""
    ab = abar.to(t.device)[t]
    return (ab / (1 - ab)).clamp(min=1.0)
