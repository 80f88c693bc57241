"""How good a start do the drawn canvases give guide's vqgan generator?

    .venv/bin/python benchmarks/guide_canvas_pick.py --offset 10 --limit 6
    .venv/bin/python benchmarks/guide_canvas_pick.py --offset 20 --limit 10 --name dev2
    .venv/bin/python benchmarks/guide_canvas_pick.py --canvas prompt --offset 40 --limit 40 --name prompt-seen41-80
    .venv/bin/python benchmarks/guide_canvas_pick.py --canvas prompt --categories color_attr position \
        --clip world-v1 --clip world --clip world-v1+world --name binding

For each prompt of a split's single object and colours categories (the first --limit after
skipping --offset, as benchmarks/guide_world.py takes them), the canvases guide would draw with
--canvas prior or prompt (the same seed, the same --candidates pictures from mini-world's
transformer, reading the empty caption or the prompt) are judged by the Scene World's judge, before
any step. Reported: the share of prompts for which at least one canvas already shows what the
prompt asks (what a perfect pick could start from), the mean share of such canvases, and how often
the canvas each pick keeps (CLIP world-v1's cosine, or the contrast score of --canvas-pick
contrast) shows it. --categories takes other categories; --clip, given more than once, compares
pickers on the same canvases, each a CLIP name or an ensemble of names joined by "+" (scored as
guide scores with several --clip: the mean over the ensemble).

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
CATEGORIES = ("single_object", "colors")  # the default --categories
PICKS = ("cosine", "contrast")


def measure(
    split: str, offset: int, limit: int, candidates: int, pickers: list[str], canvas: str, categories=CATEGORIES
) -> dict:
    """``pickers``: CLIP names, or ensembles of them joined by "+"; each picks among the same canvases."""
    from promptism.clip import load
    from promptism.guide.optimize import _canvas_captions, _contrast_score, _contrast_targets, _score
    from promptism.guide.prior import drawn_canvases
    from promptism.guide.prompts import parse_prompts
    from promptism.mini import load as load_mini
    from promptism.pipelines.common import to_images
    from promptism.world import suite

    clips = {name: load(name) for name in dict.fromkeys(n for p in pickers for n in p.split("+"))}
    mini = load_mini("world")
    prompts = suite.limited([p for p in suite.all_prompts((split,)) if p.category in categories], limit, offset)
    rows = []
    for p in prompts:
        seed = suite.hash_id(p.id) % 2**32  # as guide_world.py seeds guide
        g = torch.Generator().manual_seed(seed)
        text = parse_prompts(p.text)
        drawn = drawn_canvases(mini, 64, g, candidates, *_canvas_captions(text, canvas))
        right = [r.correct for r in suite.score_images(p, to_images(drawn))]
        row = {"prompt": p.text, "category": p.category, "right_canvases": sum(right), "picks": {}}
        with torch.no_grad():
            targets = {
                name: (c.encode_text([p.text]), torch.tensor([1.0]), _contrast_targets(c, text), 0.0)
                for name, c in clips.items()
            }
            for picker in pickers:
                names = picker.split("+")
                models, ts = [clips[n] for n in names], [targets[n] for n in names]
                cosine = [_score(models, ts, x[None]) for x in drawn]
                contrast = [_contrast_score(models, ts, x[None]) for x in drawn]
                row["picks"][picker] = {
                    "cosine": right[max(range(len(drawn)), key=cosine.__getitem__)],
                    "contrast": right[max(range(len(drawn)), key=contrast.__getitem__)],
                }
        rows.append(row)
    n = len(rows)

    def picked(rs, picker, pick):
        return sum(r["picks"][picker][pick] for r in rs)

    return {
        "prompts": n,
        "candidates": candidates,
        "clips": pickers,
        "split": split,
        "canvas": canvas,
        "categories": list(categories),
        "offset": offset,
        "limit": limit,
        "some_canvas_right": sum(r["right_canvases"] > 0 for r in rows) / n,
        "mean_share_right": sum(r["right_canvases"] for r in rows) / (n * candidates),
        "picks_right": {k: {pick: picked(rows, k, pick) / n for pick in PICKS} for k in pickers},
        "by_category": {
            c: {
                "prompts": len(rs),
                "some_canvas_right": sum(r["right_canvases"] > 0 for r in rs),
                "mean_share_right": sum(r["right_canvases"] for r in rs) / (len(rs) * candidates),
                "picks_right": {k: {pick: picked(rs, k, pick) for pick in PICKS} for k in pickers},
            }
            for c in categories
            if (rs := [r for r in rows if r["category"] == c])
        },
        "rows": rows,
    }


def report(r: dict, seconds: float) -> str:
    from promptism.guide.optimize import DEFAULTS

    default = DEFAULTS["vqgan"]["canvas_pick"]
    read = "the empty caption" if r["canvas"] == "prior" else "the prompt"
    pickers = r["clips"]
    named = ", ".join(c.replace("_", " ") for c in r["categories"])

    def heads(what: str) -> list[str]:
        return [f"{pick} pick of `{k}` {what}".rstrip() for k in pickers for pick in PICKS]

    lines = [
        "# The drawn canvases of guide's vqgan generator, before any step",
        "",
        f"{'Seen' if r['split'] == 'seen' else 'Held-out'} split, {named}, prompts {r['offset'] + 1}-{r['offset'] + r['limit']} "
        f"of each ({r['prompts']} prompts); {r['candidates']} canvases a prompt, drawn by mini-world's transformer reading "
        f"{read} (`--canvas {r['canvas']}`) from guide's seed; picked by CLIP "
        f"{', '.join(f'`{k}`' for k in pickers)} (an ensemble joined by +). "
        f"Measured by `benchmarks/guide_canvas_pick.py` in {seconds:.0f} s on {platform.machine()}.",
        "",
        "| what | share of prompts |",
        "|---|---|",
        f"| at least one canvas the judge reads as the prompt | {r['some_canvas_right']:.3f} |",
        *(
            f"| the {pick} pick (`--canvas-pick {pick}`{', the default' if pick == default else ''}) of `{k}` is one | "
            f"{r['picks_right'][k][pick]:.3f} |"
            for k in pickers
            for pick in PICKS
        ),
        "",
        f"Mean share of canvases the judge reads as the prompt: {r['mean_share_right']:.3f}.",
        "",
        "| category | prompts | some canvas right | mean share of right canvases | "
        + " | ".join(heads("right"))
        + " |",
        "|---|---|---|---|" + "---|" * (len(pickers) * len(PICKS)),
        *(
            f"| {c} | {v['prompts']} | {v['some_canvas_right']} | {v['mean_share_right']:.3f} | "
            + " | ".join(str(v["picks_right"][k][pick]) for k in pickers for pick in PICKS)
            + " |"
            for c, v in r["by_category"].items()
        ),
        "",
        "| prompt | right canvases | " + " | ".join(heads("")) + " |",
        "|---|---|" + "---|" * (len(pickers) * len(PICKS)),
    ]
    for row in r["rows"]:
        verdicts = (("right" if row["picks"][k][pick] else "wrong") for k in pickers for pick in PICKS)
        lines.append(f"| {row['prompt']} | {row['right_canvases']} | " + " | ".join(verdicts) + " |")
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
    ap.add_argument(
        "--clip",
        action="append",
        help="a CLIP that picks, or an ensemble of them joined by + (world-v1+world); give it again to compare "
        "pickers on the same canvases (default: world-v1, guide's)",
    )
    ap.add_argument(
        "--categories",
        nargs="+",
        default=list(CATEGORIES),
        help=f"the suite's categories to take prompts from (default: {' '.join(CATEGORIES)})",
    )
    ap.add_argument("--name", default="dev", help="the reports' suffix (default: dev)")
    args = ap.parse_args()
    torch_threads()
    t0 = time.time()
    from promptism.world.suite import CATEGORIES as KNOWN

    unknown = [c for c in args.categories if c not in KNOWN]
    if unknown:
        ap.error(f"unknown category {unknown[0]!r}; categories are {', '.join(KNOWN)}")
    r = measure(
        args.split, args.offset, args.limit, args.candidates, args.clip or ["world-v1"], args.canvas, args.categories
    )
    seconds = time.time() - t0
    REPORTS.mkdir(exist_ok=True)
    (REPORTS / f"guide_canvas_pick_{args.name}.json").write_text(json.dumps(r, indent=2) + "\n")
    (REPORTS / f"guide_canvas_pick_{args.name}.md").write_text(report(r, seconds))
    print(report(r, seconds))


if __name__ == "__main__":
    main()
