"""The judge: finds the coloured objects in a picture and checks a caption against them.

How it reads a picture (spec "The evaluation suite"):

1. The background is the candidate (white, black, gray, sky) closest to the picture's border.
2. Each pixel takes its nearest palette colour; it is an object pixel when that colour is
   within ``COLOR_TOLERANCE`` and nearer than the background there.
3. Object pixels of one colour form connected components (4-connectivity); components
   smaller than ``MIN_AREA`` or narrower than ``MIN_EXTENT`` are noise. A component whose box
   holds the box of a brighter component of another colour is a halo (neon glow) and dropped.
4. Each component's holes are filled (an outline becomes its shape); its shape is the one of
   the six whose template, stretched to the component's bounding box, overlaps it best (IoU);
   its size word comes from its box width, its position from the filled area's centroid.

The judge is a yardstick only: nothing is trained against it, and no generation path calls it.
"""

from __future__ import annotations

import io
import os
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Union

import numpy as np
from PIL import Image, UnidentifiedImageError
from scipy import ndimage

from ..errors import PromptismError
from . import vocab
from .constraints import Constraints, Verdict, check
from .render import background_array, inside

COLOR_TOLERANCE = 60.0  # max RGB distance from a palette colour
MIN_AREA = 0.003  # fraction of the canvas
MIN_EXTENT = 0.08  # min width and height of an object, fraction of the canvas
MIN_JUDGE_SIZE, MAX_JUDGE_SIZE = 32, 1024
SUPERSAMPLE_FIT = 4  # samples per pixel side when rasterising templates (as the renderer)
EIGHT = np.ones((3, 3), bool)
PIXEL_ART_TOLERANCE = 0.002  # share of pixels that may disagree with a 32-grid reconstruction  # 8-connectivity: thin diagonal strokes stay one object

PALETTE_NAMES = tuple(vocab.COLORS)
PALETTE = np.array([vocab.COLORS[c] for c in PALETTE_NAMES], dtype=np.float32)  # (8, 3)

ImageLike = Union[str, os.PathLike, bytes, Image.Image, np.ndarray]


class JudgeError(PromptismError):
    """A picture the judge cannot read: a clear message, never a silent wrong score."""


@dataclass(frozen=True)
class Found:
    """An object the judge found. x, y: centroid in [0, 1]; bbox in canvas units."""

    shape: str
    color: str
    size: str
    x: float
    y: float
    width: float
    height: float
    area: float
    shape_iou: float

    def describe(self) -> str:
        return f"{self.size} {self.color} {self.shape} at ({self.x:.2f}, {self.y:.2f})"


@dataclass
class Reading:
    """What the judge sees in a picture."""

    objects: list[Found]
    background: str
    background_distance: float
    size: int

    def to_dict(self) -> dict:
        return {
            "background": self.background,
            "background_distance": round(self.background_distance, 2),
            "size": self.size,
            "objects": [{k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(o).items()} for o in self.objects],
        }


@dataclass
class Judgement:
    correct: bool
    reasons: list[str] = field(default_factory=list)
    reading: Reading | None = None

    @property
    def reason(self) -> str:
        return "; ".join(self.reasons)


# --------------------------------------------------------------------------------------------
# reading a picture
# --------------------------------------------------------------------------------------------
def load_image(image: ImageLike) -> np.ndarray:
    """Any picture -> (N, N, 3) uint8 RGB array, or a JudgeError that says what is wrong."""
    if isinstance(image, np.ndarray):
        arr = image
        if arr.ndim == 2:
            arr = np.repeat(arr[..., None], 3, axis=2)
        if arr.ndim != 3 or arr.shape[2] not in (3, 4):
            raise JudgeError(f"expected an (H, W, 3) RGB array, got shape {arr.shape}")
        if arr.dtype != np.uint8:
            if np.issubdtype(arr.dtype, np.floating) and arr.size and np.nanmax(arr) <= 1.0:
                arr = arr * 255.0
            arr = np.clip(np.nan_to_num(arr), 0, 255).round().astype(np.uint8)
        arr = arr[..., :3]
    else:
        arr = np.asarray(_open(image).convert("RGB"))
    h, w = arr.shape[:2]
    if h == 0 or w == 0:
        raise JudgeError("the picture is empty (0 pixels)")
    if h != w:
        raise JudgeError(f"Scene World pictures are square; this one is {w}x{h}")
    if not MIN_JUDGE_SIZE <= h <= MAX_JUDGE_SIZE:
        raise JudgeError(f"the judge reads pictures of {MIN_JUDGE_SIZE} to {MAX_JUDGE_SIZE} px; this one is {w}x{h}")
    return arr


