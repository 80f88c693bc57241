"""How faithfully the decoder draws the CLIP image embedding it is given, under each sampler and
guidance setting, measured with CLIP alone (no judge): a screen for the decoder's sampling
settings in `generate` and in `vary`.

    .venv/bin/python benchmarks/decoder_fidelity.py --data data/world50k --threads 1 \\
        --mode generate --runs dpm++2m:20:0:3 ddim:50:1:3 ddpm:100:0:3
    .venv/bin/python benchmarks/decoder_fidelity.py --data data/world50k --threads 1 \\
        --mode vary --runs ddim:20:0.5:3 ddim:20:0.5:5

A run is ``sampler:steps:eta:guidance`` (the decoder's).

* generate: each val picture's CLIP image embedding and its caption go to the decoder (what
  `generate` gives it, with the true embedding in place of the prior's); the 32 px picture is
  encoded by CLIP again. Reported: mean cosine with the embedding it was given, R@1 (that
  embedding is the nearest among 100), and the decoder's seconds per picture.
* vary: each val picture goes through `vary` at 32 px (DDIM inversion, then 4 pictures sampled
  back at the run's η and guidance; the sampler field must be ddim). Reported: mean cosine of
  the variations' CLIP embeddings with the source's (what a variation should keep, paper §3.1),
  and their diversity: the mean RMS difference (0-255) between the pixels of two variations of
  one source, over all six pairs.

Selection rules (set before the first run): in generate mode, the run with the highest mean
cosine among those whose decoder time is at most 2.5x that of the default run goes on to
GenEval-world; in vary mode, the run with the highest mean cosine among those whose diversity
is at least the default's goes on to edit_world's vary part. Neither uses the judge.
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


def parse_run(text: str) -> dict:
    try:
        sampler, steps, eta, guidance = text.split(":")
        run = {"sampler": sampler, "steps": int(steps), "eta": float(eta), "guidance_decoder": float(guidance)}
    except ValueError:
        raise argparse.ArgumentTypeError(f"a run is sampler:steps:eta:guidance, got {text!r}") from None
    if sampler not in SPACING:
        raise argparse.ArgumentTypeError(f"unknown sampler {sampler!r}")
    return run


def label(run: dict) -> str:
    return f"{run['sampler']}:{run['steps']}:{run['eta']:g}:{run['guidance_decoder']:g}"


def run_generate(models, val, given: torch.Tensor, run: dict) -> dict:
    from promptism.pipelines.unclip import Settings, sample_decoder, seeded, to_images
    from unclip_world import _r1_100  # this folder is on the path when a benchmark runs as a script

    s = Settings(**run)
    s.check()
    pics, seconds = [], 0.0
    for i, cap in enumerate(val.captions):  # one picture per call: the decoder takes one prompt
        t0 = time.perf_counter()
        x = sample_decoder(models, cap, "", given[i:i + 1], seeded(1000 + i, 1)[1], s)
        seconds += time.perf_counter() - t0
        pics += to_images(x)
    got = models.clip.encode_image(pics)
    return {"cosine": float((got * given).sum(-1).mean()), "r1_100": _r1_100(got, given),
            "seconds_per_picture": seconds / len(val), "pictures": len(val)}


def run_vary(models, val, given: torch.Tensor, run: dict) -> dict:
    from promptism.pipelines.edit import vary

    if run["sampler"] != "ddim":
        raise SystemExit("vary mode samples back with DDIM: give ddim runs")
    cos, dist, seconds = [], [], 0.0
    for i, arr in enumerate(val.images):
        t0 = time.perf_counter()
        res = vary(Image.fromarray(arr), n=4, seed=4 * i, size=32, models=models, steps=run["steps"],
                   eta=run["eta"], guidance_decoder=run["guidance_decoder"])
        seconds += time.perf_counter() - t0
        got = models.clip.encode_image(res.images)
        cos.append(float((got @ given[i]).mean()))
        px = [np.asarray(im, dtype=np.float64) for im in res.images]
        dist += [float(np.sqrt(((px[a] - px[b]) ** 2).mean())) for a in range(4) for b in range(a)]
    return {"cosine": float(np.mean(cos)), "diversity_rms": float(np.mean(dist)),
            "seconds_per_source": seconds / len(val), "sources": len(val)}


# per mode: what was measured, and the table's columns as (title, key, format)
TABLES = {
    "generate": ("Each val picture's CLIP image embedding and caption go to the decoder (32 px); its picture is "
                 "encoded by CLIP again. Cosine: with the embedding it was given; R@1: that embedding is the "
                 "nearest among 100.",
                 [("mean cosine", "cosine", ".3f"), ("R@1 among 100", "r1_100", ".3f"),
                  ("s per picture", "seconds_per_picture", ".2f")]),
    "vary": ("Each val picture through `vary` at 32 px (DDIM inversion, 4 variations sampled back). Cosine: "
             "of the variations' CLIP embeddings with the source's; diversity: RMS pixel difference (0-255) "
             "between two variations of one source.",
             [("mean cosine", "cosine", ".3f"), ("diversity (RMS)", "diversity_rms", ".1f"),
              ("s per source", "seconds_per_source", ".2f")]),
}


def markdown(r: dict) -> str:
    lines = ["# Decoder fidelity to its image embedding (" + r["mode"] + ")", "",
             f"Measured by `benchmarks/decoder_fidelity.py` on {r['machine']}, torch {r['torch']}, "
             f"{r['threads']} thread(s); promptism {r['version']}. CLIP alone measures, no judge. "
             f"{r['n']} val pictures of `{r['data']}`.", ""]
    intro, columns = TABLES[r["mode"]]
    lines += [intro, "", "| decoder run (sampler:steps:η:guidance) | " + " | ".join(c for c, _, _ in columns) + " |",
              "|---" * (len(columns) + 1) + "|"]
    for k, v in r["runs"].items():
        lines.append(f"| {k} | " + " | ".join(format(v[key], fmt) for _, key, fmt in columns) + " |")
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
    else:
        ok = {k: v for k, v in runs.items() if v["diversity_rms"] >= base["diversity_rms"]}
    return max(ok, key=lambda k: ok[k]["cosine"])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mode", choices=("generate", "vary"), default="generate", help="what the decoder is asked to do")
    ap.add_argument("--runs", nargs="+", type=parse_run, required=True,
                    help="decoder runs as sampler:steps:eta:guidance; the first is the default the rule compares with")
    ap.add_argument("--data", default="data/world50k", help="world folder or shards (the val split is read)")
    ap.add_argument("--n", type=int, default=None, help="val pictures (default: 200 in generate mode, 50 in vary mode)")
    ap.add_argument("--threads", type=int, default=int(os.environ.get("PROMPTISM_THREADS", "2")), help="torch threads")
    ap.add_argument("--name", default=None, help="report name (default: decoder_fidelity_MODE)")
    ap.add_argument("--conditions", default="", help="what else ran beside it (written in the report: times depend on it)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from promptism.data import load_pairs
    from promptism.pipelines.unclip import load_models

    models = load_models()
    n = args.n or (200 if args.mode == "generate" else 50)
    val = load_pairs(args.data, "val", size=models.clip.image_size, limit=n, progress=False)
    with torch.no_grad():
        given = models.clip.encode_image(val.images)
        r = {"mode": args.mode, "n": len(val), "data": args.data, "threads": args.threads, "version": __version__,
             "torch": torch.__version__, "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
             "default": label(args.runs[0]), "conditions": args.conditions,
             "command": " ".join(["benchmarks/decoder_fidelity.py", *sys.argv[1:]]), "runs": {}}
        name = args.name or f"decoder_fidelity_{args.mode}"
        for run in args.runs:
            fn = run_generate if args.mode == "generate" else run_vary
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
