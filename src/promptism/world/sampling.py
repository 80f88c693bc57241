"""Random scenes with captions: the examples of the world's training data.

An example is drawn in three steps: a *plan* (constraints with every attribute chosen), a
scene laid out from it, and a caption that states part or all of the plan. Plans never use a
held-out colour–shape pair, so neither pictures nor captions of the training data ever show
one. Every draw is a pure function of its seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import vocab
from .captions import describe
from .constraints import Constraints, ObjectSpec, Relation, free_color, layout
from .scene import Scene, SceneError

# share of each kind of plan in the training data
KINDS: dict[str, float] = {
    "single": 0.22,
    "placed": 0.10,  # one object at an absolute position
    "two": 0.20,
    "counting": 0.16,
    "relation": 0.20,
    "three": 0.12,
}
STYLE_WEIGHTS = {"flat": 0.55, "outline": 0.15, "pixel": 0.15, "neon": 0.15}
BACKGROUND_WEIGHTS = {"white": 0.4, "black": 0.2, "gray": 0.2, "sky": 0.2}


@dataclass(frozen=True)
class Example:
    scene: Scene
    caption: str
    stated: Constraints  # what the caption states (parse(caption) == stated)
    kind: str


def _choice(rng: np.random.Generator, weights: dict[str, float]) -> str:
    keys = list(weights)
    p = np.array([weights[k] for k in keys], float)
    return keys[int(rng.choice(len(keys), p=p / p.sum()))]


def _group(rng: np.random.Generator, taken: set[tuple[str, str]], count: int = 1, position=None) -> ObjectSpec:
    """A fully specified object group with a (colour, shape) not yet used in the plan."""
    for _ in range(100):
        shape = vocab.SHAPES[int(rng.integers(len(vocab.SHAPES)))]
        color = free_color(shape, rng)
        if (color, shape) not in taken:
            taken.add((color, shape))
            size = list(vocab.SIZES)[int(rng.integers(len(vocab.SIZES)))]
            return ObjectSpec(shape, color, size, count, True, position)
    raise SceneError("could not find a fresh colour and shape")  # pragma: no cover


def sample_plan(rng: np.random.Generator, kind: str | None = None) -> tuple[str, Constraints]:
    kind = kind or _choice(rng, KINDS)
    taken: set[tuple[str, str]] = set()
    relations: tuple[Relation, ...] = ()
    if kind == "single":
        groups = [_group(rng, taken)]
    elif kind == "placed":
        groups = [_group(rng, taken, position=vocab.POSITIONS[int(rng.integers(len(vocab.POSITIONS)))])]
    elif kind == "two":
        groups = [_group(rng, taken), _group(rng, taken)]
    elif kind == "three":
        groups = [_group(rng, taken) for _ in range(3)]
    elif kind == "counting":
        groups = [_group(rng, taken, count=int(rng.integers(2, vocab.MAX_COUNT + 1)))]
    elif kind == "relation":
        groups = [_group(rng, taken), _group(rng, taken)]
        relations = (Relation(0, vocab.RELATIONS[int(rng.integers(len(vocab.RELATIONS)))], 1),)
    else:
        raise ValueError(f"unknown kind {kind!r}; kinds are {', '.join(KINDS)}")
    style = _choice(rng, STYLE_WEIGHTS)
    background = "black" if style == "neon" else _choice(rng, BACKGROUND_WEIGHTS)
    return kind, Constraints(tuple(groups), relations, background, style)


def sample_example(rng: np.random.Generator, kind: str | None = None) -> Example:
    """A random training example: a scene and a caption that states only true things."""
    for _ in range(50):
        k, plan = sample_plan(rng, kind)
        try:
            scene = layout(plan, rng)
        except SceneError:
            continue  # e.g. four large stars that do not fit: draw another plan
        caption, stated = describe(plan, rng)
        return Example(scene, caption, stated, k)
    raise SceneError("could not lay out a random scene in 50 tries")  # pragma: no cover


def example_rng(seed: int, split: str, index: int) -> np.random.Generator:
    """The generator of example ``index`` of a split: independent of every other example."""
    split_id = {"train": 0, "val": 1}.get(split)
    if split_id is None:
        raise ValueError(f"unknown split {split!r}")
    return np.random.default_rng(np.random.SeedSequence([seed, split_id, index]))
