"""`promptism world`: render, parse, list the words of and make datasets of the Scene World."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from .. import __version__


def cmd_world_show(args: argparse.Namespace) -> int:
    import numpy as np
    from PIL.PngImagePlugin import PngInfo

    from ..world import layout, parse, render

    constraints = parse(args.prompt)
    if args.style:
        from dataclasses import replace

        constraints = replace(
            constraints, style=args.style, background="black" if args.style == "neon" else constraints.background
        )
    scene = layout(constraints, np.random.default_rng(args.seed))
    img = render(scene, args.size)
    info = PngInfo()
    info.add_text("Software", f"promptism {__version__}")
    info.add_text("promptism:operation", "world show (ground-truth render)")
    info.add_text("promptism:prompt", args.prompt)
    info.add_text("promptism:seed", str(args.seed))
    info.add_text("promptism:scene", json.dumps(scene.to_dict()))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    img.save(out, pnginfo=info)
    objs = ", ".join(f"{o.size} {o.color} {o.shape} at ({o.x:.2f}, {o.y:.2f})" for o in scene.objects)
    print(f"wrote {out} ({args.size}x{args.size}, {scene.style} on {scene.background}): {objs}")
    return 0


def cmd_world_parse(args: argparse.Namespace) -> int:
    from ..world import parse

    print(json.dumps(parse(args.prompt).to_dict(), indent=1))
    return 0


def cmd_world_vocab(args: argparse.Namespace) -> int:
    from ..world import captions, vocab

    print("shapes:      " + ", ".join(f"{s} ({'/'.join(w)})" for s, w in vocab.SHAPE_SYNONYMS.items()))
    print("colours:     " + ", ".join(vocab.COLORS))
    print("sizes:       " + ", ".join(f"{w}={s}" for w, s in vocab.SIZE_WORDS.items()))
    print("counts:      a/an, one, two, three, four (or 1-4)")
    print("positions:   " + ", ".join(vocab.POSITIONS) + "  (e.g. 'in the top left corner', 'on the left')")
    print("relations:   " + "; ".join(f"{r}: {', '.join(p)}" for r, p in captions.RELATION_PHRASES.items()))
    print("backgrounds: " + ", ".join(vocab.BACKGROUNDS) + "  (e.g. 'on a gray background', 'under a blue sky')")
    print("styles:      " + "; ".join(f"{s}: {', '.join(p)}" for s, p in captions.STYLE_PHRASES.items()))
    print(
        "held out:    " + ", ".join(sorted(f"{c} {s}" for c, s in vocab.HELD_OUT_PAIRS)) + "  (never in training data)"
    )
    return 0


def cmd_world_make(args: argparse.Namespace) -> int:
    from ..world.shards import make_dataset

    m = make_dataset(
        args.out,
        args.n,
        size=args.size,
        seed=args.seed,
        val_fraction=args.val_fraction,
        shard_size=args.shard_size,
        workers=args.workers,
        progress=not args.quiet,
    )
    parts = ", ".join(f"{s}: {v['n']} in {len(v['shards'])} shards" for s, v in m["splits"].items())
    print(f"dataset ready in {args.out} ({parts})")
    return 0


def add_commands(sub) -> None:
    from ..world.vocab import STYLES

    """The `commands` commands and their options."""
    w = sub.add_parser("world", help="the built-in Scene World: render, parse, make datasets")
    ws = w.add_subparsers(dest="world_command", metavar="WORLD_COMMAND")
    ws.required = True
    show = ws.add_parser("show", help="render the ground-truth picture of a prompt")
    show.add_argument("prompt", help='a caption in the world\'s words, e.g. "two yellow stars and a blue box"')
    show.add_argument("--out", default="scene.png", help="PNG file to write (default: scene.png)")
    show.add_argument("--size", type=int, default=64, help="canvas side in pixels, 32-256 (default: 64)")
    show.add_argument("--seed", type=int, default=0, help="seed of the layout and of unstated colours (default: 0)")
    show.add_argument("--style", choices=STYLES, default=None, help="draw in this style, overriding the prompt's")
    show.set_defaults(func=cmd_world_show)

    parse_ = ws.add_parser("parse", help="print the constraints a caption states, as JSON")
    parse_.add_argument("prompt", help="the caption to read")
    parse_.set_defaults(func=cmd_world_parse)

    vocab_ = ws.add_parser("vocab", help="list the words the world understands")
    vocab_.set_defaults(func=cmd_world_vocab)

    make = ws.add_parser("make", help="write a dataset as WebDataset shards (resumable: rerun to finish)")
    make.add_argument("--out", required=True, help="dataset folder (created; rerunning finishes or verifies it)")
    make.add_argument("--n", type=int, required=True, help="number of pictures, train + val")
    make.add_argument("--size", type=int, default=64, help="picture side in pixels, 32-256 (default: 64)")
    make.add_argument(
        "--seed", type=int, default=0, help="dataset seed: the same seed gives the same shards (default: 0)"
    )
    make.add_argument(
        "--val-fraction", type=float, default=0.05, help="share of pictures in the val split (default: 0.05)"
    )
    make.add_argument("--shard-size", type=int, default=1000, help="pictures per shard (default: 1000)")
    make.add_argument(
        "--workers",
        type=int,
        default=min(2, os.cpu_count() or 1),
        help="processes writing shards in parallel (default: min(2, CPUs))",
    )
    make.add_argument("--quiet", action="store_true", help="no progress bar")
    make.set_defaults(func=cmd_world_make)
