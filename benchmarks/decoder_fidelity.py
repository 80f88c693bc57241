"""How faithfully the decoder draws the CLIP image embedding it is given, under each sampler and
guidance setting, measured with CLIP alone (no judge): a screen for the decoder's sampling
settings in `generate` and in `vary`.

    .venv/bin/python benchmarks/decoder_fidelity.py --data data/world50k --threads 1 \\
        --mode generate --runs dpm++2m:20:0:3 ddim:50:1:3 ddpm:100:0:3
    .venv/bin/python benchmarks/decoder_fidelity.py --data data/world50k --threads 1 \\
        --mode vary --runs ddim:20:0.5:3 ddim:20:0.5:5

    .venv/bin/python benchmarks/decoder_fidelity.py --data data/world50k --threads 1 \\
        --mode caption --runs ddpm:50:0:3 ddpm:50:0:3:2

A run is ``sampler:steps:eta:guidance[:text guidance]`` (the decoder's; the text guidance is
Settings.guidance_text, 0 when left out).

* generate: each val picture's CLIP image embedding and its caption go to the decoder (what
  `generate` gives it, with the true embedding in place of the prior's); the 32 px picture is
  encoded by CLIP again. Reported: mean cosine with the embedding it was given, R@1 (that
  embedding is the nearest among 100), and the decoder's seconds per picture.
* vary: each val picture goes through `vary` at 32 px (DDIM inversion, then 4 pictures sampled
  back at the run's η and guidance; the sampler field must be ddim). Reported: mean cosine of
  the variations' CLIP embeddings with the source's (what a variation should keep, paper §3.1),
  and their diversity: the mean RMS difference (0-255) between the pixels of two variations of
  one source, over all six pairs.
* caption: val captions that state a relation or two colours go through `generate` (prior and
  decoder, 32 px, 4 pictures each); the previous default CLIP (`clip.load("world-bind2")`, the
  reranker; not the world-v1 CLIP the prior and decoder are conditioned on) reads the pictures.
  Reported: its binding probes on them (the caption preferred to the caption with the relation
  reversed, the colours swapped, the count changed: clip.evaluate.binding), the mean cosine of
  picture and caption, and seconds per picture. The true val pictures under the same probes are the first
  row: how far that CLIP can tell at all.

Selection rules (set before the first run): in generate mode, the run with the highest mean
cosine among those whose decoder time is at most 2.5x that of the default run goes on to
GenEval-world; in vary mode, the run with the highest mean cosine among those whose diversity
is at least the default's goes on to edit_world's vary part; in caption mode, the run with the
highest mean of the relation and colour-swap probes among those whose caption cosine is at least
the default's and whose time is at most 2x the default's goes on to GenEval-world. None uses the
judge.
Writes benchmarks/reports/decoder_fidelity_{mode}.{json,md} (or --name).
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

from promptism import __version__
from promptism.diffusion.samplers import SPACING

REPORTS = Path(__file__).resolve().parent / "reports"
PER_CAPTION = 4  # caption mode: pictures per caption, as `generate` draws them by default


def parse_run(text: str) -> dict:
    try:
        sampler, steps, eta, guidance, *rest = text.split(":")
        run = {
            "sampler": sampler,
            "steps": int(steps),
            "eta": float(eta),
            "guidance_decoder": float(guidance),
            "guidance_text": float(rest.pop()) if len(rest) == 1 else 0.0,
        }
        if rest:
            raise ValueError
    except ValueError:
        raise argparse.ArgumentTypeError(f"a run is sampler:steps:eta:guidance[:text guidance], got {text!r}") from None
    if sampler not in SPACING:
        raise argparse.ArgumentTypeError(f"unknown sampler {sampler!r}")
    return run


def label(run: dict) -> str:
    text = f":{run['guidance_text']:g}" if run.get("guidance_text") else ""
    return f"{run['sampler']}:{run['steps']}:{run['eta']:g}:{run['guidance_decoder']:g}{text}"


def run_generate(models, val, given: torch.Tensor, run: dict) -> dict:
    from unclip_world import _r1_100  # this folder is on the path when a benchmark runs as a script

    from promptism.pipelines.common import seeded, to_images
    from promptism.pipelines.unclip import Settings, sample_decoder

    s = Settings(**run)
    s.check()
    pics, seconds = [], 0.0
    for i, cap in enumerate(val.captions):  # one picture per call: the decoder takes one prompt
        t0 = time.perf_counter()
        x = sample_decoder(models, cap, "", given[i : i + 1], seeded(1000 + i, 1)[1], s)
        seconds += time.perf_counter() - t0
        pics += to_images(x)
    got = models.clip.encode_image(pics)
    return {
        "cosine": float((got * given).sum(-1).mean()),
        "r1_100": _r1_100(got, given),
        "seconds_per_picture": seconds / len(val),
        "pictures": len(val),
    }


def run_vary(models, val, given: torch.Tensor, run: dict) -> dict:
    from promptism.pipelines.edit import vary

    if run["sampler"] != "ddim":
        raise SystemExit("vary mode samples back with DDIM: give ddim runs")
    cos, dist, seconds = [], [], 0.0
    settings = {k: v for k, v in run.items() if k != "sampler"}
    for i, arr in enumerate(val.images):
        t0 = time.perf_counter()
        res = vary(Image.fromarray(arr), n=4, seed=4 * i, size=32, models=models, **settings)
        seconds += time.perf_counter() - t0
        got = models.clip.encode_image(res.images)
        cos.append(float((got @ given[i]).mean()))
        px = [np.asarray(im, dtype=np.float64) for im in res.images]
        dist += [float(np.sqrt(((px[a] - px[b]) ** 2).mean())) for a in range(4) for b in range(a)]
    return {
        "cosine": float(np.mean(cos)),
        "diversity_rms": float(np.mean(dist)),
        "seconds_per_source": seconds / len(val),
        "sources": len(val),
    }


def caption_probes(reader, pictures, captions: list[str], stated: list) -> dict:
    """The reader CLIP's binding probes on pictures drawn for captions, and their cosine."""
    from promptism.eval.clip import binding

    probes = binding(reader, pictures, captions, stated)
    with torch.no_grad():
        cosine = (reader.encode_image(pictures) * reader.encode_text(captions)).sum(-1).mean()
    return {
        "relation": probes["relation"]["accuracy"],
        "swap_colors": probes["swap_colors"]["accuracy"],
        "count": probes["count"]["accuracy"],
        "n_relation": probes["relation"]["n"],
        "n_swap_colors": probes["swap_colors"]["n"],
        "n_count": probes["count"]["n"],
        "caption_cosine": float(cosine),
    }


