"""GenEval-world of `promptism guide` (CLIP-guided generation) at its default settings.

    .venv/bin/python benchmarks/guide_world.py --generator vqgan --split seen --limit 10
    .venv/bin/python benchmarks/guide_world.py --summarize       # one table of every run so far
    .venv/bin/python benchmarks/guide_world.py --config experiments/guide/tv.toml \
        --offset 10 --limit 6 --categories single_object colors  # a recipe, on prompts reports never quote

Each prompt of the suite (the first --limit of every category of the split) gets one picture, seeded
by the prompt's id, judged by the Scene World's judge. Run the two splits as two processes to use
two cores, each with PROMPTISM_THREADS=1 (without it a run takes the cores idle when it starts). Writes benchmarks/reports/guide_world_<generator>_<split>/ (results, report, failures, and
starts.json: how each picture began, its drawn canvas kept with no step or recoloured)
and, with --summarize, benchmarks/reports/guide_world.md. With --config (a recipe file of kind
guide: settings other than the defaults) it writes experiments/reports/guide_<recipe>_<split>/
instead; --offset skips the first prompts of each category, so that a recipe is chosen on prompts
the benchmark's reports do not quote, and --draw N takes a fresh draw of prompts from the suite's
templates (none of them the suite's) once its own are spent.

The judge only scores; nothing here picks or filters pictures by it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPORTS = Path(__file__).resolve().parent / "reports"
EXPERIMENT_REPORTS = Path(__file__).resolve().parent.parent / "experiments" / "reports"
STARTS = ("canvas_kept", "canvas_recoloured")  # sidecar fields counted in a run's meta and starts.json


def run(generator: str, split: str, limit: int, config: str | None, offset: int, categories, draw: int = 0) -> None:
    from promptism.guide import guide
    from promptism.world import suite

    settings, out, what = {"generator": generator}, REPORTS / f"guide_world_{generator}_{split}", "(defaults)"
    if config:
        from promptism.recipes import load_recipe

        recipe = load_recipe(config)
        if recipe.kind != "guide":
            raise SystemExit(f"{config} is a {recipe.kind} recipe, not a guide one")
        settings = {k: v for k, v in recipe.preset["guide"].items()}
        out, what = EXPERIMENT_REPORTS / f"guide_{recipe.name}_{split}", f"(recipe {recipe.name})"
    t0 = time.time()
    starts = []  # how each picture began: its canvas kept with no step, recoloured, or neither

    def gen(prompt: str, n: int, seed: int):
        made = guide(prompt, n=n, seed=seed % 2**32, **settings)
        for m in made.metadata:
            starts.append({"prompt": prompt, "seed": m["seed"], **{k: m[k] for k in STARTS if k in m}})
        return made.images

    result = suite.evaluate(
        gen,
        splits=(split,),
        limit=limit,
        images_per_prompt=1,
        progress=True,
        offset=offset,
        categories=categories,
        draw=draw,
    )
    seconds = time.time() - t0
    suite.write_reports(
        result,
        out,
        title=f"GenEval-world: promptism guide --generator {settings['generator']} {what}, {split} split",
        meta={
            "prompts per category": limit,
            "prompts skipped per category": offset,
            "prompts": f"fresh draw {draw}" if draw else "the suite",
            "categories": ", ".join(categories or suite.CATEGORIES),
            "settings": ", ".join(f"{k}={v}" for k, v in settings.items()),
            "pictures per prompt": 1,
            "seconds per picture": round(seconds / max(1, len(result.results)), 2),
            **{f"pictures with {k}": sum(bool(x.get(k)) for x in starts) for k in STARTS},
        },
    )
    (out / "starts.json").write_text(json.dumps(starts, indent=1))


def summarize() -> None:
    from promptism.world.suite import CATEGORIES
    from promptism.world.vocab import MAX_OBJECTS

    rows = []
    for path in sorted(REPORTS.glob("guide_world_*_*/results.json")):
        data = json.loads(path.read_text())
        correct = [r for r in data["results"] if r["correct"]]
        cluttered = sum(len(r["objects"]) > MAX_OBJECTS for r in correct)
        for split, scores in data["scores"].items():
            rows.append((path.parent.name.split("_")[2], split, scores, data["meta"], f"{cluttered} of {len(correct)}"))
    lines = [
        "# GenEval-world of `promptism guide`",
        "",
        "Measured by `benchmarks/guide_world.py`: one picture per prompt at the generator's default settings "
        "(64 px and 16 cutouts for all; each run's report lists the rest), the first prompts of every category "
        "as each run says, judged by the Scene World's judge.",
        "",
        f"The last column counts the pictures judged correct in which the judge found more than {MAX_OBJECTS} "
        f"objects, which no Scene World picture holds: clutter in which it also found what the prompt asked for. "
        "Seconds per picture are each run's own, two runs (one thread each) sharing the 2 cores; "
        "[guide_speed.md](guide_speed.md) times a picture alone.",
        "",
        "| generator | split | prompts per category | "
        + " | ".join(CATEGORIES)
        + f" | overall | s / picture | correct with > {MAX_OBJECTS} objects |",
        "|---|---|---|" + "---|" * (len(CATEGORIES) + 3),
    ]
    for gen, split, s, meta, cluttered in rows:
        cells = " | ".join(f"{s.get(c, float('nan')):.2f}" for c in CATEGORIES)
        lines.append(
            f"| {gen} | {split} | {meta['prompts per category']} | {cells} | {s['overall']:.3f} | "
            f"{meta['seconds per picture']} | {cluttered} |"
        )
    (REPORTS / "guide_world.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--generator", default="vqgan", help="vqgan, fft or pixels (default: vqgan)")
    ap.add_argument("--split", default="seen", choices=("seen", "heldout"), help="the suite's split (default: seen)")
    ap.add_argument("--limit", type=int, default=10, help="prompts per category (default: 10)")
    ap.add_argument("--summarize", action="store_true", help="only write guide_world.md from the runs so far")
    ap.add_argument("--config", help="a guide recipe file (experiments/guide/*.toml) instead of the defaults")
    ap.add_argument("--offset", type=int, default=0, help="prompts of each category to skip first (default: 0)")
    ap.add_argument("--categories", nargs="+", help="only these categories (default: all)")
    ap.add_argument(
        "--draw",
        type=int,
        default=0,
        help="with --config: fresh prompts from the suite's templates, none of them the suite's (1, 2, ...; "
        "default: 0, the suite)",
    )
    args = ap.parse_args()
    if args.draw and not args.config:
        ap.error("--draw is for judging a recipe (--config): the benchmark's reports quote the suite's own prompts")
    if not args.summarize:
        from promptism.cli.common import torch_threads

        torch_threads()  # $PROMPTISM_THREADS, else the idle cores: two runs sharing 2 cores take one each
        run(args.generator, args.split, args.limit, args.config, args.offset, args.categories, args.draw)
    if not args.config:
        summarize()
    return 0


if __name__ == "__main__":
    sys.exit(main())
