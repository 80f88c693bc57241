"""The denoiser: a network apart from its parameterisation (k-diffusion's ``Denoiser``, EDM's
preconditioner). It owns the schedule, what the network predicts (ε, v or x₀), how a noisy
sample is made, and the training loss with min-SNR weighting.

Samplers only ever ask it one thing: ``x0 = denoiser(net, x_t, t, **cond)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .schedules import alphas_cumprod

PREDICTIONS = ("eps", "v", "x0")
TIMESTEP_SAMPLING = ("uniform", "logit-normal")


@dataclass(frozen=True)
class DiffusionConfig:
    schedule: str = "cosine"
    timesteps: int = 1000
    prediction: str = "v"  # eps | v | x0
    min_snr_gamma: float | None = 5.0  # Hang et al. 2023; None = unweighted
    # how training draws timesteps: "uniform", or "logit-normal" (Esser et al. 2024, §3.1:
    # t/T = sigmoid(u), u ~ N(t_mean, t_std²)), which spends the steps on middling noise, where
    # the layout and the shapes are decided, and few on the nearly clean and the nearly pure noise
    timestep_sampling: str = "uniform"
    t_mean: float = 0.0
    t_std: float = 1.0

    def __post_init__(self):
        if self.prediction not in PREDICTIONS:
            raise ValueError(f"prediction must be one of {PREDICTIONS}, got {self.prediction!r}")
        if self.timestep_sampling not in TIMESTEP_SAMPLING:
            raise ValueError(f"timestep_sampling must be one of {TIMESTEP_SAMPLING}, got {self.timestep_sampling!r}")
        if not self.t_std > 0:
            raise ValueError(f"t_std must be positive, got {self.t_std!r}")


class Denoiser:
    def __init__(self, cfg: DiffusionConfig = DiffusionConfig()):
        self.cfg = cfg
        self.abar = alphas_cumprod(cfg.schedule, cfg.timesteps).float()  # (T,)
        self.T = cfg.timesteps

    def _coef(self, t: torch.Tensor, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        a = self.abar.to(like.device)[t].view(-1, *([1] * (like.ndim - 1)))
        return a.sqrt(), (1 - a).sqrt()  # α_t, σ_t

    def add_noise(self, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        alpha, sigma = self._coef(t, x0)
        return alpha * x0 + sigma * noise  # Ho et al. 2020, Eq. 4

    def target(self, x0, noise, t) -> torch.Tensor:
        alpha, sigma = self._coef(t, x0)
        if self.cfg.prediction == "eps":
            return noise
        if self.cfg.prediction == "v":
            return alpha * noise - sigma * x0  # Salimans & Ho 2022, §4
        return x0

    def to_x0(self, out: torch.Tensor, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """The network's output, whatever it predicts, as a clean-sample estimate."""
        alpha, sigma = self._coef(t, x_t)
        if self.cfg.prediction == "eps":
            return (x_t - sigma * out) / alpha
        if self.cfg.prediction == "v":
            return alpha * x_t - sigma * out
        return out

    def __call__(self, net, x_t: torch.Tensor, t: torch.Tensor, **cond) -> torch.Tensor:
        return self.to_x0(net(x_t, t, **cond), x_t, t)

    def loss_weight(self, t: torch.Tensor) -> torch.Tensor:
        """Min-SNR-γ weights (Hang et al. 2023, Eq. 5 and §3.4) for the chosen target: the
        weight min(SNR, γ) on the x₀ error, expressed for an ε or v regression."""
        s = self.abar.to(t.device)[t] / (1 - self.abar.to(t.device)[t])
        if self.cfg.min_snr_gamma is None:
            return torch.ones_like(s)
        clipped = s.clamp(max=self.cfg.min_snr_gamma)
        if self.cfg.prediction == "eps":
            return clipped / s
        if self.cfg.prediction == "v":
            return clipped / (s + 1)
        return clipped

    def training_timesteps(self, b: int, device=None, generator: torch.Generator | None = None) -> torch.Tensor:
        """b timesteps drawn as ``timestep_sampling`` says (from the generator's device, then moved
        to ``device``: the same draws on a CPU and a GPU)."""
        where = generator.device if generator is not None else device
        if self.cfg.timestep_sampling == "uniform":
            t = torch.randint(0, self.T, (b,), device=where, generator=generator)
        else:
            u = torch.randn(b, device=where, generator=generator) * self.cfg.t_std + self.cfg.t_mean
            t = (torch.sigmoid(u) * self.T).long().clamp(0, self.T - 1)
        return t.to(device) if device is not None else t

    def loss(self, net, x0: torch.Tensor, generator: torch.Generator | None = None, **cond) -> torch.Tensor:
        """One Monte-Carlo estimate of the weighted denoising loss over the training timesteps."""
        b = x0.shape[0]
        t = self.training_timesteps(b, x0.device, generator)
        where = generator.device if generator is not None else x0.device
        noise = torch.randn(x0.shape, device=where, generator=generator).to(x0.device)
        out = net(self.add_noise(x0, t, noise), t, **cond)
        err = (out - self.target(x0, noise, t)).pow(2).flatten(1).mean(1)
        return (self.loss_weight(t) * err).mean()
