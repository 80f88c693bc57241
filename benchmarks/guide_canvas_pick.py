"""How good a start do the drawn canvases give guide's vqgan generator?

    .venv/bin/python benchmarks/guide_canvas_pick.py --offset 10 --limit 6
    .venv/bin/python benchmarks/guide_canvas_pick.py --offset 20 --limit 10 --name dev2
    .venv/bin/python benchmarks/guide_canvas_pick.py --canvas prompt --offset 40 --limit 40 --name prompt-seen41-80

For each prompt of a split's single object and colours categories (the first --limit after
skipping --offset, as benchmarks/guide_world.py takes them), the canvases guide would draw with
--canvas prior or prompt (the same seed, the same --candidates pictures from mini-world's
transformer, reading the empty caption or the prompt) are judged by the Scene World's judge, before
any step. Reported: the share of prompts for which at least one canvas already shows what the
prompt asks (what a perfect pick could start from), the mean share of such canvases, and how often
the canvas each pick keeps (CLIP world-v1's cosine, or the contrast score of --canvas-pick
contrast) shows it.

The judge only measures here: guide never sees its verdicts, and nothing picks by them.
Writes benchmarks/reports/guide_canvas_pick_<name>.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import torch

REPORTS = Path(__file__).resolve().parent / "reports"
CATEGORIES = ("single_object", "colors")


def measure(split: str, offset: int, limit: int, candidates: int, clip_name: str, canvas: str) -> dict:
    from promptism.clip import load
    from promptism.guide.optimize import _canvas_captions, _contrast_score, _contrast_targets, _score
    from promptism.guide.prior import drawn_canvases
    from promptism.guide.prompts import parse_prompts
    from promptism.mini import load as load_mini
    from promptism.pipelines.common import to_images
    from promptism.world import suite

    clip, mini = load(clip_name), load_mini("world")
    prompts = suite.limited([p for p in suite.all_prompts((split,)) if p.category in CATEGORIES], limit, offset)
    rows = []
    for p in prompts:
        seed = suite.hash_id(p.id) % 2**32  # as guide_world.py seeds guide
        g = torch.Generator().manual_seed(seed)
        text = parse_prompts(p.text)
        drawn = drawn_canvases(mini, 64, g, candidates, *_canvas_captions(text, canvas))
        with torch.no_grad():
            targets = [(clip.encode_text([p.text]), torch.tensor([1.0]), _contrast_targets(clip, text), 0.0)]
            cosine = [_score([clip], targets, x[None]) for x in drawn]
            contrast = [_contrast_score([clip], targets, x[None]) for x in drawn]
        right = [r.correct for r in suite.score_images(p, to_images(drawn))]
        rows.append(
            {
                "prompt": p.text,
                "category": p.category,
                "right_canvases": sum(right),
                "cosine_pick_right": right[max(range(len(drawn)), key=cosine.__getitem__)],
                "contrast_pick_right": right[max(range(len(drawn)), key=contrast.__getitem__)],
            }
        )
    n = len(rows)
    return {
        "prompts": n,
        "candidates": candidates,
        "clip": clip_name,
        "split": split,
        "canvas": canvas,
        "offset": offset,
        "limit": limit,
        "some_canvas_right": sum(r["right_canvases"] > 0 for r in rows) / n,
        "mean_share_right": sum(r["right_canvases"] for r in rows) / (n * candidates),
        "cosine_pick_right": sum(r["cosine_pick_right"] for r in rows) / n,
        "contrast_pick_right": sum(r["contrast_pick_right"] for r in rows) / n,
        "by_category": {
            c: {
                "prompts": len(rs),
                "mean_share_right": sum(r["right_canvases"] for r in rs) / (len(rs) * candidates),
                "cosine_pick_right": sum(r["cosine_pick_right"] for r in rs),
                "contrast_pick_right": sum(r["contrast_pick_right"] for r in rs),
            }
            for c in CATEGORIES
            if (rs := [r for r in rows if r["category"] == c])
        },
        "rows": rows,
    }


def report(r: dict, seconds: float) -> str:
    from promptism.guide.optimize import DEFAULTS

    default = DEFAULTS["vqgan"]["canvas_pick"]
    read = "the empty caption" if r["canvas"] == "prior" else "the prompt"
    lines = [
        "# The drawn canvases of guide's vqgan generator, before any step",
        "",
        f"{'Seen' if r['split'] == 'seen' else 'Held-out'} split, single object and colours, prompts {r['offset'] + 1}-{r['offset'] + r['limit']} of each "
        f"({r['prompts']} prompts); {r['candidates']} canvases a prompt, drawn by mini-world's transformer reading "
        f"{read} (`--canvas {r['canvas']}`) from guide's seed; CLIP `{r['clip']}`. Measured by `benchmarks/guide_canvas_pick.py` "
        f"in {seconds:.0f} s on {platform.machine()}.",
        "",
        "| what | share of prompts |",
        "|---|---|",
        f"| at least one canvas the judge reads as the prompt | {r['some_canvas_right']:.3f} |",
        *(
            f"| the {pick} pick (`--canvas-pick {pick}`{', the default' if pick == default else ''}) is one | "
            f"{r[pick + '_pick_right']:.3f} |"
            for pick in ("cosine", "contrast")
        ),
        "",
        f"Mean share of canvases the judge reads as the prompt: {r['mean_share_right']:.3f}.",
        "",
        "| category | prompts | mean share of right canvases | cosine pick right | contrast pick right |",
        "|---|---|---|---|---|",
        *(
            f"| {c} | {v['prompts']} | {v['mean_share_right']:.3f} | {v['cosine_pick_right']} | "
            f"{v['contrast_pick_right']} |"
            for c, v in r["by_category"].items()
        ),
        "",
        "| prompt | right canvases | cosine pick | contrast pick |",
        "|---|---|---|---|",
    ]
    for row in r["rows"]:
        lines.append(
            f"| {row['prompt']} | {row['right_canvases']} | {'right' if row['cosine_pick_right'] else 'wrong'} | "
            f"{'right' if row['contrast_pick_right'] else 'wrong'} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    from promptism.cli.common import torch_threads

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--split", default="seen", choices=("seen", "heldout"), help="the prompts' split (default: seen)")
    ap.add_argument(
        "--canvas",
        default="prior",
        choices=("prior", "prompt"),
        help="what mini's transformer reads when it draws the canvases: the empty caption (prior, the default) or "
        "the prompt (prompt), as guide's --canvas",
    )
    ap.add_argument("--offset", type=int, default=0, help="prompts of each category to skip (default: 0)")
    ap.add_argument("--limit", type=int, default=10, help="prompts of each category to take (default: 10)")
    ap.add_argument("--candidates", type=int, default=64, help="canvases a prompt (default: 64, guide's)")
    ap.add_argument("--clip", default="world-v1", help="the CLIP that picks (default: world-v1, guide's)")
    ap.add_argument("--name", default="dev", help="the reports' suffix (default: dev)")
    args = ap.parse_args()
    torch_threads()
    t0 = time.time()
    r = measure(args.split, args.offset, args.limit, args.candidates, args.clip, args.canvas)
    seconds = time.time() - t0
    REPORTS.mkdir(exist_ok=True)
    (REPORTS / f"guide_canvas_pick_{args.name}.json").write_text(json.dumps(r, indent=2) + "\n")
    (REPORTS / f"guide_canvas_pick_{args.name}.md").write_text(report(r, seconds))
    print(report(r, seconds))


if __name__ == "__main__":
    main()
