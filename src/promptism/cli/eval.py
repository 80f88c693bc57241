"""`promptism eval`: GenEval-world's prompts, ground truth, scoring and the judge."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _splits(arg: str) -> tuple[str, ...]:
    from ..world.suite import SPLITS

    return SPLITS if arg == "all" else (arg,)


def cmd_eval_prompts(args: argparse.Namespace) -> int:
    from ..world.suite import all_prompts

    lines = [json.dumps(p.to_dict()) for p in all_prompts(_splits(args.split))]
    if args.out:
        Path(args.out).write_text("\n".join(lines) + "\n")
        print(f"wrote {len(lines)} prompts to {args.out}")
    else:
        print("\n".join(lines))
    return 0


def cmd_eval_truth(args: argparse.Namespace) -> int:
    from ..world.suite import write_truth

    n = write_truth(
        args.out,
        size=args.size,
        style=args.style,
        splits=_splits(args.split),
        limit=args.limit,
        progress=not args.quiet,
    )
    print(f"wrote {n} ground-truth pictures under {args.out}")
    return 0


def cmd_eval_suite(args: argparse.Namespace) -> int:
    from ..world.suite import evaluate_dir, table_text, write_reports

    result = evaluate_dir(
        args.images,
        splits=_splits(args.split),
        limit=args.limit,
        allow_missing=args.allow_missing,
        progress=not args.quiet,
    )
    print(table_text(result))
    out = Path(args.out) if args.out else Path(args.images) / "report"
    paths = write_reports(result, out, meta={"images": str(args.images), "limit": args.limit or "none"})
    print("reports: " + ", ".join(str(p) for p in paths.values()))
    if result.problems:
        print(f"{len(result.problems)} picture(s) were missing or unreadable and scored as incorrect", file=sys.stderr)
    return 0


def cmd_eval_judge(args: argparse.Namespace) -> int:
    from ..world import judge, read

    if args.prompt:
        j = judge(args.image, args.prompt)
        reading = j.reading
    else:
        j, reading = None, read(args.image)
    if args.json:
        out = {"reading": reading.to_dict()}
        if j is not None:
            out.update(correct=j.correct, reasons=j.reasons)
        print(json.dumps(out, indent=1))
        return 0
    print(f"background: {reading.background}")
    for o in reading.objects:
        print(f"  {o.describe()}  (shape fit {o.shape_iou:.2f})")
    if not reading.objects:
        print("  no objects found")
    if j is not None:
        print("correct" if j.correct else "incorrect: " + j.reason)
    return 0


def add_commands(sub) -> None:
    from ..world.vocab import STYLES

    """The `commands` commands and their options."""
    e = sub.add_parser("eval", help="GenEval-world: the evaluation suite and its judge")
    es = e.add_subparsers(dest="eval_command", metavar="EVAL_COMMAND")
    es.required = True
    split_help = "which split: seen, heldout or all (default: all)"

    prompts = es.add_parser("prompts", help="list the suite's prompts as JSON lines (id, category, split, text)")
    prompts.add_argument("--split", choices=("seen", "heldout", "all"), default="all", help=split_help)
    prompts.add_argument("--out", default=None, help="write to this file instead of standard output")
    prompts.set_defaults(func=cmd_eval_prompts)

    truth = es.add_parser("truth", help="render ground-truth pictures of the suite as <prompt id>/<k>.png")
    truth.add_argument("--out", required=True, help="folder to write")
    truth.add_argument("--size", type=int, default=64, help="picture side in pixels, 32-256 (default: 64)")
    truth.add_argument("--style", choices=STYLES, default="flat", help="drawing style (default: flat)")
    truth.add_argument("--split", choices=("seen", "heldout", "all"), default="all", help=split_help)
    truth.add_argument("--limit", type=int, default=None, help="only the first N prompts of each category")
    truth.add_argument("--quiet", action="store_true", help="no progress bar")
    truth.set_defaults(func=cmd_eval_truth)

    suite = es.add_parser(
        "suite", help="score pictures saved as <prompt id>/<k>.png; write JSON, Markdown and a contact sheet"
    )
    suite.add_argument("--images", required=True, help="folder holding <prompt id>/<k>.png for k = 0..3")
    suite.add_argument("--out", default=None, help="report folder (default: IMAGES/report)")
    suite.add_argument("--split", choices=("seen", "heldout", "all"), default="all", help=split_help)
    suite.add_argument(
        "--limit", type=int, default=None, help="only the first N prompts of each category (a quick look)"
    )
    suite.add_argument(
        "--allow-missing",
        action="store_true",
        help="score missing or unreadable pictures as incorrect instead of stopping",
    )
    suite.add_argument("--quiet", action="store_true", help="no progress bar")
    suite.set_defaults(func=cmd_eval_suite)

    judge_ = es.add_parser("judge", help="show what the judge finds in one picture, and check a prompt")
    judge_.add_argument("image", help="a PNG or other picture file")
    judge_.add_argument("--prompt", default=None, help="a caption to check the picture against")
    judge_.add_argument("--json", action="store_true", help="print JSON instead of text")
    judge_.set_defaults(func=cmd_eval_judge)
