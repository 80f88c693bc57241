"""Drawing with the GAN: samples from seeds (or a saved latent), truncation towards the mean style,
and the style-mixing figure. Every picture is written with its provenance."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .. import __version__
from ..errors import PromptismError
from ..pipelines.common import check_seed, to_images
from ..pipelines.provenance import grid as grid_of
from ..responsible.energy import footprinted
from .model import NOISE_MODES

MAX_SEEDS = 256  # pictures one call draws
TRUNCATION = (0.0, 1.5)  # 1 keeps the style as drawn, 0 is the mean style, above 1 exaggerates


@dataclass
class GANResult:
    images: list[Image.Image]
    seeds: list[int | None]  # None for a picture drawn from a latent file
    metadata: list[dict]
    grid: Image.Image
    ws: torch.Tensor  # (n, num_ws, w_dim): the styles each picture was drawn from


def parse_range(text: str, what: str, low: int, high: int) -> list[int]:
    """'0-3,7' -> [0, 1, 2, 3, 7], each from ``low`` to ``high`` - 1, with a clear error."""
    out: list[int] = []
    for part in str(text).split(","):
        m = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", part)
        if not m:
            raise PromptismError(f"{what} {text!r}: expected numbers and ranges like 0-3,7")
        a = int(m.group(1))
        b = int(m.group(2)) if m.group(2) is not None else a
        if b < a:
            raise PromptismError(f"{what} {text!r}: the range {a}-{b} runs backwards")
        if a < low or b >= high:
            raise PromptismError(f"{what} {text!r}: each must be from {low} to {high - 1}")
        if len(out) + b - a + 1 > MAX_SEEDS:
            raise PromptismError(f"{what} {text!r}: at most {MAX_SEEDS} at once")
        out.extend(range(a, b + 1))
    return out


def parse_seeds(text: str) -> list[int]:
    from ..pipelines.settings import SEED_LIMIT

    return parse_range(text, "seeds", 0, SEED_LIMIT)


def check_truncation(truncation) -> float:
    lo, hi = TRUNCATION
    if isinstance(truncation, bool) or not isinstance(truncation, (int, float)) or not lo <= truncation <= hi:
        raise PromptismError(f"truncation must be a number from {lo} to {hi} (1 keeps the styles), got {truncation!r}")
    return float(truncation)


def check_noise_mode(mode: str) -> str:
    if mode not in NOISE_MODES:
        raise PromptismError(f"noise mode must be one of {', '.join(NOISE_MODES)}, got {mode!r}")
    return mode


def seeds_z(seeds: list[int], z_dim: int) -> torch.Tensor:
    """Each seed's own noise vector (the same whatever the batch): (len(seeds), z_dim)."""
    return torch.stack([torch.randn(z_dim, generator=torch.Generator().manual_seed(s)) for s in seeds])


