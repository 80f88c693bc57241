"""`promptism gan`: sample, mix and walk the StyleGAN-style generator."""

from __future__ import annotations

import argparse
from pathlib import Path

from .common import torch_threads

TRUNCATION = (0.0, 1.5)  # promptism.gan.pipeline's, without torch
NOISE_MODES = ("random", "const", "none")  # promptism.gan.model's


def _truncation(text: str) -> float:
    v = float(text)
    if not TRUNCATION[0] <= v <= TRUNCATION[1]:
        raise argparse.ArgumentTypeError(f"{text!r}: truncation is from {TRUNCATION[0]} to {TRUNCATION[1]}")
    return v


def cmd_sample(args: argparse.Namespace) -> int:
    from ..gan.pipeline import parse_seeds

    seeds = parse_seeds(args.seeds)  # before loading anything
    torch_threads()
    from ..gan.pipeline import sample
    from ..pipelines.provenance import save_png

    r = sample(seeds, args.truncation, args.noise_mode, args.model, args.latent)
    out = Path(args.out)
    names = [f"{s}.png" if s is not None else f"{Path(args.latent).stem}.png" for s in r.seeds]
    for img, name, meta in zip(r.images, names, r.metadata):
        print(save_png(img, out / name, meta))
    if len(r.images) > 1:
        sheet = {k: v for k, v in r.metadata[0].items() if k != "seed"}
        print(save_png(r.grid, out / "grid.png", {**sheet, "seeds": r.seeds, "layout": "grid"}))
    return 0


def cmd_mix(args: argparse.Namespace) -> int:
    from ..gan.pipeline import parse_seeds

    parse_seeds(args.rows), parse_seeds(args.cols)
    torch_threads()
    from ..gan.pipeline import style_mix
    from ..pipelines.provenance import save_png

    figure, meta = style_mix(args.rows, args.cols, args.styles, args.truncation, args.noise_mode, args.model)
    print(save_png(figure, Path(args.out) / "mix.png", meta))
    return 0


def cmd_walk(args: argparse.Namespace) -> int:
    from ..gan.pipeline import parse_seeds
    from ..pipelines.provenance import check_video_path

    parse_seeds(args.seeds)
    out = Path(args.out) / f"walk{args.format}"
    check_video_path(out)
    torch_threads()
    from ..gan.pipeline import walk
    from ..pipelines.provenance import save_animation

    frames, meta = walk(args.seeds, args.frames, args.truncation, args.noise_mode, args.model)
    print(save_animation(frames, out, meta, frame_ms=args.frame_ms, bounce=False))
    return 0


def _common(p: argparse.ArgumentParser, out_help: str) -> None:
    p.add_argument("--out", default="outputs/gan", help=f"{out_help} (default: outputs/gan)")
    p.add_argument("--model", default="world", help="the GAN: a shipped name (world) or a model folder")
    p.add_argument(
        "--truncation",
        type=_truncation,
        default=0.7,
        help=f"pull each style towards the mean style: 1 keeps it, 0 is the mean, {TRUNCATION[0]} to "
        f"{TRUNCATION[1]} (default: 0.7)",
    )
    p.add_argument(
        "--noise-mode",
        choices=NOISE_MODES,
        default="const",
        help="per-pixel noise: the model's fixed noise (const, default), fresh noise from each seed (random), or none",
    )


def add_commands(sub) -> None:
    g = sub.add_parser("gan", help="the StyleGAN-style generator: sample, mix styles, walk between seeds")
    gs = g.add_subparsers(dest="gan_command", metavar="ACTION")
    gs.required = True
    s = gs.add_parser(
        "sample",
        help="pictures from seeds (or a latent file) as OUT/<seed>.png with provenance, and OUT/grid.png",
        description="Example: promptism gan sample --seeds 0-15 --truncation 0.7 --out outputs/gan",
    )
    s.add_argument("--seeds", default="0-8", help="seeds as numbers and ranges, e.g. 0-15 or 0,5,9 (default: 0-8)")
    s.add_argument(
        "--latent", default=None, metavar="FILE", help="draw the styles in this .npz latent file instead of seeds"
    )
    _common(s, "output folder")
    s.set_defaults(func=cmd_sample)
    m = gs.add_parser(
        "mix",
        help="the style-mixing figure: row pictures with some style rows taken from the column pictures",
        description="Cell (r, c) draws row seed r's styles with the style rows --styles taken from column seed "
        "c's. Style row 0 feeds the 4 px layer; each resolution after it reads two more. "
        "Example: promptism gan mix --rows 0,1,2 --cols 3,4 --styles 0-3",
    )
    m.add_argument("--rows", required=True, help="row seeds, e.g. 0,1,2")
    m.add_argument("--cols", required=True, help="column seeds, e.g. 3,4")
    m.add_argument("--styles", default="0-3", help="style rows taken from the columns, e.g. 0-3 (coarse) or 6-9 (fine)")
    _common(m, "output folder for mix.png")
    m.set_defaults(func=cmd_mix)
    w = gs.add_parser(
        "walk",
        help="a video through the seeds' styles and back, the noise fixed across frames",
        description="Example: promptism gan walk --seeds 0,5,9 --frames 60 --format .mp4",
    )
    w.add_argument("--seeds", required=True, help="the seeds visited in order, at least two, e.g. 0,5,9")
    w.add_argument("--frames", type=int, default=60, help="frames in the whole loop (default: 60)")
    w.add_argument("--frame-ms", type=int, default=80, help="milliseconds per frame (default: 80)")
    w.add_argument(
        "--format",
        default=".gif",
        choices=(".gif", ".webp", ".mp4"),
        help="OUT/walk.gif (default), .webp, or .mp4 (needs promptism[video])",
    )
    _common(w, "output folder for walk.<format>")
    w.set_defaults(func=cmd_walk)
