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
    import json

    import torch
    from safetensors.torch import load_file

    from ..checkpoint import read_config, save_model
    from .model import VQGAN, VQGANConfig

    run = Path(run)
    if (run / "model" / "config.json").exists():
        cfg, meta = read_config(run / "model", "vqgan", VQGANConfig)
        state = load_file(str(run / "model" / "model.safetensors"))
        extra = {k: v for k, v in meta.items() if k not in ("kind", "promptism", "config", "stored_dtype")}
    else:
        from .presets import PRESETS

        ck = run / "checkpoint"
        weights = ck / "ema.safetensors" if (ck / "ema.safetensors").exists() else ck / "model.safetensors"
        if preset_name not in PRESETS or not weights.exists():
            raise PromptismError(f"{run} has no finished model and no checkpoint to ship (with its preset)")
        cfg = VQGANConfig(**PRESETS[preset_name]["model"])
        state = {k[3:]: v for k, v in load_file(str(weights)).items() if k.startswith("vq.")}
        done = json.loads((run / "checkpoint" / "state.json").read_text())
        extra = {"preset": preset_name, "steps": done["step"], "final_logs": done.get("logs"), "stopped_early": True}
        extra["train_seconds"] = done.get("train_seconds")
    return save_model(dst, "vqgan", VQGAN(cfg), cfg, extra, state, torch.float16)
