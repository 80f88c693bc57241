"""An invisible watermark: a faint keyed pattern in the picture's brightness that says "Promptism
made this", found again after JPEG, resizing and cropping.

The mark is a tile of ``TILE`` × ``TILE`` pixels of noise drawn from a key (the hash of
``IDENTIFIER``), kept to a band of middle spatial frequencies (``BAND`` cycles a tile: low enough
to survive JPEG and halving, high enough to stay out of the way of the picture's large shapes),
repeated across the picture and added to its brightness at ``STRENGTH`` (grey levels, standard
deviation). To find it, the picture's fine detail away from its edges is folded onto one tile (every pixel
added to its place modulo the tile), kept to the same band, and cross-correlated, phase only, with
the key tile at every circular shift (a crop only shifts the tiling), in standard deviations of
all of them. Two tests read the result, and either finds the mark:

- aligned: the correlation at no shift, where the tiling of a picture that was not cropped lies
  (JPEG, resizing there and back, any edit that keeps its frame), at ``ALIGNED_THRESHOLD`` or more;
- any shift: the largest correlation over every shift and the scales in ``SCALES`` (a crop, or a
  crop resized back), at ``THRESHOLD`` or more. Being the largest of many, it needs the higher bar.

One test at one place needs far less than the peak of a thousand: reading every picture by the
peak alone, at a bar low enough for JPEG, found the mark in about one unmarked picture in a
thousand.

It is a presence mark (one bit: Promptism's key or not), not a message, and it is not a secret
that resists a determined remover: anyone with this code can find and subtract it. It tells an
honest reader where a picture came from; the C2PA manifest is the signed statement.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image

IDENTIFIER = "promptism-watermark-v1"
TILE = 32
BAND = (2.5, 7.5)  # cycles per tile, as a radius in the 2-D spectrum
STRENGTH = 2.5  # grey levels (of 255), the pattern's standard deviation
THRESHOLD = 6.0  # the peak over every shift and scale, in standard deviations of all shifts
ALIGNED_THRESHOLD = 4.0  # the correlation at no shift, in the same units
SCALES = (1.0, 0.9)  # 0.9: a picture cropped by 10% and resized back
BLUR = 3.0  # px: the reader keeps the detail finer than this blur
EDGE = 10.0  # grey levels a pixel: a steeper brightness gradient is a picture's edge, left out
LIMIT = 8.0  # grey levels: the most one pixel's detail counts
MIN_SIDE = 24  # smaller pictures are neither marked nor read


def enabled() -> bool:
    import os

    from ..errors import PromptismError

    value = os.environ.get("PROMPTISM_WATERMARK", "on").strip().lower()
    if value not in ("on", "off"):
        raise PromptismError(f"PROMPTISM_WATERMARK is 'on' (the default) or 'off', not {value!r}")
    return value == "on"


@lru_cache(maxsize=4)
def _band_mask(n: int) -> np.ndarray:
    f = np.fft.fftfreq(n) * n
    r = np.hypot(*np.meshgrid(f, f, indexing="ij"))
    return (r >= BAND[0]) & (r <= BAND[1])


@lru_cache(maxsize=1)
def key_tile() -> np.ndarray:
    """The key: a band-limited noise tile of unit standard deviation, from the identifier's hash."""
    seed = int.from_bytes(hashlib.sha256(IDENTIFIER.encode()).digest()[:8], "little")
    noise = np.random.default_rng(seed).standard_normal((TILE, TILE))
    tile = np.real(np.fft.ifft2(np.fft.fft2(noise) * _band_mask(TILE)))
    return (tile - tile.mean()) / tile.std()


@lru_cache(maxsize=1)
def _key_spectrum() -> np.ndarray:
    """The conjugate spectrum of the key, which every read correlates with."""
    return np.conj(np.fft.fft2(key_tile()))


def _luma(img: Image.Image) -> np.ndarray:
    return np.asarray(img.convert("L"), dtype=np.float64)


def embed(img: Image.Image, strength: float = STRENGTH) -> Image.Image:
    """The picture with the mark (``add``), unless it already carries it (an edit of a Promptism
    picture): marked twice, its kept pixels would change."""
    if min(img.size) < MIN_SIDE or detect(img).found:
        return img
    return add(img, strength)


