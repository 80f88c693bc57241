"""The fixed vocabulary of the Scene World (``shared/specs/scene-world.md``).

Everything here is data: the palette, the shapes and their synonyms, sizes, backgrounds,
styles, layout words and the held-out colour–shape pairs. The renderer, the caption
templates, the parser and the judge all read these tables, so there is one place to look.
"""

from __future__ import annotations

# --- colours (object palette), RGB -------------------------------------------------------
COLORS: dict[str, tuple[int, int, int]] = {
    "red": (0xE0, 0x28, 0x28),
    "orange": (0xF0, 0x8C, 0x14),
    "yellow": (0xF0, 0xDC, 0x28),
    "green": (0x28, 0xA0, 0x3C),
    "blue": (0x28, 0x50, 0xDC),
    "purple": (0x8C, 0x3C, 0xBE),
    "pink": (0xF0, 0x78, 0xB4),
    "brown": (0x8B, 0x5A, 0x2B),
}

# --- backgrounds --------------------------------------------------------------------------
BACKGROUNDS = ("white", "black", "gray", "sky")
BACKGROUND_RGB: dict[str, tuple[int, int, int]] = {
    "white": (0xFF, 0xFF, 0xFF),
    "black": (0x14, 0x14, 0x14),
    "gray": (0x80, 0x80, 0x80),
}
SKY_TOP = (0x7E, 0xC8, 0xF0)
SKY_BOTTOM = (0xD8, 0xF0, 0xFF)
# words a caption may use for each background
BACKGROUND_WORDS: dict[str, str] = {
    "white": "white",
    "black": "black",
    "gray": "gray",
    "grey": "gray",
    "sky": "sky",
}

# --- shapes -------------------------------------------------------------------------------
SHAPES = ("circle", "square", "triangle", "diamond", "star", "cross")
# every noun a caption may use -> canonical shape
SHAPE_SYNONYMS: dict[str, tuple[str, ...]] = {
    "circle": ("circle", "disc", "dot"),
    "square": ("square", "box"),
    "triangle": ("triangle",),
    "diamond": ("diamond", "rhombus"),
    "star": ("star",),
    "cross": ("cross", "plus"),
}
PLURALS: dict[str, str] = {
    "circle": "circles",
    "disc": "discs",
    "dot": "dots",
    "square": "squares",
    "box": "boxes",
    "triangle": "triangles",
    "diamond": "diamonds",
    "rhombus": "rhombuses",
    "star": "stars",
    "cross": "crosses",
    "plus": "pluses",
}

# --- sizes: side of the bounding square as a fraction of the canvas side -------------------
SIZES: dict[str, float] = {"small": 0.20, "medium": 0.28, "large": 0.38}
DEFAULT_SIZE = "medium"
# words a caption may use for each size (the caption generator uses only the first few)
SIZE_WORDS: dict[str, str] = {
    "small": "small",
    "little": "small",
    "tiny": "small",
    "medium": "medium",
    "large": "large",
    "big": "large",
    "huge": "large",
}

# --- styles -------------------------------------------------------------------------------
STYLES = ("flat", "outline", "pixel", "neon")
STROKE_WIDTH = 0.03  # outline stroke width, fraction of the canvas
PIXEL_GRID = 32  # pixel-art grid
STAR_INNER_RATIO = 0.45  # inner radius / outer radius of the five-pointed star
CROSS_ARM = 1.0 / 3.0  # arm width of the cross / its size

# --- layout -------------------------------------------------------------------------------
# absolute positions of one object, by centroid; each maps to (x-range, y-range) in thirds
POSITIONS = (
    "left",
    "right",
    "top",
    "bottom",
    "center",
    "top left",
    "top right",
    "bottom left",
    "bottom right",
)
RELATIONS = ("above", "below", "left of", "right of")
# "A rel B" as (axis: 0 = x, 1 = y; the sign of A's coordinate minus B's); y grows downwards
RELATION_AXES = {"above": (1, -1), "below": (1, 1), "left of": (0, -1), "right of": (0, 1)}
# the renderer draws "A above B" with A.y < B.y - REL_OFFSET and |A.x - B.x| < REL_SPREAD
REL_OFFSET = 0.2
REL_SPREAD = 0.3
# the judge's lenient rule: offset along the relation's axis > JUDGE_REL_OFFSET and larger
# than the offset across it
JUDGE_REL_OFFSET = 0.1
MIN_GAP = 0.04  # objects never overlap and stay at least this far apart
MAX_COUNT = 4
MAX_OBJECTS = 8  # objects in one picture at most

NUMBER_WORDS: dict[str, int] = {"one": 1, "two": 2, "three": 3, "four": 4}
NUMBER_NAMES = {v: k for k, v in NUMBER_WORDS.items()}

# --- held-out compositions: never in any training picture or caption -----------------------
HELD_OUT_PAIRS: frozenset[tuple[str, str]] = frozenset(
    {
        ("green", "triangle"),
        ("pink", "square"),
        ("orange", "star"),
        ("purple", "circle"),
        ("brown", "diamond"),
        ("yellow", "cross"),
    }
)


def is_held_out(color: str | None, shape: str | None) -> bool:
    """True when (colour, shape) is one of the six held-out compositions."""
    return (color, shape) in HELD_OUT_PAIRS


def noun_for(shape: str, plural: bool = False, synonym: int = 0) -> str:
    """The caption noun for a canonical shape (optionally a synonym, optionally plural)."""
    words = SHAPE_SYNONYMS[shape]
    word = words[synonym % len(words)]
    return PLURALS[word] if plural else word
