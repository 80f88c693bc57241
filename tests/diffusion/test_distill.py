"""Progressive distillation's arithmetic: the student's path, the two-step target and its weight."""

import pytest
import torch

from promptism.diffusion import alphas_cumprod, ddim, spaced_timesteps
from promptism.diffusion.distill import (
    ddim_step,
    pairs_of,
    student_path,
    truncated_snr_weight,
    two_step_target,
)

ABAR = alphas_cumprod("cosine", 1000).float()
T = len(ABAR)


def _teacher(z, t):
    """A made-up teacher whose x̂₀ depends non-linearly on both z and t."""
    return torch.tanh(z * 0.7 + t.float().view(-1, 1, 1, 1) / T)


def test_the_student_takes_every_second_timestep_and_an_odd_path_is_refused():
    path = spaced_timesteps(T, 8)
    assert student_path(path) == path[::2] and len(student_path(path)) == 4
    for bad in (spaced_timesteps(T, 7), [999]):
        with pytest.raises(ValueError, match="even number"):
            student_path(bad)


def test_the_last_student_step_ends_on_clean_data():
    path = spaced_timesteps(T, 4)
    t, t_mid, t_end = pairs_of(path, T, torch.tensor([0, 1]))
    assert t.tolist() == [path[0], path[2]] and t_mid.tolist() == [path[1], path[3]] and t_end.tolist() == [path[2], T]


def test_one_student_step_with_the_target_lands_where_two_teacher_steps_land():
    torch.manual_seed(0)
    path = spaced_timesteps(T, 8)
    i = torch.tensor([0, 1, 2, 3])  # the last one ends on clean data
    t, t_mid, t_end = pairs_of(path, T, i)
    z = torch.randn(4, 3, 5, 5)
    target = two_step_target(_teacher, ABAR, z, t, t_mid, t_end)
    z_mid = ddim_step(ABAR, z, _teacher(z, t), t, t_mid)
    teacher_twice = ddim_step(ABAR, z_mid, _teacher(z_mid, t_mid), t_mid, t_end)
    assert torch.allclose(ddim_step(ABAR, z, target, t, t_end), teacher_twice, atol=1e-4)
    assert not torch.allclose(target, _teacher(z, t), atol=1e-2)  # not simply the teacher's first guess


def test_a_teacher_that_knows_the_picture_makes_the_picture_the_target():
    x0 = torch.rand(2, 3, 4, 4) * 2 - 1
    t, t_mid, t_end = pairs_of(spaced_timesteps(T, 6), T, torch.tensor([0, 1]))
    z = ABAR[t].sqrt().view(-1, 1, 1, 1) * x0 + (1 - ABAR[t]).sqrt().view(-1, 1, 1, 1) * torch.randn_like(x0)
    target = two_step_target(lambda z, t: x0, ABAR, z, t, t_mid, t_end)
    assert torch.allclose(target, x0, atol=1e-4)


def test_the_student_path_with_its_targets_reproduces_the_teachers_ddim_sample():
    """Stepping a perfect student (it answers x̃ at every step of the halved path) from the same
    noise gives the teacher's own DDIM sample."""
    torch.manual_seed(1)
    path = spaced_timesteps(T, 8)
    z = torch.randn(2, 3, 4, 4)
    want = ddim(lambda x, t: _teacher(x, torch.full((len(x),), t)), z, ABAR, path)
    x = z
    for k, _ in enumerate(student_path(path)):
        t, t_mid, t_end = pairs_of(path, T, torch.full((2,), k))
        x = ddim_step(ABAR, x, two_step_target(_teacher, ABAR, x, t, t_mid, t_end), t, t_end)
    assert torch.allclose(x, want, atol=1e-3)


def test_the_weight_is_the_snr_where_it_passes_one_and_one_below():
    t = torch.tensor([0, 500, 999])
    w = truncated_snr_weight(ABAR, t)
    snr = ABAR[t] / (1 - ABAR[t])
    assert w[0] == snr[0] and w[0] > 1 and w[2] == 1.0 and snr[2] < 1
