"""`promptism generate` (4 pictures, 64 px, a fresh process each time) on cores that another busy
process shares, beside the same with the cores to itself: at 2 torch threads with OpenMP's own way
of waiting (spinning a while first), at 2 with passive waiting (OMP_WAIT_POLICY=PASSIVE), at 1, and
with no thread count given (promptism then counts the cores idle at start: promptism.threads).

    .venv/bin/python benchmarks/shared_cores.py [--threads 2] [--repeats 2]

The other process is a pure-Python busy loop on one core. Writes
benchmarks/reports/shared_cores.{json,md}. Reported: the median wall time of each case.
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
PROMPT = "two red circles above a blue square"
BUSY = "while True: pass"


def run_once(threads: int | None, policy: str | None) -> float:
    given = ("OMP_WAIT_POLICY", "PROMPTISM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
    env = {k: v for k, v in os.environ.items() if k not in given}
    if threads is not None:
        env["PROMPTISM_THREADS"] = str(threads)
    if policy:
        env["OMP_WAIT_POLICY"] = policy
    with tempfile.TemporaryDirectory() as out:
        t0 = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "promptism.cli", "generate", PROMPT, "-n", "4", "--out", out],
            env=env,
            check=True,
            capture_output=True,
        )
        return time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--threads", type=int, default=2, help="torch threads of the generating process, besides 1 (default 2)"
    )
    ap.add_argument("--repeats", type=int, default=2, help="runs per case; the median is reported (default 2)")
    args = ap.parse_args()
    cases = []
    for busy in (False, True):
        other = subprocess.Popen([sys.executable, "-c", BUSY]) if busy else None
        try:
            for threads, policy in ((args.threads, None), (args.threads, "PASSIVE"), (1, None), (None, None)):
                times = [run_once(threads, policy) for _ in range(args.repeats)]
                cases.append(
                    {
                        "busy_process": busy,
                        "threads": threads,
                        "omp_wait_policy": policy or "(unset)",
                        "seconds": times,
                        "median_seconds": statistics.median(times),
                    }
                )
                print(cases[-1], flush=True)
        finally:
            if other:
                other.kill()
                other.wait()
    r = {
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "threads": args.threads,
        "prompt": PROMPT,
        "cases": cases,
        "command": " ".join(["benchmarks/shared_cores.py", *sys.argv[1:]]),
    }
    REPORTS.mkdir(exist_ok=True)
    (REPORTS / "shared_cores.json").write_text(json.dumps(r, indent=1) + "\n")
    lines = [
        "# Generating on shared cores",
        "",
        f'`promptism generate "{PROMPT}" -n 4` (64 px, the shipped models, default settings) as a fresh process, '
        f"on {r['machine']}; median of {args.repeats} runs. The busy process is a pure-Python loop on one core. "
        "OMP_WAIT_POLICY unset is OpenMP's own way (threads spin a while before they sleep); PASSIVE: "
        "they sleep at once.",
        "",
        "| other busy process | torch threads | OMP_WAIT_POLICY | wall time (s) |",
        "|---|---|---|---|",
    ]
    for c in cases:
        threads = "not given (auto)" if c["threads"] is None else c["threads"]
        lines.append(
            f"| {'yes' if c['busy_process'] else 'no'} | {threads} | {c['omp_wait_policy']} | "
            f"{c['median_seconds']:.1f} |"
        )
    lines += ["", f"Command: `{r['command']}`", ""]
    (REPORTS / "shared_cores.md").write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
