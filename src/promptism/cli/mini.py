"""`promptism mini`: DALL·E mini's CLIP-reranked grid."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..mini.defaults import DEFAULTS, MAX_CANDIDATES, MAX_GRID
from .common import torch_threads


def cmd_mini(args: argparse.Namespace) -> int:
    torch_threads()
    from ..mini.pipeline import check_counts, mini
    from ..mini.sample import check_sampling
    from ..pipelines.provenance import save_png

    check_counts(args.candidates, args.grid)  # before loading anything
    check_sampling(args.temperature, args.top_k, args.top_p, args.cond_scale)
    out = Path(args.out)
    on_rows = None
    if args.stream:

        def on_rows(rows: int, total: int, picture) -> None:
            out.mkdir(parents=True, exist_ok=True)
            tmp = out / "grid.png.tmp"
            picture.save(tmp, format="PNG")
            tmp.replace(out / "grid.png")
            print(f"\rrows written: {rows}/{total} (see {out / 'grid.png'})", end="", file=sys.stderr, flush=True)

    r = mini(
        args.prompt,
        candidates=args.candidates,
        grid=args.grid,
        seed=args.seed,
        temperature=args.temperature,
        top_k=args.top_k,
        top_p=args.top_p,
        cond_scale=args.cond_scale,
        negative=args.negative,
        rerank=not args.no_rerank,
        rerank_clip=args.rerank_clip or DEFAULTS["rerank_clip"],
        init=args.init,
        keep_rows=args.keep_rows,
        size=args.size,
        model=args.model,
        batch=args.batch,
        progress=not args.quiet,
        on_rows=on_rows,
    )
    if args.stream:
        print(file=sys.stderr)
    for img, seed, meta in zip(r.images, r.seeds, r.metadata):
        print(save_png(img, out / f"{seed}.png", meta))
    sheet = {k: v for k, v in r.metadata[0].items() if k not in ("seed", "rank", "clip_score")}
    sheet.update(seeds=r.seeds, clip_scores=r.scores, layout="grid")
    print(save_png(r.grid, out / "grid.png", sheet))
    return 0


def add_commands(sub) -> None:
    m = sub.add_parser(
        "mini",
        help="DALL·E mini: a transformer writes VQGAN codes for the prompt, CLIP keeps the best as a 3x3 grid",
        description="Draws --candidates pictures with the mini transformer (each from its own seed: seed, "
        "seed + 1, ...), ranks them by the CLIP's cosine with the prompt and writes the best --grid² as "
        "OUT/<seed>.png (with provenance: rank, CLIP score, every setting) and OUT/grid.png. "
        'Example: promptism mini "a red circle above a blue square"',
    )
    m.add_argument("prompt", help="what to draw")
    m.add_argument("--negative", default=None, help="what not to draw: it replaces the empty caption of guidance")
    m.add_argument(
        "--candidates",
        type=int,
        default=DEFAULTS["candidates"],
        help=f"pictures drawn, grid² to {MAX_CANDIDATES} (default: {DEFAULTS['candidates']})",
    )
    m.add_argument(
        "--grid",
        type=int,
        default=DEFAULTS["grid"],
        help=f"pictures per side of the grid, 1 to {MAX_GRID} (default: {DEFAULTS['grid']}: nine pictures)",
    )
    m.add_argument("--seed", type=int, default=0, help="seed of the first candidate; candidate j uses seed + j")
    m.add_argument(
        "--no-rerank", action="store_true", help="no CLIP ranking: draw only grid² candidates and keep them in order"
    )
    m.add_argument(
        "--rerank-clip",
        action="append",
        default=None,
        metavar="CLIP",
        help="the CLIP that ranks: a shipped name, a model folder or hf:<id>; repeat it for an ensemble, "
        f"whose cosines are summed (default: {' + '.join(DEFAULTS['rerank_clip'])}, the three shipped CLIPs)",
    )
    m.add_argument(
        "--temperature", type=float, default=DEFAULTS["temperature"], help="above 0, at most 10 (default: 1)"
    )
    m.add_argument("--top-k", type=int, default=DEFAULTS["top_k"], help="keep the k likeliest codes (default: 0, all)")
    m.add_argument(
        "--top-p",
        type=float,
        default=DEFAULTS["top_p"],
        help="keep the likeliest codes up to this probability, above 0 and at most 1 (default: 1, all)",
    )
    m.add_argument(
        "--cond-scale",
        type=float,
        default=DEFAULTS["cond_scale"],
        help="classifier-free guidance, 0 to 100; 1: none (default: %(default)s)",
    )
    m.add_argument("--init", default=None, metavar="PICTURE", help="complete this picture: see --keep-rows")
    m.add_argument(
        "--keep-rows", type=int, default=0, help="with --init: how many of its first rows of codes to keep (1 to 15)"
    )
    m.add_argument(
        "--size",
        type=int,
        default=None,
        help="picture side: 64 (default, the VQGAN's), or 128 / 256 (enlarged with Lanczos)",
    )
    m.add_argument("--model", default="world", help="the mini model: a shipped name or a model folder (world)")
    m.add_argument("--batch", type=int, default=16, help="candidates written at once (default: 16)")
    m.add_argument(
        "--stream",
        action="store_true",
        help="rewrite OUT/grid.png after every row of codes, so that a viewer shows the grid forming",
    )
    m.add_argument("--out", default="out", help="folder for the pictures (default: out)")
    m.add_argument("--quiet", action="store_true", help="no progress bar")
    m.set_defaults(func=cmd_mini)
