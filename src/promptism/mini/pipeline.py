"""`promptism mini`: DALL·E mini's way of drawing. The transformer writes ``candidates`` pictures'
codes (in batches, each picture from its own seed), the VQGAN decodes them, a CLIP ranks them
against the prompt, and the best grid² are kept, best first, with the grid of them."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import torch
from PIL import Image

from .. import __version__
from ..errors import PromptismError
from ..pipelines.common import Bar, check_prompt, check_seed, to_images
from ..pipelines.provenance import grid as grid_of
from ..responsible.energy import footprinted
from .defaults import DEFAULTS, MAX_CANDIDATES, MAX_GRID
from .sample import check_sampling, sample_codes

SCALES = (1, 2, 4)  # sizes: the VQGAN's own (64 px for vqgan-world), and it enlarged (Lanczos)


@dataclass
class MiniResult:
    images: list[Image.Image]  # grid² pictures, best first
    seeds: list[int]
    scores: list[float | None]  # the reranking CLIP's score of each (None without reranking)
    metadata: list[dict]
    grid: Image.Image
    codes: torch.Tensor  # (grid², rows, columns): the VQGAN codes of each kept picture


def check_counts(candidates, grid) -> None:
    if isinstance(grid, bool) or not isinstance(grid, int) or not 1 <= grid <= MAX_GRID:
        raise PromptismError(f"grid must be a whole number from 1 to {MAX_GRID} (pictures per side), got {grid!r}")
    if (
        isinstance(candidates, bool)
        or not isinstance(candidates, int)
        or not grid * grid <= candidates <= MAX_CANDIDATES
    ):
        raise PromptismError(
            f"candidates must be a whole number from grid² ({grid * grid}) to {MAX_CANDIDATES}, got {candidates!r}"
        )


def check_rerank_clip(rerank_clip) -> tuple[str, ...]:
    """The reranking CLIPs' names: one name, or several whose cosines are summed (an ensemble)."""
    names = (rerank_clip,) if isinstance(rerank_clip, str) else tuple(rerank_clip or ())
    if not names or not all(isinstance(n, str) and n.strip() for n in names):
        raise PromptismError(f"rerank_clip must name one CLIP or several, got {rerank_clip!r}")
    if len(set(names)) != len(names):
        raise PromptismError(f"rerank_clip names a CLIP twice: {', '.join(names)}")
    return names


def _decode_rows(vq, codes: torch.Tensor, g: int) -> torch.Tensor:
    """Pictures of the rows written so far, the rest gray: (B, 3, S, S)."""
    rows = codes.shape[1] // g
    top = vq.decode(codes[:, : rows * g].view(len(codes), rows, g)).clamp(-1, 1)
    side = top.shape[-1]
    return torch.cat([top, top.new_zeros(len(codes), 3, side - top.shape[2], side)], 2)


@lru_cache(maxsize=2)
def loaded(model: str):
    """A mini model (a shipped name or a folder) with its VQGAN and their hashes, loaded once per
    process: the server draws every dalle-mini job with it."""
    from . import load

    return load(model)


def _init_codes(mini_model, init, keep_rows: int) -> torch.Tensor:
    from ..pipelines.images import open_image, square, to_tensor

    cfg = mini_model.model.cfg
    if isinstance(keep_rows, bool) or not isinstance(keep_rows, int) or not 1 <= keep_rows < cfg.grid:
        raise PromptismError(f"keep_rows must be a whole number from 1 to {cfg.grid - 1}, got {keep_rows!r}")
    picture = square(open_image(init, "init picture").image, mini_model.vq.config.image_size)
    with torch.no_grad():
        codes = mini_model.vq.encode(to_tensor([picture]))
    return codes.reshape(1, -1)[:, : keep_rows * cfg.grid]


