"""The layout stage: a caption -> where each object goes (promptism.layout.model), for decoders
that draw from a layout (``DecoderConfig.layout``).

    promptism train layout --data DIR --out runs/layout
    promptism train decoder ... --layout runs/layout/model      # a decoder that reads its maps
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import torch

from .model import CHANNELS, LayoutConfig, LayoutModel, decode_objects, layout_maps, quantised

__all__ = ["CHANNELS", "Layout", "LayoutConfig", "LayoutModel", "layout_maps", "load", "quantised", "read", "ship"]


@dataclass
class Layout:
    """A loaded layout stage: its model, its tokenizer and its folder."""

    model: LayoutModel
    tokenizer: object
    folder: Path
    meta: dict

    @cached_property
    def weights_sha256(self) -> str:
        """Of the weights file, read once per loaded stage (provenance names it in every picture)."""
        from ..checkpoint import weights_sha256

        return weights_sha256(self.folder)

    def draw(self, captions: Sequence[str], generators: Sequence[torch.Generator], temperature: float = 1.0):
        """One layout (a list of objects {color, shape, size, x, y}) per caption, caption i's drawn
        with ``generators[i]``."""
        ids, _ = self.tokenizer(list(captions), warn=False)
        rows = self.model.sample(ids, generators, temperature)
        return [decode_objects(r, self.model.config) for r in rows]


def read(name: str | Path) -> tuple[Path, LayoutConfig, dict]:
    """(folder, config, config.json's fields) of a layout stage, without its weights."""
    from ..checkpoint import read_config, resolve

    folder = resolve(name, "layout")
    return (folder, *read_config(folder, "layout", LayoutConfig))


def load(name: str | Path) -> Layout:
    """A shipped layout stage's name or a model folder (``promptism train layout`` writes OUT/model)."""
    from ..checkpoint import load_weights
    from ..clip.tokenizer import CaptionTokenizer

    folder, cfg, meta = read(name)
    model = load_weights(folder, LayoutModel(cfg))
    return Layout(model, CaptionTokenizer.load(folder / "tokenizer.json", cfg.context), folder, meta)


def ship(src: str | Path, name: str = "world") -> Path:
    """Copy a trained layout stage into the package (float16 weights) as ``layout-<name>``."""
    import shutil

    from ..checkpoint import MODELS_DIR, save_model

    stage = load(src)
    extra = {k: v for k, v in stage.meta.items() if k not in ("kind", "promptism", "config", "stored_dtype")}
    dst = MODELS_DIR / f"layout-{name}"
    shutil.rmtree(dst, ignore_errors=True)
    folder = save_model(
        dst, "layout", stage.model, stage.model.config, {**extra, "name": f"layout-{name}"}, dtype=torch.float16
    )
    stage.tokenizer.save(folder / "tokenizer.json")
    return folder
