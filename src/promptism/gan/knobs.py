"""Knobs: directions in the style space W that change one thing about a picture.

- ``find_knobs``: the principal directions of W (GANSpace, Härkönen et al. 2020): PCA of the
  styles of 10,000 noise vectors from a fixed seed, each direction with the spread of W along it.
- ``name_knobs``: what our CLIP sees change along each one. For seeds drawn at the knob's −k and +k
  (k spreads), every world word's CLIP score (prompt-ensembled over the other words of a caption)
  is compared; in each family of words (colour, shape, size, background, style, count) the word
  whose score falls most and the one that rises most make a name such as "red → blue", and the
  family whose scores move most, measured against how much they vary among the seeds' own
  pictures, names the knob.
- ``edit``: move a picture's styles along a knob, on all layers or some (``layers``), or towards
  a text (StyleCLIP's latent optimisation, Patashnik et al. 2021: CLIP's spherical distance to the
  text on cutouts of the picture, plus λ‖w − w₀‖² that keeps the rest of the picture).
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from ..errors import PromptismError
from ..pipelines.common import to_images
from ..responsible.energy import footprinted
from .pipeline import _meta, check_truncation, load_latent, parse_range, seeds_z

KNOB_SAMPLES = 10_000
MAX_KNOBS = 64


def _families() -> dict[str, dict[str, list[str]]]:
    """Family -> word -> the captions whose mean CLIP text embedding stands for the word."""
    from ..world.vocab import COLORS, PLURALS, SHAPES

    colours, shapes = list(COLORS), list(SHAPES)
    pairs = [(c, s) for c in colours for s in shapes]
    backgrounds = {"white": "on white", "black": "on black", "gray": "on a gray background", "sky": "under a blue sky"}
    styles = {"flat": "a flat picture of a {c} {s}", "outline": "a {c} {s} in outline",
              "pixel": "pixel art of a {c} {s}", "neon": "a glowing {c} {s}"}  # fmt: skip
    counts = {"one": 1, "two": 2, "three": 3, "four": 4}
    return {
        "colour": {c: [f"a {c} {s}" for s in shapes] for c in colours},
        "shape": {s: [f"a {c} {s}" for c in colours] for s in shapes},
        "size": {z: [f"a {z} {c} {s}" for c, s in pairs] for z in ("small", "medium", "large")},
        "background": {b: [f"a {c} {s} {w}" for c, s in pairs] for b, w in backgrounds.items()},
        "style": {k: [t.format(c=c, s=s) for c, s in pairs] for k, t in styles.items()},
        "count": {k: [f"{k} {c} {s if n == 1 else PLURALS[s]}" for c, s in pairs] for k, n in counts.items()},
    }


def _clip_side(x: torch.Tensor, side: int) -> torch.Tensor:
    """Pictures resized to a CLIP's input side (area when shrinking, bilinear when enlarging)."""
    if x.shape[-1] == side:
        return x
    if x.shape[-1] > side:
        return F.interpolate(x, size=side, mode="area")
    return F.interpolate(x, size=side, mode="bilinear", align_corners=False)


@dataclass
class Knobs:
    directions: torch.Tensor  # (k, w_dim), unit length, by falling variance
    spreads: torch.Tensor  # (k,): standard deviation of W along each
    mean: torch.Tensor  # (w_dim,)
    names: list[str]  # "" until named
    changes: list[dict]  # per knob: family -> {word: score change from −k to +k}

    def save(self, path: str | Path, meta: dict) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(
            path,
            directions=self.directions.numpy(),
            spreads=self.spreads.numpy(),
            mean=self.mean.numpy(),
            names=np.array(json.dumps(self.names)),
            changes=np.array(json.dumps(self.changes)),
            meta=np.array(json.dumps(meta)),
        )
        return path


def load_knobs(path: str | Path, w_dim: int) -> Knobs:
    try:
        with np.load(path) as f:
            k = Knobs(
                torch.from_numpy(f["directions"]),
                torch.from_numpy(f["spreads"]),
                torch.from_numpy(f["mean"]),
                json.loads(str(f["names"])),
                json.loads(str(f["changes"])),
            )
    except FileNotFoundError:
        raise PromptismError(f"no knobs file at {str(path)!r} (write one with `promptism gan knobs`)") from None
    except (OSError, ValueError, KeyError) as e:
        raise PromptismError(f"{path} is not a knobs file: {e}") from None
    if k.directions.shape[1] != w_dim:
        raise PromptismError(f"{path} holds knobs of a {k.directions.shape[1]}-wide W; this model's is {w_dim}")
    return k