@footprinted
def mini(
    prompt: str,
    candidates: int = DEFAULTS["candidates"],
    grid: int = DEFAULTS["grid"],
    seed: int = 0,
    temperature: float = DEFAULTS["temperature"],
    top_k: int = DEFAULTS["top_k"],
    top_p: float = DEFAULTS["top_p"],
    cond_scale: float = DEFAULTS["cond_scale"],
    negative: str | None = None,
    rerank: bool = True,
    rerank_clip: str | Sequence[str] = DEFAULTS["rerank_clip"],
    init=None,
    keep_rows: int = 0,
    size: int | None = None,
    model: str = "world",
    batch: int = 16,
    progress: bool = False,
    cache: bool = True,
    on_rows=None,
) -> MiniResult:
    """grid² pictures of ``prompt``, best first: ``candidates`` drawn (candidate j from seed + j),
    ranked by ``rerank_clip``'s cosine with the prompt (less that with ``negative``; several CLIPs'
    cosines summed when it names several), or, without
    ``rerank``, the first grid². Sampling: ``temperature``, ``top_k`` (0: all codes), ``top_p`` (1:
    all), ``cond_scale`` (classifier-free guidance; ``negative`` stands in for the empty caption).
    ``init`` with ``keep_rows``: the picture's first rows of codes are kept and the rest written.
    ``size``: the VQGAN's (None: 64 px with the shipped one), or it enlarged 2 or 4 times.
    ``batch``: candidates written at once (memory).
    ``on_rows(rows, total, picture)``: called after each row of codes with the grid of the batch's
    first grid² candidates as written so far (the rest gray), DALL·E mini's progressive display."""
    t0 = time.time()
    prompt = check_prompt(prompt)
    negative = check_prompt(negative, "negative prompt") if negative else None
    check_counts(candidates, grid)
    check_sampling(temperature, top_k, top_p, cond_scale)
    names = check_rerank_clip(rerank_clip)
    seed = check_seed(seed)
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise PromptismError(f"batch must be a whole number of at least 1, got {batch!r}")
    if init is None and keep_rows:
        raise PromptismError("keep_rows needs an init picture")
    m = loaded(str(model))
    sizes = [m.vq.config.image_size * k for k in SCALES]
    size = sizes[0] if size is None else size
    if size not in sizes:
        raise PromptismError(f"size must be one of {', '.join(map(str, sizes))} with this model, got {size!r}")
    prefix = _init_codes(m, init, keep_rows) if init is not None else None
    if not rerank:
        candidates = grid * grid
    cfg = m.model.cfg
    text, _ = m.tokenizer([prompt])
    null, _ = m.tokenizer([negative or ""])
    seeds = [(seed + j) % 2**32 for j in range(candidates)]
    bar = Bar("mini", candidates * cfg.codes, progress)
    pictures: list[torch.Tensor] = []
    all_codes: list[torch.Tensor] = []
    try:
        for start in range(0, candidates, batch):
            gens = [torch.Generator().manual_seed(s) for s in seeds[start : start + batch]]
            b = len(gens)
            written = prefix.shape[1] if prefix is not None else 0

            def on_row(rows: int, codes: torch.Tensor, b=b) -> None:
                nonlocal written
                shown = None
                if bar.hook is not None or on_rows is not None:
                    from ..pipelines.images import to_tensor

                    picture = grid_of(to_images(_decode_rows(m.vq, codes[: grid * grid], cfg.grid)), cols=grid)
                    shown = to_tensor([picture])
                    if on_rows is not None:
                        on_rows(rows, cfg.grid, picture)
                bar.update(b * (codes.shape[1] - written), shown)
                written = codes.shape[1]

            codes = sample_codes(
                m.model,
                text.expand(b, -1),
                null.expand(b, -1),
                gens,
                temperature,
                top_k,
                top_p,
                cond_scale,
                prefix.expand(b, -1) if prefix is not None else None,
                on_row,
                cache,
            )
            all_codes.append(codes.view(b, cfg.grid, cfg.grid))
            with torch.no_grad():
                pictures.append(m.vq.decode(codes.view(b, cfg.grid, cfg.grid)).clamp(-1, 1))
    finally:
        bar.close()
    x = torch.cat(pictures)
    images = to_images(x)
    scores: list[float | None] = [None] * len(images)
    clip_info = None
    if rerank:
        from ..pipelines.unclip import load_reranker

        total = torch.zeros(len(images))
        clip_info = []
        for name in names:
            clip, digest = load_reranker(name)
            with torch.no_grad():
                emb = clip.encode_image(images)
                total += emb @ clip.encode_text([prompt])[0]
                if negative:
                    total -= emb @ clip.encode_text([negative])[0]
            clip_info.append({"name": name, "sha256": digest})
        scores = [round(float(v), 5) for v in total]
    order = sorted(range(len(images)), key=lambda i: (-(scores[i] or 0.0), i))[: grid * grid]
    kept = [images[i] for i in order]
    if size != images[0].width:
        kept = [im.resize((size, size), Image.LANCZOS) for im in kept]
    settings = dict(
        candidates=candidates,
        grid=grid,
        temperature=temperature,
        top_k=top_k,
        top_p=top_p,
        cond_scale=cond_scale,
        rerank=rerank,
        keep_rows=keep_rows,
        cache=cache,
    )
    seconds = round(time.time() - t0, 3)
    meta = [
        {
            "generator": "dalle-mini",
            "version": __version__,
            "operation": "mini",
            "prompt": prompt,
            "negative_prompt": negative,
            "init": None if init is None else str(init) if isinstance(init, str) else "a picture",
            "seed": seeds[i],
            "rank": r + 1,
            "clip_score": scores[i],
            "rerank_clip": clip_info,
            "size": size,
            "settings": settings,
            "models": m.models,
            "seconds": seconds,
        }
        for r, i in enumerate(order)
    ]
    return MiniResult(
        kept, [seeds[i] for i in order], [scores[i] for i in order], meta, grid_of(kept, cols=grid),
        torch.cat(all_codes)[order],
    )  # fmt: skip
