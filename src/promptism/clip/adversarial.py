"""Pictures made to fool a CLIP, as training data that teaches it not to be fooled.

`promptism guide` optimises a picture until CLIP finds it like the prompt, and CLIP finds many of
its pictures as like the prompt as true renders of it while the judge reads no such scene
(benchmarks/guide_clip_gap.py). A folder of such pictures, each with the JSON sidecar `guide --out`
writes (or any sidecar with a ``caption``), makes a pool. Each training step draws a few of them; for
each, a fresh true render of its caption joins the batch, and the caption must pick that render out
of every picture in the batch, the fooling ones included (``adversarial_loss``). The fooling
picture gets no caption of its own, so nothing is claimed about what it shows.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import PromptismError


@dataclass
class AdversarialPool:
    """Fooling pictures (N, S, S, 3) uint8, the caption each was made for, and what it states."""

    images: np.ndarray
    captions: list[str]
    constraints: list
    skipped: int = 0

    def __len__(self) -> int:
        return len(self.captions)

    def truths(self, chosen: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """A fresh random true render of each chosen picture's caption, at the pool's size."""
        from ..world.constraints import layout
        from ..world.render import render_array

        size = self.images.shape[1]
        return np.stack([render_array(layout(self.constraints[i], rng), size) for i in chosen])


def _caption(meta: dict) -> str | None:
    """The caption a sidecar names: its ``caption``, or the one positive prompt of a guide run."""
    if isinstance(meta.get("caption"), str):
        return meta["caption"]
    positive = [p.get("text") for p in meta.get("prompts", []) if float(p.get("weight", 1.0)) > 0]
    return positive[0] if len(positive) == 1 and isinstance(positive[0], str) else None


def load_pool(folder: str | Path, size: int) -> AdversarialPool:
    """Every PNG in ``folder`` with a sidecar naming one caption the Scene World can lay out, read at
    ``size`` px; the others are counted in ``skipped``. An empty pool is an error."""
    from PIL import Image

    from ..world.captions import ParseError, parse
    from ..world.constraints import layout
    from ..world.scene import SceneError

    folder = Path(folder)
    if not folder.is_dir():
        raise PromptismError(f"no folder of adversarial pictures at {str(folder)!r}")
    images, captions, constraints, skipped = [], [], [], 0
    for side in sorted(folder.glob("*.json")):
        png = side.with_suffix(".png")
        try:
            caption = _caption(json.loads(side.read_text()))
            stated = parse(caption) if caption else None
            if stated is not None:
                layout(stated, np.random.default_rng(0))  # a caption no scene can satisfy is no use
        except (json.JSONDecodeError, ParseError, SceneError, ValueError):
            stated = None
        if stated is None or not png.is_file():
            skipped += 1
            continue
        with Image.open(png) as im:
            picture = im.convert("RGB")
            if picture.size != (size, size):
                picture = picture.resize((size, size), Image.Resampling.BICUBIC)
        images.append(np.asarray(picture, dtype=np.uint8))
        captions.append(caption)
        constraints.append(stated)
    if not images:
        raise PromptismError(f"{folder} holds no picture with a sidecar naming a caption the Scene World can draw")
    return AdversarialPool(np.stack(images), captions, constraints, skipped)


def adversarial_loss(txt: torch.Tensor, img: torch.Tensor, truth_rows: torch.Tensor, scale: torch.Tensor):
    """Cross-entropy of each caption (K, D) picking its true render, row ``truth_rows[k]`` of the
    batch's pictures (N, D) that include the fooling ones; and the share of captions whose true
    render beats the fooling picture made for them (``fooled_rows``: the last K rows of ``img``)."""
    logits = scale * txt @ img.T  # (K, N)
    loss = F.cross_entropy(logits, truth_rows)
    with torch.no_grad():
        fooled_rows = torch.arange(len(img) - len(txt), len(img), device=img.device)
        k = torch.arange(len(txt), device=img.device)
        beats = (logits[k, truth_rows] > logits[k, fooled_rows]).float().mean()
    return loss, float(beats)
