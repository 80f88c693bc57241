"""Promptism's invisible watermark: found after JPEG, resizing and cropping, and not found in
pictures Promptism did not make.

    .venv/bin/python benchmarks/watermark.py        # writes benchmarks/reports/watermark.{json,md}
    .venv/bin/python benchmarks/watermark.py --false-positives   # watermark_false_positives.{json,md}

- marked: 200 pictures of the shipped unCLIP (captions of the Scene World's val split), written
  by the real path (``save_png``: watermark, provenance, C2PA), cached under runs/watermark/ (the
  first 20 are drawn again, unmarked, for the PSNR);
- attacks on each: JPEG quality 75; resized to half and back (bicubic); a 10% crop (a tenth of
  each side cut away, split at random between its two ends, kept at its new size); and, beyond
  the issue's list, the crop resized back to 64 px, JPEG quality 50, and JPEG 75 after the crop;
- unmarked: 100 Scene World renders (val split, another seed), 50 noise pictures (25 uniform,
  25 smoothed) and 50 crops of the photographs scikit-image ships (skimage.data), read as they
  are and after JPEG 75;
- the mark's cost: PSNR of a marked picture against the picture before marking, and the time to
  mark, to read and to sign a C2PA manifest.

``--false-positives`` reads only pictures Promptism did not make, many more of them (no model is
run): Scene World training pictures, noise of several kinds and random crops of skimage's
photographs at 64, 128 and 256 px, each as it is and after JPEG 75. It reports how often the mark
is found in them with a 95% upper bound (Clopper-Pearson), and the scores' upper quantiles, which
say how near the threshold an unmarked picture comes.
"""

from __future__ import annotations

import argparse
import io
import json
import time
from pathlib import Path

import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent
REPORTS = HERE / "reports"
RUNS = HERE.parent / "runs" / "watermark"
N = 200
PSNR_PICTURES = 20  # the first pictures, drawn again unmarked to measure what the mark costs
OLD_THRESHOLD = 5.0  # the reader before took the peak over every shift alone, at this bar
BARS = {"jpeg75": 0.95, "half_and_back": 0.95, "crop10": 0.95, "unmarked": 0.01}


def jpeg(im: Image.Image, quality: int) -> Image.Image:
    buf = io.BytesIO()
    im.convert("RGB").save(buf, "JPEG", quality=quality)
    buf.seek(0)
    return Image.open(buf).convert("RGB")


