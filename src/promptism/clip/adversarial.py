"""Pictures made to fool a CLIP, as training data that teaches it not to be fooled.

`promptism guide` optimises a picture until CLIP finds it like the prompt, and CLIP finds many of
its pictures as like the prompt as true renders of it while the judge reads no such scene
(benchmarks/guide_clip_gap.py). A folder of such pictures, each with the JSON sidecar `guide --out`
writes (or any sidecar with a ``caption``), makes a pool. Each training step draws a few of them; for
each, a fresh true render of its caption joins the batch, and the caption must pick that render out
of every picture in the batch, the fooling ones included (``adversarial_loss``). The fooling
picture gets no caption of its own, so nothing is claimed about what it shows.

A sidecar may also name a ``positive``: a picture beside it that shows its caption truly in the
fooling picture's look (``scripts/fooling_pictures.py --look-matched``: guide run from a true
render of the caption, with the same CLIP and steps). It stands in for the fresh render, so the
caption must tell the two apart by what they show, where a render can be told from a fooling
picture by its look alone.
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
    positives: list[np.ndarray | None] | None = None  # look-matched true pictures, where sidecars name them

    def __len__(self) -> int:
        return len(self.captions)

    def truths(self, chosen: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Each chosen picture's look-matched positive where it has one, else a fresh random true
        render of its caption, at the pool's size."""
        from ..world.constraints import layout
        from ..world.render import render_array

        size = self.images.shape[1]
        positives = self.positives or [None] * len(self)
        return np.stack(
            [positives[i] if positives[i] is not None else render_array(layout(self.constraints[i], rng), size)
             for i in chosen]
        )  # fmt: skip


def _caption(meta: dict) -> str | None:
    """The caption a sidecar names: its ``caption``, or the one positive prompt of a guide run."""
    if isinstance(meta.get("caption"), str):
        return meta["caption"]
    positive = [p.get("text") for p in meta.get("prompts", []) if float(p.get("weight", 1.0)) > 0]
    return positive[0] if len(positive) == 1 and isinstance(positive[0], str) else None


def load_pool(folder: str | Path, size: int) -> AdversarialPool:
    """Every PNG in ``folder`` with a sidecar naming one caption the Scene World can lay out, read at
    ``size`` px, with the look-matched positive its sidecar names (a picture in the same folder);
    the others, and those whose named positive is missing, are counted in ``skipped``. An empty
    pool is an error."""
    from PIL import Image

    from ..world.captions import ParseError, parse
    from ..world.constraints import layout
    from ..world.scene import SceneError

    folder = Path(folder)
    if not folder.is_dir():
        raise PromptismError(f"no folder of adversarial pictures at {str(folder)!r}")
    images, captions, constraints, positives, skipped = [], [], [], [], 0

    def read(path: Path) -> np.ndarray:
        with Image.open(path) as im:
            picture = im.convert("RGB")
            if picture.size != (size, size):
                picture = picture.resize((size, size), Image.Resampling.BICUBIC)
        return np.asarray(picture, dtype=np.uint8)

    for side in sorted(folder.glob("*.json")):
        png = side.with_suffix(".png")
        positive = None
        try:
            meta = json.loads(side.read_text())
            caption = _caption(meta)
            stated = parse(caption) if caption else None
            if stated is not None:
                layout(stated, np.random.default_rng(0))  # a caption no scene can satisfy is no use
            if isinstance(meta.get("positive"), str):
                positive = folder / Path(meta["positive"]).name
        except (json.JSONDecodeError, ParseError, SceneError, ValueError):
            stated = None
        if stated is None or not png.is_file() or (positive is not None and not positive.is_file()):
            skipped += 1
            continue
        images.append(read(png))
        captions.append(caption)
        constraints.append(stated)
        positives.append(read(positive) if positive is not None else None)
    if not images:
        raise PromptismError(f"{folder} holds no picture with a sidecar naming a caption the Scene World can draw")
    named = any(p is not None for p in positives)
    return AdversarialPool(np.stack(images), captions, constraints, skipped, positives if named else None)


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
