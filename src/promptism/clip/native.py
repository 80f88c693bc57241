"""Our CLIP behind the shared API: model + tokenizer, loaded from a model folder."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from ..checkpoint import load_weights, read_config, save_model
from .api import ClipBase
from .model import CLIP, CLIPConfig
from .tokenizer import CaptionTokenizer

KIND = "clip"


class NativeClip(ClipBase):
    def __init__(self, model: CLIP, tokenizer: CaptionTokenizer, name: str = "clip"):
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.name = name
        self.image_size = model.config.image_size

    @torch.no_grad()
    def encode_text(self, texts: Sequence[str]) -> torch.Tensor:
        ids, mask = self.tokenizer(list(texts))
        return self.model.encode_text(ids, mask)

    @torch.no_grad()
    def text_features(self, texts: Sequence[str]):
        ids, mask = self.tokenizer(list(texts))
        tokens, pooled = self.model.text_features(ids, mask)
        return tokens, mask, pooled

    def _encode_pixels(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.model.encode_image(pixels)

    def logit_scale(self) -> float:
        return float(self.model.scale().detach())

    def save(
        self,
        folder: str | Path,
        extra: dict | None = None,
        state_dict: dict | None = None,
        dtype: torch.dtype | None = None,
    ) -> Path:
        folder = save_model(folder, KIND, self.model, self.model.config, extra, state_dict, dtype)
        self.tokenizer.save(Path(folder) / "tokenizer.json")
        return folder


def ship(src: str | Path, dst: str | Path) -> Path:
    """Copy a trained model folder into the package, weights stored as float16. The folder it
    replaces keeps its MODEL_CARD.md: benchmarks/clip_quality.py rewrites the measured part and
    keeps the hand-written Limits section."""
    import json
    import shutil

    model = load_folder(src)
    meta = json.loads((Path(src) / "config.json").read_text())
    extra = {k: v for k, v in meta.items() if k not in ("kind", "promptism", "config", "stored_dtype")}
    card = Path(dst) / "MODEL_CARD.md"
    kept = card.read_text() if card.exists() else None
    shutil.rmtree(dst, ignore_errors=True)
    folder = model.save(dst, extra=extra, dtype=torch.float16)
    if kept is not None:
        card.write_text(kept)
    return folder


def load_folder(folder: str | Path) -> NativeClip:
    cfg, meta = read_config(folder, KIND, CLIPConfig)
    model = load_weights(folder, CLIP(cfg))
    tok = CaptionTokenizer.load(Path(folder) / "tokenizer.json", cfg.context)
    return NativeClip(model, tok, name=meta.get("name", Path(folder).name))
