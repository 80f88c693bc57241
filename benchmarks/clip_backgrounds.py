"""Does a CLIP see the background a caption asks for?

    .venv/bin/python benchmarks/clip_backgrounds.py [--clips world world-v1 world-bind2] [--n 100]

For the first N val captions of --data that name a background ("on a black background", "under a
blue sky", ...) in a style that allows every background, one scene is laid out from the caption and rendered on each of the Scene World's
backgrounds, everything else the same. A CLIP that sees backgrounds gives the render on the asked
background the highest cosine with the caption. Reported per CLIP: that share (chance is one in
the number of backgrounds), and the mean margin of the asked background's cosine over the best
other one. guide and the rerankers lean on these cosines, so a CLIP blind to backgrounds cannot
steer a picture's background.

Writes benchmarks/reports/clip_backgrounds.{json,md}.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch

REPORTS = Path(__file__).parent / "reports"


def measure(clips: list[str], data: str, n: int) -> dict:
    from promptism.clip import load
    from promptism.data import load_pairs
    from promptism.world import vocab
    from promptism.world.captions import parse
    from promptism.world.constraints import layout
    from promptism.world.render import render
    from promptism.world.scene import SceneError

    captions, scenes = [], []  # each scene on every background
    for c in load_pairs(data, "val", images=False, progress=False).captions:
        if parse(c).background is None:
            continue
        scene = layout(parse(c), np.random.default_rng(len(captions)))
        try:  # some styles allow one background only (neon pictures are on black): those are skipped
            scenes.append([dataclasses.replace(scene, background=bg) for bg in vocab.BACKGROUNDS])
        except SceneError:
            continue
        captions.append(c)
        if len(captions) == n:
            break
    rows = []
    for name in clips:
        clip = load(name)
        right, margins = 0, []
        with torch.no_grad():
            text = clip.encode_text(captions)
            for i, (caption, versions) in enumerate(zip(captions, scenes)):
                renders = [render(v) for v in versions]
                cos = (clip.encode_image(renders) @ text[i]).tolist()
                asked = vocab.BACKGROUNDS.index(parse(caption).background)
                others = [c for k, c in enumerate(cos) if k != asked]
                right += cos[asked] > max(others)
                margins.append(cos[asked] - max(others))
        rows.append(
            {
                "clip": name,
                "captions": len(captions),
                "asked_background_highest": round(right / len(captions), 3),
                "mean_margin": round(float(np.mean(margins)), 4),
            }
        )
    return {
        "benchmark": "clip_backgrounds",
        "machine": f"{platform.machine()}, {torch.get_num_threads()} torch threads",
        "data": data,
        "backgrounds": list(vocab.BACKGROUNDS),
        "rows": rows,
    }


def write(result: dict, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "clip_backgrounds.json").write_text(json.dumps(result, indent=1))
    chance = 1 / len(result["backgrounds"])
    lines = [
        "# Do our CLIPs see the background a caption asks for?",
        "",
        f"Measured by `benchmarks/clip_backgrounds.py` on {result['machine']}: for each of the first "
        f"{result['rows'][0]['captions']} val captions of `{result['data']}` that name a background (in a style that allows every background), one scene "
        f"laid out from the caption and rendered on each background ({', '.join(result['backgrounds'])}), the "
        "rest unchanged. A CLIP that sees backgrounds scores the render on the asked background highest "
        f"(chance: {chance:.2f}). Margin: the asked background's cosine less the best other one's, averaged.",
        "",
        "| CLIP | captions | asked background scored highest | mean margin |",
        "|---|---|---|---|",
    ]
    for r in result["rows"]:
        lines.append(
            f"| {r['clip']} | {r['captions']} | {r['asked_background_highest']:.3f} | {r['mean_margin']:+.4f} |"
        )
    (out / "clip_backgrounds.md").write_text("\n".join(lines) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", nargs="+", default=["world", "world-v1", "world-bind2"], help="CLIPs to measure")
    ap.add_argument("--data", default="data/world-64-50k", help="a Scene World dataset with a val split")
    ap.add_argument("--n", type=int, default=100, help="captions that name a background (default: 100)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default: 1)")
    ap.add_argument("--out", default=str(REPORTS), help="folder of the report (default: benchmarks/reports)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    t0 = time.time()
    result = measure(args.clips, args.data, args.n)
    result["seconds"] = round(time.time() - t0, 1)
    write(result, Path(args.out))
    print((Path(args.out) / "clip_backgrounds.md").read_text())


if __name__ == "__main__":
    main()
