"""unCLIP on the Scene World: issue #4's benchmarks, measured with the world's judge.

    python benchmarks/unclip_world.py                       # every part, shipped models
    python benchmarks/unclip_world.py --parts timing --limit 5
    python benchmarks/unclip_world.py --parts geneval timing --limit 40 \
        --fast-decoder runs/distill-1/model --tag distill-1     # a distilled decoder being tried

Parts (each writes its section into benchmarks/reports/unclip_world.{json,md}, keeping the
others' last results):
  geneval   GenEval-world per category and split, pictures at 64 px (4 per prompt);
  section51 the paper's §5.1 comparison: the decoder conditioned through the prior, directly on
            the CLIP text embedding, and on the caption alone (null image embedding);
  samplers  DPM-Solver++(2M) and DDIM at 10/15/25/50 decoder steps against DDPM at 250:
            judge score and wall time per 4-picture generation (seen split);
  prior     the prior's image embeddings against the true ones of val pictures;
  upsampler the 32->64 upsampler on val pictures shrunk to 32 px, against the true 64 px ones
            (PSNR), beside bicubic and bilinear upscaling;
  decoder   how far the decoder follows its image embedding, apart from the prior: on val pictures,
            the CLIP embedding of the decoder's 32 px picture against the one it was given (no
            judge); and GenEval-world with the decoder given the CLIP embedding of each prompt's
            true pictures, beside the nearest training picture by that embedding (how much of
            what the judge checks the embedding holds at all);
  timing    wall time and peak memory of one 4-picture 64 px generation from a cold process
            (`promptism generate` in a subprocess) and from a warm one (median of 5).
With ``--fast-decoder FOLDER --tag NAME`` the shipped models draw with that distilled decoder
standing in for the decoder (``promptism generate --fast-decoder``), and the report goes to
experiments/reports/unclip_world_NAME.* (the model cards are left alone).
``--limit`` takes the first N prompts of every category (the whole suite is 80): the report
says how many pictures each score rests on.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from PIL import Image
from tried import REPORTS, TRIED, report_place  # benchmarks/tried.py, beside this script

from promptism import __version__
from promptism.pipelines.unclip import generate, load_models, reachable_sizes, sha256s
from promptism.world import suite
from promptism.world.judge import fingerprint as judge_fingerprint

SAMPLER_RUNS = [
    ("dpm++2m", 10),
    ("dpm++2m", 15),
    ("dpm++2m", 25),
    ("dpm++2m", 50),
    ("ddim", 10),
    ("ddim", 15),
    ("ddim", 25),
    ("ddim", 50),
    ("ddpm", 250),
]


def _suite(models, limit: int, splits=suite.SPLITS, **settings) -> tuple[suite.SuiteResult, float, int]:
    calls = 0
    t0 = time.perf_counter()

    def gen(prompt: str, n: int, seed: int):
        nonlocal calls
        calls += 1
        return generate(prompt, n=n, seed=seed, size=64, models=models, **settings).images

    result = suite.evaluate(gen, splits=splits, limit=limit, progress=True)
    return result, time.perf_counter() - t0, calls


def part_geneval(models, limit: int, where: Path, what: str) -> dict:
    result, secs, calls = _suite(models, limit)
    suite.write_reports(
        result,
        where,
        title=f"GenEval-world: {what} unCLIP at 64 px",
        meta={"prompts per category and split": limit, "pictures per prompt": suite.IMAGES_PER_PROMPT},
    )
    return {"scores": result.scores(), "pictures": result.counts(), "seconds_per_prompt": secs / calls}


def sampling_settings() -> dict:
    """The default settings that decide the sampling, as the report names them."""
    from promptism.pipelines.unclip import Settings

    s = Settings()
    return {
        k: getattr(s, k)
        for k in (
            "sampler",
            "steps",
            "eta",
            "prior_steps",
            "upsampler_steps",
            "guidance_prior",
            "guidance_decoder",
            "rerank",
        )
    }


def part_section51(models, limit: int) -> dict:
    out = {}
    for emb in ("prior", "text", "none"):
        result, secs, calls = _suite(models, limit, embedding=emb)
        out[emb] = {"scores": result.scores(), "pictures": result.counts(), "seconds_per_prompt": secs / calls}
    return out


def part_samplers(models, limit: int) -> dict:
    out = {}
    for sampler, steps in SAMPLER_RUNS:
        result, secs, calls = _suite(models, limit, splits=("seen",), sampler=sampler, steps=steps)
        out[f"{sampler}@{steps}"] = {
            "sampler": sampler,
            "steps": steps,
            "overall": result.scores()["seen"]["overall"],
            "scores": result.scores()["seen"],
            "seconds_per_4_pictures": secs / calls,
            "pictures": sum(result.counts()["seen"].values()),
        }
    return out


def _r1_100(pred: torch.Tensor, true: torch.Tensor) -> float:
    """Share of rows whose own true embedding is the nearest among 100 (blocks of 100 rows); NaN
    when there are fewer than 100 rows."""
    hits = [
        (pred[i : i + 100] @ true[i : i + 100].T).argmax(1).eq(torch.arange(100)).float().mean()
        for i in range(0, len(pred) - 99, 100)
    ]
    return float(torch.stack(hits).mean()) if hits else float("nan")


def part_prior(models, data: str, n: int = 500) -> dict:
    """How close the prior's image embeddings come to the true ones of val pictures: mean cosine
    and the rank of the true picture among 100 (R@1), against the CLIP text embedding as a guess."""
    from promptism.data import load_pairs
    from promptism.pipelines.unclip import Settings, sample_prior

    pairs = load_pairs(data, "val", size=models.clip.image_size, limit=n, progress=False)
    true = models.clip.encode_image(pairs.images)
    text = models.clip.encode_text(pairs.captions)
    s = Settings()
    sampled = torch.cat(
        [sample_prior(models, c, "", [torch.Generator().manual_seed(i)], s) for i, c in enumerate(pairs.captions)]
    )

    return {
        "pictures": len(pairs),
        "cosine_prior": float((sampled * true).sum(-1).mean()),
        "cosine_text": float((text * true).sum(-1).mean()),
        "r1_100_prior": _r1_100(sampled, true),
        "r1_100_text": _r1_100(text, true),
    }


def part_upsampler(models, data: str, n: int = 256) -> dict:
    """The first upsampler on val pictures shrunk (area) to its input size, against the true
    pictures: PSNR (on [-1, 1], peak-to-peak 2) per picture, averaged, with the default settings
    (back-projection included) and without back-projection, beside plain bicubic and bilinear
    upscaling and bicubic back-projected as often. A sampler draws one of many plausible
    pictures, so it need not beat bicubic here; much below it, it is losing what it was given.
    benchmarks/upsampler_world.py sweeps the settings."""
    from dataclasses import replace

    import torch.nn.functional as F

    from promptism.data import load_pairs
    from promptism.pipelines.common import seeded
    from promptism.pipelines.unclip import Settings, upsample
    from promptism.unclip.training import to_pixels
    from promptism.unclip.upsampler import back_project

    up = models.upsamplers[0]
    cfg = up.model.config
    pairs = load_pairs(data, "val", size=cfg.image_size, limit=n, progress=False)
    x0 = to_pixels(pairs.images)
    low = F.interpolate(x0, size=cfg.low_size, mode="area")

    def psnr(y):
        mse = ((y.clamp(-1, 1) - x0) ** 2).mean(dim=(1, 2, 3)).clamp(min=1e-10)
        return float((10 * torch.log10(4 / mse)).mean())

    s = Settings()
    t0 = time.perf_counter()
    raw = torch.cat(
        [
            upsample(up, low[i : i + 32], seeded(i, len(low[i : i + 32]))[1], replace(s, upsampler_back_projection=0))
            for i in range(0, len(low), 32)
        ]
    )
    seconds = time.perf_counter() - t0
    rounds = s.upsampler_back_projection
    bicubic = F.interpolate(low, scale_factor=2, mode="bicubic", align_corners=False).clamp(-1, 1)
    return {
        "pictures": len(x0),
        "low_size": cfg.low_size,
        "size": cfg.image_size,
        "sampler": s.sampler,
        "steps": s.upsampler_steps,
        "aug_t": s.upsampler_aug_t,
        "back_projection": rounds,
        "psnr_upsampler": psnr(back_project(raw, low, rounds)),
        "psnr_upsampler_no_back_projection": psnr(raw),
        "psnr_bicubic": psnr(bicubic),
        "psnr_bicubic_back_projected": psnr(back_project(bicubic, low, rounds)),
        "psnr_bilinear": psnr(F.interpolate(low, scale_factor=2, mode="bilinear", align_corners=False)),
        "seconds_per_picture": seconds / len(x0),
    }


def part_decoder(models, data: str, limit: int, n_val: int = 256, n_train: int = 10000) -> dict:
    """The decoder against its own conditioning, with no prior in the way (see the docstring)."""
    from promptism.data import load_pairs
    from promptism.pipelines.common import seeded, to_images
    from promptism.pipelines.unclip import Settings, sample_decoder, upsample
    from promptism.world import render

    clip, s = models.clip, Settings()
    val = load_pairs(data, "val", size=clip.image_size, limit=n_val, progress=False)
    given = clip.encode_image(val.images)
    pics, t0 = [], time.perf_counter()
    for i in range(0, len(val), 16):
        e = given[i : i + 16]
        pics += to_images(sample_decoder(models, "", "", e, seeded(i, len(e))[1], s))  # the embedding alone
    seconds = time.perf_counter() - t0
    got = clip.encode_image(pics)
    small = clip.encode_image([im.resize((32, 32), Image.BOX) for im in map(Image.fromarray, val.images)])
    out = {
        "val_pictures": len(val),
        "seconds_per_picture": seconds / len(val),
        "cosine_decoded": float((got * given).sum(-1).mean()),
        "r1_100_decoded": _r1_100(got, given),
        "cosine_32px": float((small * given).sum(-1).mean()),
        "r1_100_32px": _r1_100(small, given),
    }

    train = load_pairs(data, "train", size=clip.image_size, limit=n_train, progress=False)
    bank = clip.encode_image(train.images)
    prompts = {p.text: p for p in suite.all_prompts()}

    def truths(text, n):
        p = prompts[text]
        return [render(suite.truth_scene(p, k), clip.image_size) for k in range(n)]

    def decoded(text, n, seed):
        gens = seeded(seed, n)[1]
        x = sample_decoder(models, text, "", clip.encode_image(truths(text, n)), gens, s)
        for up in models.upsamplers:
            x = upsample(up, x, gens, s)
        return to_images(x)

    def nearest(text, n, seed):
        idx = (clip.encode_image(truths(text, n)) @ bank.T).argmax(1)
        return [Image.fromarray(train.images[i]).resize((64, 64), Image.BICUBIC) for i in idx.tolist()]

    # held-out prompts pair colours and shapes no training picture has: no nearest one can pass
    for name, fn, splits in (
        ("decoder_true_embedding", decoded, suite.SPLITS),
        ("nearest_train_picture", nearest, ("seen",)),
    ):
        result = suite.evaluate(fn, splits=splits, limit=limit, progress=True)
        out[name] = {"scores": result.scores(), "pictures": result.counts()}
    out.update(limit=limit, train_pictures=len(train))
    return out


def part_timing(models, prompt: str = "two red circles above a blue square", options: tuple = ()) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [
            str(Path(sys.executable).parent / "promptism"),
            "generate",
            prompt,
            "-n",
            "4",
            "--size",
            "64",
            "--out",
            tmp,
            "--quiet",
            *options,
        ]
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, env={**os.environ})
        cold = time.perf_counter() - t0
        cold_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024

    def warm_runs(size: int) -> list[float]:
        """Seconds of five 4-picture generations at ``size`` px, after one to warm up."""
        generate(prompt, n=4, seed=0, size=size, models=models)
        runs = []
        for seed in range(5):
            t0 = time.perf_counter()
            generate(prompt, n=4, seed=seed, size=size, models=models)
            runs.append(time.perf_counter() - t0)
        return runs

    warm = warm_runs(64)
    out = {
        "prompt": prompt,
        "cold_seconds": cold,
        "cold_peak_mib": cold_peak,
        "warm_seconds_median": statistics.median(warm),
        "warm_seconds": warm,
    }
    if 128 in reachable_sizes(models):  # the same grid taken on to 128 px (--size 128)
        warm128 = warm_runs(128)
        out.update(warm_128_seconds_median=statistics.median(warm128), warm_128_seconds=warm128)
    return {**out, "warm_process_peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


# the models a part runs, where it is not all of them: its numbers do not move when another changes
PART_USES = {"prior": ("clip", "prior"), "upsampler": ("upsampler_64",)}
# what every run writes anew beside its parts
KEPT = ("machine", "torch", "promptism", "threads", "models", "judge_sha256", "fast_decoder", "fast_decoder_tag")
JUDGED = ("geneval", "section51", "samplers", "decoder")  # the parts whose numbers the judge gives


def _models_line(r: dict, part: str) -> list[str]:
    """Which models and judge a section was measured with, where they are not the ones the report names last."""
    was = r.get(part, {}).get("models_sha256", {})
    uses = PART_USES.get(part)
    # a model the part does not run, or whose hash it did not record (older reports), is not flagged
    older = [
        k for k, h in sha256s(r.get("models", {})).items() if k in was and was[k] != h and (uses is None or k in uses)
    ]
    lines = []
    if older:
        lines += [
            f"Measured with an earlier {' and '.join(k.replace('_', ' ') for k in older)} than the shipped one"
            f"{'s' if len(older) > 1 else ''}.",
            "",
        ]
    # a judged part scored before the judge last changed (or before reports recorded which judge
    # scored them) is not comparable with one scored now
    if part in JUDGED and part in r and r[part].get("judge_sha256") != r.get("judge_sha256"):
        lines += ["Scored by an earlier version of the judge than the current one (judge_eye.md compares them).", ""]
    # reports from before reranking (2026-12-02) drew one candidate per picture
    if part != "samplers" and part in r and _with_rerank(r[part].get("settings")) != sampling_settings():
        st = r[part].get("settings")
        lines += [
            f"Sampled with earlier default settings: {_settings_line(st)}."
            if st
            else "Sampled with the default settings before 2026-12-02 (dpm++2m for every stage, decoder 20 steps).",
            "",
        ]
    if part != "geneval" and r.get(part, {}).get("conditions"):  # geneval's section says it under its sampling line
        lines += [f"Conditions: {r[part]['conditions']}.", ""]
    return lines


def markdown(r: dict) -> str:
    from promptism.world.suite import CATEGORIES, CATEGORY_TITLES, DALLE2_GENEVAL

    tried = r.get("fast_decoder_tag")  # a fast decoder being tried: its own heading and command
    md = [
        "# unCLIP on the Scene World" + (f", with the fast decoder {tried} (tried)" if tried else ""),
        "",
        "Measured by `python benchmarks/unclip_world.py"
        + (f" --fast-decoder {r['fast_decoder']} --tag {tried}" if tried else "")
        + f"` on {r['machine']}, "
        f"torch {r['torch']}, promptism {r['promptism']}; each section says its torch thread count. Pictures at 64 px, 4 per prompt, "
        "scored by the world's judge.",
        "",
    ]
    if "geneval" in r:
        g = r["geneval"]
        _, stem = report_place("unclip_world", bool(tried), tried, "--fast-decoder")  # where main put it
        md += [
            "## GenEval-world (shipped models" + (f", the fast decoder {tried} drawing)" if tried else ")"),
            "",
            *_models_line(r, "geneval"),
            f"{g['limit']} prompts per category and split ({g['limit'] * 4} pictures per cell), {g['threads']} thread(s); "
            f"{g['seconds_per_prompt']:.1f} s per prompt. Per-picture results: `{stem}_geneval/`.",
            *([f"Sampling: {_settings_line(g['settings'])}."] if g.get("settings") else []),
            *(
                [
                    f"The fast decoder {tried} draws the decoder's pictures instead, unguided, one step for each "
                    "step of its distilled path; the decoder's sampler, steps and guidance above do not apply to them."
                ]
                if tried
                else []
            ),
            *([f"Conditions: {g['conditions']}."] if g.get("conditions") else []),
            "",
            *_reranked_line(shipped=bool(tried)),
            "| category | seen | held-out | DALL·E 2 (GenEval) | seen beats it |",
            "|---|---|---|---|---|",
        ]
        for cat in (*CATEGORIES, "overall"):
            s, h = g["scores"]["seen"][cat], g["scores"]["heldout"][cat]
            bar = DALLE2_GENEVAL[cat] if cat != "overall" else 0.70
            md.append(
                f"| {CATEGORY_TITLES.get(cat, '**Overall**')} | {s:.3f} | {h:.3f} | {DALLE2_GENEVAL[cat]:.2f}"
                f"{' (bar 0.70)' if cat == 'overall' else ''} | {'yes' if s > bar else 'no'} |"
            )
        md.append("")
    if "section51" in r:
        s = r["section51"]
        md += [
            "## The paper's §5.1 comparison: what the decoder is conditioned on",
            "",
            *_models_line(r, "section51"),
            f"{s['limit']} prompts per category and split, {s['threads']} thread(s). Overall score (mean of the six categories):",
            "",
            "| decoder conditioned on | seen | held-out | s per prompt |",
            "|---|---|---|---|",
        ]
        names = {
            "prior": "image embedding from the prior (unCLIP)",
            "text": "CLIP text embedding, directly",
            "none": "caption only (null image embedding)",
        }
        for k, v in s["runs"].items():
            md.append(
                f"| {names[k]} | {v['scores']['seen']['overall']:.3f} | {v['scores']['heldout']['overall']:.3f} | "
                f"{v['seconds_per_prompt']:.1f} |"
            )
        md += [
            "",
            "| category | " + " | ".join(f"{k} seen / held-out" for k in s["runs"]) + " |",
            "|---|" + "---|" * len(s["runs"]),
        ]
        for cat in CATEGORIES:
            md.append(
                f"| {CATEGORY_TITLES[cat]} | "
                + " | ".join(
                    f"{v['scores']['seen'][cat]:.2f} / {v['scores']['heldout'][cat]:.2f}" for v in s["runs"].values()
                )
                + " |"
            )
        md.append("")
    if "samplers" in r:
        s = r["samplers"]
        md += [
            "## Samplers (decoder steps; prior and upsamplers at their defaults)",
            "",
            *_models_line(r, "samplers"),
            f"{s['limit']} prompts per category, seen split, {s['threads']} thread(s).",
            "",
            "| sampler | steps | overall | s per 4 pictures |",
            "|---|---|---|---|",
        ]
        for v in s["runs"].values():
            md.append(f"| {v['sampler']} | {v['steps']} | {v['overall']:.3f} | {v['seconds_per_4_pictures']:.2f} |")
        md.append("")
    if "prior" in r:
        p = r["prior"]
        md += [
            "## The prior against the true image embeddings",
            "",
            *_models_line(r, "prior"),
            f"{p['pictures']} val pictures; each caption's sampled image embedding against its picture's CLIP image "
            "embedding (R@1: the true picture is the nearest among 100).",
            "",
            "| image embedding | mean cosine | R@1 among 100 |",
            "|---|---|---|",
            f"| from the prior | {p['cosine_prior']:.3f} | {p['r1_100_prior']:.3f} |",
            f"| the CLIP text embedding itself | {p['cosine_text']:.3f} | {p['r1_100_text']:.3f} |",
            "",
        ]
    if "upsampler" in r:
        u = r["upsampler"]
        md += [
            f"## The upsampler against the true pictures ({u['low_size']} -> {u['size']} px)",
            "",
            *_models_line(r, "upsampler"),
            f"{u['pictures']} val pictures shrunk to {u['low_size']} px and upscaled again; PSNR against the "
            f"originals (higher is closer). The upsampler: {u['sampler']}, {u['steps']} steps, input noised to "
            f"t = {u.get('aug_t', 50)}, {u['seconds_per_picture'] * 1000:.0f} ms per picture; then "
            f"{u.get('back_projection', 0)} rounds of back-projection onto its input (the pipeline's default).",
            "",
            "| upscaling | PSNR (dB) |",
            "|---|---|",
            f"| the shipped upsampler, back-projected | {u['psnr_upsampler']:.2f} |",
        ]
        if "psnr_upsampler_no_back_projection" in u:
            md += [
                f"| the shipped upsampler alone | {u['psnr_upsampler_no_back_projection']:.2f} |",
                f"| bicubic, back-projected | {u['psnr_bicubic_back_projected']:.2f} |",
            ]
        md += [f"| bicubic | {u['psnr_bicubic']:.2f} |", f"| bilinear | {u['psnr_bilinear']:.2f} |", ""]
    if "decoder" in r:
        d = r["decoder"]
        md += [
            "## The decoder against its own image embedding (no prior)",
            "",
            *_models_line(r, "decoder"),
            f"{d['val_pictures']} val pictures: the decoder's 32 px picture from each one's CLIP image embedding "
            "alone (no caption), encoded by CLIP again; cosine with the embedding it was given, and R@1: that "
            "embedding is the nearest among 100. The val pictures themselves shrunk to 32 px are the reference "
            f"(what 32 px keeps). {d['seconds_per_picture'] * 1000:.0f} ms per picture.",
            "",
            "| picture | mean cosine | R@1 among 100 |",
            "|---|---|---|",
            f"| decoded from the embedding | {d['cosine_decoded']:.3f} | {d['r1_100_decoded']:.3f} |",
            f"| the true picture at 32 px | {d['cosine_32px']:.3f} | {d['r1_100_32px']:.3f} |",
            "",
            f"GenEval-world ({d['limit']} prompts per category and split) when the image embedding is the true "
            "one: the decoder given the CLIP embedding of each prompt's ground-truth pictures (the prior's "
            f"ideal output), and the nearest of {d['train_pictures']} training pictures by that embedding (what "
            "the embedding says of the picture, with no decoder at all; seen split only: no training picture "
            "has a held-out prompt's colour and shape together).",
            "",
            "| category | decoder, true embedding: seen / held-out | nearest training picture: seen |",
            "|---|---|---|",
        ]
        for cat in (*CATEGORIES, "overall"):
            a, b = d["decoder_true_embedding"]["scores"], d["nearest_train_picture"]["scores"]
            md.append(
                f"| {CATEGORY_TITLES.get(cat, '**Overall**')} | {a['seen'][cat]:.2f} / {a['heldout'][cat]:.2f} | "
                f"{b['seen'][cat]:.2f} |"
            )
        md.append("")
    if "timing" in r:
        t = r["timing"]
        md += [
            "## Time and memory of one 4-picture 64 px generation",
            "",
            *_models_line(r, "timing"),
            f"{t['threads']} torch thread(s), nothing else running.",
            "",
            "| | wall time | peak memory |",
            "|---|---|---|",
            f"| cold process (`promptism generate`, start to exit) | {t['cold_seconds']:.2f} s | {t['cold_peak_mib']:.0f} MiB |",
            f"| warm pipeline, median of 5 | {t['warm_seconds_median']:.2f} s | {t['warm_process_peak_mib']:.0f} MiB (whole benchmark process) |",
            "",
            f"Warm runs: {', '.join(f'{x:.2f}' for x in t['warm_seconds'])} s. Bars (issue #41): ≤ 4 s warm and ≤ 2 GB.",
            "",
        ]
        if "warm_128_seconds" in t:
            md += [
                f"The same 4-picture grid at 128 px (`--size 128`), warm, median of 5: "
                f"{t['warm_128_seconds_median']:.2f} s (runs: {', '.join(f'{x:.2f}' for x in t['warm_128_seconds'])} s; "
                "the peak memory above is the process's over both sizes).",
                "",
            ]
    return "\n".join(md)


CARD_COMMANDS = {
    "prior-world": "promptism train prior --data data/world50k --embeddings runs/embeddings.safetensors --out runs/prior-world",
    "decoder-world": "promptism train decoder --data data/world50k --embeddings runs/embeddings.safetensors "
    "--out runs/decoder-world-base && "
    "promptism train decoder --data data/world50k --embeddings runs/embeddings.safetensors "
    "--preset world-ft --init runs/decoder-world-base/model --out runs/decoder-world-ft && "
    "promptism train decoder --data data/world50k --embeddings runs/embeddings.safetensors "
    "--preset world-ft2 --init runs/decoder-world-ft/model --out runs/decoder-world-ft2 && "
    "promptism train decoder --data data/world50k --embeddings runs/embeddings.safetensors "
    "--preset world-inpaint --init runs/decoder-world-ft2/model --out runs/decoder-world-inpaint && "
    "promptism train decoder --data data/world50k --embeddings runs/embeddings.safetensors "
    "--preset world-more-ln --init runs/decoder-world-inpaint/model --out runs/decoder-world-more-ln && "
    "promptism train decoder --data data/world50k --embeddings runs/embeddings.safetensors "
    "--preset world-more-ln2 --init runs/decoder-world-more-ln/model --out runs/decoder-world-more-ln2 && "
    "promptism train layout --data data/world50k --out runs/layout-world && "
    "promptism train decoder --data data/world50k --embeddings runs/embeddings.safetensors "
    "--preset world-boxes --layout runs/layout-world/model --init runs/decoder-world-more-ln2/model "
    "--out runs/decoder-world",
    "upsampler-world-64": "promptism train upsampler --data data/world50k --preset world-64-res --out runs/upsampler-world-64-base && "
    "promptism train upsampler --data data/world50k --preset world-64-res-more "
    "--init runs/upsampler-world-64-base/model --out runs/upsampler-world-64",
}


def _with_rerank(st: dict | None) -> dict | None:
    return None if st is None else {**st, "rerank": st.get("rerank", 1)}


def _rerank_table() -> dict | None:
    """GenEval-world of the shipped set at the default settings, from the latest records drawn with them:
    k (the default's candidates), one (the scores with one candidate a picture), best (with the default's
    reranking), prompts (per category and split), report (the markdown report's path) and how (how the
    default ranks). rerank_early's records (the default's, or a sampling recipe's whose settings became
    the default) score every candidate at every K; rerank_world.json, which ranks only finished
    pictures, serves while the default ranks those. None when no report holds the default's pictures."""
    from rerank_early import drawn_with  # benchmarks/rerank_early.py, beside this script

    from promptism.pipelines.settings import Settings

    s = Settings()
    at = str(s.rerank_step) if s.rerank_step else "finished"
    how = "on the finished pictures" if at == "finished" else f"on the decoder's x̂₀ after {at} of its steps"
    want = drawn_with(s, "world")
    for path in (REPORTS / "rerank_early.json", *sorted(TRIED.glob("rerank_early_*.json"))):
        rep = json.loads(path.read_text())
        t = rep.get("tables", rep)  # a recipe's report holds its tables under "tables"
        reported = t.get("sets", {}).get("reported")
        if t.get("drawn_with") == want and reported and "one" in reported and at in reported["k"]:
            prompts = reported["prompts"]["seen"] // len(suite.CATEGORIES)
            scores = reported["k"][at]["scores"]
            return dict(k=s.rerank, one=reported["one"]["scores"], best=scores, prompts=prompts, report=path, how=how)
    path = REPORTS / "rerank_world.json"
    if at != "finished" or not path.exists():
        return None
    rep = json.loads(path.read_text())
    got = rep.get("k", {})
    if "1" not in got or str(s.rerank) not in got:
        return None
    prompts = rep.get("prompts", {}).get("seen", 0) // len(suite.CATEGORIES)
    return dict(
        k=s.rerank, one=got["1"]["scores"], best=got[str(s.rerank)]["scores"], prompts=prompts, report=path, how=how
    )


