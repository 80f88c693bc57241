"""The diffusion core: schedules, parameterisations, min-SNR weights, samplers, guidance."""

import pytest
import torch

from promptism.diffusion import (
    Denoiser,
    DiffusionConfig,
    alphas_cumprod,
    classifier_free,
    classifier_free_two,
    ddim,
    ddim_invert,
    dynamic_threshold,
    noise,
    repaint,
    run,
    spaced_timesteps,
)
from promptism.diffusion.samplers import SPACING


def test_cosine_schedule_runs_from_signal_to_noise():
    ab = alphas_cumprod("cosine", 1000)
    assert ab.shape == (1000,)
    assert ab[0] > 0.999 and ab[-1] < 1e-4
    assert bool((ab[1:] < ab[:-1]).all())
    with pytest.raises(ValueError):
        alphas_cumprod("sigmoid")


def test_spaced_timesteps_start_at_the_noisiest_and_decrease():
    ts = spaced_timesteps(1000, 10)
    assert ts[0] == 999 and ts[-1] == 0 and len(ts) == 10
    assert all(a > b for a, b in zip(ts, ts[1:]))
    assert spaced_timesteps(1000, 1000) == list(range(999, -1, -1))
    with pytest.raises(ValueError):
        spaced_timesteps(1000, 0)
    lam = spaced_timesteps(1000, 10, "logsnr", alphas_cumprod("cosine", 1000))
    assert lam[0] == 999 and lam[-1] == 0 and all(a > b for a, b in zip(lam, lam[1:]))
    assert lam != ts  # evenly spaced in log-SNR is not evenly spaced in t


@pytest.mark.parametrize("prediction", ["eps", "v", "x0"])
def test_the_target_turned_back_into_x0_is_the_clean_sample(prediction):
    d = Denoiser(DiffusionConfig(prediction=prediction))
    g = torch.Generator().manual_seed(0)
    x0, eps = torch.randn(6, 3, 4, 4, generator=g), torch.randn(6, 3, 4, 4, generator=g)
    t = torch.tensor([0, 10, 200, 500, 800, 900])  # at t = 999, α ≈ 0.002: ε -> x0 is ill-conditioned in float32
    xt = d.add_noise(x0, t, eps)
    assert torch.allclose(d.to_x0(d.target(x0, eps, t), xt, t), x0, atol=1e-3)


def test_min_snr_weights_equal_min_snr_gamma_on_the_x0_error():
    # Hang et al. 2023: the x0-space weight is min(SNR, γ); an ε loss is SNR times an x0 loss,
    # a v loss is (SNR + 1) times it
    t = torch.tensor([5, 300, 600, 990])
    ab = alphas_cumprod("cosine", 1000).float()[t]
    snr = ab / (1 - ab)
    want = snr.clamp(max=5.0)
    for pred, factor in (("eps", snr), ("v", snr + 1), ("x0", torch.ones_like(snr))):
        w = Denoiser(DiffusionConfig(prediction=pred, min_snr_gamma=5.0)).loss_weight(t)
        assert torch.allclose(w * factor, want, rtol=1e-4)
    assert torch.equal(Denoiser(DiffusionConfig(min_snr_gamma=None)).loss_weight(t), torch.ones(4))


def test_logit_normal_timesteps_favour_middling_noise():
    # t/T = sigmoid(u), u ~ N(0, 1): P(T/4 <= t < 3T/4) = P(|u| < ln 3) = 0.727, against 0.5 uniformly
    n = 40_000
    draws = {}
    for how in ("uniform", "logit-normal"):
        d = Denoiser(DiffusionConfig(timestep_sampling=how))
        t = d.training_timesteps(n, generator=torch.Generator().manual_seed(0))
        assert t.dtype == torch.long and int(t.min()) >= 0 and int(t.max()) <= 999
        again = d.training_timesteps(n, generator=torch.Generator().manual_seed(0))
        assert torch.equal(t, again)
        draws[how] = float(((t >= 250) & (t < 750)).float().mean())
    assert abs(draws["uniform"] - 0.5) < 0.015
    assert abs(draws["logit-normal"] - 0.727) < 0.015
    shifted = Denoiser(DiffusionConfig(timestep_sampling="logit-normal", t_mean=1.0))
    assert float(shifted.training_timesteps(n, generator=torch.Generator().manual_seed(1)).float().mean()) > 600
    with pytest.raises(ValueError, match="timestep_sampling"):
        DiffusionConfig(timestep_sampling="beta")
    with pytest.raises(ValueError, match="t_std"):
        DiffusionConfig(timestep_sampling="logit-normal", t_std=0.0)


