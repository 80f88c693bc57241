"""A StyleGAN2-style GAN: noise to a style vector to a picture; styles mix layer by layer and are
pulled towards their mean by truncation (Karras et al. 2019, 2020).

    from promptism.gan import sample, style_mix
    result = sample("0-8", truncation=0.7)          # result.images, result.grid, result.ws
    figure, meta = style_mix("0,1,2", "3,4", "0-3")  # columns' coarse styles, rows' fine ones
    gan = load("world")                             # a shipped name or a model folder
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path


@dataclass
class GAN:
    """A loaded generator (eval mode) and what provenance says of it."""

    generator: object
    folder: Path
    meta: dict
    models: dict  # {"gan": {"name": ..., "sha256": ...}}


def load(name: str | Path = "world") -> GAN:
    """A GAN's generator, from a shipped name or a model folder."""
    from ..checkpoint import load_weights, read_config, resolve, weights_sha256
    from .model import GANConfig, Generator

    folder = resolve(name, "gan")
    cfg, meta = read_config(folder, "gan", GANConfig)
    generator = load_weights(folder, Generator(cfg))
    return GAN(generator, folder, meta, {"gan": {"name": str(name), "sha256": weights_sha256(folder)}})


@lru_cache(maxsize=2)
def loaded(name: str) -> GAN:
    """``load(name)``, once per process (the server draws every job with it)."""
    return load(name)


def ship(run: str | Path, dst: str | Path) -> Path:
    """A trained GAN as a shipped model folder (the generator's float16 weights): from RUN/model,
    or, for a run stopped before its end, from its last checkpoint's EMA generator (its
    architecture from RUN/model_config.json, written when the run started)."""
    import torch

    from ..checkpoint import run_to_ship, save_model
    from .model import GANConfig, Generator
    from .training import generator_weights

    cfg, state, extra = run_to_ship(run, "gan", GANConfig, generator_weights)
    return save_model(dst, "gan", Generator(cfg), cfg, extra, state, torch.float16)


def __getattr__(name: str):
    if name in ("sample", "style_mix", "GANResult"):
        from . import pipeline

        return getattr(pipeline, name)
    raise AttributeError(name)


__all__ = ["GAN", "GANResult", "load", "loaded", "sample", "ship", "style_mix"]
