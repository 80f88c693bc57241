"""DALL·E mini: a transformer writes a picture's VQGAN codes after reading the prompt, many candidates
are drawn, CLIP ranks them, and the best nine make the 3×3 grid.

    from promptism.mini import mini
    result = mini("a red circle above a blue square", seed=3)   # result.images (ranked), result.grid
    model = load("world")                                       # a shipped name or a model folder
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass
class Mini:
    """A loaded mini model: the transformer, its caption tokenizer and the VQGAN whose codes it writes."""

    model: object
    tokenizer: object
    vq: object
    folder: Path
    meta: dict
    models: dict  # provenance: each model's name and weights' sha256 ({"mini": ..., "vqgan": ...})


def load(name: str | Path = "world") -> Mini:
    """A mini model in eval mode, from a shipped name or a model folder, with its VQGAN (the one its
    config names: a shipped name or a folder)."""
    from ..checkpoint import load_weights, read_config, resolve, weights_sha256
    from ..clip.tokenizer import CaptionTokenizer
    from ..errors import PromptismError
    from ..vqgan import load as load_vqgan
    from .model import MiniConfig, MiniTransformer

    folder = resolve(name, "mini")
    cfg, meta = read_config(folder, "mini", MiniConfig)
    model = load_weights(folder, MiniTransformer(cfg))
    tok = CaptionTokenizer.load(folder / "tokenizer.json", cfg.context)
    vq_info = meta.get("vqgan") or {"name": "world"}
    vq = load_vqgan(vq_info["name"])
    if vq.config.codebook_size != cfg.codebook_size or vq.config.grid != cfg.grid:
        raise PromptismError(
            f"{folder} writes {cfg.grid}×{cfg.grid} codes of {cfg.codebook_size}, but its VQGAN "
            f"{vq_info['name']!r} has {vq.config.grid}×{vq.config.grid} of {vq.config.codebook_size}"
        )
    vq_sha = weights_sha256(vq.folder)
    if vq_info.get("sha256") and vq_sha != vq_info["sha256"]:
        import warnings

        warnings.warn(f"the VQGAN {vq_info['name']!r} is not the one {folder} was trained over", stacklevel=2)
    models = {
        "mini": {"name": str(name), "sha256": weights_sha256(folder)},
        "vqgan": {"name": str(vq_info["name"]), "sha256": vq_sha},
    }
    return Mini(model, tok, vq, folder, meta, models)


def ship(run: str | Path, dst: str | Path) -> Path:
    """A trained mini model as a shipped model folder (float16 weights, tokenizer): from RUN/model,
    or, for a run stopped before its end, from its last checkpoint's EMA weights (its architecture
    from RUN/model_config.json, written when the run started)."""
    import shutil

    import torch

    from ..checkpoint import run_to_ship, save_model
    from .model import MiniConfig, MiniTransformer

    run = Path(run)
    cfg, state, extra = run_to_ship(run, "mini", MiniConfig)
    folder = save_model(dst, "mini", MiniTransformer(cfg), cfg, extra, state, torch.float16)
    shutil.copy(run / "tokenizer.json", folder / "tokenizer.json")
    return folder


def __getattr__(name: str):
    if name in ("mini", "MiniResult"):
        from . import pipeline

        return getattr(pipeline, name)
    raise AttributeError(name)


__all__ = ["Mini", "MiniResult", "load", "mini", "ship"]
