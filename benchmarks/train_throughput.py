"""Training throughput of a whole unCLIP stack (`promptism train unclip`), stage by stage.

    .venv/bin/python benchmarks/train_throughput.py [--preset base] [--steps 20] [--pictures 1000]

Writes a folder of Scene World pictures with captions (64 px, as a user's folder would be), then
runs `train_unclip` on it with the preset's settings except that every stage trains ``--steps``
steps. For each stage it reports the seconds the loop spent stepping (the first steps' warm-up
included), steps and pictures a second, and what the preset's own number of steps would take at
that rate; for the embeddings, pictures a second. Run it where the stack will train: on a CPU,
or on a GPU (it uses one when torch sees one).

Writes benchmarks/reports/train_throughput_<preset>_<cpu|gpu>.{json,md}.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPORTS = Path(__file__).resolve().parent / "reports"


def make_pictures(folder: Path, n: int) -> None:
    from promptism.world.render import render
    from promptism.world.sampling import sample_example

    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        ex = sample_example(np.random.default_rng([7, i]))
        render(ex.scene, 64).save(folder / f"{i:06d}.png")
        (folder / f"{i:06d}.txt").write_text(ex.caption)


def device() -> str:
    import torch

    if torch.cuda.is_available():
        return f"{torch.cuda.get_device_name(0)} (torch {torch.__version__})"
    return f"{platform.machine()}, {os.cpu_count()} CPUs, {torch.get_num_threads()} threads (torch {torch.__version__})"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="base", help="the stack preset to time (default: base)")
    ap.add_argument("--steps", type=int, default=20, help="training steps timed per stage (default: 20)")
    ap.add_argument("--pictures", type=int, default=1000, help="pictures in the data folder (default: 1000)")
    ap.add_argument("--size", type=int, default=None, help="the stack's size (default: the preset's)")
    ap.add_argument("--out", default=str(REPORTS), help="folder for the reports")
    args = ap.parse_args()
    import torch

    from promptism.unclip.presets import stack_presets
    from promptism.unclip.stack import stage_plan, train_unclip

    preset = stack_presets()[args.preset]
    timed = copy.deepcopy(preset)
    for stage in ("clip", "prior", "decoder", "upsampler"):
        loop = timed[stage]["loop"]
        loop.update(steps=args.steps, checkpoint_every=args.steps, log_every=max(1, args.steps // 2))
        loop["warmup"] = min(loop.get("warmup", 0), args.steps // 2)
    kind = "gpu" if torch.cuda.is_available() else "cpu"
    with tempfile.TemporaryDirectory() as tmp:
        data, run = Path(tmp) / "pictures", Path(tmp) / "run"
        t0 = time.time()
        make_pictures(data, args.pictures)
        made = time.time() - t0
        train_unclip(
            str(data), str(run), args.preset, settings=timed, size=args.size, progress=False, say=lambda *a: None
        )
        manifest = json.loads((run / "stack.json").read_text())
        rows = []
        for stage in stage_plan(preset, args.size, reuse_clip=False):
            name, rec = stage["name"], manifest["stages"][stage["name"]]
            if stage["kind"] == "embeddings":
                rows.append(
                    {
                        "stage": name,
                        "seconds": rec["seconds"],
                        "pictures_per_s": round(args.pictures / max(rec["seconds"], 0.01), 1),
                    }
                )
                continue
            meta = json.loads((run / rec["folder"] / "config.json").read_text())
            loop = stage["settings"]["loop"]
            secs = meta["train_seconds"]
            rows.append(
                {
                    "stage": name,
                    "batch_size": loop["batch_size"],
                    "steps_timed": args.steps,
                    "seconds": round(secs, 2),
                    "steps_per_s": round(args.steps / secs, 3),
                    "pictures_per_s": round(args.steps * loop["batch_size"] / secs, 1),
                    "preset_steps": loop["steps"],
                    "preset_hours_at_this_rate": round(loop["steps"] * secs / args.steps / 3600, 3),
                }
            )
    report = {
        "benchmark": "train_throughput",
        "preset": args.preset,
        "size": manifest["size"],
        "device": device(),
        "pictures": args.pictures,
        "seconds_to_write_pictures": round(made, 1),
        "stages": rows,
        "preset_hours_total": round(sum(r.get("preset_hours_at_this_rate", 0) for r in rows), 2),
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = out / f"train_throughput_{args.preset}_{kind}"
    stem.with_suffix(".json").write_text(json.dumps(report, indent=1))
    lines = [
        f"# Training throughput: the `{args.preset}` stack on {kind.upper()}",
        "",
        f"Measured by `benchmarks/train_throughput.py --preset {args.preset} --steps {args.steps}` on {report['device']}: "
        f"`promptism train unclip` over {args.pictures} Scene World pictures (64 px PNGs with captions), each stage "
        f"{args.steps} steps of the preset's model and batch (the seconds the loop spent stepping, first steps included).",
        "",
        "| stage | batch | steps/s | pictures/s | preset steps | preset hours at this rate |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        if "batch_size" in r:
            lines.append(
                f"| {r['stage']} | {r['batch_size']} | {r['steps_per_s']} | {r['pictures_per_s']} | "
                f"{r['preset_steps']} | {r['preset_hours_at_this_rate']} |"
            )
        else:
            lines.append(f"| {r['stage']} | - | - | {r['pictures_per_s']} | - | - |")
    lines += ["", f"The preset's training steps at these rates: about {report['preset_hours_total']} hours in all."]
    stem.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
