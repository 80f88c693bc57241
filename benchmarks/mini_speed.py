"""`promptism mini`: a 3×3 grid's wall time, cold and warm, its peak memory, and what the key–value
cache buys.

    .venv/bin/python benchmarks/mini_speed.py            # writes benchmarks/reports/mini_speed.{json,md}
    .venv/bin/python benchmarks/mini_speed.py --candidates 36 --out experiments/reports/mini_speed_X  # a setting tried

- cold: a fresh process draws the default grid (the default candidates, reranked), timed from after importing torch
  (promptism's import and the models' loading included), twice;
- warm: in one process, after a first grid, further grids are timed (the median of 3);
- peak memory: the largest resident set of those processes;
- codes per second: one picture's codes written by sample_codes (with guidance: 2 sequences),
  with and without the cache.
"""

from __future__ import annotations

import inspect
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

REPORTS = Path(__file__).resolve().parent / "reports"
PROMPT = "a red circle above a blue square"

CHILD = """
import json, resource, sys, time
t0 = time.perf_counter()
from promptism.mini.pipeline import mini
first = mini({prompt!r}, seed=0, **{kwargs!r})
cold = time.perf_counter() - t0
warm = []
for seed in range({warm}):
    t = time.perf_counter()
    mini({prompt!r}, seed=seed + 1, **{kwargs!r})
    warm.append(time.perf_counter() - t)
print(json.dumps({{"cold": cold, "warm": warm, "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""


def _child(warm: int, threads: int, kwargs: dict) -> dict:
    env = {**os.environ, "PROMPTISM_THREADS": str(threads), "OMP_NUM_THREADS": str(threads)}
    code = f"import torch; torch.set_num_threads({threads})\n" + CHILD.format(prompt=PROMPT, warm=warm, kwargs=kwargs)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def tokens_per_second(threads: int) -> dict:
    import torch

    from promptism.mini import load
    from promptism.mini.sample import sample_codes

    torch.set_num_threads(threads)
    m = load("world")
    text, _ = m.tokenizer([PROMPT])
    null, _ = m.tokenizer([""])
    out = {}
    for cache in (True, False):
        t = time.perf_counter()
        sample_codes(m.model, text, null, [torch.Generator().manual_seed(0)], cond_scale=3.0, cache=cache)
        seconds = time.perf_counter() - t
        rate = round(m.model.cfg.codes / seconds, 1)
        out["cached" if cache else "uncached"] = {"seconds": round(seconds, 2), "tokens_per_s": rate}
    out["speed_up"] = round(out["cached"]["tokens_per_s"] / out["uncached"]["tokens_per_s"], 1)
    return out


def main() -> int:
    import argparse
    import statistics

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--candidates", type=int, default=None, help="candidates per grid (default: mini's default)")
    ap.add_argument(
        "--rerank-clip", action="append", default=None, metavar="CLIP", help="reranking CLIP(s) (default: mini's)"
    )
    ap.add_argument(
        "--out",
        default=None,
        help="report path without suffix (default: benchmarks/reports/mini_speed; give one for a setting tried)",
    )
    args = ap.parse_args()
    kwargs = {k: v for k, v in (("candidates", args.candidates), ("rerank_clip", args.rerank_clip)) if v is not None}
    if kwargs and not args.out:
        ap.error("a setting other than the defaults is timed into its own report: give --out")
    out = Path(args.out) if args.out else REPORTS / "mini_speed"

    import torch

    from promptism import __version__
    from promptism.mini.pipeline import DEFAULTS, mini

    candidates = kwargs.get("candidates", DEFAULTS["candidates"])
    rerank = kwargs.get("rerank_clip", inspect.signature(mini).parameters["rerank_clip"].default)
    rerank = " + ".join([rerank] if isinstance(rerank, str) else rerank)
    setting = f"{candidates} candidates reranked by {rerank}" + ("" if kwargs else " (the defaults)")
    threads = int(os.environ.get("PROMPTISM_THREADS", "2"))
    runs = [_child(3, threads, kwargs), _child(0, threads, kwargs)]
    warm = [s for r in runs for s in r["warm"]]
    data = {
        "machine": {"arch": platform.machine(), "cpus": os.cpu_count(), "threads": threads, "torch": torch.__version__},
        "promptism": __version__,
        "prompt": PROMPT,
        "grid": f"3x3 of {setting}",
        "cold_s": [round(r["cold"], 2) for r in runs],
        "warm_s": [round(s, 2) for s in warm],
        "warm_median_s": round(statistics.median(warm), 2),
        "peak_mib": round(max(r["peak_mib"] for r in runs), 1),
        "tokens": tokens_per_second(threads),
    }
    out.with_name(out.name + ".json").write_text(json.dumps(data, indent=1))
    t = data["tokens"]
    md = [
        "# `promptism mini`: a 3×3 grid's time and memory, and the key–value cache",
        "",
        f"Measured by `benchmarks/mini_speed.py` on {platform.machine()}, {os.cpu_count()} CPUs, {threads} thread(s), "
        f'torch {torch.__version__}, promptism {__version__}: "{PROMPT}", {setting}, into a 3×3 grid at 64 px.',
        "",
        "| measure | value |",
        "|---|---|",
        f"| warm grid (median of {len(warm)}) | {data['warm_median_s']} s |",
        f"| cold grid (a fresh process with torch imported: promptism imported, models loaded, grid drawn) | {', '.join(f'{s} s' for s in data['cold_s'])} |",
        f"| peak memory (resident, largest process) | {data['peak_mib']} MiB |",
        f"| codes per second with the cache (one picture, guided) | {t['cached']['tokens_per_s']} |",
        f"| codes per second without it | {t['uncached']['tokens_per_s']} |",
        f"| speed-up of the cache | {t['speed_up']}× |",
    ]
    out.with_name(out.name + ".md").write_text("\n".join(md) + "\n")
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    sys.exit(main())