def add(img: Image.Image, strength: float = STRENGTH) -> Image.Image:
    """The picture with the mark added to its brightness (the same amount to R, G and B); each
    pixel's change depends on its own value and place alone."""
    mode = img.mode
    rgb = np.asarray(img.convert("RGB"), dtype=np.float64)
    h, w = rgb.shape[:2]
    reps = (-(-h // TILE), -(-w // TILE))
    pattern = np.tile(key_tile(), reps)[:h, :w] * strength
    # room for the mark at both ends: pure white and black move in by 1.5 standard deviations
    # (else clipping would take half of the mark from a white background)
    room = 1.5 * strength
    out = np.clip(np.rint(np.clip(rgb, room, 255 - room) + pattern[..., None]), 0, 255).astype(np.uint8)
    marked = Image.fromarray(out, "RGB")
    if mode == "RGBA":
        marked.putalpha(img.getchannel("A"))
    return marked


def _score(luma: np.ndarray) -> tuple[float, float]:
    """The correlation of a brightness array with the key at no shift and its peak over every
    shift, in standard deviations of all shifts."""
    from scipy.ndimage import binary_dilation, gaussian_filter

    # the detail the mark lives in: each pixel less its neighbourhood's mean, leaving out pixels on
    # and beside the picture's edges (a shape's outline has far more energy than the faint mark,
    # and shapes repeated across the picture would fold onto one place), each pixel's share capped
    gy, gx = np.gradient(luma)
    keep = ~binary_dilation(np.hypot(gx, gy) > EDGE, iterations=1)
    weight = keep.astype(np.float64)
    local = gaussian_filter(luma * weight, BLUR) / np.maximum(gaussian_filter(weight, BLUR), 1e-6)
    detail = np.where(keep, np.clip(luma - local, -LIMIT, LIMIT), 0.0)
    h, w = luma.shape
    ys, xs = np.indices((h, w))
    folded = np.zeros((TILE, TILE))
    counts = np.zeros((TILE, TILE))
    np.add.at(folded, (ys % TILE, xs % TILE), detail)
    np.add.at(counts, (ys % TILE, xs % TILE), weight)
    folded = np.where(counts > 0, folded / np.maximum(counts, 1e-9), 0.0)
    folded -= folded.mean()
    # phase only (each frequency counts alike, so what is left of the picture does not drown the mark)
    cross = np.where(_band_mask(TILE), np.fft.fft2(folded) * _key_spectrum(), 0)
    cross /= np.maximum(np.abs(cross), 1e-12)
    corr = np.real(np.fft.ifft2(cross))
    sd = corr.std()
    if sd == 0:
        return 0.0, 0.0
    return float((corr[0, 0] - corr.mean()) / sd), float((corr.max() - corr.mean()) / sd)


@dataclass(frozen=True)
class Detection:
    found: bool
    score: float  # the correlation peak over every shift and scale read, in standard deviations
    aligned: float = 0.0  # the correlation at no shift, at the picture's own scale
    threshold: float = THRESHOLD
    aligned_threshold: float = ALIGNED_THRESHOLD

    def to_json(self) -> dict:
        return {
            "found": self.found,
            "score": round(self.score, 2),
            "threshold": self.threshold,
            "aligned_score": round(self.aligned, 2),
            "aligned_threshold": self.aligned_threshold,
            "key": IDENTIFIER,
        }


def detect(img: Image.Image) -> Detection:
    """Whether the picture carries Promptism's mark, and how strongly."""
    if min(img.size) < MIN_SIDE:
        return Detection(False, 0.0)
    aligned, best = _score(_luma(img))
    for scale in SCALES:
        if scale == 1.0:
            continue
        im = img.resize((round(img.width * scale), round(img.height * scale)), Image.BICUBIC)
        if min(im.size) >= MIN_SIDE:
            best = max(best, _score(_luma(im))[1])
    return Detection(best >= THRESHOLD or aligned >= ALIGNED_THRESHOLD, best, aligned)
