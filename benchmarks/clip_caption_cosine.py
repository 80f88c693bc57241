"""How much a CLIP agrees with a true caption: the cosine of each val picture with its own caption,
as percentiles. guide's --keep-cosine asks a kept canvas to reach such a level (a picture like none
of the contrast captions can still make the prompt the likeliest among them), so this says what a
level means for a given CLIP.

    .venv/bin/python benchmarks/clip_caption_cosine.py                      # CLIP world-v1, 1,000 val pictures
    .venv/bin/python benchmarks/clip_caption_cosine.py --clip world --n 500

Writes benchmarks/reports/clip_caption_cosine_<clip>.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path

REPORTS = Path(__file__).resolve().parent / "reports"
PERCENTILES = (1, 5, 10, 25, 50)


def measure(clip_name: str, data: str, n: int) -> dict:
    import numpy as np
    import torch

    from promptism.clip import load
    from promptism.clip.task import to_pixels
    from promptism.data import load_pairs

    clip = load(clip_name)
    pairs = load_pairs(data, "val", size=clip.image_size, limit=n, progress=False)
    captions, count = list(pairs.captions), len(pairs)
    cos = []
    with torch.no_grad():
        for i in range(0, count, 100):
            e = clip._encode_pixels(to_pixels(pairs.images[i : i + 100]))
            t = clip.encode_text(captions[i : i + 100])
            cos.append((e * t).sum(-1))
    cos = torch.cat(cos).numpy()
    return {
        "benchmark": "clip_caption_cosine",
        "machine": f"{platform.machine()}, {__import__('os').cpu_count()} CPUs",
        "clip": clip_name,
        "data": data,
        "pictures": count,
        "percentiles": {str(p): round(float(np.percentile(cos, p)), 4) for p in PERCENTILES},
        "mean": round(float(cos.mean()), 4),
    }


def write(report: dict) -> Path:
    name = f"clip_caption_cosine_{Path(report['clip']).name}"
    REPORTS.mkdir(exist_ok=True)
    (REPORTS / f"{name}.json").write_text(json.dumps(report, indent=1) + "\n")
    lines = [
        f"# CLIP {report['clip']}: cosine of val pictures with their own captions",
        "",
        f"Measured by `benchmarks/clip_caption_cosine.py` on {report['machine']}: {report['pictures']} val pictures "
        f"of {report['data']}, each with the caption it was drawn from. Mean {report['mean']:.3f}.",
        "",
        "| percentile | " + " | ".join(report["percentiles"]) + " |",
        "|---|" + "---|" * len(report["percentiles"]),
        "| cosine | " + " | ".join(f"{v:.3f}" for v in report["percentiles"].values()) + " |",
    ]
    path = REPORTS / f"{name}.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clip", default="world-v1", help="a shipped CLIP's name or a folder (default: world-v1)")
    ap.add_argument("--data", default="data/world-64-50k", help="a Scene World dataset with a val split")
    ap.add_argument("--n", type=int, default=1000, help="val pictures (default: 1000)")
    args = ap.parse_args()
    from promptism.cli.common import torch_threads

    torch_threads()
    print(write(measure(args.clip, args.data, args.n)).read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