def run_caption(models, val, reader, run: dict) -> dict:
    from promptism.pipelines.unclip import generate

    pics, seconds = [], 0.0
    for i, cap in enumerate(val.captions):
        t0 = time.perf_counter()
        pics += generate(cap, n=PER_CAPTION, seed=PER_CAPTION * i, size=32, models=models, **run).images
        seconds += time.perf_counter() - t0
    each = [x for x in val.captions for _ in range(PER_CAPTION)]
    stated = [x for x in val.stated for _ in range(PER_CAPTION)]
    return {
        **caption_probes(reader, [np.asarray(p) for p in pics], each, stated),
        "seconds_per_picture": seconds / len(pics),
        "pictures": len(pics),
    }


def caption_val(data: str, n: int, size: int):
    """The first n val pairs whose caption states a relation or two colours, with their
    constraints as ``stated``."""
    from types import SimpleNamespace

    from promptism.data import load_pairs
    from promptism.world.constraints import Constraints
    from promptism.world.negatives import negatives

    pairs = load_pairs(data, "val", size=size, progress=False)
    keep = []
    for i, (cap, meta) in enumerate(zip(pairs.captions, pairs.metas)):
        stated = Constraints.from_dict(meta["stated"])
        if {"relation", "swap_colors"} & set(negatives(cap, stated)):
            keep.append((i, stated))
        if len(keep) == n:
            break
    return SimpleNamespace(
        images=pairs.images[[i for i, _ in keep]],
        captions=[pairs.captions[i] for i, _ in keep],
        stated=[c for _, c in keep],
    )


# per mode: what was measured, and the table's columns as (title, key, format)
TABLES = {
    "generate": (
        "Each val picture's CLIP image embedding and caption go to the decoder (32 px); its picture is "
        "encoded by CLIP again. Cosine: with the embedding it was given; R@1: that embedding is the "
        "nearest among 100.",
        [
            ("mean cosine", "cosine", ".3f"),
            ("R@1 among 100", "r1_100", ".3f"),
            ("s per picture", "seconds_per_picture", ".2f"),
        ],
    ),
    "vary": (
        "Each val picture through `vary` at 32 px (DDIM inversion, 4 variations sampled back). Cosine: "
        "of the variations' CLIP embeddings with the source's; diversity: RMS pixel difference (0-255) "
        "between two variations of one source.",
        [
            ("mean cosine", "cosine", ".3f"),
            ("diversity (RMS)", "diversity_rms", ".1f"),
            ("s per source", "seconds_per_source", ".2f"),
        ],
    ),
    "caption": (
        "Val captions stating a relation or two colours through `generate` (prior and decoder, 32 px, 4 "
        "pictures each), read by the shipped default CLIP (world, not the world-v1 the stages are "
        "conditioned on): the share of pictures it scores above the caption with the relation reversed, "
        "the colours swapped, the count changed; and the mean cosine of picture and caption.",
        [
            ("relation probe", "relation", ".3f"),
            ("colour-swap probe", "swap_colors", ".3f"),
            ("count probe", "count", ".3f"),
            ("caption cosine", "caption_cosine", ".3f"),
            ("s per picture", "seconds_per_picture", ".2f"),
        ],
    ),
}