@torch.no_grad()
def find_knobs(generator, k: int = 10) -> Knobs:
    """The first ``k`` principal directions of W."""
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= min(MAX_KNOBS, generator.config.w_dim):
        raise PromptismError(f"knobs must be a whole number from 1 to {min(MAX_KNOBS, generator.config.w_dim)}")
    z = torch.randn(KNOB_SAMPLES, generator.config.z_dim, generator=torch.Generator().manual_seed(7))
    w = generator.mapping(z).double()
    mean = w.mean(0)
    _, s, vt = torch.linalg.svd(w - mean, full_matrices=False)
    spreads = s[:k] / (len(w) - 1) ** 0.5
    dirs = vt[:k]
    # a direction's sign is arbitrary: point each so that its largest component is positive
    flip = torch.sign(dirs.gather(1, dirs.abs().argmax(1, keepdim=True)))
    return Knobs((dirs * flip).float(), spreads.float(), mean.float(), [""] * k, [{} for _ in range(k)])


@torch.no_grad()
def name_knobs(generator, knobs: Knobs, clip_name: str = "world", seeds: int = 16, amount: float = 2.0) -> Knobs:
    """Name each knob by the world words whose CLIP scores move most from −amount to +amount
    spreads along it (``seeds`` pictures at truncation 0.7)."""
    from ..clip import load as load_clip

    clip = load_clip(clip_name)
    families = _families()
    words = {f: list(ws) for f, ws in families.items()}
    text = {}
    for fam, table in families.items():
        embs = []
        for w in words[fam]:
            e = clip.encode_text(table[w]).mean(0)
            embs.append(e / e.norm())
        text[fam] = torch.stack(embs)
    base = generator.ws(seeds_z(list(range(seeds)), generator.config.z_dim), 0.7)
    plain = clip.encode_image(_clip_side(generator.synthesis(base, "const").clamp(-1, 1), clip.image_size))
    # how much each family's scores vary among ordinary pictures: a family of words whose scores
    # swing widely anyway (counts) must move further to name a knob
    natural = {fam: float((plain @ t.T).std(0).mean()) + 1e-6 for fam, t in text.items()}
    names, changes = [], []
    for d, spread in zip(knobs.directions, knobs.spreads):
        step = amount * float(spread) * d
        ends = [generator.synthesis(base + sign * step, "const").clamp(-1, 1) for sign in (-1, 1)]
        emb = [clip.encode_image(_clip_side(x, clip.image_size)) for x in ends]
        change, best = {}, ("", -1.0)
        for fam, t in text.items():
            delta = ((emb[1] @ t.T) - (emb[0] @ t.T)).mean(0)  # per word
            change[fam] = {w: round(float(v), 4) for w, v in zip(words[fam], delta)}
            lo, hi = int(delta.argmin()), int(delta.argmax())
            spread_fam = float(delta[hi] - delta[lo]) / natural[fam]
            if spread_fam > best[1]:
                best = (f"{words[fam][lo]} → {words[fam][hi]}", spread_fam)
        names.append(best[0])
        changes.append(change)
    return Knobs(knobs.directions, knobs.spreads, knobs.mean, names, changes)


def parse_knob(text: str, k: int) -> tuple[int, float]:
    """'3:+2' -> (3, 2.0): knob 3 moved by 2 spreads."""
    m = re.fullmatch(r"\s*(\d+)\s*:\s*([+-]?\d+(?:\.\d+)?)\s*", str(text))
    if not m:
        raise PromptismError(f"knob {text!r}: expected INDEX:AMOUNT, e.g. 3:+2 (amount in spreads)")
    index, amount = int(m.group(1)), float(m.group(2))
    if not 0 <= index < k:
        raise PromptismError(f"knob {text!r}: the knobs file has knobs 0 to {k - 1}")
    if abs(amount) > 10:
        raise PromptismError(f"knob {text!r}: amounts run from -10 to +10 spreads")
    return index, amount


@dataclass
class Edit:
    before: Image.Image
    after: Image.Image
    ws: torch.Tensor  # (num_ws, w_dim): the edited styles
    metadata: dict


def _start(m, seed: int | None, latent, truncation: float) -> tuple[torch.Tensor, dict]:
    cfg = m.generator.config
    if (seed is None) == (latent is None):
        raise PromptismError("give a seed or a latent file to edit, one of them")
    if latent is not None:
        return load_latent(latent, cfg)[None], {"latent": str(latent)}
    from ..pipelines.common import check_seed

    with torch.no_grad():
        return m.generator.ws(seeds_z([check_seed(seed)], cfg.z_dim), truncation), {
            "seed": seed,
            "truncation": truncation,
        }


