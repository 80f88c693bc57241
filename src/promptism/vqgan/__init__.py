"""A VQGAN: pictures to a grid of codes and back (Esser et al. 2021). Used by `promptism guide
--generator vqgan`; trained by `promptism train vqgan`.

    from promptism.vqgan import load
    vq = load("world")                 # a shipped name or a model folder
    codes = vq.encode(pixels)          # (B, 3, 64, 64) in [-1, 1] -> (B, 8, 8) indices
    pictures = vq.decode(codes)
"""

from __future__ import annotations

from pathlib import Path

from ..errors import PromptismError


def load(name: str | Path = "world"):
    """A VQGAN in eval mode, from a shipped name or a model folder."""
    from ..checkpoint import load_weights, read_config, resolve
    from .model import VQGAN, VQGANConfig

    folder = resolve(name, "vqgan")
    cfg, meta = read_config(folder, "vqgan", VQGANConfig)
    model = load_weights(folder, VQGAN(cfg))
    model.meta, model.folder = meta, folder
    return model


def ship(run: str | Path, dst: str | Path, preset_name: str | None = None) -> Path:
    """A trained VQGAN as a shipped model folder (float16 weights): from RUN/model, or, for a run
    stopped before its end, from its last checkpoint's EMA weights, or its weights where it keeps no
    EMA (``preset_name`` then gives the architecture)."""
    import torch

    from ..checkpoint import finished_run, last_checkpoint, save_model
    from .model import VQGAN, VQGANConfig
    from .presets import PRESETS

    done = finished_run(run, "vqgan", VQGANConfig)
    if done is not None:
        cfg, state, extra = done
    else:
        stopped = last_checkpoint(run)
        if preset_name not in PRESETS or stopped is None:
            raise PromptismError(f"{run} has no finished model and no checkpoint to ship (with its preset)")
        cfg = VQGANConfig(**PRESETS[preset_name]["model"])
        state = {k[3:]: v for k, v in stopped[0].items() if k.startswith("vq.")}
        extra = {"preset": preset_name, **stopped[1]}
    return save_model(dst, "vqgan", VQGAN(cfg), cfg, extra, state, torch.float16)
