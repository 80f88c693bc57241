"""Deliberately broken scenes, to show that the judge catches wrong pictures.

Each break takes a ground-truth scene and the constraints it was laid out from, and returns
a scene that violates them, or None when the break does not apply (swapping the colours of
a scene whose caption names no colour changes nothing it states). ``broken`` applies one and
keeps the result only when the scene itself fails the constraints, so every broken render
is wrong by construction, before the judge ever sees it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np

from . import vocab
from .constraints import LAYOUT_GAP, Constraints, matches, scene_constraints_hold
from .scene import Obj, Scene, SceneError, apart, extent


def _stated(scene: Scene, c: Constraints) -> list[tuple[int, int]]:
    """(object index, group index) for every object a stated group matches."""
    return [(i, g) for i, o in enumerate(scene.objects) for g, spec in enumerate(c.objects) if matches(spec, o)]


def swap_colors(scene: Scene, c: Constraints, rng: np.random.Generator) -> Scene | None:
    """Swap the colours of two objects of different colours (or recolour a lone object)."""
    objs = list(scene.objects)
    stated = _stated(scene, c)
    pairs = [(i, j) for i, _ in stated for j, _ in stated if i < j and objs[i].color != objs[j].color]
    if pairs:
        i, j = pairs[int(rng.integers(len(pairs)))]
        objs[i], objs[j] = replace(objs[i], color=objs[j].color), replace(objs[j], color=objs[i].color)
        return replace(scene, objects=tuple(objs))
    if len(objs) == 1:
        others = [col for col in vocab.COLORS if col != objs[0].color]
        objs[0] = replace(objs[0], color=others[int(rng.integers(len(others)))])
        return replace(scene, objects=tuple(objs))
    return None


def remove_object(scene: Scene, c: Constraints, rng: np.random.Generator) -> Scene | None:
    """Leave out one object that the caption states."""
    stated = _stated(scene, c)
    if not stated:
        return None
    i, _ = stated[int(rng.integers(len(stated)))]
    return replace(scene, objects=scene.objects[:i] + scene.objects[i + 1 :])


def move_across(scene: Scene, c: Constraints, rng: np.random.Generator) -> Scene | None:
    """Swap the places of the two objects of a relation, so that it reads the other way."""
    if not c.relations:
        return None
    rel = c.relations[0]
    stated = _stated(scene, c)
    a = next((i for i, g in stated if g == rel.a), None)
    b = next((i for i, g in stated if g == rel.b), None)
    if a is None or b is None:
        return None
    objs = list(scene.objects)
    objs[a], objs[b] = objs[a].moved(objs[b].x, objs[b].y), objs[b].moved(objs[a].x, objs[a].y)
    broken = replace(scene, objects=tuple(objs))
    try:
        broken.validate()
    except SceneError:
        return None  # the swapped shapes no longer fit: no clean break here
    return broken


def add_object(scene: Scene, c: Constraints, rng: np.random.Generator) -> Scene | None:
    """Add one more copy of a counted group (one object too many)."""
    counted = [g for g, spec in enumerate(c.objects) if spec.exact]
    if not counted:
        return None
    g = counted[int(rng.integers(len(counted)))]
    template = next((o for o in scene.objects if matches(c.objects[g], o)), None)
    if template is None:
        return None
    left, top, right, bottom = extent(template.shape, template.side)
    for _ in range(500):
        x = float(rng.uniform(left + 0.02, 1 - right - 0.02))
        y = float(rng.uniform(top + 0.02, 1 - bottom - 0.02))
        extra = Obj(template.shape, template.color, template.size, x, y)
        if all(apart(extra, o, LAYOUT_GAP) for o in scene.objects) and matches(c.objects[g], extra):
            return replace(scene, objects=scene.objects + (extra,))
    return None


BREAKS: dict[str, Callable[[Scene, Constraints, np.random.Generator], Scene | None]] = {
    "swapped colours": swap_colors,
    "missing object": remove_object,
    "moved across the relation": move_across,
    "one object too many": add_object,
}


def broken(name: str, scene: Scene, c: Constraints, rng: np.random.Generator) -> Scene | None:
    """Apply a break; return the broken scene only if it really violates the constraints."""
    out = BREAKS[name](scene, c, rng)
    if out is None or scene_constraints_hold(c, out).correct:
        return None
    return out
