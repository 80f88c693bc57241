"""The VQGAN's round trip on the Scene World: pictures to codes and back.

    .venv/bin/python benchmarks/vqgan_world.py [--models world runs/vqgan-f4/model ...] [--n 300]

For each model: PSNR of the reconstructions, the share of pictures whose caption the judge still
finds true after the round trip (of those it finds true before), the share whose objects it reads
the same (shape, colour, size and place of each), codebook use over all the pictures' codes (share
of codes used, perplexity), and seconds per picture for the round trip on this machine. The
pictures are scenes drawn with seeds apart from the training shards' (rng [11, i]).

Writes benchmarks/reports/vqgan_world.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPORTS = Path(__file__).resolve().parent / "reports"


def objects(reading) -> list[tuple]:
    """Each object's shape, colour, size word and third of the picture it sits in."""
    return sorted((o.shape, o.color, o.size, min(2, int(o.x * 3)), min(2, int(o.y * 3))) for o in reading.objects)


def evaluate(name: str, n: int) -> dict:
    from promptism.pipelines.common import to_images
    from promptism.vqgan import load
    from promptism.world.judge import judge, read
    from promptism.world.render import render
    from promptism.world.sampling import sample_example

    vq = load(name)
    examples = [sample_example(np.random.default_rng([11, i])) for i in range(n)]
    pics = np.stack([np.asarray(render(ex.scene, vq.config.image_size)) for ex in examples])
    x = torch.from_numpy(pics).permute(0, 3, 1, 2).float() / 127.5 - 1
    t0 = time.time()
    with torch.no_grad():
        codes = torch.cat([vq.encode(x[i : i + 50]) for i in range(0, n, 50)])
        recon = torch.cat([vq.decode(codes[i : i + 50]).clamp(-1, 1) for i in range(0, n, 50)])
    seconds = (time.time() - t0) / n
    out = np.stack([np.asarray(im) for im in to_images(recon)])
    mse = ((out.astype(np.float64) - pics) ** 2).mean(axis=(1, 2, 3))
    psnr = float(np.mean(10 * np.log10(255.0**2 / np.maximum(mse, 1e-10))))
    before = [judge(p, ex.caption).correct for p, ex in zip(pics, examples)]
    after = [judge(o, ex.caption).correct for o, ex in zip(out, examples)]
    kept = sum(a for a, b in zip(after, before) if b) / max(1, sum(before))
    same = float(np.mean([objects(read(p)) == objects(read(o)) for p, o in zip(pics, out)]))
    counts = np.bincount(codes.flatten().numpy(), minlength=vq.config.codebook_size)
    p = counts / counts.sum()
    return {
        "model": str(name),
        "factor": vq.config.factor,
        "codes_per_picture": f"{vq.config.grid}x{vq.config.grid}",
        "codebook_size": vq.config.codebook_size,
        "pictures": n,
        "psnr_db": round(psnr, 2),
        "judge_true_before": round(float(np.mean(before)), 4),
        "judge_kept_after_round_trip": round(kept, 4),
        "objects_read_the_same": round(same, 4),
        "codes_used": round(float((counts > 0).mean()), 4),
        "code_perplexity": round(float(math.exp(-(p[p > 0] * np.log(p[p > 0])).sum())), 1),
        "seconds_per_picture_round_trip": round(seconds, 5),
        "weights_mb": round((Path(vq.folder) / "model.safetensors").stat().st_size / 1e6, 2),
        "train_seconds": vq.meta.get("train_seconds"),
        "trained_on": vq.meta.get("device"),
        "steps": vq.meta.get("steps"),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="+", default=["world"], help="shipped names or model folders")
    ap.add_argument("--n", type=int, default=300, help="pictures (default: 300)")
    args = ap.parse_args()
    rows = [evaluate(m, args.n) for m in args.models]
    machine = f"{platform.machine()}, {os.cpu_count()} CPUs"
    report = {"benchmark": "vqgan_world", "machine": machine, "models": rows}
    REPORTS.mkdir(exist_ok=True)
    (REPORTS / "vqgan_world.json").write_text(json.dumps(report, indent=1))
    lines = [
        "# The VQGAN's round trip on the Scene World",
        "",
        f"Measured by `benchmarks/vqgan_world.py` on {machine}: {args.n} Scene World pictures (64 px, drawn apart "
        "from the training shards) encoded to codes and decoded again.",
        "",
        "| model | codes | PSNR | judge: caption still true | objects read the same | codes used | perplexity "
        "| round trip | weights |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['model']} | {r['codes_per_picture']} of {r['codebook_size']} | {r['psnr_db']} dB | "
            f"{r['judge_kept_after_round_trip']:.3f} | {r['objects_read_the_same']:.3f} | {r['codes_used']:.3f} | "
            f"{r['code_perplexity']} | {1000 * r['seconds_per_picture_round_trip']:.1f} ms | {r['weights_mb']} MB |"
        )
    (REPORTS / "vqgan_world.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
