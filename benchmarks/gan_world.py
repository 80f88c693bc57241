"""The GAN's own measurements on the Scene World (the Fréchet distance is benchmarks/fid_world.py):

    .venv/bin/python benchmarks/gan_world.py [--model world] [--parts mixing projection towards knobs]

  mixing      style mixing: for 8 row seeds × 8 column seeds and each split of the style rows,
              whether the mixed picture's layout (its grey-level structure at 8×8, mean removed)
              is nearer the picture whose coarse styles it took or the other's, and its colours
              (mean RGB of the picture) likewise; the split where coarse styles carry the layout
              and fine ones the colours is read off the table;
  projection  50 val pictures (the first of --data's val split) projected into W (300 steps, the
              defaults of `gan project`): PSNR, and the share whose objects the judge reads the
              same (shape, colour, size word and third of the picture) as in the val picture;
  towards     50 seeds edited towards "blue" (`gan edit --towards blue`, its defaults): of the
              pictures where the judge read no blue object before, the share where it reads one
              after; the share whose number of objects the judge reads the same;
  knobs       the names `gan knobs` gives the first 10 directions, with a contact sheet
              (benchmarks/reports/gan_world_knobs.png).

A GAN being tried (``--model FOLDER --tag NAME``) writes experiments/reports/gan_world_<NAME>.*
instead, the shipped report untouched.

The judge only measures here: it never picks or filters the pictures.
Writes benchmarks/reports/gan_world.{json,md}; parts not asked for keep their last results.
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
from PIL import Image
from tried import report_place  # benchmarks/tried.py, beside this script

PARTS = ("mixing", "projection", "towards", "knobs")


def objects(reading) -> list[tuple]:
    """Each object's shape, colour, size word and third of the picture it sits in."""
    return sorted((o.shape, o.color, o.size, min(2, int(o.x * 3)), min(2, int(o.y * 3))) for o in reading.objects)


def layout(x: torch.Tensor) -> torch.Tensor:
    """(B, 3, S, S) -> grey-level structure at 8×8 with each picture's mean removed, unit length."""
    g = torch.nn.functional.adaptive_avg_pool2d(x.mean(1, keepdim=True), 8).flatten(1)
    g = g - g.mean(1, keepdim=True)
    return g / g.norm(dim=1, keepdim=True).clamp_min(1e-6)


@torch.no_grad()
def mixing(model: str) -> dict:
    from promptism.gan import loaded
    from promptism.gan.model import mix
    from promptism.gan.pipeline import seeds_z

    gen = loaded(model).generator
    cfg = gen.config
    rows_w = gen.ws(seeds_z(list(range(100, 108)), cfg.z_dim), 0.7)
    cols_w = gen.ws(seeds_z(list(range(200, 208)), cfg.z_dim), 0.7)
    draw = lambda w: gen.synthesis(w, "const").clamp(-1, 1)  # noqa: E731
    rows_x, cols_x = draw(rows_w), draw(cols_w)
    out = []
    for split in range(1, cfg.num_ws):
        layout_from_cols = colour_from_rows = 0
        total = 0
        for i in range(len(rows_w)):
            mixed = draw(mix(rows_w[i : i + 1].expand(len(cols_w), -1, -1), cols_w, range(split)))
            lm, lr, lc = layout(mixed), layout(rows_x[i : i + 1]), layout(cols_x)
            layout_from_cols += int(((lm * lc).sum(1) > (lm * lr).sum(1)).sum())
            cm, cr, cc = mixed.mean((2, 3)), rows_x[i : i + 1].mean((2, 3)), cols_x.mean((2, 3))
            colour_from_rows += int(((cm - cr).norm(dim=1) < (cm - cc).norm(dim=1)).sum())
            total += len(cols_w)
        out.append(
            {
                "coarse_rows": f"0-{split - 1}",
                "layout_from_coarse": round(layout_from_cols / total, 3),
                "colour_from_fine": round(colour_from_rows / total, 3),
            }
        )
    return {"pairs": 64, "splits": out}


def projection(model: str, data: str, n: int = 50) -> dict:
    from promptism.data import load_pairs
    from promptism.gan.project import project
    from promptism.world.judge import read

    val = load_pairs(data, "val", size=64, limit=n, progress=False)
    t0 = time.time()
    got = []
    for i in range(0, n, 10):
        got += project([Image.fromarray(im) for im in val.images[i : i + 10]], model=model).images
    seconds = (time.time() - t0) / n
    out = np.stack([np.asarray(im) for im in got])
    side = out.shape[1]  # the targets as the projection saw them: squared to the model's side
    targets = np.stack([np.asarray(Image.fromarray(im).resize((side, side), Image.BICUBIC)) for im in val.images])
    mse = ((out.astype(np.float64) - targets) ** 2).mean(axis=(1, 2, 3))
    same = [objects(read(a)) == objects(read(b)) for a, b in zip(targets, out)]
    return {
        "pictures": n,
        "psnr_db": round(float(np.mean(10 * np.log10(255.0**2 / np.maximum(mse, 1e-10)))), 2),
        "objects_read_the_same": round(float(np.mean(same)), 3),
        "seconds_per_picture": round(seconds, 2),
    }


