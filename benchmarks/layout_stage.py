"""How often does a layout stage write a layout the prompt asks for? A judge-free check of the
layouts a layout decoder is given, the most such a decoder can score.

For each GenEval-world prompt (every category, the first LIMIT per category and split), one layout
is drawn from the layout stage, seeded by the prompt as the suite seeds pictures, and its objects are
checked against the prompt's constraints as a ground-truth scene's are (the world's geometry: the right
objects, counts, colours and relations; not the background, which a layout does not hold; no picture
is drawn, nothing is judged). It also counts the
layouts that are valid scenes (every object inside the canvas, none overlapping).

    python benchmarks/layout_stage.py --layout runs/layout/model --limit 40

Writes benchmarks/reports/layout_stage.{json,md} (or --out).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import torch

from promptism import __version__
from promptism.world import suite

REPORTS = Path(__file__).resolve().parent / "reports"


def measure(stage, split: str, limit: int, temperature: float = 1.0) -> dict:
    """``stage``: a loaded layout stage (promptism.layout.load), or anything with its ``draw``."""
    from promptism.world.constraints import check
    from promptism.world.scene import Obj, Scene, SceneError

    by_cat: dict[str, list[int]] = {}
    valid = 0
    prompts = suite.limited(suite.all_prompts((split,)), limit)
    t0 = time.perf_counter()
    for p in prompts:
        (objects,) = stage.draw([p.text], [torch.Generator().manual_seed(suite.hash_id(p.id))], temperature)
        scene = Scene(tuple(Obj(o["shape"], o["color"], o["size"], o["x"], o["y"]) for o in objects))
        try:
            scene.validate()
            valid += 1
        except SceneError:
            pass
        hit = check(p.constraints, scene.objects).correct  # objects only: a layout has no background
        by_cat.setdefault(p.category, [0, 0])
        by_cat[p.category][0] += int(hit)
        by_cat[p.category][1] += 1
    n = len(prompts)
    return {
        "prompts": n,
        "categories": {c: {"right": r, "prompts": k, "share": r / k} for c, (r, k) in by_cat.items()},
        "overall": sum(v[0] / v[1] for v in by_cat.values()) / max(1, len(by_cat)),
        "valid": valid / max(1, n),
        "seconds_per_prompt": (time.perf_counter() - t0) / max(1, n),
    }


def markdown(rep: dict) -> str:
    cats = list(next(iter(rep["splits"].values()))["categories"])
    lines = [
        "# Layout stage: does the layout it writes say what the prompt says?",
        "",
        f"Measured by `python benchmarks/layout_stage.py` on {rep['machine']}, torch {rep['torch']}, promptism "
        f"{rep['promptism']}, {rep['threads']} thread(s), layout stage `{rep['layout']}` at temperature "
        f"{rep['temperature']}. GenEval-world prompts (the first {rep['limit']} per category and split), one layout "
        "each, its objects checked against the prompt's constraints as a ground-truth scene's are (the background, "
        "which a layout does not hold, aside; no picture, no judge). Valid: "
        "every object inside the canvas and apart from the others. Overall is the mean over categories.",
        "",
        "| split | " + " | ".join(cats) + " | overall | valid | s per prompt |",
        "|---|" + "---|" * len(cats) + "---|---|---|",
    ]
    for split, r in rep["splits"].items():
        cells = " | ".join(f"{r['categories'][c]['share']:.3f}" for c in cats)
        lines.append(f"| {split} | {cells} | {r['overall']:.3f} | {r['valid']:.3f} | {r['seconds_per_prompt']:.3f} |")
    lines.append("")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--layout", required=True, help="the layout stage: a shipped name or a model folder")
    ap.add_argument("--splits", nargs="+", default=list(suite.SPLITS), choices=suite.SPLITS, help="splits to check")
    ap.add_argument("--limit", type=int, default=40, help="prompts per category and split (default: 40)")
    ap.add_argument("--temperature", type=float, default=1.0, help="sampling temperature (default: 1, as generate)")
    ap.add_argument("--out", type=Path, default=REPORTS / "layout_stage", help="report path without suffix")
    ap.add_argument("--threads", type=int, default=int(os.environ.get("PROMPTISM_THREADS", "1")), help="torch threads")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from promptism.layout import load

    stage = load(args.layout)
    rep = {
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "torch": torch.__version__,
        "promptism": __version__,
        "threads": args.threads,
        "layout": args.layout,
        "limit": args.limit,
        "temperature": args.temperature,
        "splits": {split: measure(stage, split, args.limit, args.temperature) for split in args.splits},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(rep, indent=1))
    args.out.with_suffix(".md").write_text(markdown(rep))
    print(markdown(rep))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
