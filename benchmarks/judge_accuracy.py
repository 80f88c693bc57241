"""How often is the Scene World's judge right? (issue: the judge's accuracy report)

Ground truth: every GenEval-world prompt (both splits, 160 a category) is rendered 4 times
in each of the four styles (640 renders per category and style) and judged against its own
prompt; the judge should call every one correct.

Broken renders: each ground-truth scene (k = 0, 1) is broken on purpose — colours swapped,
an object left out, the two objects of a relation swapped across it, one object too many —
and kept only when the broken scene really violates the prompt (checked on the scene itself,
before any rendering); the judge should call them incorrect.

A smaller pass at 32 and 128 px shows how the judge fares away from the default 64 px.

    python benchmarks/judge_accuracy.py            # the full report (about 5 minutes on 2 cores)
    python benchmarks/judge_accuracy.py --quick    # a smoke run

Writes benchmarks/reports/judge_accuracy.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from promptism import __version__
from promptism.world import judge, render_array, vocab
from promptism.world.breaks import BREAKS, broken
from promptism.world.suite import CATEGORIES, SPLITS, build, hash_id, truth_constraints, truth_scene

REPORTS = Path(__file__).parent / "reports"


def _job(args):
    """Judge every (prompt, k) of one (style, size, category): truth and broken renders."""
    style, size, category, ks, break_ks = args
    truth, caught, examples = [], defaultdict(list), []
    for split in SPLITS:
        for p in build(split):
            if p.category != category:
                continue
            c = truth_constraints(p, style)
            for k in ks:
                scene = truth_scene(p, k, style)
                j = judge(render_array(scene, size), c)
                truth.append(j.correct)
                if not j.correct and len(examples) < 5:
                    examples.append(f"{p.id}/{k} “{p.text}” ({style}, {size}px): {j.reason}")
                if k in break_ks:
                    rng = np.random.default_rng([hash_id(p.id), k, size])
                    for name in BREAKS:
                        bad = broken(name, scene, c, rng)
                        if bad is not None:
                            caught[name].append(not judge(render_array(bad, size), c).correct)
    return style, size, category, truth, dict(caught), examples


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="one render per prompt, no other sizes (a smoke run)")
    ap.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1), help="processes (default: 2)")
    ap.add_argument("--out", default=str(REPORTS), help="report folder (default: benchmarks/reports)")
    args = ap.parse_args()

    ks, break_ks = ((0,), (0,)) if args.quick else ((0, 1, 2, 3), (0, 1))
    jobs = [(style, 64, cat, ks, break_ks) for style in vocab.STYLES for cat in CATEGORIES]
    if not args.quick:
        jobs += [(style, size, cat, (0,), (0,)) for size in (32, 128) for style in vocab.STYLES for cat in CATEGORIES]
    t0 = time.time()
    rows = []
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        for i, row in enumerate(pool.map(_job, jobs), 1):
            rows.append(row)
            print(
                f"[{i}/{len(jobs)}] {row[0]:8s} {row[1]:4d}px {row[2]:14s} truth {np.mean(row[3]):.4f} ({len(row[3])})",
                flush=True,
            )
    seconds = time.time() - t0

    report = {
        "command": "python benchmarks/judge_accuracy.py" + (" --quick" if args.quick else ""),
        "promptism": __version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "seconds": round(seconds, 1),
        "sizes": {},
    }
    for style, size, cat, truth, caught, examples in rows:
        s = report["sizes"].setdefault(str(size), {"truth": {}, "broken": {}, "examples": []})
        s["truth"].setdefault(style, {})[cat] = {
            "n": len(truth),
            "correct": int(np.sum(truth)),
            "accuracy": float(np.mean(truth)),
        }
        for name, r in caught.items():
            b = s["broken"].setdefault(name, {}).setdefault(style, {"n": 0, "caught": 0})
            b["n"] += len(r)
            b["caught"] += int(np.sum(r))
        s["examples"] += examples
    for s in report["sizes"].values():
        for by_style in s["broken"].values():
            for b in by_style.values():
                b["rate"] = b["caught"] / b["n"] if b["n"] else None
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    name = "judge_accuracy_quick" if args.quick else "judge_accuracy"
    (out / f"{name}.json").write_text(json.dumps(report, indent=1))
    (out / f"{name}.md").write_text(markdown(report))
    print(f"wrote {out / name}.json and .md in {seconds:.0f} s")
    size64 = report["sizes"]["64"]
    worst = min(v["accuracy"] for st in size64["truth"].values() for v in st.values())
    worst_break = min(b["rate"] for st in size64["broken"].values() for b in st.values() if b["n"])
    print(
        f"64 px: worst truth accuracy {worst:.4f} (goal >= 0.99), worst break detection {worst_break:.4f} (goal >= 0.95)"
    )
    return 0 if worst >= 0.99 and worst_break >= 0.95 else 1


def markdown(r: dict) -> str:
    lines = [
        "# The judge's accuracy",
        "",
        f"Made by `{r['command']}` (promptism {r['promptism']}, Python {r['python']}, {r['cpus']} CPUs, "
        f"{r['seconds']} s).",
        "",
        "Ground truth: each GenEval-world prompt (seen and held-out, 160 per category) rendered by the world "
        "itself and judged against its own prompt. Goal: ≥ 0.99 in every category and style at 64 px.",
        "",
    ]
    for size, s in r["sizes"].items():
        styles = list(s["truth"])
        lines += [
            f"## {size} px: ground truth (share judged correct, renders per cell in brackets)",
            "",
            "| category | " + " | ".join(styles) + " |",
            "|---|" + "---|" * len(styles),
        ]
        for cat in CATEGORIES:
            cells = [f"{s['truth'][st][cat]['accuracy']:.4f} ({s['truth'][st][cat]['n']})" for st in styles]
            lines.append(f"| {cat} | " + " | ".join(cells) + " |")
        lines += [
            "",
            f"## {size} px: deliberately broken renders (share the judge calls incorrect)",
            "",
            "| break | " + " | ".join(styles) + " |",
            "|---|" + "---|" * len(styles),
        ]
        for name, by_style in s["broken"].items():
            cells = [f"{by_style[st]['rate']:.4f} ({by_style[st]['n']})" if st in by_style else "—" for st in styles]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        if s["examples"]:
            lines += ["", "Some ground-truth renders the judge got wrong:", ""] + [f"- {e}" for e in s["examples"][:12]]
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
