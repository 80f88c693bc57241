"""Seconds and peak memory of one `promptism guide` picture at the default settings, per generator.

    .venv/bin/python benchmarks/guide_speed.py [--prompt TEXT] [--repeats 2]

Each run is its own process (`promptism guide PROMPT --generator G --out TMP --quiet`, 64 px,
16 cutouts, each generator's own defaults otherwise), so that its peak resident memory is its own;
the seconds are the picture's own (its provenance's `seconds`: drawing the vqgan generator's
canvases and the optimisation, not loading the models), and the wall time of the whole command
beside them. Writes benchmarks/reports/guide_speed.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPORTS = Path(__file__).resolve().parent / "reports"


def run(prompt: str, generator: str, seed: int, extra: tuple[str, ...] = ()) -> dict:
    with tempfile.TemporaryDirectory() as out, tempfile.TemporaryFile() as err:
        t0 = time.time()
        cmd = [sys.executable, "-m", "promptism.cli", "guide", prompt, "--generator", generator, *extra]
        child = subprocess.Popen([*cmd, "--seed", str(seed), "--out", out, "--quiet"], stdout=err, stderr=err)
        _, status, usage = os.wait4(child.pid, 0)  # this child's own peak, not the largest child's so far
        child.returncode = os.waitstatus_to_exitcode(status)
        wall = time.time() - t0
        if child.returncode:
            err.seek(0)
            raise SystemExit(f"{' '.join(cmd)} failed ({child.returncode}):\n{err.read().decode(errors='replace')}")
        meta = json.loads((Path(out) / f"{seed}.json").read_text())
    return {
        "seconds": meta["seconds"],
        "wall_s": round(wall, 2),
        "peak_rss_mib": round(usage.ru_maxrss / 1024, 1),  # Linux reports KiB
        "canvas_kept": meta.get("canvas_kept"),
        "canvas_recoloured": meta.get("canvas_recoloured"),
    }


def vqgan_settings() -> str:
    """The vqgan generator's defaults in words, read from guide's own table."""
    from promptism.guide.optimize import DEFAULTS

    d = DEFAULTS["vqgan"]
    reading = {"prior": "reading no prompt", "prompt": "reading the prompt"}[d["canvas"]]
    pick = {"cosine": "cosine with the prompt", "contrast": "likelihood of the prompt among its contrast captions"}
    return (
        f"{d['steps']} steps with CLIP {' and '.join(f'`{c}`' for c in d['clips'])} from one of 64 canvases mini-world draws {reading}, picked "
        f"by CLIP's {pick[d['canvas_pick']]}, returned with no step where CLIP finds the prompt {d['keep_canvas']} "
        f"likely among its contrast captions, else from the best of the {d['recolour']} best-picked canvases "
        "recoloured (`--recolour`), kept likewise or stepped from"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--prompt", default="a red circle above a blue square", help="what to draw")
    ap.add_argument("--repeats", type=int, default=2, help="runs per generator (default: 2)")
    args = ap.parse_args()
    rows = {}
    # the vqgan generator returns a canvas CLIP already believes with no step (--keep-canvas): its
    # second row recolours (--recolour) and takes every step, the slowest a picture of it can be
    kinds = {"vqgan": ("vqgan", ()), "vqgan --keep-canvas 0": ("vqgan", ("--keep-canvas", "0"))}
    kinds.update({g: (g, ()) for g in ("fft", "pixels")})
    for name, (generator, extra) in kinds.items():
        runs = [run(args.prompt, generator, seed, extra) for seed in range(args.repeats)]
        rows[name] = {
            "runs": runs,
            "seconds_median": statistics.median(r["seconds"] for r in runs),
            "wall_s_median": statistics.median(r["wall_s"] for r in runs),
            "peak_rss_mib_max": max(r["peak_rss_mib"] for r in runs),
            "canvases_kept": sum(bool(r["canvas_kept"]) for r in runs),
            "canvases_recoloured": sum(bool(r["canvas_recoloured"]) for r in runs),
        }
    threads = os.environ.get("PROMPTISM_THREADS", "auto")
    report = {
        "benchmark": "guide_speed",
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, PROMPTISM_THREADS={threads}",
        "prompt": args.prompt,
        "settings": f"defaults: 64 px, 16 cutouts; vqgan: {vqgan_settings()}; fft and pixels: 200 steps, CLIP world",
        "generators": rows,
    }
    REPORTS.mkdir(exist_ok=True)
    (REPORTS / "guide_speed.json").write_text(json.dumps(report, indent=1))
    lines = [
        "# `promptism guide`: seconds and memory per picture",
        "",
        f"Measured by `benchmarks/guide_speed.py` on {report['machine']}: one 64 px picture of "
        f'"{args.prompt}" with each generator\'s default settings (16 cutouts; vqgan: {vqgan_settings()}; '
        "`--keep-canvas 0` recolours and takes every step, the slowest case; fft and pixels: "
        f"200 steps with CLIP `world`), {args.repeats} runs per generator (seeds 0 to {args.repeats - 1}), each in "
        "its own process.",
        "",
        "| generator | seconds (the picture, median) | whole command (median) | peak memory (the largest run) "
        "| canvases kept with no step | recoloured canvases taken |",
        "|---|---|---|---|---|---|",
    ]
    for g, r in rows.items():
        kept = f"{r['canvases_kept']} of {len(r['runs'])}" if g == "vqgan" else "-"
        recoloured = f"{r['canvases_recoloured']} of {len(r['runs'])}" if g.startswith("vqgan") else "-"
        lines.append(
            f"| {g} | {r['seconds_median']:.1f} s | {r['wall_s_median']:.1f} s | {r['peak_rss_mib_max']:.0f} MiB "
            f"| {kept} | {recoloured} |"
        )
    (REPORTS / "guide_speed.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
