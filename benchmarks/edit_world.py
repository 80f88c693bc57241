"""Editing with the shipped unCLIP models, measured by the Scene World's judge (issue #5).

    .venv/bin/python benchmarks/edit_world.py [--parts inpaint inpaint_repaint vary text_diff] [--trials N]

* inpaint: a picture whose top-left corner is empty (one object placed in the bottom right, a
  random background), the corner masked (28 × 28 of 64 px), prompt "a yellow star"; a trial
  succeeds when the judge finds a yellow star whose centre lies in the mask. Also the mean
  change of the pixels outside the mask (0–255). With the decoder's inpainting channels when it
  has them (GLIDE-style); inpaint_repaint runs the same trials with training-free RePaint.
* vary: a random training-distribution picture (sample_example) and 4 variations; a variation
  agrees when the judge reads the same multiset of (colour, shape) in it as in the original;
  and whether the 4 variations are pairwise different.
* text_diff: a picture of a red circle (random size, place, background) edited with
  "a red circle" -> "a blue circle" at the default amount; success when the judge finds a blue
  circle and no red one.

Every trial has its own seed; the judge only measures, it never picks or filters a picture.
Writes benchmarks/reports/edit_world.{json,md} and a contact sheet per part; with ``--decoder FOLDER
--tag NAME`` (a decoder being tried in place of the shipped one) experiments/reports/edit_world_NAME.*.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tried import report_place  # benchmarks/tried.py, beside this script

from promptism import __version__, world
from promptism.pipelines.edit import inpaint, text_diff, vary
from promptism.pipelines.provenance import grid
from promptism.pipelines.settings import (
    INPAINT_RESAMPLE,
    INPAINT_STEPS,
    TEXT_DIFF_AMOUNT,
    VARY_ETA,
    VARY_RERANK,
)
from promptism.pipelines.unclip import load_models, sha256s
from promptism.world.judge import fingerprint as judge_fingerprint
from promptism.world.sampling import sample_example

SIZE = 64
CORNER = 28  # the masked top-left square, in pixels of the 64 px picture
BACKGROUNDS = ("white", "black", "gray", "sky")
COLORS_BUT_YELLOW = ("red", "orange", "green", "blue", "purple", "pink", "brown")
SHAPES = ("circle", "square", "triangle", "diamond", "star", "cross")


def _render(caption: str, rng: np.random.Generator) -> Image.Image:
    return world.render(world.layout(world.parse(caption), rng), SIZE)


def _sheet(rows: list[list[Image.Image]], path: Path) -> None:
    """Rows of pictures (padded with white to one length) as one picture, scaled 2x."""
    cols = max(len(r) for r in rows)
    blank = Image.new("RGB", (SIZE, SIZE), "white")
    flat = [im.convert("RGB").resize((SIZE, SIZE)) for r in rows for im in r + [blank] * (cols - len(r))]
    sheet = grid(flat, cols)
    sheet.resize((sheet.width * 2, sheet.height * 2), Image.NEAREST).save(path)


def part_inpaint(models, trials: int, out: Path, method: str = "auto") -> dict:
    mask = np.zeros((SIZE, SIZE), bool)
    mask[:CORNER, :CORNER] = True
    hits, outside, seconds, rows, found = 0, [], [], [], Counter()
    for k in range(trials):
        rng = np.random.default_rng([5, k])
        color = COLORS_BUT_YELLOW[int(rng.integers(len(COLORS_BUT_YELLOW)))]
        shape = SHAPES[int(rng.integers(len(SHAPES)))]
        bg = BACKGROUNDS[int(rng.integers(len(BACKGROUNDS)))]
        picture = _render(f"a {color} {shape} in the bottom right corner on a {bg} background", rng)
        t0 = time.perf_counter()
        result = inpaint(picture, mask, "a yellow star", n=1, seed=k, models=models, method=method)
        drawn, used = result.images[0], result.metadata[0]["method"]
        seconds.append(time.perf_counter() - t0)
        diff = np.abs(np.asarray(drawn, np.float64) - np.asarray(picture, np.float64))
        outside.append(float(diff[~mask].mean()))
        objects = world.read(drawn).objects
        ok = any(
            o.shape == "star" and o.color == "yellow" and o.x < CORNER / SIZE and o.y < CORNER / SIZE for o in objects
        )
        hits += ok
        inside = [o for o in objects if o.x < CORNER / SIZE and o.y < CORNER / SIZE]
        found[" + ".join(sorted(f"{o.color} {o.shape}" for o in inside)) or "nothing"] += 1
        if k < 8:
            rows.append([picture, drawn])
    sheet = f"{out.name}_inpaint.png" if method == "auto" else f"{out.name}_inpaint_{method}.png"
    _sheet([[a for r in rows for a in r[:1]], [b for r in rows for b in r[1:]]], out.parent / sheet)
    return {
        "trials": trials,
        "method": used,
        "success": hits / trials,
        "outside_mask_mean_abs_change": float(np.mean(outside)),
        "outside_mask_max_abs_change": float(np.max([0.0] + outside)),
        "seconds_per_trial": float(np.median(seconds)),
        "found_in_corner_top": found.most_common(8),
        "steps": INPAINT_STEPS,
        "resample": INPAINT_RESAMPLE,
    }


def _objects(im) -> Counter:
    return Counter((o.color, o.shape) for o in world.read(im).objects)


def part_vary(models, trials: int, out: Path, rerank: int | None = None) -> dict:
    rerank = rerank or VARY_RERANK  # vary's own default unless a count is being tried
    agree, colours, shapes, distinct, seconds, rows = 0, 0, 0, 0, [], []
    for k in range(trials):
        rng = np.random.default_rng([6, k])
        ex = sample_example(rng)
        picture = world.render(ex.scene, SIZE)
        want = _objects(picture)
        t0 = time.perf_counter()
        res = vary(picture, n=4, seed=4 * k, models=models, rerank=rerank)
        seconds.append(time.perf_counter() - t0)
        for im in res.images:
            got = _objects(im)
            agree += got == want
            colours += Counter(c for c, _ in got.elements()) == Counter(c for c, _ in want.elements())
            shapes += Counter(s for _, s in got.elements()) == Counter(s for _, s in want.elements())
        px = [np.asarray(im) for im in res.images]
        distinct += all(not np.array_equal(px[i], px[j]) for i in range(4) for j in range(i))
        if k < 6:
            rows.append([picture, *res.images])
    _sheet(rows, out.parent / f"{out.name}_vary.png")
    n = 4 * trials
    return {
        "trials": trials,
        "variations": n,
        "agreement": agree / n,
        "colour_agreement": colours / n,
        "shape_agreement": shapes / n,
        "all_four_distinct": distinct / trials,
        "seconds_per_trial": float(np.median(seconds)),
        "eta": VARY_ETA,
        "rerank": rerank,
    }


def part_text_diff(models, trials: int, out: Path) -> dict:
    hits, still_red, seconds, rows = 0, 0, [], []
    for k in range(trials):
        rng = np.random.default_rng([7, k])
        bg = BACKGROUNDS[int(rng.integers(len(BACKGROUNDS)))]
        picture = _render(f"a red circle on a {bg} background", rng)
        t0 = time.perf_counter()
        drawn = text_diff(picture, "a red circle", "a blue circle", frames=1, seed=k, models=models).images[0]
        seconds.append(time.perf_counter() - t0)
        got = _objects(drawn)
        hits += got[("blue", "circle")] >= 1 and got[("red", "circle")] == 0
        still_red += got[("red", "circle")] >= 1
        if k < 8:
            rows.append([picture, drawn])
    _sheet([[r[0] for r in rows], [r[1] for r in rows]], out.parent / f"{out.name}_text_diff.png")
    return {
        "trials": trials,
        "success": hits / trials,
        "still_red": still_red / trials,
        "seconds_per_trial": float(np.median(seconds)),
        "amount": TEXT_DIFF_AMOUNT,
    }


BARS = {
    "inpaint": ("success", 0.80),
    "inpaint_repaint": ("success", 0.80),
    "vary": ("agreement", 0.70),
    "text_diff": ("success", 0.80),
}
METHOD_NAMES = {"decoder": "the decoder's inpainting channels", "repaint": "RePaint"}


def markdown(r: dict) -> str:
    lines = [
        "# Editing with unCLIP on the Scene World",
        "",
        f"Measured by `benchmarks/edit_world.py` on {r['machine']}, torch {r['torch']}, "
        + ", ".join(f"{k} {r[k].get('threads', 1)}" for k in BARS if k in r)
        + " thread(s); "
        f"promptism {r['promptism']}, decoder {r['models']['decoder']['name']} "
        f"(sha256 {r['models']['decoder']['sha256'][:12]}…). The judge only measures: no picture is picked or "
        "filtered. Contact sheets: `edit_world_*.png` (top row or first column: the input).",
        "",
        "| test | trials | measured | bar | met |",
        "|---|---|---|---|---|",
    ]
    older = [k for k in BARS if k in r and r[k].get("models_sha256") != sha256s(r["models"])]
    # every part is scored by the judge: one scored before the judge last changed (or before
    # reports recorded which judge scored them) is not comparable with a part scored now
    rejudged = [k for k in BARS if k in r and r[k].get("judge_sha256") != r.get("judge_sha256")]
    if older:  # a run of some parts keeps the others' last results, measured on other models
        lines[4:4] = [
            f"Parts marked * were measured with earlier models than those named above: {', '.join(older)}.",
            "",
        ]
    if rejudged:
        lines[4:4] = [f"Parts marked † were scored by an earlier version of the judge: {', '.join(rejudged)}.", ""]
    mark = {k: (" *" if k in older else "") + (" †" if k in rejudged else "") for k in BARS}
    for part in ("inpaint", "inpaint_repaint"):
        if part not in r:
            continue
        p = r[part]
        how = METHOD_NAMES.get(p.get("method", "repaint"), p.get("method")) + mark[part]
        lines.append(
            f'| inpaint "a yellow star" into an empty masked corner ({how}): a yellow star found there '
            f"| {p['trials']} | {p['success']:.2f} | ≥ 0.80 | {'yes' if p['success'] >= 0.8 else 'no'} |"
        )
        lines.append(
            f"| inpaint ({how}): mean change of the pixels outside the mask (0–255) | {p['trials']} "
            f"| {p['outside_mask_mean_abs_change']:.3f} | < 2 | "
            f"{'yes' if p['outside_mask_mean_abs_change'] < 2 else 'no'} |"
        )
    if "vary" in r:
        p = r["vary"]
        lines.append(
            f"| variations keep the objects' colours and shapes (judge agreement){mark['vary']} | {p['variations']} "
            f"| {p['agreement']:.2f} | ≥ 0.70 | {'yes' if p['agreement'] >= 0.7 else 'no'} |"
        )
        lines.append(
            f"| no two of four variations identical | {p['trials']} | {p['all_four_distinct']:.2f} | 1.00 "
            f"| {'yes' if p['all_four_distinct'] == 1 else 'no'} |"
        )
    if "text_diff" in r:
        p = r["text_diff"]
        lines.append(
            f'| text-diff "red circle" -> "blue circle" turns it blue{mark["text_diff"]} | {p["trials"]} | {p["success"]:.2f} '
            f"| ≥ 0.80 | {'yes' if p['success'] >= 0.8 else 'no'} |"
        )
    lines.append("")
    shared: dict[str, list[str]] = {}
    for k in BARS:
        if k in r and r[k].get("conditions") and r[k]["conditions"] != "nothing else running":
            shared.setdefault(r[k]["conditions"], []).append(k)
    for what, names in shared.items():
        lines += [f"The times of {', '.join(names)} were measured while other work ran: {what}.", ""]
    for part in ("inpaint", "inpaint_repaint"):
        if part not in r:
            continue
        p = r[part]
        how = (
            f"the decoder's inpainting channels, {p['steps']} steps, then RePaint at the upsampler"
            if p.get("method") == "decoder"
            else f"RePaint, {p['steps']} steps × {p['resample']} rounds"
        )
        lines += [
            f"Inpainting ({how}), on a square around the mask: "
            f"{p['seconds_per_trial']:.1f} s per picture. What the judge found in the corner (most common): "
            + ", ".join(f"{k} ({v})" for k, v in p["found_in_corner_top"])
            + ".",
            "",
        ]
    if "vary" in r:
        p = r["vary"]
        k = p.get("rerank", 1)
        lines += [
            f"Variations (DDIM inversion, η = {p['eta']}"
            + (
                f"; each the best of {k} candidates by CLIP's cosine with the source "
                "([`rerank_world.md`](rerank_world.md) compares 1 to 3 on 100 pictures)"
                if k > 1
                else "; one candidate each"
            )
            + f"): colours alone agree {p['colour_agreement']:.2f}, shapes alone {p['shape_agreement']:.2f}; "
            f"{p['seconds_per_trial']:.1f} s for four.",
            "",
        ]
    if "text_diff" in r:
        p = r["text_diff"]
        lines += [
            f"Text-diff at amount θ = {p['amount']}: still a red circle in {p['still_red']:.2f}; "
            f"{p['seconds_per_trial']:.1f} s per edit.",
            "",
        ]
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--parts", nargs="+", default=list(BARS), choices=list(BARS), help="which parts to run")
    ap.add_argument(
        "--trials",
        type=int,
        default=None,
        help="trials per part (default: inpaint 100, inpaint_repaint 100, vary 25 pictures x 4, text_diff 50)",
    )
    ap.add_argument("--threads", type=int, default=int(os.environ.get("PROMPTISM_THREADS", "2")), help="torch threads")
    ap.add_argument(
        "--conditions",
        default="",
        help="what else ran on the machine, written beside these parts' times (e.g. 'a training run "
        "shared the 2 cores')",
    )
    ap.add_argument(
        "--decoder",
        default=None,
        metavar="FOLDER",
        help="a decoder being tried (with --tag), in place of the shipped one: the report goes to "
        "experiments/reports/edit_world_TAG.*",
    )
    ap.add_argument("--tag", help="with --decoder: the name of its report")
    ap.add_argument(
        "--vary-rerank",
        type=int,
        default=None,
        metavar="K",
        help="variations the best of K candidates, in place of vary's default (a setting being tried)",
    )
    args = ap.parse_args()
    out_dir, stem = report_place("edit_world", args.decoder is not None, args.tag, "--decoder")
    torch.set_num_threads(args.threads)
    path = out_dir / f"{stem}.json"
    report = json.loads(path.read_text()) if path.exists() else {}
    models = load_models(decoder=args.decoder or "world")
    report.update(
        {
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
            "torch": torch.__version__,
            "promptism": __version__,
            "threads": args.threads,
            "models": models.describe(),
            "judge_sha256": judge_fingerprint(),
        }
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    defaults = {"inpaint": 100, "inpaint_repaint": 100, "vary": 25, "text_diff": 50}
    parts = {
        "inpaint": part_inpaint,
        "inpaint_repaint": lambda m, k, out: part_inpaint(m, k, out, "repaint"),
        "vary": lambda m, k, out: part_vary(m, k, out, args.vary_rerank),
        "text_diff": part_text_diff,
    }
    for name in args.parts:
        report[name] = {
            **parts[name](models, args.trials or defaults[name], out_dir / stem),
            "models_sha256": sha256s(report["models"]),
            "judge_sha256": report["judge_sha256"],
            "conditions": args.conditions,
            "threads": args.threads,
            "load_average_1min": round(os.getloadavg()[0], 2),
        }
        print(name, json.dumps(report[name]), flush=True)
    report["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    path.write_text(json.dumps(report, indent=1))
    (out_dir / f"{stem}.md").write_text(markdown(report))
    print(markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
