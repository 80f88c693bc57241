"""The deterministic renderer of the Scene World.

Each shape is an analytic inside-test evaluated at sub-pixel centres: a scene is drawn at 4x
the canvas size with hard edges and box-filtered down (spec "Canvas": anti-aliased), so the
pictures depend on numpy arithmetic alone, not on a drawing library's rasteriser. Pixel art
draws the same scene with one sample per cell on a 32x32 grid and scales it up with nearest
neighbour. Rendering is a pure function of (scene, size).
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image
from scipy import ndimage

from . import vocab
from .scene import STAR_R_PER_SIZE, Obj, Scene, SceneError, extent

SUPERSAMPLE = 4
MIN_SIZE, MAX_SIZE = 32, 256
NEON_SIGMA = 0.02  # halo blur, fraction of the canvas
NEON_STRENGTH = 0.65  # halo opacity where the blurred mask is 1


def inside(shape: str, side: float, dx: np.ndarray, dy: np.ndarray) -> np.ndarray:
    """Boolean mask of points (dx, dy), relative to the centroid, inside a shape of size side."""
    half = side / 2.0
    if shape == "circle":
        return dx * dx + dy * dy <= half * half
    if shape == "square":
        return (np.abs(dx) <= half) & (np.abs(dy) <= half)
    if shape == "diamond":
        return np.abs(dx) + np.abs(dy) <= half
    if shape == "cross":
        arm = side * vocab.CROSS_ARM / 2.0
        ax, ay = np.abs(dx), np.abs(dy)
        return ((ax <= half) & (ay <= arm)) | ((ax <= arm) & (ay <= half))
    if shape == "triangle":
        # apex up at (0, -2h/3), base at y = +h/3; inside when below both slanted sides
        h = side * math.sqrt(3.0) / 2.0
        base = dy <= h / 3.0
        slope = np.abs(dx) * math.sqrt(3.0)  # the sides rise sqrt(3) per unit of x
        return base & (dy >= -2.0 * h / 3.0 + slope)
    if shape == "star":
        return _inside_star(side * STAR_R_PER_SIZE, dx, dy)
    raise SceneError(f"unknown shape {shape!r}")


def _inside_star(r_out: float, dx: np.ndarray, dy: np.ndarray) -> np.ndarray:
    """Five-pointed star, one point straight up, inner radius 0.45 of the outer radius.

    Fold every point into the 36-degree sector between an outer vertex (angle 0) and the
    next inner vertex; there the boundary is the one segment joining them.
    """
    r_in = r_out * vocab.STAR_INNER_RATIO
    theta = np.arctan2(dx, -dy)  # angle from straight up, clockwise
    sector = 2.0 * math.pi / 5.0
    phi = np.abs(np.mod(theta + sector / 2.0, sector) - sector / 2.0)  # in [0, 36 deg]
    rho = np.hypot(dx, dy)
    px, py = rho * np.cos(phi), rho * np.sin(phi)
    # segment from outer (r_out, 0) to inner (r_in cos36, r_in sin36); inside = origin side
    ix, iy = r_in * math.cos(sector / 2.0), r_in * math.sin(sector / 2.0)
    cross = (ix - r_out) * (py - 0.0) - (iy - 0.0) * (px - r_out)
    origin_cross = (ix - r_out) * (0.0 - 0.0) - (iy - 0.0) * (0.0 - r_out)
    return np.sign(cross) * np.sign(origin_cross) >= 0


def background_array(background: str, n: int) -> np.ndarray:
    """An (n, n, 3) float array of the background, sampled at pixel centres."""
    if background == "sky":
        t = (np.arange(n, dtype=np.float64) + 0.5) / n
        top, bottom = np.array(vocab.SKY_TOP, float), np.array(vocab.SKY_BOTTOM, float)
        rows = top[None, :] * (1 - t[:, None]) + bottom[None, :] * t[:, None]
        return np.broadcast_to(rows[:, None, :], (n, n, 3)).copy()
    if background not in vocab.BACKGROUND_RGB:
        raise SceneError(f"unknown background {background!r}")
    return np.broadcast_to(np.array(vocab.BACKGROUND_RGB[background], float), (n, n, 3)).copy()


def _object_mask(o: Obj, n: int, pad: int) -> tuple[np.ndarray, int, int]:
    """The object's boolean mask on an n x n sample grid, cropped: (mask, row0, col0)."""
    left, top, right, bottom = extent(o.shape, o.side)
    c0 = max(int(math.floor((o.x - left) * n)) - pad, 0)
    c1 = min(int(math.ceil((o.x + right) * n)) + pad, n)
    r0 = max(int(math.floor((o.y - top) * n)) - pad, 0)
    r1 = min(int(math.ceil((o.y + bottom) * n)) + pad, n)
    xs = (np.arange(c0, c1) + 0.5) / n - o.x
    ys = (np.arange(r0, r1) + 0.5) / n - o.y
    return inside(o.shape, o.side, xs[None, :], ys[:, None]), r0, c0