def _gaussian_data_denoiser(d: Denoiser, mean: float, std: float):
    """The exact E[x0 | x_t] when x0 ~ N(mean, std²) per dimension."""

    def f(x, t):
        a = float(d.abar[t])
        alpha, var = a**0.5, 1 - a
        return mean + alpha * std**2 / (a * std**2 + var) * (x - alpha * mean)

    return f


@pytest.mark.parametrize("sampler,steps", [("ddim", 50), ("dpm++2m", 20), ("ddpm", 200)])
def test_samplers_with_the_exact_denoiser_reproduce_the_data_distribution(sampler, steps):
    d = Denoiser(DiffusionConfig(prediction="eps"))
    gens = [torch.Generator().manual_seed(i) for i in range(4)]
    x = noise((4, 2000), gens)
    ts = spaced_timesteps(1000, steps, SPACING[sampler], d.abar)
    out = run(sampler, _gaussian_data_denoiser(d, 0.7, 0.3), x, d.abar, ts, gens)
    assert abs(float(out.mean()) - 0.7) < 0.02
    assert abs(float(out.std()) - 0.3) < 0.03


def test_dpm_solver_is_closer_than_ddim_at_ten_steps():
    d = Denoiser(DiffusionConfig())
    f = _gaussian_data_denoiser(d, 0.0, 0.5)
    gens = [torch.Generator().manual_seed(i) for i in range(2)]
    x = noise((2, 4000), gens)
    ref = run("ddim", f, x, d.abar, spaced_timesteps(1000, 500), gens)
    err = {
        s: float((run(s, f, x, d.abar, spaced_timesteps(1000, 10, SPACING[s], d.abar), gens) - ref).abs().mean())
        for s in ("ddim", "dpm++2m")
    }
    assert err["dpm++2m"] < 0.25 * err["ddim"]


@pytest.mark.parametrize("sampler,eta", [("ddpm", 0.0), ("ddim", 0.5), ("dpm++2m", 0.0)])
def test_a_select_hook_narrows_the_batch_and_kept_rows_go_on_as_before(sampler, eta):
    """After step 3 only rows 4 and 1 go on, with a denoiser made for them: each comes out as it
    does in the whole batch (its own generator, and the multistep state of its own row)."""
    d = Denoiser(DiffusionConfig(prediction="eps"))
    f = _gaussian_data_denoiser(d, 0.2, 0.4)
    ts = spaced_timesteps(1000, 8, SPACING[sampler], d.abar)

    def gens():
        return [torch.Generator().manual_seed(s) for s in range(5)]

    g = gens()
    whole = run(sampler, f, noise((5, 64), g), d.abar, ts, g, eta=eta)
    sizes, seen = [], []

    def narrower(x, t):
        sizes.append(len(x))
        return f(x, t)

    def select(i, x0):
        seen.append((i, len(x0)))
        return ([4, 1], narrower) if i == 3 else None

    g = gens()
    part = run(sampler, f, noise((5, 64), g), d.abar, ts, g, eta=eta, select=select)
    assert part.shape == (2, 64) and torch.allclose(part, whole[[4, 1]], atol=1e-6)
    assert seen == [(i, 5 if i <= 3 else 2) for i in range(8)] and sizes == [2] * 4  # steps 4-7 on two rows


def test_noise_rows_depend_only_on_their_own_generator():
    a = noise((3, 5), [torch.Generator().manual_seed(s) for s in (1, 2, 3)])
    b = noise((2, 5), [torch.Generator().manual_seed(s) for s in (2, 3)])
    assert torch.equal(a[1:], b)


def test_classifier_free_guidance_mixes_the_two_halves():
    def pair(x, t):  # conditioned half: x + 1, unconditioned half: x
        n = len(x) // 2
        return torch.cat([x[:n] + 1, x[n:]])

    x = torch.zeros(2, 3)
    assert torch.allclose(classifier_free(pair, 1.0)(x, 0), torch.ones(2, 3))
    assert torch.allclose(classifier_free(pair, 4.0)(x, 0), torch.full((2, 3), 4.0))
    assert torch.allclose(classifier_free(pair, 0.0)(x, 0), torch.zeros(2, 3))