def markdown(r: dict) -> str:
    lines = [
        "# Decoder fidelity to its image embedding (" + r["mode"] + ")",
        "",
        f"Measured by `benchmarks/decoder_fidelity.py` on {r['machine']}, torch {r['torch']}, "
        f"{r['threads']} thread(s); promptism {r['version']}. CLIP alone measures, no judge. "
        f"{r['n']} val pictures of `{r['data']}`; decoder `{r.get('decoder', 'world')}`.",
        "",
    ]
    intro, columns = TABLES[r["mode"]]
    lines += [
        intro,
        "",
        "| decoder run (sampler:steps:η:guidance[:text]) | " + " | ".join(c for c, _, _ in columns) + " |",
        "|---" * (len(columns) + 1) + "|",
    ]
    rows = ({"the true val pictures": r["reference"]} if r.get("reference") else {}) | r["runs"]
    for k, v in rows.items():
        lines.append(
            f"| {k} | "
            + " | ".join("–" if v.get(key) is None else format(v[key], fmt) for _, key, fmt in columns)
            + " |"
        )
    lines += ["", f"Default run: {r['default']}. Chosen by the rule in the script's docstring: **{r['chosen']}**."]
    if r.get("conditions"):
        lines += ["", f"Conditions: {r['conditions']}"]
    if r.get("command"):
        lines += ["", f"Command: `{r['command']}`"]
    lines.append("")
    return "\n".join(lines)


def choose(r: dict) -> str:
    runs, base = r["runs"], r["runs"][r["default"]]
    if r["mode"] == "generate":
        ok = {k: v for k, v in runs.items() if v["seconds_per_picture"] <= 2.5 * base["seconds_per_picture"]}
    elif r["mode"] == "vary":
        ok = {k: v for k, v in runs.items() if v["diversity_rms"] >= base["diversity_rms"]}
    else:
        ok = {
            k: v
            for k, v in runs.items()
            if v["caption_cosine"] >= base["caption_cosine"]
            and v["seconds_per_picture"] <= 2 * base["seconds_per_picture"]
        }
        return max(ok, key=lambda k: ok[k]["relation"] + ok[k]["swap_colors"])
    return max(ok, key=lambda k: ok[k]["cosine"])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mode", choices=tuple(TABLES), default="generate", help="what the decoder is asked to do")
    ap.add_argument(
        "--runs",
        nargs="+",
        type=parse_run,
        required=True,
        help="decoder runs as sampler:steps:eta:guidance[:text guidance]; the first is the default the "
        "rule compares with",
    )
    ap.add_argument("--data", default="data/world50k", help="world folder or shards (the val split is read)")
    ap.add_argument(
        "--n",
        type=int,
        default=None,
        help="val pictures (default: 200 in generate mode, 100 in caption mode, 50 in vary mode)",
    )
    ap.add_argument("--threads", type=int, default=int(os.environ.get("PROMPTISM_THREADS", "2")), help="torch threads")
    ap.add_argument("--decoder", default="world", help="the decoder: a shipped name or a model folder (default: world)")
    ap.add_argument("--name", default=None, help="report name (default: decoder_fidelity_MODE)")
    ap.add_argument(
        "--conditions", default="", help="what else ran beside it (written in the report: times depend on it)"
    )
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from promptism.data import load_pairs
    from promptism.pipelines.unclip import load_models

    models = load_models(decoder=args.decoder)
    n = args.n or {"generate": 200, "caption": 100, "vary": 50}[args.mode]
    if args.mode == "caption":
        from promptism.clip import load as load_clip

        reader = load_clip("world-bind2")
        val = caption_val(args.data, n, reader.image_size)
        fn, given = run_caption, reader
    else:
        val = load_pairs(args.data, "val", size=models.clip.image_size, limit=n, progress=False)
        fn, given = (run_generate if args.mode == "generate" else run_vary), models.clip.encode_image(val.images)
    with torch.no_grad():
        r = {
            "mode": args.mode,
            "n": len(val.captions),
            "data": args.data,
            "threads": args.threads,
            "version": __version__,
            "torch": torch.__version__,
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
            "default": label(args.runs[0]),
            "conditions": args.conditions,
            "command": " ".join(["benchmarks/decoder_fidelity.py", *sys.argv[1:]]),
            "decoder": f"{args.decoder} ({models.describe()['decoder']['sha256'][:12]})",
            "runs": {},
        }
        if args.mode == "caption":
            r["reference"] = caption_probes(reader, val.images, val.captions, val.stated)
        name = args.name or f"decoder_fidelity_{args.mode}"
        for run in args.runs:
            r["runs"][label(run)] = fn(models, val, given, run)
            print(label(run), r["runs"][label(run)], flush=True)
            r["chosen"] = choose(r)
            REPORTS.mkdir(exist_ok=True)
            (REPORTS / f"{name}.json").write_text(json.dumps(r, indent=2) + "\n")
            (REPORTS / f"{name}.md").write_text(markdown(r))
    print(markdown(r))
    return 0


if __name__ == "__main__":
    sys.exit(main())