def _reranked_line(shipped: bool = False) -> list[str]:
    """The default reranking's scores; ``shipped``: said of the shipped models, from a report about
    another model, which report_place puts with the experiment reports."""
    table = _rerank_table()
    if table is None or table["k"] == 1:
        return []
    k, sc, one, md = table["k"], table["best"], table["one"], table["report"].with_suffix(".md")
    link = os.path.relpath(md, TRIED if shipped else REPORTS)
    return [
        f"{'The shipped models, with' if shipped else 'With'} the default reranking (each picture the best of {k} "
        f"candidates by CLIP, ranked {table['how']}), the first {table['prompts']} prompts of every category and "
        f"split score {sc['seen']['overall']:.3f} seen and {sc['heldout']['overall']:.3f} held-out, and with one "
        f"candidate a picture (the same models and settings otherwise) {one['seen']['overall']:.3f} and "
        f"{one['heldout']['overall']:.3f}: [`{md.name}`]({link}), per category.",
        "",
    ]


def _settings_line(st: dict) -> str:
    eta = f" (η {st['eta']:g})" if st["sampler"] == "ddim" else ""
    k = st.get("rerank", 1)
    return (
        f"{st['sampler']}{eta} for every stage; decoder {st['steps']} steps, prior {st['prior_steps']}, upsampler "
        f"{st['upsampler_steps']}; guidance prior {st['guidance_prior']:g}, decoder {st['guidance_decoder']:g}; "
        + (f"each picture the best of {k} candidates by CLIP" if k > 1 else "one candidate per picture (no reranking)")
    )