def test_two_condition_guidance_adds_a_push_along_the_second_condition():
    def triple(x, t):  # both conditions: x + 3, neither: x, the first alone: x + 1
        n = len(x) // 3
        return torch.cat([x[:n] + 3, x[n : 2 * n], x[2 * n :] + 1])

    x = torch.zeros(2, 3)
    assert torch.allclose(classifier_free_two(triple, 1.0, 0.0)(x, 0), torch.full((2, 3), 3.0))
    assert torch.allclose(classifier_free_two(triple, 2.0, 0.0)(x, 0), torch.full((2, 3), 6.0))
    # s (x̂꜀ − x̂ᵤ) + s₂ (x̂꜀ − x̂₁) = 2·3 + 1.5·2
    assert torch.allclose(classifier_free_two(triple, 2.0, 1.5)(x, 0), torch.full((2, 3), 9.0))


def test_dynamic_threshold_keeps_estimates_in_range_and_leaves_small_ones():
    big = torch.linspace(-5, 5, 100).view(1, 100)
    small = torch.linspace(-0.5, 0.5, 100).view(1, 100)
    f = dynamic_threshold(lambda x, t: x, 0.9)
    assert float(f(big, 0).abs().max()) <= 1.0 + 1e-6
    assert torch.allclose(f(small, 0), small)


def test_min_snr_loss_trains_a_tiny_network():
    torch.manual_seed(0)
    d = Denoiser(DiffusionConfig(prediction="v"))
    net = torch.nn.Sequential(torch.nn.Linear(3, 64), torch.nn.SiLU(), torch.nn.Linear(64, 2))
    opt = torch.optim.Adam(net.parameters(), 1e-2)
    data = torch.tensor([[0.8, -0.8]]).expand(256, 2)
    g = torch.Generator().manual_seed(0)

    def f(x, t):
        return net(torch.cat([x, t[:, None].float() / 1000], 1))

    first = float(d.loss(f, data, generator=g).detach())
    for _ in range(300):
        loss = d.loss(f, data, generator=g)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(d.loss(f, data, generator=g).detach()) < 0.5 * first


def test_ddim_inversion_then_ddim_gives_the_picture_back():
    d = Denoiser(DiffusionConfig())
    f = _gaussian_data_denoiser(d, 0.3, 0.5)
    x0 = 0.3 + 0.5 * torch.randn(2, 3000, generator=torch.Generator().manual_seed(1))
    ts = spaced_timesteps(1000, 50)
    xt = ddim_invert(f, x0, d.abar, ts)
    # the probability-flow ODE of N(0.3, 0.5²) data ends at standard normal noise
    assert abs(float(xt.mean())) < 0.1 and abs(float(xt.std()) - 1.0) < 0.05
    back = ddim(f, xt, d.abar, ts)
    assert float((back - x0).abs().mean()) < 0.05  # measured 0.023 at 50 steps (first-order steps)
    # and a picture it was not given does not come back
    assert float((ddim(f, torch.randn_like(xt), d.abar, ts) - x0).abs().mean()) > 0.3


def _constant_picture_denoiser(d: Denoiser):
    """Exact E[x0 | x_t] when x0 = c·(1, …, 1) with c ~ N(0, 1): every pixel the same."""

    def f(x, t):
        a = float(d.abar[t])
        m = x.mean(dim=1, keepdim=True)
        return (a**0.5 * m / (a + (1 - a) / x.shape[1])).expand_as(x)

    return f


@pytest.mark.parametrize("resample", [1, 4])
def test_repaint_keeps_the_known_part_and_fills_the_rest_to_agree(resample):
    # pictures whose pixels all share one value: the repainted half must take the kept half's
    # value (values from -1.5 to 1.5: a repaint that ignored the kept half would be off by ~0.8)
    d = Denoiser(DiffusionConfig())
    f = _constant_picture_denoiser(d)
    n, dim = 8, 64
    c = torch.linspace(-1.5, 1.5, n)[:, None]
    known = c.expand(n, dim).clone()
    keep = torch.zeros(1, dim)
    keep[:, : dim // 2] = 1
    gens = [torch.Generator().manual_seed(i) for i in range(n)]
    out = repaint(f, noise((n, dim), gens), d.abar, spaced_timesteps(1000, 25), gens, known, keep, resample=resample)
    assert torch.equal(out[:, : dim // 2], known[:, : dim // 2])
    err = float((out[:, dim // 2 :].mean(1) - c[:, 0]).abs().mean())
    assert err < 0.05
    with pytest.raises(ValueError):
        repaint(f, out, d.abar, [0], gens, known, keep, resample=0)
