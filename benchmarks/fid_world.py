"""One quality yardstick for every generator: the Fréchet distance of its pictures to the Scene
World's val pictures, on features of an ImageNet network none of our models was trained against
(EfficientNet-Lite0, promptism.eval.fid), and the judge's share of pictures whose every object is a
well-formed world shape.

    .venv/bin/python benchmarks/fid_world.py [--n 1000] [--n-slow 200] [--rows floor vqgan gan ...]

Rows (each N pictures at 64 px, against the first N val pictures of --data; the slow generators,
mini and unclip, --n-slow):
  floor     the first N training pictures: the distance two samples of the world itself keep;
  vqgan     the val pictures through vqgan-world (encoded to codes and decoded);
  gan       gan-world's pictures of seeds 0..N-1 at truncation 1 (and gan-0.7 at 0.7), fixed noise;
  mini      mini-world's picture of each val caption (seed i; one candidate, no reranking);
  unclip    unCLIP's pictures of the first N/4 val captions, four each (default settings but one
            candidate: no reranking).
Generated pictures are kept in --cache (default runs/fid_world) so a rerun only measures.

A GAN being tried (``--gan FOLDER --tag NAME``) draws the gan rows instead of gan-world, and the
report goes with the experiment reports: experiments/reports/fid_world_<NAME>.{json,md}, the
shipped report untouched.

Well-formed: the judge reads at least one object and each object's fit to its shape (shape_iou)
reaches the level 99% of the objects in the val pictures reach (their 1st percentile).

Writes benchmarks/reports/fid_world.{json,md}; rows measured before and not asked for again are kept.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch
from tried import report_place  # benchmarks/tried.py, beside this script

ROWS = ("floor", "vqgan", "gan", "gan-0.7", "mini", "unclip")
SLOW = ("mini", "unclip")  # measured on --n-slow pictures
WHAT = {
    "floor": "the world's own training pictures",
    "vqgan": "vqgan-world's reconstructions of the val pictures",
    "gan": "gan-world, truncation 1",
    "gan-0.7": "gan-world, truncation 0.7",
    "mini": "mini-world, one candidate per val caption",
    "unclip": "unCLIP (shipped stack), four pictures per val caption, no reranking",
}


def to_uint8(x: torch.Tensor) -> np.ndarray:
    return ((x.clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).numpy()


def pictures(row: str, n: int, val, train_data: str, gan: str = "world") -> tuple[np.ndarray, dict]:
    """N pictures of a row (uint8, N×64×64×3) and what made them (the gan rows: GAN ``gan``)."""
    if row == "floor":
        from promptism.data import load_pairs

        return load_pairs(train_data, "train", size=64, limit=n, progress=False).images, {}
    if row == "vqgan":
        from promptism.vqgan import load

        vq = load("world")
        x = torch.from_numpy(val.images).permute(0, 3, 1, 2).float() / 127.5 - 1
        with torch.no_grad():
            out = np.concatenate([to_uint8(vq.decode(vq.encode(x[i : i + 50]))) for i in range(0, n, 50)])
        return out, {"model": "vqgan-world"}
    if row.startswith("gan"):
        from promptism.gan import sample

        truncation = 0.7 if row == "gan-0.7" else 1.0
        out = []
        for i in range(0, n, 100):
            r = sample(list(range(i, min(n, i + 100))), truncation=truncation, model=gan)
            out += [np.asarray(im) for im in r.images]
        name = "gan-world" if gan == "world" else gan
        return np.stack(out), {"model": name, "truncation": truncation, "noise_mode": "const"}
    if row == "mini":
        from promptism.mini import mini

        out = [np.asarray(mini(c, candidates=1, grid=1, seed=i, rerank=False).images[0]) for i, c in
               enumerate(val.captions[:n])]  # fmt: skip
        return np.stack(out), {"model": "mini-world", "candidates": 1}
    if row == "unclip":
        from promptism.pipelines.unclip import generate, load_models

        models = load_models()
        out = []
        for i, c in enumerate(val.captions[: n // 4]):
            out += [np.asarray(im) for im in generate(c, n=4, seed=i, size=64, models=models, rerank=1).images]
        return np.stack(out), {"model": "unclip (shipped)", "rerank": 1, "per_caption": 4}
    raise SystemExit(f"unknown row {row!r}; rows are {', '.join(ROWS)}")


def fingerprint(row: str, gan: str = "world") -> str:
    """The weights that draw a row's pictures, hashed: cached pictures are reused only while they
    are the same (a model shipped since makes new ones)."""
    import hashlib

    from promptism.checkpoint import resolve, weights_sha256

    if row == "floor":
        return "data"
    if row.startswith("gan"):
        parts = [weights_sha256(resolve(gan, "gan"))]
    elif row == "vqgan":
        parts = [weights_sha256(resolve("world", "vqgan"))]
    elif row == "mini":
        parts = [weights_sha256(resolve("world", "mini")), weights_sha256(resolve("world", "vqgan"))]
    else:
        from promptism.pipelines.unclip import load_models, sha256s

        parts = sorted(sha256s(load_models().describe()).values())
    return hashlib.sha256("".join(p or "" for p in parts).encode()).hexdigest()[:12]


def well_formed(images: np.ndarray, level: float) -> float:
    from promptism.world.judge import read

    good = 0
    for im in images:
        objects = read(im).objects
        good += bool(objects) and all(o.shape_iou >= level for o in objects)
    return good / len(images)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="data/world-64-50k", help="a 64 px Scene World dataset with a val split")
    ap.add_argument("--n", type=int, default=1000, help="pictures a row (default: 1000)")
    ap.add_argument(
        "--n-slow", type=int, default=200, help="pictures a row for the slow generators, mini and unclip (default: 200)"
    )
    ap.add_argument("--rows", nargs="+", default=list(ROWS), choices=ROWS, help="rows to measure (default: all)")
    ap.add_argument("--cache", default="runs/fid_world", help="where generated pictures are kept")
    ap.add_argument("--gan", default="world", help="the GAN of the gan rows: a shipped name or a model folder")
    ap.add_argument(
        "--tag",
        help="a GAN being tried (with --gan FOLDER): the report goes to experiments/reports/fid_world_TAG.*",
    )
    args = ap.parse_args()
    out_dir, stem = report_place("fid_world", args.gan != "world", args.tag, "--gan")
    from promptism.data import load_pairs
    from promptism.eval.fid import Features, frechet, stats
    from promptism.world.judge import read

    sizes = {r: args.n_slow if r in SLOW else args.n for r in ROWS}
    # the shape level and the val share come from the same val pictures whichever rows are asked,
    # so rows measured in another run stay comparable (and are kept)
    most = max(sizes.values())
    val = load_pairs(args.data, "val", size=64, limit=most, progress=False)
    if len(val) < most:
        raise SystemExit(f"{args.data} has {len(val)} val pictures; a row asks for {most}")
    features = Features()
    t0 = time.time()
    val_features = features(val.images)
    feature_seconds = (time.time() - t0) / len(val)
    ious = [o.shape_iou for im in val.images for o in read(im).objects]
    level = float(np.percentile(ious, 1))
    path = out_dir / f"{stem}.json"
    old = json.loads(path.read_text()) if path.exists() else {}
    same = old.get("shape_iou_level") == round(level, 4)
    rows = {r["row"]: r for r in old.get("rows", []) if same and r["row"] not in args.rows}
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    for row in args.rows:
        n, tried = sizes[row], bool(args.tag) and row.startswith("gan")
        file = cache / f"{row}-{fingerprint(row, args.gan)}-{n}.npz"
        if file.exists():
            with np.load(file) as f:
                images, made = f["images"], json.loads(str(f["made"]))
        else:
            t = time.time()
            images, made = pictures(row, n, val, args.data, args.gan)
            made["seconds_per_picture"] = round((time.time() - t) / len(images), 4)
            np.savez(file, images=images, made=np.array(json.dumps(made)))
        fd = frechet(stats(val_features[:n]), stats(features(images)))
        rows[row] = {
            "row": row,
            "what": WHAT[row].replace("gan-world", args.gan) if tried else WHAT[row],
            "pictures": len(images),
            "frechet_distance": round(fd, 2),
            "well_formed": round(well_formed(images, level), 4),
            **made,
        }
        print(json.dumps(rows[row]), flush=True)
    # the floor at every size a row was measured at (a Fréchet distance shrinks as N grows)
    # the floor row is that floor at its own size: it is not measured twice
    floors = {rows["floor"]["pictures"]: rows["floor"]["frechet_distance"]} if "floor" in rows else {}
    for n in sorted({r["pictures"] for r in rows.values()} - set(floors)):
        train = load_pairs(args.data, "train", size=64, limit=n, progress=False).images
        floors[n] = round(frechet(stats(val_features[:n]), stats(features(train))), 2)
    floors = dict(sorted(floors.items()))
    ordered = [rows[r] for r in ROWS if r in rows]
    machine = f"{platform.machine()}, {os.cpu_count()} CPUs"
    report = {
        "benchmark": "fid_world",
        "machine": machine,
        "feature_network": "EfficientNet-Lite0 (ImageNet), 1280 pooled features at 224 px",
        "feature_seconds_per_picture": round(feature_seconds, 4),
        "floors": {str(n): v for n, v in floors.items()},
        "shape_iou_level": round(level, 4),
        "val_well_formed": round(well_formed(val.images, level), 4),
        "rows": ordered,
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=1))
    lines = [
        "# Fréchet distance to the Scene World's val pictures, every generator",
        "",
        f"Measured by `benchmarks/fid_world.py` on {machine}: each row's pictures against as many val pictures "
        "(the first ones), on EfficientNet-Lite0's pooled ImageNet features (promptism.eval.fid; comparable with "
        "each other, not with published Inception FIDs). The floor is the world against itself: as many training "
        "pictures against the same val pictures. A Fréchet distance shrinks as the pictures grow in number, so "
        "each row is compared with the floor at its own size. The VQGAN's row redraws the very val pictures it "
        "is compared with, so it can sit below the floor.",
        "",
        f"Well-formed: the judge reads at least one object and every object fits its shape at least as well as "
        f"99% of the val pictures' objects do (shape IoU ≥ {level:.3f}); {len(val)} val pictures score "
        f"{report['val_well_formed']:.3f}.",
        "",
        "| row | pictures | Fréchet distance | floor at that size | × the floor | well-formed |",
        "|---|---|---|---|---|---|",
    ]
    for r in ordered:
        floor = floors[r["pictures"]]
        lines.append(
            f"| {r['what']} | {r['pictures']} | {r['frechet_distance']:.2f} | {floor:.2f} | "
            f"{r['frechet_distance'] / floor:.1f}× | {r['well_formed']:.3f} |"
        )
    (out_dir / f"{stem}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