def save_latent(path: str | Path, ws: torch.Tensor, meta: dict | None = None) -> Path:
    """One picture's styles (num_ws, w_dim) as an .npz (``ws`` and a JSON ``meta``)."""
    import json

    path = Path(path)
    if path.suffix != ".npz":
        raise PromptismError(f"a latent is written as .npz, not {path.name!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, ws=ws.detach().cpu().numpy().astype(np.float32), meta=np.array(json.dumps(meta or {})))
    return path


def load_latent(path: str | Path, cfg) -> torch.Tensor:
    """A latent file's styles as (num_ws, w_dim), checked against the model's shape; a single w
    (w_dim,) is repeated for every layer."""
    path = Path(path)
    try:
        with np.load(path) as f:
            ws = f["ws"]
    except FileNotFoundError:
        raise PromptismError(f"no latent file at {str(path)!r}") from None
    except (OSError, ValueError, KeyError) as e:
        raise PromptismError(f"{path} is not a latent file (an .npz with a 'ws' array): {e}") from None
    if ws.ndim == 1:
        ws = np.broadcast_to(ws, (cfg.num_ws, ws.shape[0]))
    if ws.shape != (cfg.num_ws, cfg.w_dim):
        raise PromptismError(
            f"{path} holds styles of shape {tuple(ws.shape)}; this model reads ({cfg.num_ws}, {cfg.w_dim}) "
            f"or ({cfg.w_dim},)"
        )
    return torch.from_numpy(np.array(ws, dtype=np.float32))


def _meta(model, operation: str, t0: float, **fields) -> dict:
    return {
        "generator": "stylegan",
        "version": __version__,
        "operation": operation,
        **fields,
        "size": model.generator.config.image_size,
        "models": model.models,
        "seconds": round(time.time() - t0, 3),
    }


def _draw(model, ws: torch.Tensor, noise_mode: str, seeds: list[int | None]) -> torch.Tensor:
    """Pictures of ``ws``; random noise is drawn from each picture's own seed (0 for a latent)."""
    out = []
    with torch.no_grad():
        for i in range(len(ws)):
            g = torch.Generator().manual_seed(seeds[i] or 0)
            out.append(model.generator.synthesis(ws[i : i + 1], noise_mode, g))
    return torch.cat(out)


@footprinted
def sample(
    seeds: list[int] | str = "0-8",
    truncation: float = 0.7,
    noise_mode: str = "const",
    model: str = "world",
    latent: str | Path | None = None,
) -> GANResult:
    """Pictures from seeds (a list or '0-15'), or from a latent file (one picture); each seed gives
    the same picture whatever the others."""
    from . import loaded

    t0 = time.time()
    check_truncation(truncation)
    check_noise_mode(noise_mode)
    m = loaded(str(model))
    cfg = m.generator.config
    if latent is not None:
        ws = load_latent(latent, cfg)[None]
        seeds_list: list[int | None] = [None]
    else:
        seeds_list = parse_seeds(seeds) if isinstance(seeds, str) else [check_seed(s) for s in seeds]
        if not seeds_list or len(seeds_list) > MAX_SEEDS:
            raise PromptismError(f"give from 1 to {MAX_SEEDS} seeds")
        with torch.no_grad():
            ws = m.generator.ws(seeds_z(seeds_list, cfg.z_dim), truncation)
    images = to_images(_draw(m, ws, noise_mode, seeds_list))
    meta = [
        _meta(
            m,
            "sample",
            t0,
            seed=s,
            latent=str(latent) if latent is not None else None,
            truncation=truncation if latent is None else None,
            noise_mode=noise_mode,
        )
        for s in seeds_list
    ]
    return GANResult(images, seeds_list, meta, grid_of(images), ws)


@footprinted
def style_mix(
    rows: list[int] | str,
    cols: list[int] | str,
    styles: list[int] | str,
    truncation: float = 0.7,
    noise_mode: str = "const",
    model: str = "world",
) -> tuple[Image.Image, dict]:
    """StyleGAN's style-mixing figure: the first row holds the column seeds' pictures, the first
    column the row seeds', and cell (r, c) draws row r's styles with the rows ``styles`` of them
    (style-row indices, e.g. '0-3') taken from column c. Returns the figure and its provenance."""
    from . import loaded

    t0 = time.time()
    check_truncation(truncation)
    check_noise_mode(noise_mode)
    m = loaded(str(model))
    cfg = m.generator.config
    row_seeds = parse_seeds(rows) if isinstance(rows, str) else [check_seed(s) for s in rows]
    col_seeds = parse_seeds(cols) if isinstance(cols, str) else [check_seed(s) for s in cols]
    if isinstance(styles, str):
        style_rows = parse_range(styles, "styles", 0, cfg.num_ws)
    else:
        style_rows = list(styles)
        if any(not isinstance(s, int) or not 0 <= s < cfg.num_ws for s in style_rows):
            raise PromptismError(f"styles are style-row indices from 0 to {cfg.num_ws - 1}, got {styles!r}")
    if not row_seeds or not col_seeds or not style_rows:
        raise PromptismError("style mixing needs row seeds, column seeds and style rows")
    with torch.no_grad():
        w_rows = m.generator.ws(seeds_z(row_seeds, cfg.z_dim), truncation)
        w_cols = m.generator.ws(seeds_z(col_seeds, cfg.z_dim), truncation)
    from .model import mix

    pictures = {("row", i): p for i, p in enumerate(to_images(_draw(m, w_rows, noise_mode, row_seeds)))}
    pictures.update({("col", j): p for j, p in enumerate(to_images(_draw(m, w_cols, noise_mode, col_seeds)))})
    cells = []
    for i, rs in enumerate(row_seeds):
        mixed = mix(w_rows[i : i + 1].expand(len(col_seeds), -1, -1), w_cols, style_rows)
        cells.append(to_images(_draw(m, mixed, noise_mode, [rs] * len(col_seeds))))
    side = cfg.image_size
    blank = Image.new("RGB", (side, side), (255, 255, 255))
    sheet = [blank] + [pictures[("col", j)] for j in range(len(col_seeds))]
    for i in range(len(row_seeds)):
        sheet += [pictures[("row", i)]] + cells[i]
    figure = grid_of(sheet, cols=len(col_seeds) + 1)
    meta = _meta(
        m,
        "mix",
        t0,
        rows=row_seeds,
        cols=col_seeds,
        styles=style_rows,
        truncation=truncation,
        noise_mode=noise_mode,
    )
    return figure, meta


MAX_FRAMES = 600


@footprinted
def walk(
    seeds: list[int] | str,
    frames: int = 60,
    truncation: float = 0.7,
    noise_mode: str = "const",
    model: str = "world",
) -> tuple[list[Image.Image], dict]:
    """A loop through the seeds' styles and back to the first: ``frames`` pictures, the styles
    interpolated linearly in W, the noise the same in every frame (a 'const' or 'none' mode; 'random'
    draws it once, from the first seed)."""
    from . import loaded

    t0 = time.time()
    check_truncation(truncation)
    check_noise_mode(noise_mode)
    seed_list = parse_seeds(seeds) if isinstance(seeds, str) else [check_seed(s) for s in seeds]
    if len(seed_list) < 2:
        raise PromptismError("a walk needs at least two seeds, e.g. 0,5,9")
    if isinstance(frames, bool) or not isinstance(frames, int) or not len(seed_list) <= frames <= MAX_FRAMES:
        raise PromptismError(f"frames must be a whole number from {len(seed_list)} (one per seed) to {MAX_FRAMES}")
    m = loaded(str(model))
    cfg = m.generator.config
    with torch.no_grad():
        w = m.generator.ws(seeds_z(seed_list, cfg.z_dim), truncation)
    w = torch.cat([w, w[:1]])  # back to the start
    pos = torch.arange(frames, dtype=torch.float32) * (len(seed_list) / frames)
    i = pos.floor().long()
    t = (pos - i)[:, None, None]
    ws = w[i] + t * (w[i + 1] - w[i])
    pictures = []
    with torch.no_grad():
        for k in range(frames):
            g = torch.Generator().manual_seed(seed_list[0])  # the same noise in every frame
            pictures.append(m.generator.synthesis(ws[k : k + 1], noise_mode, g))
    meta = _meta(m, "walk", t0, seeds=seed_list, truncation=truncation, noise_mode=noise_mode)
    return to_images(torch.cat(pictures)), meta