def _minutes(meta: dict) -> str:
    """A phase's training time: its stepping seconds over every resume when recorded (train_seconds),
    else the wall time of the process that finished it, which a resumed run undercounts."""
    if "train_seconds" in meta and "training_time_source" not in meta:
        # (training_time_source: train_seconds was written later as the whole model's time over
        # every phase, to estimate its energy; this phase's own is the wall time below)
        return f"{meta['train_seconds'] / 60:.0f} minutes"
    return f"{meta.get('wall_seconds_this_run', 0) / 60:.0f} minutes"


def _init_lines(meta: dict) -> list[str]:
    """The earlier phases of a fine-tuned stage, first to last, as far as their folders are still
    there to read."""

    def phase(b: dict) -> str:
        return (
            f"- after a phase: preset `{b.get('preset')}`, {b.get('steps')} steps of batch {b.get('batch_size')}, "
            f"{_minutes(b)}, diffusion {b.get('diffusion')}"
        )

    if meta.get("init_phases"):  # recorded at training time (train/stages.py)
        return [phase(b) for b in meta["init_phases"]]
    lines, init, seen = [], meta.get("init"), set()
    while init and init not in seen:
        seen.add(init)
        base = Path(init) / "config.json"
        if not base.exists():
            lines.append(f"- fine-tuned from `{init}`")
            break
        b = json.loads(base.read_text())
        lines.append(phase(b))
        init = b.get("init")
    return lines[::-1]


