"""Scenes of the Scene World: objects on a background, drawn in one style.

Coordinates are normalised to [0, 1] with the origin at the top left, x to the right and y
downwards, so that one scene renders identically at any canvas size.

An object's ``(x, y)`` is the centroid of its filled area. Every shape is sized so that the
width of its bounding box equals its size ``s`` (the side of its bounding square, spec
"Sizes"); the triangle and the star are less tall than wide, and their centroid is not the
middle of their box, which :func:`extent` accounts for.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from ..errors import PromptismError
from . import vocab

SQRT3 = math.sqrt(3.0)
# five-pointed star: outer radius R with width 2 R sin 72 deg == s
STAR_R_PER_SIZE = 1.0 / (2.0 * math.sin(math.radians(72.0)))


class SceneError(PromptismError):
    """A scene that breaks the world's rules (unknown words, overlap, outside the canvas)."""


@dataclass(frozen=True)
class Obj:
    """One object: a coloured shape of a given size whose area centroid is at (x, y)."""

    shape: str
    color: str
    size: str
    x: float
    y: float

    def __post_init__(self) -> None:
        if self.shape not in vocab.SHAPES:
            raise SceneError(f"unknown shape {self.shape!r}; shapes are {', '.join(vocab.SHAPES)}")
        if self.color not in vocab.COLORS:
            raise SceneError(f"unknown colour {self.color!r}; colours are {', '.join(vocab.COLORS)}")
        if self.size not in vocab.SIZES:
            raise SceneError(f"unknown size {self.size!r}; sizes are {', '.join(vocab.SIZES)}")

    @property
    def side(self) -> float:
        """The side of the bounding square as a fraction of the canvas."""
        return vocab.SIZES[self.size]

    def bbox(self) -> tuple[float, float, float, float]:
        """(x0, y0, x1, y1) of the shape itself, in canvas units."""
        left, top, right, bottom = extent(self.shape, self.side)
        return (self.x - left, self.y - top, self.x + right, self.y + bottom)

    def moved(self, x: float, y: float) -> Obj:
        return Obj(self.shape, self.color, self.size, x, y)

    def recolored(self, color: str) -> Obj:
        return Obj(self.shape, color, self.size, self.x, self.y)


def extent(shape: str, side: float) -> tuple[float, float, float, float]:
    """Distances from the centroid to the left, top, right and bottom of a shape."""
    half = side / 2.0
    if shape == "triangle":
        # equilateral, side s, height h = s*sqrt(3)/2; centroid at 2h/3 below the apex
        h = side * SQRT3 / 2.0
        return (half, 2.0 * h / 3.0, half, h / 3.0)
    if shape == "star":
        r = side * STAR_R_PER_SIZE
        return (half, r, half, r * math.cos(math.radians(36.0)))
    return (half, half, half, half)


@dataclass(frozen=True)
class Scene:
    """A picture of the world: its objects, background and style."""

    objects: tuple[Obj, ...]
    background: str = "white"
    style: str = "flat"

    def __post_init__(self) -> None:
        if self.background not in vocab.BACKGROUNDS:
            raise SceneError(f"unknown background {self.background!r}; backgrounds are {', '.join(vocab.BACKGROUNDS)}")
        if self.style not in vocab.STYLES:
            raise SceneError(f"unknown style {self.style!r}; styles are {', '.join(vocab.STYLES)}")
        if self.style == "neon" and self.background != "black":
            raise SceneError("neon pictures always have a black background")

    def validate(self, gap: float = vocab.MIN_GAP) -> None:
        """Raise SceneError unless every object is inside the canvas and apart from the others."""
        for o in self.objects:
            x0, y0, x1, y1 = o.bbox()
            if x0 < 0 or y0 < 0 or x1 > 1 or y1 > 1:
                raise SceneError(f"{o.color} {o.shape} at ({o.x:.3f}, {o.y:.3f}) leaves the canvas")
        for i, a in enumerate(self.objects):
            for b in self.objects[i + 1 :]:
                if not apart(a, b, gap):
                    raise SceneError(f"{a.color} {a.shape} and {b.color} {b.shape} are closer than {gap} apart")

    def to_dict(self) -> dict:
        return {
            "background": self.background,
            "style": self.style,
            "objects": [asdict(o) for o in self.objects],
        }

    @staticmethod
    def from_dict(d: dict) -> Scene:
        try:
            objs = tuple(Obj(o["shape"], o["color"], o["size"], float(o["x"]), float(o["y"])) for o in d["objects"])
            return Scene(objs, d.get("background", "white"), d.get("style", "flat"))
        except (KeyError, TypeError) as e:
            raise SceneError(f"not a scene record: {e}") from e


def apart(a: Obj, b: Obj, gap: float) -> bool:
    """True when the bounding boxes of a and b are at least ``gap`` apart on some axis."""
    ax0, ay0, ax1, ay1 = a.bbox()
    bx0, by0, bx1, by1 = b.bbox()
    return bx0 - ax1 >= gap or ax0 - bx1 >= gap or by0 - ay1 >= gap or ay0 - by1 >= gap


def region_contains(position: str, x: float, y: float, margin: float = 0.0) -> bool:
    """Whether a centroid lies in an absolute position's region (spec "Layout words").

    ``margin`` shrinks the region: the renderer places objects ``margin`` inside it so that
    the judge, which uses the exact thirds, agrees even after pixelisation.
    """
    lo, hi = 1.0 / 3.0 - margin, 2.0 / 3.0 + margin
    mid_lo, mid_hi = 1.0 / 3.0 + margin, 2.0 / 3.0 - margin
    checks = {
        "left": x < lo,
        "right": x > hi,
        "top": y < lo,
        "bottom": y > hi,
        "center": mid_lo < x < mid_hi and mid_lo < y < mid_hi,
    }
    return all(checks[word] for word in position.split())


def relation_holds(a: tuple[float, float], b: tuple[float, float], relation: str, judge: bool = True) -> bool:
    """Whether centroid a stands in ``relation`` to centroid b.

    judge=True is the judge's lenient rule (the main offset > 0.1 and larger than the offset
    across). judge=False is the renderer's rule (main offset >= 0.2, across < 0.3), to which we
    add that the main offset exceeds the cross offset by 0.05: without it a render with offsets
    (0.21, 0.29) would satisfy the renderer's rule but not the judge's.
    """
    axis, sign = vocab.RELATION_AXES[relation]
    along = sign * (a[axis] - b[axis])  # how far a stands from b the way the relation says
    across = b[1 - axis] - a[1 - axis]
    if judge:
        return along > vocab.JUDGE_REL_OFFSET and along > abs(across)
    return along >= vocab.REL_OFFSET and abs(across) < vocab.REL_SPREAD and abs(across) <= along - 0.05
