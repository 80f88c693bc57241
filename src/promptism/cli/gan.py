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


def cmd_project(args: argparse.Namespace) -> int:
    out = Path(args.out)
    if args.video:
        from ..pipelines.provenance import check_video_path

        check_video_path(out / f"x{args.video}")
    torch_threads()
    from ..gan.pipeline import save_latent
    from ..gan.project import project
    from ..pipelines.provenance import save_animation, save_png

    r = project(
        args.pictures,
        model=args.model,
        steps=args.steps,
        w_plus=args.w_plus,
        lr=args.lr,
        pixel_weight=args.pixel_weight,
        seed=args.seed,
        frame_every=args.frame_every if args.video else 0,
        progress=not args.quiet,
    )
    for picture, img, ws, frames, meta in zip(args.pictures, r.images, r.ws, r.frames, r.metadata):
        stem = Path(picture).stem
        print(save_png(img, out / f"{stem}.png", meta))
        print(save_latent(out / f"{stem}.npz", ws, meta))
        if args.video:
            print(save_animation(frames, out / f"{stem}-search{args.video}", meta, frame_ms=80, bounce=False))
    return 0


def cmd_knobs(args: argparse.Namespace) -> int:
    torch_threads()
    from ..gan.knobs import knobs
    from ..pipelines.provenance import save_png

    found, sheet, meta = knobs(args.k, args.clip, args.model, args.sheet_seed)
    out = Path(args.out)
    print(found.save(out / "knobs.npz", meta))
    print(save_png(sheet, out / "knobs.png", meta))
    for i, name in enumerate(found.names):
        print(f"knob {i}: {name}")
    return 0


def cmd_edit(args: argparse.Namespace) -> int:
    torch_threads()
    from ..gan.knobs import edit
    from ..gan.pipeline import save_latent
    from ..pipelines.provenance import grid, save_png

    r = edit(
        seed=args.seed,
        latent=args.latent,
        knob=args.knob,
        knobs_file=args.knobs,
        layers=args.layers,
        towards=args.towards,
        truncation=args.truncation,
        steps=args.steps,
        l2=args.l2,
        model=args.model,
        progress=not args.quiet,
    )
    out = Path(args.out)
    print(save_png(r.after, out / "edit.png", r.metadata))
    print(save_png(grid([r.before, r.after], cols=2), out / "edit-before-after.png", r.metadata))
    print(save_latent(out / "edit.npz", r.ws, r.metadata))
    return 0


def _out_and_model(p: argparse.ArgumentParser, out_help: str) -> None:
    p.add_argument("--out", default="outputs/gan", help=f"{out_help} (default: outputs/gan)")
    p.add_argument("--model", default="world", help="the GAN: a shipped name (world) or a model folder")


def _common(p: argparse.ArgumentParser, out_help: str) -> None:
    _out_and_model(p, out_help)
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
    p = gs.add_parser(
        "project",
        help="find the styles that redraw a picture: OUT/<name>.png, OUT/<name>.npz (for --latent), a search video",
        description="Searches the style vector w (or one per layer with --w-plus) whose picture is nearest the "
        "given one by a perceptual distance on a shipped CLIP's features plus a pixel distance. "
        "Example: promptism gan project photo.png --video .gif, then promptism gan sample --latent OUT/photo.npz",
    )
    p.add_argument("pictures", nargs="+", help="pictures to project (searched together)")
    p.add_argument("--steps", type=int, default=300, help="optimisation steps (default: 300)")
    p.add_argument("--w-plus", action="store_true", help="one style per layer (W+): closer, less editable")
    p.add_argument("--lr", type=float, default=0.05, help="Adam's peak learning rate (default: 0.05)")
    p.add_argument(
        "--pixel-weight", type=float, default=1.0, help="weight of the pixel distance beside the perceptual one (1)"
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the noise added to w early in the search (0)")
    p.add_argument(
        "--video",
        default=None,
        choices=(".gif", ".webp", ".mp4"),
        help="also write the search as OUT/<name>-search.<format>, a frame every --frame-every steps",
    )
    p.add_argument("--frame-every", type=int, default=10, help="steps between the video's frames (default: 10)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    _out_and_model(p, "output folder")
    p.set_defaults(func=cmd_project)
    k = gs.add_parser(
        "knobs",
        help="find the principal directions of the style space and name each by what CLIP sees change",
        description="Writes OUT/knobs.npz (for `gan edit --knob`) and OUT/knobs.png: one row per knob, a picture "
        "moved -2, -1, 0, +1, +2 spreads along it. Example: promptism gan knobs --k 10",
    )
    k.add_argument("--k", type=int, default=10, help="how many knobs (default: 10)")
    k.add_argument("--clip", default="world", help="the CLIP that names them: a shipped name or a model folder")
    k.add_argument("--sheet-seed", type=int, default=0, help="the seed of the contact sheet's picture (0)")
    _out_and_model(k, "output folder")
    k.set_defaults(func=cmd_knobs)
    e = gs.add_parser(
        "edit",
        help="move a picture's styles along a knob or towards a text: OUT/edit.png, a before/after pair, OUT/edit.npz",
        description="Examples: promptism gan edit --seed 3 --knob 2:+2 --knobs outputs/gan/knobs.npz --layers 0-4; "
        'promptism gan edit --seed 3 --towards "a blue circle"',
    )
    src = e.add_mutually_exclusive_group(required=True)
    src.add_argument("--seed", type=int, default=None, help="edit this seed's picture")
    src.add_argument("--latent", default=None, metavar="FILE", help="edit the picture of this .npz latent")
    how = e.add_mutually_exclusive_group(required=True)
    how.add_argument("--knob", default=None, help="INDEX:AMOUNT, e.g. 3:+2 (amount in spreads, -10 to +10)")
    how.add_argument("--towards", default=None, help="a text the picture should move towards (StyleCLIP)")
    e.add_argument("--knobs", default=None, metavar="FILE", help="the knobs.npz that `gan knobs` wrote (with --knob)")
    e.add_argument("--layers", default=None, help="style rows to move, e.g. 0-4 (default: all)")
    e.add_argument("--steps", type=int, default=100, help="optimisation steps of --towards (default: 100)")
    e.add_argument(
        "--l2", type=float, default=0.5, help="--towards: weight of the pull back to the picture's own styles (0.5)"
    )
    e.add_argument("--quiet", action="store_true", help="no progress bar")
    _common(e, "output folder")
    e.set_defaults(func=cmd_edit)