def _open(image) -> Image.Image:
    if isinstance(image, Image.Image):
        return image
    name = "the picture"
    try:
        if isinstance(image, (bytes, bytearray)):
            if not image:
                raise JudgeError("the picture is empty (0 bytes)")
            src = io.BytesIO(image)
        else:
            name = repr(str(image))
            path = Path(image)
            if not path.is_file():
                raise JudgeError(f"no picture at {name}")
            if path.stat().st_size == 0:
                raise JudgeError(f"{name} is empty (0 bytes)")
            src = path
        img = Image.open(src)
        w, h = img.size
        if w > MAX_JUDGE_SIZE or h > MAX_JUDGE_SIZE:  # checked before decoding: no pixel bombs
            raise JudgeError(f"the judge reads pictures of {MIN_JUDGE_SIZE} to {MAX_JUDGE_SIZE} px; {name} is {w}x{h}")
        img.load()
        return img
    except JudgeError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        raise JudgeError(f"cannot read {name} as an image: {e}") from e


@lru_cache(maxsize=16)
def _backgrounds(n: int) -> dict[str, np.ndarray]:
    return {bg: background_array(bg, n).astype(np.float32) for bg in vocab.BACKGROUNDS}


def _background(img: np.ndarray) -> tuple[str, float, np.ndarray]:
    """The background whose border matches the picture's border best: name, distance, array."""
    n = img.shape[0]
    border = np.zeros((n, n), bool)
    k = max(1, n // 32)
    border[:k], border[-k:], border[:, :k], border[:, -k:] = True, True, True, True
    pix = img[border].astype(np.float32)
    best = None
    for name, arr in _backgrounds(n).items():
        d = float(np.median(np.linalg.norm(pix - arr[border], axis=1)))
        if best is None or d < best[1]:
            best = (name, d, arr)
    return best


def _pixel_grid(img: np.ndarray) -> np.ndarray | None:
    """The 32x32 grid of a pixel-art picture (nearest-neighbour upscaled), else None."""
    n, g = img.shape[0], vocab.PIXEL_GRID
    if n < g:
        return None
    centres = ((np.arange(g) + 0.5) * n / g).astype(int)
    grid = img[centres][:, centres]
    back = grid[(np.arange(n) * g) // n][:, (np.arange(n) * g) // n]
    # count disagreeing pixels, not the mean difference: on a large plain background a mean
    # hides the anti-aliased edges of a flat render (a half-pixel-aligned cross passed for
    # pixel art that way, and was then read on the wrong grid)
    differs = np.abs(back.astype(np.int16) - img.astype(np.int16)).max(axis=2) > 3
    if differs.mean() > PIXEL_ART_TOLERANCE:
        return None
    return grid


def _object_layers(pix: np.ndarray, bg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per pixel: the palette colour index (-1: background) and its coverage alpha.

    A pixel p is read as a mix alpha * c + (1 - alpha) * b of a palette colour c and the
    background b there; it belongs to the colour with the smallest unmixing residual among
    all colours, when that residual is below COLOR_TOLERANCE. The colour is chosen before any
    coverage test, so anti-aliased edges and neon halos keep their object's colour instead of
    passing for another palette colour (orange half mixed with black looks brown; with white,
    yellow).
    """
    w = pix - bg  # (n, n, 3)
    v = PALETTE[None, None] - bg[:, :, None, :]  # (n, n, 8, 3)
    vv = np.maximum((v * v).sum(-1), 1e-6)
    alpha = np.clip((w[:, :, None, :] * v).sum(-1) / vv, 0.0, 1.0)  # (n, n, 8)
    resid = np.linalg.norm(w[:, :, None, :] - alpha[..., None] * v, axis=-1)
    # choose the colour first (among those that explain the pixel at all), then ask for half
    # coverage: a pixel 49% covered by orange is background, not a 58%-covered yellow
    resid = np.where(alpha > 0.1, resid, np.inf)
    best = resid.argmin(axis=2)
    ok = np.take_along_axis(resid, best[..., None], axis=2)[..., 0] < COLOR_TOLERANCE
    cover = np.where(ok, np.take_along_axis(alpha, best[..., None], axis=2)[..., 0], 0.0)
    return np.where(ok, best, -1), cover


def _raster(shape: str, side: float, cx: float, cy: float, rows: np.ndarray, cols: np.ndarray, n: int, ss: int) -> np.ndarray:
    """A shape's coverage (0..1, ss x ss samples a pixel, as the renderer) over rows x cols."""
    sub = (np.arange(ss) + 0.5) / ss
    xs = ((cols[:, None] + sub[None, :]).ravel()) / n - cx
    ys = ((rows[:, None] + sub[None, :]).ravel()) / n - cy
    m = inside(shape, side, xs[None, :], ys[:, None]).astype(np.float32)
    return m.reshape(len(rows), ss, len(cols), ss).mean(axis=(1, 3))


def _fit(target: np.ndarray, r0: int, c0: int, cx: float, cy: float, n: int, pixel: bool) -> tuple[str, str, float]:
    """The (shape, size) whose template best matches the object: shape, size, soft IoU.

    ``target`` is the object's soft coverage at (r0, c0): its measured alpha, and 1 in its
    filled holes. It is compared with each template's coverage by sum(min) / sum(max), so
    no pixel's fate hangs on a threshold.
    """
    pad = int(np.ceil(0.12 * n))
    h, w = target.shape
    rows = np.arange(max(r0 - pad, 0), min(r0 + h + pad, n))
    cols = np.arange(max(c0 - pad, 0), min(c0 + w + pad, n))
    window = np.zeros((len(rows), len(cols)))
    window[r0 - rows[0] : r0 - rows[0] + h, c0 - cols[0] : c0 + w - cols[0]] = target
    # pixel art: one sample per cell, and the centroid is only known to a cell: try offsets
    ss, offsets = (1, (-0.5, -0.25, 0.0, 0.25, 0.5)) if pixel else (SUPERSAMPLE_FIT, (0.0,))
    best = ("circle", "medium", -1.0)
    for size, side in vocab.SIZES.items():
        for shape in vocab.SHAPES:
            for oy in offsets:
                for ox in offsets:
                    t = _raster(shape, side, cx + ox / n, cy + oy / n, rows, cols, n, ss)
                    iou = float(np.minimum(t, window).sum() / max(np.maximum(t, window).sum(), 1e-9))
                    if iou > best[2]:
                        best = (shape, size, iou)
    return best


def read(image: ImageLike) -> Reading:
    """Find every coloured object in a picture."""
    img = load_image(image)
    size = img.shape[0]
    grid = _pixel_grid(img)
    work = grid if grid is not None else img
    n = work.shape[0]
    bg_name, bg_dist, bg = _background(work)
    colors, alpha = _object_layers(work.astype(np.float32), bg)
    found = []
    for ci, color in enumerate(PALETTE_NAMES):
        # label on a lenient mask (a quarter covered) so that a thin outline stroke whose
        # pixels are each under half covered stays one ring; measure softly below
        layer = (colors == ci) & (alpha >= 0.25)
        if not layer.any():
            continue
        labels, _count = ndimage.label(layer, structure=EIGHT)
        for idx, sl in enumerate(ndimage.find_objects(labels), start=1):
            part = labels[sl] == idx
            a = alpha[sl]
            hh, ww = part.shape
            if np.count_nonzero(part & (a >= 0.5)) < MIN_AREA * n * n or hh < MIN_EXTENT * n or ww < MIN_EXTENT * n:
                continue
            filled = ndimage.binary_fill_holes(part)  # an outline becomes its shape
            target = np.where(part, a, filled.astype(float))
            ys, xs = np.mgrid[0:hh, 0:ww]
            mass = target.sum()
            cx = float(((xs * target).sum() / mass + sl[1].start + 0.5) / n)
            cy = float(((ys * target).sum() / mass + sl[0].start + 0.5) / n)
            shape, size_word, iou = _fit(target, sl[0].start, sl[1].start, cx, cy, n, grid is not None)
            found.append(Found(shape, color, size_word, cx, cy, ww / n, hh / n, float(mass) / (n * n), iou))
    found.sort(key=lambda o: (round(o.y, 3), o.x))
    return Reading(found, bg_name, bg_dist, size)


# --------------------------------------------------------------------------------------------
# judging a caption
# --------------------------------------------------------------------------------------------
def judge(image: ImageLike, prompt: str | Constraints) -> Judgement:
    """Is the picture a correct rendering of the prompt? Reasons say what is wrong."""
    from .captions import parse  # the parser raises ParseError for prompts it cannot read

    constraints = parse(prompt) if isinstance(prompt, str) else prompt
    reading = read(image)
    verdict: Verdict = check(constraints, reading.objects, reading.background)
    return Judgement(verdict.correct, verdict.reasons, reading)