def half_and_back(im: Image.Image) -> Image.Image:
    return im.resize((im.width // 2, im.height // 2), Image.BICUBIC).resize(im.size, Image.BICUBIC)


def crop10(im: Image.Image, rng: np.random.Generator, back: bool = False) -> Image.Image:
    w, h = im.size
    cw, ch = round(w * 0.9), round(h * 0.9)
    x, y = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
    out = im.crop((x, y, x + cw, y + ch))
    return out.resize(im.size, Image.BICUBIC) if back else out


def marked_pictures() -> tuple[list[Image.Image], list[float]]:
    """The 200 written pictures (cached: a picture already written is read back) and the PSNR of
    each picture drawn in this run against its unmarked self."""
    from promptism.pipelines.provenance import save_png
    from promptism.pipelines.unclip import generate
    from promptism.world.sampling import example_rng, sample_example

    RUNS.mkdir(parents=True, exist_ok=True)
    pictures, psnr = [], []
    for start in range(0, N, 4):
        paths = [RUNS / f"{start + k}.png" for k in range(4)]
        drawn = None
        if not all(p.exists() for p in paths) or start < PSNR_PICTURES:
            caption = sample_example(example_rng(0, "val", start // 4)).caption
            drawn = generate(caption, n=4, seed=start)
        for k, path in enumerate(paths):
            if drawn is not None and not path.exists():
                save_png(drawn.images[k], path, drawn.metadata[k])
            with Image.open(path) as f:
                written = f.convert("RGB")
            if drawn is not None:  # the same seed draws the same picture: compare it unmarked
                a, b = np.asarray(drawn.images[k].convert("RGB"), float), np.asarray(written, float)
                psnr.append(float(10 * np.log10(255**2 / max(((a - b) ** 2).mean(), 1e-12))))
            pictures.append(written)
    return pictures, psnr


# skimage.data's photographs, crops of which stand for pictures Promptism did not make
PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field", "retina", "camera", "moon", "coins",
          "grass", "gravel", "brick", "horse", "page", "text", "cell", "clock", "immunohistochemistry")  # fmt: skip
MORE_PHOTOS = ("cat", "logo", "colorwheel", "microaneurysms", "shepp_logan_phantom")  # the sweep's too
READS = (("as is", lambda im: im), ("jpeg75", lambda im: jpeg(im, 75)))  # how an unmarked picture is read


def smooth_noise(rng: np.random.Generator, side: int, sigma: float) -> Image.Image:
    """Gaussian noise blurred by ``sigma`` px, stretched to the full grey range."""
    from scipy.ndimage import gaussian_filter

    arr = gaussian_filter(rng.standard_normal((side, side, 3)), (sigma, sigma, 0))
    return Image.fromarray(((arr - arr.min()) / (np.ptp(arr) + 1e-9) * 255).astype(np.uint8))


def square_crop(im: Image.Image, rng: np.random.Generator, least: float, most: float) -> Image.Image:
    """A square of ``least`` to ``most`` of the picture's shorter side, at a random place."""
    side = int(min(im.size) * rng.uniform(least, most))
    x, y = int(rng.integers(0, im.width - side + 1)), int(rng.integers(0, im.height - side + 1))
    return im.crop((x, y, x + side, y + side))


def unmarked_pictures() -> dict[str, list[Image.Image]]:
    import skimage.data

    from promptism.world.render import render
    from promptism.world.sampling import example_rng, sample_example

    rng = np.random.default_rng(7)
    renders = [render(sample_example(example_rng(11, "val", i)).scene, 64) for i in range(100)]
    noise = [Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)) for _ in range(25)]
    noise += [smooth_noise(rng, 64, 2.0) for _ in range(25)]
    photos = []
    for i in range(50):
        im = Image.fromarray(getattr(skimage.data, PHOTOS[i % len(PHOTOS)])()).convert("RGB")
        photos.append(square_crop(im, rng, 0.3, 0.9).resize((64, 64), Image.LANCZOS))
    return {"scene_world_renders": renders, "noise": noise, "photographs": photos}


def many_unmarked(n: int, data: str, seed: int = 11) -> dict[str, list[Image.Image]]:
    """About ``n`` pictures Promptism did not make, of three kinds (none of them the ones above):
    the second ``n // 3`` training pictures of ``data`` and noise and crops drawn from ``seed``.
    The reader's two thresholds were chosen on the first ``n // 3`` and seed 3, so these measure
    them afresh."""
    import skimage.data

    from promptism.data import load_pairs

    rng = np.random.default_rng(seed)
    k = n // 3
    world = [Image.fromarray(a) for a in load_pairs(data, "train", size=64, limit=2 * k, progress=False).images[k:]]
    noise = []
    for i in range(k):
        side = (64, 128, 256)[i % 3]
        if i % 2:
            noise.append(smooth_noise(rng, side, rng.uniform(0.5, 6)))
        else:
            noise.append(Image.fromarray(rng.integers(0, 256, (side, side, 3)).astype(np.uint8)))
    sources = [Image.fromarray(getattr(skimage.data, name)()).convert("RGB") for name in PHOTOS + MORE_PHOTOS]
    photos = []
    for i in range(n - 2 * k):
        crop = square_crop(sources[i % len(sources)], rng, 0.2, 1.0)
        out = (64, 128, 256)[int(rng.integers(3))]
        photos.append(crop.resize((out, out), Image.LANCZOS))
    return {"scene_world_pictures": world, "noise": noise, "photograph_crops": photos}


def false_positives(n: int, data: str) -> None:
    """The false-positive sweep (``--false-positives``): its own report."""
    from scipy.stats import beta

    from promptism.responsible import watermark

    t0 = time.time()
    kinds = many_unmarked(n, data)
    rows, reads = [], []
    for kind, pics in kinds.items():
        for variant, fn in READS:
            d = [watermark.detect(fn(im)) for im in pics]
            reads += d
            peak = np.array([r.score for r in d])
            rows.append((f"{kind} ({variant})", len(d), sum(r.found for r in d), int((peak >= OLD_THRESHOLD).sum())))
    peaks, aligned = np.array([r.score for r in reads]), np.array([r.aligned for r in reads])
    hits, old_hits = sum(r.found for r in reads), int((peaks >= OLD_THRESHOLD).sum())

    def upper(k: int) -> float:  # Clopper-Pearson, 95%
        return float(beta.ppf(0.975, k + 1, len(reads) - k))

    def quantiles(v: np.ndarray) -> dict:
        return {str(p): round(float(np.quantile(v, p)), 2) for p in (0.5, 0.99, 0.999, 1.0)}

    result = {
        "reads": len(reads),
        "pictures": sum(len(p) for p in kinds.values()),
        "found": hits,
        "rate": hits / len(reads),
        "rate_upper_95": upper(hits),
        "found_by_the_peak_alone_at_5": old_hits,
        "rate_upper_95_by_the_peak_alone_at_5": upper(old_hits),
        "peak_quantiles": quantiles(peaks),
        "aligned_quantiles": quantiles(aligned),
        "threshold": watermark.THRESHOLD,
        "aligned_threshold": watermark.ALIGNED_THRESHOLD,
        "by_kind": [{"kind": k, "reads": r, "found": f, "found_by_the_peak_alone_at_5": o} for k, r, f, o in rows],
        "seconds": round(time.time() - t0, 1),
    }
    REPORTS.mkdir(exist_ok=True)
    (REPORTS / "watermark_false_positives.json").write_text(json.dumps(result, indent=1))
    pq, aq = result["peak_quantiles"], result["aligned_quantiles"]
    md = [
        "# The invisible watermark: false positives",
        "",
        f"Written by `benchmarks/watermark.py --false-positives`: {result['pictures']} pictures Promptism did not "
        f"make, each read as it is and after JPEG 75 ({len(reads)} reads). The reader finds the mark when the "
        f"correlation at no shift reaches {watermark.ALIGNED_THRESHOLD} or the peak over every shift and scale "
        f"{watermark.THRESHOLD}; beside it, the reader before, which took the peak alone at {OLD_THRESHOLD}.",
        "",
        f"| pictures | reads | mark found | found by the peak alone at {OLD_THRESHOLD} |",
        "|---|---|---|---|",
        *[f"| {k} | {r} | {f} | {o} |" for k, r, f, o in rows],
        f"| **all** | {len(reads)} | {hits} | {old_hits} |",
        "",
        f"False-positive rate {hits}/{len(reads)} = {hits / len(reads):.5f}, at 95% confidence at most "
        f"{upper(hits):.5f} (Clopper-Pearson); by the peak alone at {OLD_THRESHOLD}: {old_hits / len(reads):.5f}, "
        f"at most {upper(old_hits):.5f}.",
        "",
        f"Unmarked reads' peaks: median {pq['0.5']}, 99th percentile {pq['0.99']}, 99.9th {pq['0.999']}, "
        f"highest {pq['1.0']}; their correlation at no shift: median {aq['0.5']}, 99.9th percentile "
        f"{aq['0.999']}, highest {aq['1.0']}.",
        "",
    ]
    (REPORTS / "watermark_false_positives.md").write_text("\n".join(md))
    print("\n".join(md))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--false-positives",
        type=int,
        nargs="?",
        const=9000,
        metavar="N",
        help="read about N unmarked pictures only (default 9000) into watermark_false_positives.{json,md}",
    )
    ap.add_argument("--data", default="data/world-64-50k", help="the Scene World dataset of --false-positives")
    args = ap.parse_args()
    if args.false_positives:
        return false_positives(args.false_positives, args.data)
    marked_and_unmarked()