@footprinted
def edit(
    seed: int | None = None,
    latent=None,
    knob: str | None = None,
    knobs_file=None,
    layers: str | None = None,
    towards: str | None = None,
    truncation: float = 0.7,
    steps: int = 100,
    lr: float = 0.02,
    l2: float = 0.5,
    cutn: int = 8,
    clip_name: str = "world",
    model: str = "world",
    progress: bool = False,
) -> Edit:
    """A picture (from a seed or a latent file) before and after moving its styles: along a knob
    ('INDEX:AMOUNT', amounts in spreads, from ``knobs_file``) or towards a text."""
    from . import loaded

    t0 = time.time()
    check_truncation(truncation)
    if (knob is None) == (towards is None):
        raise PromptismError("give a knob (INDEX:AMOUNT) or a text to go towards, one of them")
    m = loaded(str(model))
    gen, cfg = m.generator, m.generator.config
    rows = parse_range(layers, "layers", 0, cfg.num_ws) if layers else list(range(cfg.num_ws))
    w0, source = _start(m, seed, latent, truncation)
    mask = torch.zeros(1, cfg.num_ws, 1)
    mask[:, rows] = 1.0
    if knob is not None:
        if knobs_file is None:
            raise PromptismError("a knob needs the knobs file `promptism gan knobs` wrote (--knobs FILE)")
        kn = load_knobs(knobs_file, cfg.w_dim)
        index, amount = parse_knob(knob, len(kn.directions))
        w1 = w0 + mask * (amount * kn.spreads[index] * kn.directions[index])
        how = {"knob": index, "amount": amount, "knob_name": kn.names[index], "knobs": str(knobs_file)}
    else:
        from ..pipelines.common import check_prompt

        towards = check_prompt(towards)
        w1 = steer_towards(gen, w0, mask, towards, steps, lr, l2, cutn, clip_name, progress)
        how = {"towards": towards, "steps": steps, "lr": lr, "l2": l2, "cutn": cutn, "clip": clip_name}
    with torch.no_grad():
        before, after = to_images(gen.synthesis(torch.cat([w0, w1]), "const"))
    meta = _meta(m, "edit", t0, **source, layers=rows, **how, noise_mode="const")
    return Edit(before, after, w1[0].detach(), meta)


def steer_towards(gen, w0, mask, text: str, steps: int, lr: float, l2: float, cutn: int, clip_name: str, progress):
    """StyleCLIP's latent optimisation, on the style rows ``mask`` lets through."""
    from ..clip import load as load_clip
    from ..guide.optimize import spherical_distance
    from ..guide.parametrize import Cutouts
    from ..pipelines.common import Bar

    if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= 2000:
        raise PromptismError(f"steps must be a whole number from 1 to 2000, got {steps!r}")
    clip = load_clip(clip_name)
    with torch.no_grad():
        target = clip.encode_text([text])
    g = torch.Generator().manual_seed(0)
    cut = Cutouts(clip.image_size, cutn, 1.0, ("flip",), g)
    delta = torch.zeros_like(w0, requires_grad=True)
    opt = torch.optim.Adam([delta], lr=lr)
    gen.requires_grad_(False)
    bar = Bar("edit", steps, progress)
    try:
        for _ in range(steps):
            img = gen.synthesis(w0 + mask * delta, "const")
            e = clip._encode_pixels(cut(_clip_side(img, clip.image_size)))
            loss = spherical_distance(e, target).mean() + l2 * (mask * delta).square().sum(-1).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            bar.update(1)
    finally:
        bar.close()
        gen.requires_grad_(True)
    return (w0 + mask * delta).detach()


@torch.no_grad()
def contact_sheet(generator, knobs: Knobs, seed: int = 0, amounts=(-2, -1, 0, 1, 2), truncation: float = 0.7):
    """One row per knob: the seed's picture moved by each amount (in spreads) along it."""
    from ..pipelines.provenance import grid

    w = generator.ws(seeds_z([seed], generator.config.z_dim), truncation)
    pictures = []
    for d, spread in zip(knobs.directions, knobs.spreads):
        ws = torch.cat([w + a * float(spread) * d for a in amounts])
        pictures += to_images(generator.synthesis(ws, "const"))
    return grid(pictures, cols=len(amounts))


def knobs(k: int = 10, clip_name: str = "world", model: str = "world", sheet_seed: int = 0):
    """Find and name ``k`` knobs: (Knobs, contact sheet, provenance)."""
    from . import loaded

    t0 = time.time()
    m = loaded(str(model))
    found = name_knobs(m.generator, find_knobs(m.generator, k), clip_name)
    sheet = contact_sheet(m.generator, found, sheet_seed)
    meta = _meta(m, "knobs", t0, knobs=k, clip=clip_name, names=found.names, sheet_seed=sheet_seed)
    return found, sheet, meta