def _draw(scene: Scene, n: int) -> np.ndarray:
    """Draw a scene with one hard-edged sample per cell of an n x n grid (float RGB)."""
    canvas = background_array(scene.background, n)
    stroke = vocab.STROKE_WIDTH * n
    sigma = NEON_SIGMA * n
    pad = int(math.ceil(4 * sigma)) + 2 if scene.style == "neon" else 2
    for o in scene.objects:
        color = np.array(vocab.COLORS[o.color], float)
        mask, r0, c0 = _object_mask(o, n, pad)
        h, w = mask.shape
        region = canvas[r0 : r0 + h, c0 : c0 + w]
        if scene.style == "neon":
            halo = NEON_STRENGTH * np.clip(ndimage.gaussian_filter(mask.astype(float), sigma), 0, 1)
            region[:] = region * (1 - halo[..., None]) + color * halo[..., None]
        if scene.style == "outline":
            # the stroke lies inside the shape's boundary, so the outline keeps the shape's box
            depth = ndimage.distance_transform_edt(np.pad(mask, 1))[1:-1, 1:-1]
            mask = mask & (depth <= stroke)
        region[mask] = color
    return canvas


def check_size(size: int) -> int:
    if not isinstance(size, (int, np.integer)) or isinstance(size, bool):
        raise SceneError(f"canvas size must be an integer, got {size!r}")
    if not MIN_SIZE <= size <= MAX_SIZE:
        raise SceneError(f"canvas size must be between {MIN_SIZE} and {MAX_SIZE} pixels, got {size}")
    return int(size)


def render_array(scene: Scene, size: int = 64) -> np.ndarray:
    """Render a scene to a (size, size, 3) uint8 array."""
    size = check_size(size)
    if scene.style == "pixel":
        grid = _draw(scene, vocab.PIXEL_GRID)
        small = np.clip(np.rint(grid), 0, 255).astype(np.uint8)
        idx = (np.arange(size) * vocab.PIXEL_GRID) // size  # nearest-neighbour upscale
        return small[idx][:, idx]
    big = _draw(scene, size * SUPERSAMPLE)
    return np.clip(np.rint(_box_mean(big, SUPERSAMPLE)), 0, 255).astype(np.uint8)


def _box_mean(big: np.ndarray, k: int) -> np.ndarray:
    """(n, n, 3) -> (n/k, n/k, 3): the mean of each k x k block, as strided slices summed in
    place: numpy's mean over two strided axes of the (n/k, k, n/k, k, 3) view is far slower, and
    rendering counterfactual pictures is part of every CLIP training step. The two agree to
    rounding, and Scene World pictures render to the same bytes either way."""
    size = big.shape[0] // k
    blocks = big.reshape(size, k, size, k, 3)
    rows = blocks[:, 0].copy()
    for i in range(1, k):
        rows += blocks[:, i]
    out = rows[:, :, 0].copy()
    for j in range(1, k):
        out += rows[:, :, j]
    return out / (k * k)


def render(scene: Scene, size: int = 64) -> Image.Image:
    """Render a scene to a PIL RGB image of size x size pixels."""
    return Image.fromarray(render_array(scene, size))
