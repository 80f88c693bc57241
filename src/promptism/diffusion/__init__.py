"""Diffusion core: noise schedules, the denoiser (parameterisation + loss), samplers as pure
functions, and guidance as wrappers."""

from .denoiser import Denoiser, DiffusionConfig
from .guidance import classifier_free, classifier_free_two, dynamic_threshold
from .samplers import SAMPLERS, ddim, ddim_invert, ddpm, dpmpp_2m, noise, repaint, run
from .schedules import alphas_cumprod, spaced_timesteps

__all__ = [
    "Denoiser",
    "DiffusionConfig",
    "classifier_free",
    "classifier_free_two",
    "dynamic_threshold",
    "SAMPLERS",
    "ddim",
    "ddim_invert",
    "ddpm",
    "dpmpp_2m",
    "noise",
    "repaint",
    "run",
    "alphas_cumprod",
    "spaced_timesteps",
]
