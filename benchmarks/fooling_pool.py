"""What the judge reads in a pool of fooling pictures (what `scripts/fooling_pictures.py` writes): the
share of fooling pictures it reads as wrong for their caption, and, for pools made with
`--look-matched`, the share of their positives it reads as right. A measure of training data for
`promptism train clip --adversarial`; the judge picks and filters nothing here, and training reads
every picture of the pool whatever the judge says of it.

    .venv/bin/python benchmarks/fooling_pool.py runs/fooling/look-1 --out experiments/reports/fooling_pool_look-1

Writes OUT/fooling_pool.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def measure(folder: str) -> dict:
    from PIL import Image

    from promptism.clip.adversarial import load_pool
    from promptism.world.judge import judge

    with Image.open(next(Path(folder).glob("*.png"))) as im:
        size = im.size[0]
    pool = load_pool(folder, size)
    wrong = [not judge(picture, c).correct for picture, c in zip(pool.images, pool.constraints)]
    out = {"folder": str(folder), "pictures": len(wrong), "skipped": pool.skipped, "size": size}
    out["fooling read as wrong"] = round(sum(wrong) / len(wrong), 4)
    if pool.positives is not None:
        named = [i for i, p in enumerate(pool.positives) if p is not None]
        right = {i: judge(pool.positives[i], pool.constraints[i]).correct for i in named}
        out["positives"] = len(named)
        out["positives read as right"] = round(sum(right.values()) / len(named), 4)
        both = sum(wrong[i] and right[i] for i in named)
        out["pairs with a wrong fooling picture and a right positive"] = round(both / len(named), 4)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder", help="a folder of fooling pictures with their sidecars")
    ap.add_argument("--out", required=True, help="report folder")
    args = ap.parse_args()
    result = measure(args.folder)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "fooling_pool.json").write_text(json.dumps(result, indent=1) + "\n")
    lines = [
        f"# What the judge reads in the fooling pictures of `{args.folder}`",
        "",
        "Measured by `benchmarks/fooling_pool.py`. The judge picks nothing: training reads every picture.",
        "",
        "| measure | value |",
        "|---|---|",
        *(f"| {k} | {v} |" for k, v in result.items() if k != "folder"),
    ]
    (out / "fooling_pool.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
