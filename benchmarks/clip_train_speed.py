"""Seconds per training step of CLIP presets: `promptism train clip --steps N --limit 4000` as a
fresh process for each preset, on a Scene World folder, with the CPU time the hypervisor took
from this machine meanwhile (steal, from /proc/stat: other machines' work on shared cores slows
every step alike, so a step time means little without it).

    .venv/bin/python benchmarks/clip_train_speed.py --data data/world200k [--presets world-bind21 experiments/clip/world-bind17.toml]

Writes benchmarks/reports/clip_train_speed.{json,md}. Reported for each preset: the loop's own
stepping seconds (``train_seconds`` in the model's config.json, the first steps and the final
checkpoint included) over the steps, the run with the least steal of ``--repeats`` (the presets
take turns), and the projection to the preset's full run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPORTS = Path(__file__).resolve().parent / "reports"


def cpu_counters() -> tuple[int, int] | None:
    """(steal, total) jiffies of all CPUs so far, or None off Linux."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    except (OSError, ValueError):
        return None
    return fields[7], sum(fields)


def time_preset(data: str, preset: str, steps: int, limit: int, threads: int) -> dict:
    from promptism.recipes import resolve

    recipe = preset.endswith(".toml")
    name, settings = resolve("clip", None if recipe else preset, preset if recipe else None, "world")
    env = {**os.environ, "PROMPTISM_THREADS": str(threads)}
    with tempfile.TemporaryDirectory() as out:
        before, t0 = cpu_counters(), time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "promptism.cli",
                "train",
                "clip",
                "--data",
                data,
                "--out",
                out,
                "--config" if recipe else "--preset",
                preset,
                "--steps",
                str(steps),
                "--limit",
                str(limit),
                "--quiet",
                "--checkpoint-every",
                str(steps),
            ],
            env=env,
            check=True,
            capture_output=True,
        )
        wall, after = time.perf_counter() - t0, cpu_counters()
        config = json.loads((Path(out) / "model" / "config.json").read_text())
    per_step = config["train_seconds"] / steps
    full = settings["loop"]["steps"]
    steal = None if before is None or after is None else (after[0] - before[0]) / max(1, after[1] - before[1])
    return {
        "preset": name,
        "steps": steps,
        "seconds_per_step": round(per_step, 3),
        "full_run_steps": full,
        "full_run_stepping_minutes": round(per_step * full / 60, 1),
        "process_wall_seconds": round(wall, 1),
        "cpu_steal_share": None if steal is None else round(steal, 3),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="a Scene World folder (promptism world make)")
    ap.add_argument(
        "--presets",
        nargs="+",
        default=["world-bind21", "experiments/clip/world-bind17.toml"],
        help="CLIP presets or recipe files to time (default: the shipped one and the one before it)",
    )
    ap.add_argument("--steps", type=int, default=60, help="steps timed per preset (default 60)")
    ap.add_argument("--limit", type=int, default=4000, help="training pairs read, to keep loading short (default 4000)")
    ap.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    ap.add_argument(
        "--repeats",
        type=int,
        default=2,
        help="runs per preset, taking turns; the one with the least CPU steal is reported (default 2)",
    )
    args = ap.parse_args()
    runs: dict[str, list[dict]] = {name: [] for name in args.presets}
    for _ in range(args.repeats):
        for name in args.presets:
            runs[name].append(time_preset(args.data, name, args.steps, args.limit, args.threads))
            print(runs[name][-1], flush=True)
    rows = [
        {
            **min(rs, key=lambda r: r["cpu_steal_share"] or 0.0),
            "all_seconds_per_step": [r["seconds_per_step"] for r in rs],
            "all_cpu_steal_shares": [r["cpu_steal_share"] for r in rs],
        }
        for rs in runs.values()
    ]
    r = {
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "threads": args.threads,
        "data": args.data,
        "rows": rows,
        "command": " ".join(["benchmarks/clip_train_speed.py", *sys.argv[1:]]),
    }
    REPORTS.mkdir(exist_ok=True)
    (REPORTS / "clip_train_speed.json").write_text(json.dumps(r, indent=1) + "\n")
    lines = [
        "# CLIP training speed",
        "",
        f"`promptism train clip --steps {args.steps} --limit {args.limit}` per preset, a fresh process each, "
        f"on {r['machine']} at {args.threads} torch threads; of {args.repeats} runs per preset (taking turns), "
        "the one with the least CPU steal. Seconds a step: the loop's stepping time over the "
        "steps (first steps and final checkpoint included); every run's in the last column. Stepping minutes of the full run: that rate times "
        "the preset's steps; loading a 200,000-picture world adds about 2 minutes. CPU steal: the share of "
        "this machine's CPU time the hypervisor gave to others meanwhile.",
        "",
        "| preset | s / step | full run: steps | full run: stepping minutes | CPU steal | every run: s / step (steal) |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        steal = "n/a" if row["cpu_steal_share"] is None else f"{100 * row['cpu_steal_share']:.0f} %"
        every = ", ".join(
            f"{t:.2f} ({'n/a' if st is None else f'{100 * st:.0f} %'})"
            for t, st in zip(row["all_seconds_per_step"], row["all_cpu_steal_shares"])
        )
        lines.append(
            f"| {row['preset']} | {row['seconds_per_step']:.2f} | {row['full_run_steps']} | "
            f"{row['full_run_stepping_minutes']:.0f} | {steal} | {every} |"
        )
    lines += ["", f"Command: `{r['command']}`", ""]
    (REPORTS / "clip_train_speed.md").write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