def towards(model: str, n: int = 50, text: str = "blue") -> dict:
    from promptism.gan import loaded
    from promptism.gan.knobs import steer_towards
    from promptism.gan.pipeline import seeds_z
    from promptism.pipelines.common import to_images
    from promptism.world.judge import read

    gen = loaded(model).generator
    cfg = gen.config
    had_none = now_has = same_count = 0
    t0 = time.time()
    for s in range(n):
        with torch.no_grad():
            w0 = gen.ws(seeds_z([s], cfg.z_dim), 0.7)
        w1 = steer_towards(gen, w0, torch.ones(1, cfg.num_ws, 1), text, 100, 0.02, 0.5, 8, "world", False)
        with torch.no_grad():
            before, after = to_images(gen.synthesis(torch.cat([w0, w1]), "const"))
        rb, ra = read(before), read(after)
        if not any(o.color == "blue" for o in rb.objects):
            had_none += 1
            now_has += any(o.color == "blue" for o in ra.objects)
        same_count += len(rb.objects) == len(ra.objects)
    return {
        "text": text,
        "seeds": n,
        "had_no_blue": had_none,
        "blue_after": round(now_has / max(1, had_none), 3),
        "same_number_of_objects": round(same_count / n, 3),
        "seconds_per_edit": round((time.time() - t0) / n, 2),
    }


def knobs(model: str, sheet_path: Path) -> dict:
    from promptism.gan.knobs import knobs as find

    found, sheet, _ = find(10, model=model)
    sheet_path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(sheet_path)
    return {"names": found.names, "spreads": [round(float(s), 4) for s in found.spreads]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="world", help="a shipped GAN name or a model folder (default: world)")
    ap.add_argument("--data", default="data/world-64-50k", help="a 64 px Scene World dataset (projection's pictures)")
    ap.add_argument("--parts", nargs="+", default=list(PARTS), choices=PARTS)
    ap.add_argument(
        "--tag",
        help="a GAN being tried (with --model FOLDER): the report goes to experiments/reports/gan_world_TAG.*",
    )
    args = ap.parse_args()
    out_dir, stem = report_place("gan_world", args.model != "world", args.tag, "--model")
    path = out_dir / f"{stem}.json"
    report = json.loads(path.read_text()) if path.exists() else {}
    if report.get("model") != args.model:
        report = {}
    for part in args.parts:
        if part == "mixing":
            report[part] = mixing(args.model)
        elif part == "projection":
            report[part] = projection(args.model, args.data)
        elif part == "towards":
            report[part] = towards(args.model)
        else:
            report[part] = knobs(args.model, out_dir / f"{stem}_knobs.png")
        print(part, json.dumps(report[part]), flush=True)
    machine = f"{platform.machine()}, {os.cpu_count()} CPUs"
    report.update(benchmark="gan_world", model=args.model, machine=machine)
    out_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=1))
    lines = [f"# The GAN ({args.model}) on the Scene World", "", f"Measured by `benchmarks/gan_world.py` on {machine}."]
    if "mixing" in report:
        lines += [
            "",
            "## Style mixing",
            "",
            "64 mixed pictures a split (8 row seeds × 8 column seeds, truncation 0.7): the coarse style rows come "
            "from the column picture, the rest from the row picture. Shares of mixed pictures whose layout "
            "(grey-level structure at 8×8) is nearer the coarse styles' picture, and whose colours (mean RGB) "
            "are nearer the fine styles' picture:",
            "",
            "| coarse rows | layout from the coarse styles | colours from the fine styles |",
            "|---|---|---|",
        ]
        lines += [
            f"| {s['coarse_rows']} | {s['layout_from_coarse']:.3f} | {s['colour_from_fine']:.3f} |"
            for s in report["mixing"]["splits"]
        ]
    if "projection" in report:
        p = report["projection"]
        lines += [
            "",
            "## Projection",
            "",
            f"{p['pictures']} val pictures projected into W (`gan project`'s defaults): PSNR {p['psnr_db']} dB; the "
            f"judge reads the same objects in {p['objects_read_the_same']:.3f} of them; "
            f"{p['seconds_per_picture']} s a picture (searched ten at a time).",
        ]
    if "towards" in report:
        t = report["towards"]
        lines += [
            "",
            f'## Towards "{t["text"]}"',
            "",
            f"{t['seeds']} seeds edited with `gan edit --towards {t['text']}`: of the {t['had_no_blue']} pictures "
            f"where the judge read no blue object, it reads one after in {t['blue_after']:.3f}; the number of "
            f"objects it reads stays the same in {t['same_number_of_objects']:.3f} of all {t['seeds']}; "
            f"{t['seconds_per_edit']} s an edit.",
        ]
    if "knobs" in report:
        lines += [
            "",
            "## Knobs",
            "",
            "The first 10 principal directions of W as `gan knobs` names them (the world words whose CLIP scores "
            "move most from −2 to +2 spreads); each row of the contact sheet moves seed 0's picture "
            "−2, −1, 0, +1, +2 spreads along one:",
            "",
            f"![knobs]({stem}_knobs.png)",
            "",
            "| knob | name | spread |",
            "|---|---|---|",
        ]
        lines += [
            f"| {i} | {n} | {s} |" for i, (n, s) in enumerate(zip(report["knobs"]["names"], report["knobs"]["spreads"]))
        ]
    (out_dir / f"{stem}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
