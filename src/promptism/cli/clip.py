"""`promptism clip`: score pictures against captions and label them zero-shot."""

from __future__ import annotations

import argparse

from .common import torch_threads


def _load_images(paths: list[str]):
    from PIL import Image

    from ..world.judge import load_image

    return [Image.fromarray(load_image(p)) for p in paths]


def cmd_clip_score(args: argparse.Namespace) -> int:
    torch_threads()
    from .. import clip

    model = clip.load(args.model)
    sims = model.score(_load_images([args.image]), args.texts)[0]
    for text, s in sorted(zip(args.texts, sims.tolist()), key=lambda t: -t[1]):
        print(f"{s:+.4f}  {text}")
    return 0


def cmd_clip_zeroshot(args: argparse.Namespace) -> int:
    torch_threads()
    from .. import clip

    model = clip.load(args.model)
    probs = model.zero_shot(_load_images([args.image]), args.labels, args.template or ["{}"])[0]
    for label, p in sorted(zip(args.labels, probs.tolist()), key=lambda t: -t[1]):
        print(f"{p:6.3f}  {label}")
    return 0


def add_commands(sub) -> None:
    """The `commands` commands and their options."""
    c = sub.add_parser("clip", help="score pictures against captions with a CLIP")
    cs = c.add_subparsers(dest="clip_command", metavar="CLIP_COMMAND")
    cs.required = True
    score = cs.add_parser("score", help="cosine similarity of one picture with each text, best first")
    score.add_argument("image", help="a picture file")
    score.add_argument("texts", nargs="+", help="one or more captions")
    score.add_argument("--model", default="world", help="'world' (shipped), a model folder, or hf:<folder or hub id>")
    score.set_defaults(func=cmd_clip_score)
    zs = cs.add_parser("zeroshot", help="zero-shot label probabilities for one picture")
    zs.add_argument("image", help="a picture file")
    zs.add_argument("--labels", nargs="+", required=True, help="the candidate labels")
    zs.add_argument(
        "--template", nargs="*", default=None, help="prompt templates with {} for the label, averaged (default: '{}')"
    )
    zs.add_argument("--model", default="world", help="'world' (shipped), a model folder, or hf:<folder or hub id>")
    zs.set_defaults(func=cmd_clip_zeroshot)
