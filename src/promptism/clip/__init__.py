"""CLIP: score how well captions fit pictures, label zero-shot, rerank, and give the other
generators text and image embeddings.

    from promptism import clip
    model = clip.load("world")                     # the default model shipped with the package
    model.score(images, ["a red circle", "a blue square"])
    model.zero_shot(images, ["circle", "square"], templates=["a {}"])
    clip.load("path/to/folder")                    # a model trained with `promptism train clip`
    clip.load("hf:openai/clip-vit-large-patch14")  # transformers' CLIP, a local folder or a hub id
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import PromptismError

if TYPE_CHECKING:
    from .api import ClipBase

MODELS_DIR = Path(__file__).resolve().parent.parent / "models"
# world-v1: the previous default (a bag of words on colours), kept because the shipped prior and
# decoder learned its embedding space; their config.json names it and unCLIP loads it for them.
# world-bind2: the default before world-bind17, kept as the CLIP that reranks unCLIP's candidates
# (Settings.rerank_clip), since that reranking was measured with it (benchmarks/rerank_world.py)
SHIPPED = {
    "world": MODELS_DIR / "clip-world",
    "world-v1": MODELS_DIR / "clip-world-v1",
    "world-bind2": MODELS_DIR / "clip-world-bind2",
}


def resolve(name: str) -> Path:
    """A shipped CLIP's name ("world", "world-v1", "world-bind2") or a model folder -> the folder (hf: names have none)."""
    return SHIPPED.get(name, Path(name))


def sha256(name: str) -> str | None:
    """The sha256 of a CLIP's weights (a shipped name or a model folder), for provenance; None for
    an hf: CLIP, whose weights are not ours to hash."""
    if name.startswith("hf:"):
        return None
    from ..checkpoint import weights_sha256

    return weights_sha256(resolve(name))


def find(name: str) -> Path:
    """The folder of one of our CLIPs (a shipped name or a model folder), or an error that says
    what to give instead."""
    folder = resolve(name)
    if not (folder / "config.json").exists():
        if name in SHIPPED:
            raise PromptismError(f"the shipped CLIP {name!r} is missing from {folder}: reinstall promptism")
        raise PromptismError(
            f"no CLIP at {name!r}: give {' or '.join(map(repr, SHIPPED))}, a model folder, or 'hf:<folder or hub id>'"
        )
    return folder


def load(name: str = "world") -> ClipBase:
    """A CLIP by name ("world"), model folder, or "hf:<folder or hub id>" for transformers' CLIP."""
    if name.startswith("hf:"):
        from .hf import load_hf

        return load_hf(name[3:])
    from .native import load_folder

    return load_folder(find(name))


__all__ = ["ClipBase", "load"]


def __getattr__(name: str):
    # the model code (and torch) loads when it is first used, not when a torch-free part of the
    # package (the task's config, which the command line reads) is imported
    if name == "ClipBase":
        from .api import ClipBase

        return ClipBase
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
