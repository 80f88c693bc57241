"""What a caption states about a picture, and the two things done with it.

``Constraints`` is what the caption parser returns. :func:`layout` draws a random scene that
satisfies them (``promptism world show``), and :func:`check` says whether a list of objects —
a scene's own, or the ones the judge found in a picture — satisfies them, with a reason for
every failure.

Checking follows GenEval (Ghosh et al. 2023, ``evaluation/evaluate_images.py``): an object
named with an article must be present at least once; a number ("three squares") is exact;
a relation must hold between every matching pair (GenEval checks each found object against
each target). Objects a caption does not mention do not count against it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Protocol

import numpy as np

from . import vocab
from .scene import Obj, Scene, SceneError, apart, extent, region_contains, relation_holds


@dataclass(frozen=True)
class ObjectSpec:
    """One noun phrase: "two small red stars in the top left corner"."""

    shape: str
    color: str | None = None
    size: str | None = None
    count: int = 1
    exact: bool = False  # True when the caption gives a number ("one", "three")
    position: str | None = None  # an absolute position (vocab.POSITIONS)

    def describe(self, count: bool = True) -> str:
        """ "two small red stars at the top"; without the number when count=False."""
        words = []
        if count and (self.exact or self.count > 1):
            words.append(vocab.NUMBER_NAMES[self.count])
        for w in (self.size, self.color):
            if w:
                words.append(w)
        words.append(vocab.noun_for(self.shape, plural=self.count > 1))
        text = " ".join(words)
        if self.position:
            text += f" at the {self.position}"
        return text


@dataclass(frozen=True)
class Relation:
    """Object group ``a`` stands in ``relation`` to group ``b`` (indices into objects)."""

    a: int
    relation: str
    b: int


@dataclass(frozen=True)
class Constraints:
    objects: tuple[ObjectSpec, ...]
    relations: tuple[Relation, ...] = ()
    background: str | None = None
    style: str | None = None

    def to_dict(self) -> dict:
        return {
            "objects": [asdict(o) for o in self.objects],
            "relations": [asdict(r) for r in self.relations],
            "background": self.background,
            "style": self.style,
        }

    @staticmethod
    def from_dict(d: dict) -> Constraints:
        return Constraints(
            tuple(ObjectSpec(**o) for o in d["objects"]),
            tuple(Relation(**r) for r in d.get("relations", [])),
            d.get("background"),
            d.get("style"),
        )

    def pairs(self) -> set[tuple[str, str]]:
        """The (colour, shape) compositions the caption names."""
        return {(o.color, o.shape) for o in self.objects if o.color}

    def mentions_held_out(self) -> bool:
        return any(vocab.is_held_out(c, s) for c, s in self.pairs())


# --------------------------------------------------------------------------------------------
# checking
# --------------------------------------------------------------------------------------------
class Located(Protocol):
    """Anything with a shape, colour, size word and centroid: a scene Obj or a judged object."""

    shape: str
    color: str
    size: str
    x: float
    y: float


@dataclass
class Verdict:
    correct: bool
    reasons: list[str] = field(default_factory=list)

    @property
    def reason(self) -> str:
        return "; ".join(self.reasons)


def matches(spec: ObjectSpec, o: Located) -> bool:
    return (
        o.shape == spec.shape
        and (spec.color is None or o.color == spec.color)
        and (spec.size is None or o.size == spec.size)
        and (spec.position is None or region_contains(spec.position, o.x, o.y))
    )


def check(constraints: Constraints, objects: Sequence[Located], background: str | None = None) -> Verdict:
    """Whether ``objects`` (and the picture's ``background``) satisfy the constraints."""
    reasons: list[str] = []
    groups: list[list[Located]] = []
    for spec in constraints.objects:
        found = [o for o in objects if matches(spec, o)]
        groups.append(found)
        n = len(found)
        ok = n == spec.count if spec.exact else n >= spec.count
        if not ok:
            want = f"exactly {spec.count}" if spec.exact else f"at least {spec.count}"
            same_shape = [o for o in objects if o.shape == spec.shape]
            seen = ", ".join(sorted(f"{o.color} {o.size}" for o in same_shape)) or "none"
            reasons.append(
                f"expected {want} {spec.describe(count=False)}, found {n} (all {vocab.PLURALS[spec.shape]}: {seen})"
            )
    for rel in constraints.relations:
        ga, gb = groups[rel.a], groups[rel.b]
        if not ga or not gb:
            continue  # already reported as missing
        for a in ga:
            for b in gb:
                if a is b or not relation_holds((a.x, a.y), (b.x, b.y), rel.relation, judge=True):
                    sa, sb = constraints.objects[rel.a], constraints.objects[rel.b]
                    reasons.append(
                        f"expected {sa.describe()} {rel.relation} {sb.describe()}, found it at "
                        f"({a.x:.2f}, {a.y:.2f}) vs ({b.x:.2f}, {b.y:.2f})"
                    )
                    break
            else:
                continue
            break
    if constraints.background and background and background != constraints.background:
        reasons.append(f"expected a {constraints.background} background, found {background}")
    return Verdict(not reasons, reasons)


# --------------------------------------------------------------------------------------------
# layout: a random scene that satisfies the constraints
# --------------------------------------------------------------------------------------------
EDGE_MARGIN = 0.02  # objects keep this far from the canvas edge
REGION_MARGIN = 0.03  # ... and this far inside an absolute position's region
LAYOUT_GAP = 0.05  # a little more than the spec's 0.04, so that 32 px renders stay apart
PLACE_TRIES = 60  # random spots tried for one object before a layout (or a count edit) gives up


def random_spots(shape: str, size: str, rng: np.random.Generator, tries: int = PLACE_TRIES):
    """Up to ``tries`` random centroids (x, y) that keep a ``size`` ``shape`` inside the canvas,
    EDGE_MARGIN from its edge, drawn lazily (x, then y) so that stopping early draws no more."""
    left, top, right, bottom = extent(shape, vocab.SIZES[size])
    for _ in range(tries):
        yield (
            float(rng.uniform(left + EDGE_MARGIN, 1 - right - EDGE_MARGIN)),
            float(rng.uniform(top + EDGE_MARGIN, 1 - bottom - EDGE_MARGIN)),
        )


def free_color(shape: str, rng: np.random.Generator, avoid: set[str] = frozenset()) -> str:
    """A random colour for a shape the caption gives no colour, never a held-out pair."""
    options = [c for c in vocab.COLORS if not vocab.is_held_out(c, shape) and c not in avoid]
    return options[int(rng.integers(len(options)))]


def layout(
    constraints: Constraints,
    rng: np.random.Generator,
    default_size: str = vocab.DEFAULT_SIZE,
    attempts: int = 400,
) -> Scene:
    """Draw a random scene that states exactly what the constraints ask.

    Unstated colours are random (never a held-out pair), unstated sizes are ``default_size``,
    every copy in a counted group has the group's one colour, objects never overlap and stay
    inside the canvas. Raises SceneError when no layout is found (e.g. four large stars in one
    corner, or contradictory relations).
    """
    style = constraints.style or "flat"
    background = constraints.background or ("black" if style == "neon" else "white")
    # choose each group's colour and size once
    groups: list[tuple[ObjectSpec, str, str]] = []
    for spec in constraints.objects:
        if not 1 <= spec.count <= vocab.MAX_COUNT:
            raise SceneError(f"a scene holds 1 to {vocab.MAX_COUNT} copies of a shape, not {spec.count}")
        color = spec.color or free_color(spec.shape, rng)
        groups.append((spec, color, spec.size or default_size))
    if sum(spec.count for spec, _, _ in groups) > vocab.MAX_OBJECTS:
        raise SceneError(f"too many objects for one picture (at most {vocab.MAX_OBJECTS})")
    for _ in range(attempts):
        placed: list[tuple[int, Obj]] = []
        if _place_all(constraints, groups, rng, placed):
            return Scene(tuple(o for _, o in placed), background, style)
    raise SceneError("cannot lay these objects out on one canvas without overlap: " + _summary(constraints))


def _summary(c: Constraints) -> str:
    return ", ".join(s.describe() for s in c.objects)


def _place_all(constraints, groups, rng, placed) -> bool:
    for gi, (spec, color, size) in enumerate(groups):
        for _copy in range(spec.count):
            for x, y in random_spots(spec.shape, size, rng):
                if spec.position and not region_contains(spec.position, x, y, margin=REGION_MARGIN):
                    continue
                o = Obj(spec.shape, color, size, x, y)
                if not all(apart(o, p, LAYOUT_GAP) for _, p in placed):
                    continue
                if not _relations_ok(constraints, gi, o, placed):
                    continue
                placed.append((gi, o))
                break
            else:
                return False
    return True


def _relations_ok(constraints: Constraints, gi: int, o: Obj, placed) -> bool:
    for rel in constraints.relations:
        for gj, p in placed:
            if rel.a == gi and rel.b == gj and not relation_holds((o.x, o.y), (p.x, p.y), rel.relation, judge=False):
                return False
            if rel.b == gi and rel.a == gj and not relation_holds((p.x, p.y), (o.x, o.y), rel.relation, judge=False):
                return False
    return True


def scene_constraints_hold(constraints: Constraints, scene: Scene) -> Verdict:
    """Check a scene's own objects against constraints (the ground truth of a render)."""
    if constraints.style and constraints.style != scene.style:
        return Verdict(False, [f"expected style {constraints.style}, scene is {scene.style}"])
    return check(constraints, scene.objects, scene.background)


__all__ = [
    "Constraints",
    "ObjectSpec",
    "Relation",
    "SceneError",
    "Verdict",
    "check",
    "layout",
    "scene_constraints_hold",
]
