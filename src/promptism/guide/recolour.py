"""Recolouring a drawn canvas region by region, each region taking the colour CLIP likes best.

Why: the steps of optimisation recolour a shape badly. Asked for a brown cross on a canvas whose
cross is blue, they shade it in two or three colours and bend its sides before it turns brown.
Here a whole region changes colour at once, to one of the colours the drawn canvases themselves
hold (the world's colours, and a few blends from the shapes' edges), and CLIP chooses among a
few hundred flat-coloured pictures instead of being optimised against pixel by pixel. It can still
be wrong: the search keeps the recolouring CLIP rates highest, and a colour CLIP misreads (a pink it
takes for brown) wins now and then.

A region is a connected patch of one colour of the palette (neighbouring palette colours that
the picture shows nearly alike are one colour). Its pixels shift by the new colour less the old,
and the 2-pixel ring around it shifts in proportion to how near each pixel's colour is to the
region's, so that edges blended with the background follow the shape. A region that touches the
picture's border and covers more than a third of it is a background, and takes only the colours
the canvases' borders hold. Coordinate ascent: each region in turn (the largest first) tries every
colour and keeps the best, twice over.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from scipy import ndimage

COLOURS, BACKGROUNDS = 16, 6  # palette sizes: every region's, and a background's
MERGE = 0.25  # palette colours this near (RGB in [-1, 1]) in a picture are one colour there
LEAST = 12  # pixels of a region at 64 px (fewer: an edge blend, left as it is); scales with area
REGIONS, PASSES = 4, 2  # regions recoloured (the largest), rounds over them
SAMPLE = 20_000  # pixels the palette is fitted on


def _kmeans(x: torch.Tensor, k: int, iters: int = 20) -> torch.Tensor:
    """k centres of the rows of x (N, 3): farthest-point start from the first row, then Lloyd's steps."""
    centres = x[:1]
    for _ in range(min(k, len(x)) - 1):
        far = torch.cdist(x, centres).min(1).values.argmax()
        centres = torch.cat([centres, x[far][None]])
    for _ in range(iters):
        label = torch.cdist(x, centres).argmin(1)
        centres = torch.stack([x[label == j].mean(0) if (label == j).any() else c for j, c in enumerate(centres)])
    return centres


def palettes(drawn: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The colours (K, 3) the drawn canvases (n, 3, S, S) hold, and those of their backgrounds
    (each canvas's border median): what a region, and a background, may be recoloured to. The
    pixels are sampled with a fixed generator, so the palettes depend on the canvases alone."""
    pixels = drawn.permute(0, 2, 3, 1).reshape(-1, 3)
    pick = torch.randperm(len(pixels), generator=torch.Generator().manual_seed(0))[:SAMPLE]
    border = torch.cat([drawn[:, :, 0], drawn[:, :, -1], drawn[:, :, :, 0], drawn[:, :, :, -1]], -1)
    return _kmeans(pixels[pick], COLOURS), _kmeans(border.median(-1).values, BACKGROUNDS)


def regions(img: torch.Tensor, palette: torch.Tensor) -> list[torch.Tensor]:
    """Boolean masks (S, S) of the picture's (3, S, S) regions, largest first."""
    size = img.shape[-1]
    pixels = img.permute(1, 2, 0).reshape(-1, 3)
    label = torch.cdist(pixels, palette).argmin(1).numpy()
    present = np.unique(label)
    means = {int(i): pixels[torch.from_numpy(label == i)].mean(0) for i in present}
    root = {int(i): int(i) for i in present}

    def find(i: int) -> int:
        while root[i] != i:
            i = root[i]
        return i

    for a in means:
        for b in means:
            if a < b and float((means[a] - means[b]).norm()) < MERGE:
                root[find(b)] = find(a)
    lookup = np.arange(len(palette))  # each palette colour's merged colour
    for i in root:
        lookup[i] = find(i)
    merged = lookup[label].reshape(size, size)
    least = max(1, round(LEAST * (size / 64) ** 2))
    out = []
    for colour in np.unique(merged):
        parts, count = ndimage.label(merged == colour)
        out += [torch.from_numpy(parts == j) for j in range(1, count + 1) if (parts == j).sum() >= least]
    return sorted(out, key=lambda m: -int(m.sum()))


def _weights(img: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """How much each pixel follows the region's new colour (S, S): 1 inside, fading over the ring
    by how near the pixel's colour is to the region's mean against its surroundings'; and that mean (3,)."""
    ring_px = max(1, round(2 * img.shape[-1] / 64))
    mean = img[:, mask].mean(1)
    m = mask.numpy()
    near = ndimage.binary_dilation(m, iterations=ring_px)
    ring = torch.from_numpy(near & ~m)
    around = torch.from_numpy(ndimage.binary_dilation(m, iterations=2 * ring_px) & ~near)
    weight = mask.float()
    if around.any():
        gap = (mean - img[:, around].median(1).values).norm().clamp(min=1e-3)
        fade = (1 - (img - mean[:, None, None]).norm(dim=0) / gap).clamp(0, 1)
        weight = torch.where(ring, fade, weight)
    return weight, mean


def _is_background(mask: torch.Tensor) -> bool:
    edges = mask[0].any() or mask[-1].any() or mask[:, 0].any() or mask[:, -1].any()
    return bool(edges) and float(mask.float().mean()) > 1 / 3


@torch.no_grad()
def recolour(
    img: torch.Tensor,
    palette: torch.Tensor,
    backgrounds: torch.Tensor,
    rate: Callable[[torch.Tensor], torch.Tensor],
) -> tuple[torch.Tensor, float]:
    """The picture (3, S, S) in [-1, 1] with its largest regions recoloured to the palette's
    colours that ``rate`` (pictures (B, 3, S, S) -> scores (B,)) scores highest, and its score.
    The picture as it is competes too: nothing changes unless a recolouring scores higher."""
    current = img.clone()
    best = float(rate(current[None])[0])
    masks = regions(img, palette)[:REGIONS]
    for _ in range(PASSES):
        for mask in masks:
            weight, mean = _weights(current, mask)
            colours = backgrounds if _is_background(mask) else palette
            tries = (current + weight * (colours - mean)[:, :, None, None]).clamp(-1, 1)
            scores = rate(tries)
            j = int(scores.argmax())
            if float(scores[j]) > best:
                best, current = float(scores[j]), tries[j]
    return current, best
