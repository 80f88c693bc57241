"""GenEval-world of `promptism guide` (CLIP-guided generation) at its default settings.

    .venv/bin/python benchmarks/guide_world.py --generator vqgan --split seen --limit 10
    .venv/bin/python benchmarks/guide_world.py --summarize       # one table of every run so far

Each prompt of the suite (the first --limit of every category of the split) gets one picture, seeded
by the prompt's id, judged by the Scene World's judge. Run the two splits as two processes to use
two cores. Writes benchmarks/reports/guide_world_<generator>_<split>/ (results, report, failures)
and, with --summarize, benchmarks/reports/guide_world.md.

The judge only scores; nothing here picks or filters pictures by it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPORTS = Path(__file__).resolve().parent / "reports"


def run(generator: str, split: str, limit: int) -> None:
    from promptism.guide import guide
    from promptism.world import suite

    t0 = time.time()

    def gen(prompt: str, n: int, seed: int):
        return guide(prompt, generator=generator, n=n, seed=seed % 2**32).images

    result = suite.evaluate(gen, splits=(split,), limit=limit, images_per_prompt=1, progress=True)
    seconds = time.time() - t0
    suite.write_reports(
        result,
        REPORTS / f"guide_world_{generator}_{split}",
        title=f"GenEval-world: promptism guide --generator {generator} (defaults), {split} split",
        meta={
            "prompts per category": limit,
            "pictures per prompt": 1,
            "seconds per picture": round(seconds / max(1, len(result.results)), 2),
        },
    )


def summarize() -> None:
    from promptism.world.suite import CATEGORIES

    rows = []
    for path in sorted(REPORTS.glob("guide_world_*_*/results.json")):
        data = json.loads(path.read_text())
        for split, scores in data["scores"].items():
            rows.append((path.parent.name.split("_")[2], split, scores, data["meta"]))
    lines = [
        "# GenEval-world of `promptism guide`",
        "",
        "Measured by `benchmarks/guide_world.py`: one picture per prompt at the default settings (64 px, 200 steps, "
        "16 cutouts, CLIP `world`), the first prompts of every category as each run says, judged by the Scene "
        "World's judge.",
        "",
        "| generator | split | prompts per category | " + " | ".join(CATEGORIES) + " | overall | s / picture |",
        "|---|---|---|" + "---|" * (len(CATEGORIES) + 2),
    ]
    for gen, split, s, meta in rows:
        cells = " | ".join(f"{s.get(c, float('nan')):.2f}" for c in CATEGORIES)
        lines.append(
            f"| {gen} | {split} | {meta['prompts per category']} | {cells} | {s['overall']:.3f} | "
            f"{meta['seconds per picture']} |"
        )
    (REPORTS / "guide_world.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--generator", default="vqgan", help="vqgan, fft or pixels (default: vqgan)")
    ap.add_argument("--split", default="seen", choices=("seen", "heldout"), help="the suite's split (default: seen)")
    ap.add_argument("--limit", type=int, default=10, help="prompts per category (default: 10)")
    ap.add_argument("--summarize", action="store_true", help="only write guide_world.md from the runs so far")
    args = ap.parse_args()
    if not args.summarize:
        run(args.generator, args.split, args.limit)
    summarize()
    return 0


if __name__ == "__main__":
    sys.exit(main())