MEASURED = "## Measured (the whole shipped pipeline"


def _other_sections(card: Path, lines: list[str]) -> list[str]:
    """The sections of a model card that other tools wrote (its training energy, its known biases),
    whose headings are not among ``lines``: kept as they are when the card is written again."""
    if not card.exists():
        return []
    ours, kept, keep = {ln for ln in lines if ln.startswith("## ")}, [], False
    for ln in card.read_text().splitlines():
        if ln.startswith("## "):  # this writer's measured section, whichever report it quoted
            keep = ln not in ours and not ln.startswith(MEASURED)
        if keep:
            kept.append(ln)
    return ([""] if kept and lines[-1] != "" else []) + kept + ([""] if kept else [])


def write_cards(report: dict) -> None:
    """MODEL_CARD.md next to each shipped stage: what it is, how it was trained, what it scores."""
    from promptism.unclip.folders import MODELS_DIR

    g, table = report.get("geneval"), _rerank_table()  # the same for every card: read the reports once
    for folder, command in CARD_COMMANDS.items():
        d = MODELS_DIR / folder
        if not (d / "config.json").exists():
            continue
        meta = json.loads((d / "config.json").read_text())
        size = (d / "model.safetensors").stat().st_size / 1e6
        phases = _init_lines(meta)
        if (d / "MODEL_CARD.md").exists():
            # the earlier phases' run folders may be gone, or the last run recorded only the phase it
            # started from: keep what the card said of them while they were there
            kept = [ln for ln in (d / "MODEL_CARD.md").read_text().splitlines() if ln.startswith("- after a phase:")]
            fresh = [ln for ln in phases if not ln.startswith("- fine-tuned from")]
            phases = kept + [ln for ln in fresh if ln not in kept] if kept else phases
        lines = [
            f"# {folder}",
            "",
            f"The shipped unCLIP {meta['kind']} of promptism, trained from scratch on the Scene World "
            f"({meta.get('examples')} training pictures).",
            "",
            "## Training",
            "",
            "All the stages: `bash scripts/train_unclip_world.sh data/world50k runs` "
            "(two stages at a time, one CPU thread each). This one alone:",
            "",
            f"    {command}",
            "",
            *phases,
            f"- {'last phase: ' if meta.get('init') else ''}preset `{meta.get('preset')}`: {meta.get('steps')} "
            f"steps of batch {meta.get('batch_size')}, EMA {meta.get('ema')}, "
            f"{_minutes(meta)}",
            "- wall times on this machine: 2-core CPU, "
            + (f"{meta['threads']} thread(s)" if meta.get("threads") else "one thread, sharing it with another stage"),
            *(
                [
                    f"- residual: diffuses {meta['config']['residual']:g} × (picture − bicubic upscaling of its "
                    "input), not the picture"
                ]
                if meta.get("config", {}).get("residual")
                else []
            ),
            *(
                [
                    "- inpainting channels (GLIDE-style: the known picture and its mask as 4 more inputs); with "
                    "nothing known it is a plain decoder"
                ]
                if meta.get("config", {}).get("inpaint")
                else []
            ),
            *(
                [
                    "- layout channels: 14 more inputs, each object's box painted in a channel for its colour and one "
                    f"for its shape, from the layout the shipped layout stage `layout-{meta['layout']}` writes from "
                    "the caption (none, all zero, for variations and edits)"
                ]
                if meta.get("config", {}).get("layout") and meta.get("layout")
                else []
            ),
            f"- weights: float16 safetensors, {size:.1f} MB",
            f"- diffusion: {meta.get('diffusion')}",
            "",
        ]
        if table is not None:  # GenEval-world's latest run on the shipped set: k = 1 and the default k
            k, one, best = table["k"], table["one"], table["best"]
            lines += [
                f"{MEASURED}, `{table['report'].with_suffix('.md').relative_to(REPORTS.parent.parent)}`)",
                "",
                f"GenEval-world overall at 64 px ({table['prompts']} prompts per category and split): one candidate "
                f"per picture, seen {one['seen']['overall']:.3f} and held-out {one['heldout']['overall']:.3f}"
                + (
                    f"; with the default reranking (each picture the best of {k} candidates by CLIP, ranked "
                    f"{table['how']}), seen {best['seen']['overall']:.3f} and held-out "
                    f"{best['heldout']['overall']:.3f}."
                    if k > 1
                    else " (the default)."
                ),
                "",
            ]
        elif g:
            lines += [
                f"{MEASURED}, `benchmarks/reports/unclip_world.md`)",
                "",
                f"GenEval-world overall at 64 px: seen {g['scores']['seen']['overall']:.3f}, "
                f"held-out {g['scores']['heldout']['overall']:.3f} ({g['limit']} prompts per category and split"
                f"{', one candidate per picture' if _with_rerank(g.get('settings') or {}).get('rerank') == 1 else ''}).",
                "",
            ]
        if folder == "prior-world" and report.get("prior"):
            p = report["prior"]
            lines += [
                f"Against the true CLIP image embeddings of {p['pictures']} val pictures: mean cosine "
                f"{p['cosine_prior']:.3f} (the text embedding itself: {p['cosine_text']:.3f}), R@1 among 100 "
                f"{p['r1_100_prior']:.3f}.",
                "",
            ]
        card = d / "MODEL_CARD.md"
        card.write_text("\n".join(lines + _other_sections(card, lines)))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parts = ["prior", "upsampler", "geneval", "section51", "decoder", "samplers", "timing"]
    ap.add_argument("--parts", nargs="+", default=parts, choices=parts, help="which parts to run")
    ap.add_argument(
        "--data", default="data/world50k", help="Scene World dataset whose val split the prior and upsampler parts read"
    )
    ap.add_argument(
        "--limit",
        type=int,
        default=80,
        help="prompts per category and split for geneval (default: 80, the whole suite)",
    )
    ap.add_argument(
        "--limit-small",
        type=int,
        default=10,
        help="prompts per category and split for section51 and decoder (default: 10)",
    )
    ap.add_argument(
        "--limit-samplers", type=int, default=4, help="prompts per category for samplers, seen split (default: 4)"
    )
    ap.add_argument("--threads", type=int, default=int(os.environ.get("PROMPTISM_THREADS", "2")), help="torch threads")
    ap.add_argument(
        "--fast-decoder",
        default=None,
        metavar="FOLDER",
        help="a distilled decoder being tried (with --tag; parts geneval and timing only): it draws the pictures",
    )
    ap.add_argument("--tag", help="with --fast-decoder: the report goes to experiments/reports/unclip_world_TAG.*")
    ap.add_argument(
        "--conditions",
        default="",
        help="what else ran beside it, written under each section this run makes (times depend on it)",
    )
    args = ap.parse_args()
    out_dir, stem = report_place("unclip_world", args.fast_decoder is not None, args.tag, "--fast-decoder")
    if args.tag and set(args.parts) - {"geneval", "timing"}:
        raise SystemExit("a fast decoder being tried is measured by the parts geneval and timing only")
    torch.set_num_threads(args.threads)
    os.environ["PROMPTISM_THREADS"] = str(args.threads)
    path = out_dir / f"{stem}.json"
    report = json.loads(path.read_text()) if path.exists() else {}
    report.update(
        {
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
            "torch": torch.__version__,
            "promptism": __version__,
            "threads": args.threads,
        }
    )
    models = load_models(fast=args.fast_decoder)
    report["models"] = models.describe()
    if args.tag:
        report.update(fast_decoder=args.fast_decoder, fast_decoder_tag=args.tag)
    if "timing" in args.parts:  # first, before the suites heat the process
        options = ("--fast-decoder", args.fast_decoder) if args.fast_decoder else ()
        report["timing"] = part_timing(models, options=options)
    if "prior" in args.parts:
        report["prior"] = part_prior(models, args.data)
    if "upsampler" in args.parts:
        report["upsampler"] = part_upsampler(models, args.data)
    if "geneval" in args.parts:
        what = f"{args.tag} (tried)" if args.tag else "shipped"
        report["geneval"] = {"limit": args.limit, **part_geneval(models, args.limit, out_dir / f"{stem}_geneval", what)}
    if "section51" in args.parts:
        report["section51"] = {"limit": args.limit_small, "runs": part_section51(models, args.limit_small)}
    if "decoder" in args.parts:
        report["decoder"] = part_decoder(models, args.data, args.limit_small)
    if "samplers" in args.parts:
        report["samplers"] = {"limit": args.limit_samplers, "runs": part_samplers(models, args.limit_samplers)}
    if set(args.parts) & set(JUDGED):  # a run the judge takes no part in says nothing of it
        report["judge_sha256"] = judge_fingerprint()
    for part in args.parts:
        report[part]["threads"] = args.threads
        report[part]["settings"] = sampling_settings()
        report[part]["models_sha256"] = sha256s(report["models"])
        if args.conditions:
            report[part]["conditions"] = args.conditions
        if part in JUDGED:
            report[part]["judge_sha256"] = report["judge_sha256"]
    out_dir.mkdir(parents=True, exist_ok=True)
    if path.exists():  # another run may have written its parts meanwhile: keep them
        report = {
            **json.loads(path.read_text()),
            **{k: report[k] for k in report if k in args.parts or k in KEPT},
        }
    path.write_text(json.dumps(report, indent=1))
    md = markdown(report)
    if not args.tag:  # a model being tried leaves the model cards alone
        write_cards(report)
    (out_dir / f"{stem}.md").write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