def marked_and_unmarked() -> None:
    from promptism.responsible import credentials, watermark

    t0 = time.time()
    marked, psnr = marked_pictures()
    generate_s = time.time() - t0
    rng = np.random.default_rng(0)
    attacks = {
        "none": lambda im: im,
        "jpeg75": lambda im: jpeg(im, 75),
        "half_and_back": half_and_back,
        "crop10": lambda im: crop10(im, rng),
        "crop10_resized_back": lambda im: crop10(im, rng, back=True),
        "jpeg50": lambda im: jpeg(im, 50),
        "crop10_then_jpeg75": lambda im: jpeg(crop10(im, rng), 75),
    }
    found, scores, aligned = {}, {}, {}
    for name, attack in attacks.items():
        d = [watermark.detect(attack(im)) for im in marked]
        scores[name] = [r.score for r in d]
        aligned[name] = [r.aligned for r in d]
        found[name] = float(np.mean([r.found for r in d]))
    others = unmarked_pictures()
    false = {}
    worst = 0.0
    for kind, pics in others.items():
        for variant, fn in READS:
            d = [watermark.detect(fn(im)) for im in pics]
            worst = max(worst, max(r.score for r in d))
            false[f"{kind} ({variant})"] = float(np.mean([r.found for r in d]))
    all_unmarked = [im for pics in others.values() for im in pics]
    unmarked_rate = float(np.mean([watermark.detect(im).found for im in all_unmarked]))
    # costs
    probe, plain = marked[0], others["scene_world_renders"][0]
    t = time.perf_counter()
    for _ in range(50):
        watermark.embed(plain)  # reads first (an already marked picture is left as it is), then marks
    embed_ms = (time.perf_counter() - t) / 50 * 1000
    t = time.perf_counter()
    for _ in range(50):
        watermark.detect(probe)
    detect_ms = (time.perf_counter() - t) / 50 * 1000
    buf = io.BytesIO()
    probe.save(buf, "PNG")
    t = time.perf_counter()
    for _ in range(10):
        credentials.sign_png(buf.getvalue(), {"prompt": "x"}, "probe.png")
    sign_ms = (time.perf_counter() - t) / 10 * 1000
    result = {
        "marked_pictures": len(marked),
        "found": found,
        "score_quantiles": {k: [round(float(q), 2) for q in np.quantile(v, [0, 0.05, 0.5])] for k, v in scores.items()},
        "aligned_quantiles": {
            k: [round(float(q), 2) for q in np.quantile(v, [0, 0.05, 0.5])] for k, v in aligned.items()
        },
        "unmarked_pictures": len(all_unmarked),
        "found_in_unmarked": unmarked_rate,
        "found_in_unmarked_by_kind": false,
        "highest_unmarked_score": round(worst, 2),
        "threshold": watermark.THRESHOLD,
        "aligned_threshold": watermark.ALIGNED_THRESHOLD,
        "strength_grey_levels": watermark.STRENGTH,
        "psnr_db": {
            "mean": round(float(np.mean(psnr)), 2),
            "min": round(float(np.min(psnr)), 2),
            "pictures": len(psnr),
        },
        "embed_ms": round(embed_ms, 2),
        "detect_ms": round(detect_ms, 2),
        "c2pa_sign_ms": round(sign_ms, 1),
        "generate_and_write_seconds": round(generate_s, 1),
        "bars": BARS,
    }
    result["meets_bars"] = (
        all(found[k] >= BARS[k] for k in ("jpeg75", "half_and_back", "crop10")) and unmarked_rate <= BARS["unmarked"]
    )
    REPORTS.mkdir(exist_ok=True)
    (REPORTS / "watermark.json").write_text(json.dumps(result, indent=1))
    md = [
        "# The invisible watermark: robustness and false positives",
        "",
        f"Written by `benchmarks/watermark.py`: {len(marked)} pictures of the shipped unCLIP (64 px) written",
        "by `save_png`, attacked; "
        f"{len(all_unmarked)} pictures Promptism did not make. The mark is found when the correlation at no shift "
        f"reaches {watermark.ALIGNED_THRESHOLD} or its peak over every shift and scale {watermark.THRESHOLD} "
        f"(standard deviations of all shifts); strength {watermark.STRENGTH} grey levels. "
        "`--false-positives` reads many more unmarked pictures (watermark_false_positives.md).",
        "",
        "| marked pictures, after | found | bar |",
        "|---|---|---|",
        *[f"| {k.replace('_', ' ')} | {v:.3f} | {'≥ 0.95' if k in BARS else ''} |" for k, v in found.items()],
        "",
        "| unmarked pictures | found | bar |",
        "|---|---|---|",
        f"| all {len(all_unmarked)}, as they are | {unmarked_rate:.3f} | ≤ 0.01 |",
        *[f"| {k} | {v:.3f} | |" for k, v in false.items()],
        "",
        f"Highest peak of an unmarked picture: {worst:.2f}. Lowest of a marked one, per attack, the correlation at "
        "no shift / the peak: "
        + ", ".join(f"{k.replace('_', ' ')} {min(aligned[k]):.2f} / {min(v):.2f}" for k, v in scores.items())
        + ".",
        "",
        f"Cost: PSNR of a marked picture against the unmarked one {result['psnr_db']['mean']} dB on average "
        f"(lowest {result['psnr_db']['min']} dB, over {len(psnr)} pictures); marking takes {embed_ms:.2f} ms "
        f"(a read included: a marked picture is not marked again), reading {detect_ms:.2f} ms, "
        f"signing the C2PA manifest {sign_ms:.1f} ms per picture.",
        "",
        f"Meets the issue's bars: {'yes' if result['meets_bars'] else 'no'}.",
        "",
    ]
    (REPORTS / "watermark.md").write_text("\n".join(md))
    print("\n".join(md))


if __name__ == "__main__":
    main()
