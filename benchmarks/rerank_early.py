"""When to rerank unCLIP's candidates: GenEval-world with each picture the best of the default
candidates (``Settings.rerank``) by the reranking CLIP, where CLIP scores the decoder's x̂₀ (its
estimate of the finished picture) after K of its 50 steps (``Settings.rerank_step = K``) instead of
the finished 64 px pictures. Ranking at K spares the decoder's steps after K and the 32->64
upsampler for all but the kept candidate of each picture (issue #41's warm-grid bar).

    python benchmarks/rerank_early.py --splits seen --limit 50      # one process, one thread
    python benchmarks/rerank_early.py --splits heldout --limit 50   # another
    python benchmarks/rerank_early.py --report --time

Every candidate is drawn whole, as ``generate`` draws it with the default settings (the process's
first prompt checks that the finished pictures ranked are generate's pictures). The reranking CLIP's
score of each candidate's x̂₀ is recorded after each K in STEPS, and of its finished picture; the
judge reads every finished picture. A candidate's steps do not depend on the others' (each has its
own generator, and the samplers' ``select`` hook carries a kept row on as it was), so the table for
K is what ``rerank_step=K`` gives, from one run; the first prompt also checks that by drawing it
with ``rerank_step`` at the smallest K. The judge never picks: it scores what CLIP picked.

Records (one JSON line per prompt, so a killed run resumes where it stopped) go to ``--records``;
records of another model or candidate count must be deleted first.

With ``--config`` a recipe is screened against the default's records on the same prompts and seeds:
a sampling recipe (kind generate) draws with its settings; a decoder recipe draws with the decoder
it trained (``--decoder FOLDER``) in place of the shipped one, at the default settings.

Rule, written before the run on the layout decoder (experiments/unclip/generate-rerank-step-layout.toml;
the first rule, for the decoder before it, asked for no tolerance and no bars). K is chosen on the
dev prompts, 41-50 of every category and split, which no report quotes: the smallest K in STEPS
whose overall there (both splits together) is at least that of ranking the finished pictures less
TOLERANCE. That K becomes the default (``Settings.rerank_step``) if on the first 40 prompts of every
category, the ones the reports quote, it meets issue #41's bars (rerank_world.BARS) on both splits
and its overall is no more than TOLERANCE below that of ranking the finished pictures on each split,
measured in the same run. Otherwise the default stays None (rank the finished pictures), and the
report says what each K gave. Either way the warm grid is timed (``--time``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch
from rerank_world import meets_bars, read_records  # benchmarks/rerank_world.py, beside this script

from promptism import __version__
from promptism.world import suite
from promptism.world.judge import fingerprint as judge_fingerprint

REPORTS = Path(__file__).parent / "reports"
STEPS = (5, 10, 15, 20, 25, 30, 35, 40, 45, 50)
REPORTED, DEV = 40, 10  # prompts 1-40 of each category are the reports'; 41-50 choose K
TOLERANCE = 0.01  # how far below ranking the finished pictures K may score (the rule above)


def draw(models, reranker, text: str, seed: int, s) -> dict:
    """Every candidate of one prompt's 4 pictures, drawn whole with settings ``s``: the reranking
    scores of their x̂₀ after each K in STEPS and of the finished pictures, and the finished
    pictures (candidate-major)."""
    from promptism.pipelines.common import sampling_path, seeded_candidates
    from promptism.pipelines.unclip import rank_candidates, sample_decoder, sample_prior, upsample, upsamplers_to

    n = suite.IMAGES_PER_PROMPT
    _, _, gens = seeded_candidates(seed, n, s.rerank)
    want = reranker.encode_text([text])
    scores = {}
    with torch.no_grad():
        emb = sample_prior(models, text, "", gens, s)
        dec = models.decoder
        steps = sampling_path(dec.denoiser, s.steps, s.sampler)
        early = len(steps) == STEPS[-1]  # K is a step of the default's 50; other step counts rank finished only
        own = rank_key(s)  # and where s itself ranks

        def record(i, _, x0):
            if (early and i + 1 in STEPS) or str(i + 1) == own:
                scores[str(i + 1)] = rank_candidates(reranker, x0, n, want)[1][1]

        x = sample_decoder(models, text, "", emb, gens, s, watch=record)
        for up in upsamplers_to(models, 64):
            x = upsample(up, x, gens, s)
        scores["finished"] = rank_candidates(reranker, x, n, want)[1][1]
    return {"scores": scores, "pictures": x}


def pick(scores: list[list[float]]) -> list[int]:
    """Per picture, the candidate with the highest score (the first on a tie, as the pipeline)."""
    return [int(np.argmax(row)) for row in scores]


def check_pipeline(models, text: str, seed: int, drawn: dict, s) -> dict:
    """generate's pictures at settings ``s`` against the finished ones ranked here, and at
    rerank_step = STEPS[0] against the candidates ranked here at that step (largest pixel gaps)."""
    from promptism.pipelines.common import to_images
    from promptism.pipelines.unclip import generate

    n, x = suite.IMAGES_PER_PROMPT, drawn["pictures"]
    out = {}
    checks = {"finished": None, str(STEPS[0]): STEPS[0], rank_key(s): s.rerank_step}
    for key, step in ((k, st) for k, st in checks.items() if k in drawn["scores"]):
        got = generate(text, n=n, seed=seed, size=64, models=models, settings=s, rerank_step=step).images
        rows = [j * n + i for i, j in enumerate(pick(drawn["scores"][key]))]
        want = to_images(x[rows])
        gap = max(int(np.abs(np.asarray(a, int) - np.asarray(b, int)).max()) for a, b in zip(got, want))
        out[key] = gap
    return out


def drawn_with(s, decoder: str) -> dict:
    """What a folder of records' pictures depend on: the settings they were drawn with (but
    rerank_step, which only says where to rank: every K is scored from the same draws) and the decoder."""
    from dataclasses import asdict

    settings = {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(s).items() if k != "rerank_step"}
    return {"settings": settings, "decoder": decoder}


def check_records(records: Path, s, decoder: str) -> None:
    """Refuse to add pictures drawn otherwise to a folder of records: its drawn_with.json says what drew
    its pictures (written with the first record; folders from before it have none and are trusted)."""
    path, want = records / "drawn_with.json", drawn_with(s, decoder)
    if path.exists():
        if json.loads(path.read_text()) != want:
            raise SystemExit(
                f"{records} holds pictures drawn with other settings or another decoder ({path}); "
                "delete its records or give other --records"
            )
    elif not any(records.glob("*.jsonl")):  # whole or not at all: a split drawn beside may read it now
        tmp = path.with_name(f"{path.name}.{os.getpid()}")
        tmp.write_text(json.dumps(want, indent=1) + "\n")
        tmp.replace(path)


def run_split(split: str, limit: int, records: Path, s, offset: int = 0, decoder: str = "world") -> None:
    from tqdm.auto import tqdm

    from promptism.pipelines.common import to_images
    from promptism.pipelines.unclip import load_models, load_reranker

    check_records(records, s, decoder)
    models, (reranker, _) = load_models(decoder=decoder), load_reranker(s.rerank_clip)
    out = records / f"{split}.jsonl"
    done = {json.loads(line)["id"] for line in out.read_text().splitlines()} if out.exists() else set()
    prompts = [p for p in suite.limited(suite.all_prompts((split,)), limit, offset) if p.id not in done]
    n = suite.IMAGES_PER_PROMPT
    for count, p in enumerate(tqdm(prompts, desc=f"rerank_early {split}", unit="prompt")):
        seed = suite.hash_id(p.id)
        t0 = time.perf_counter()
        drawn = draw(models, reranker, p.text, seed, s)
        secs = time.perf_counter() - t0
        images = to_images(drawn["pictures"])
        judged = [suite.score_images(p, images[j * n : (j + 1) * n]) for j in range(len(images) // n)]
        line = {
            "id": p.id,
            "split": p.split,
            "category": p.category,
            "seed": seed,
            "seconds": secs,
            "scores": drawn["scores"],
            "candidates": [[{"correct": r.correct, "reason": r.reason} for r in row] for row in judged],
        }
        if count == 0:  # the records are what the pipeline draws
            line["pipeline_gap"] = check_pipeline(models, p.text, seed, drawn, s)
        with out.open("a") as f:  # one whole line per prompt: a kill loses at most the prompt in hand
            f.write(json.dumps(line) + "\n")


TIMED = (None, 50, 45, 40, 30, 20, 10)  # rerank_step values whose warm grid --time measures
PROMPT = "two red circles above a blue square"  # unclip_world.py's timing prompt


def time_grids(settings_list: list[tuple[str, object, str]], threads: int, runs: int = 3) -> dict:
    """Median seconds of a warm 4-picture 64 px grid (after one run to warm up) for each named
    (settings, decoder)."""
    import statistics

    from promptism.pipelines.unclip import generate, load_models

    torch.set_num_threads(threads)
    out = {}
    for name, s, decoder in settings_list:
        models = load_models(decoder=decoder)
        generate(PROMPT, n=4, seed=0, size=64, models=models, settings=s)
        secs = []
        for seed in range(runs):
            t0 = time.perf_counter()
            generate(PROMPT, n=4, seed=seed, size=64, models=models, settings=s)
            secs.append(time.perf_counter() - t0)
        out[name] = {"median": statistics.median(secs), "runs": secs}
    return {"threads": threads, "prompt": PROMPT, "grids": out}


def tables(records: Path, ids: set[str] | None = None) -> dict:
    """The tables for every K, for the dev and reported prompts (only those in ``ids`` when given)."""
    by_id = {p.id: p for p in suite.all_prompts()}
    lines = [r for r in read_records(records) if ids is None or r["id"] in ids]
    if not lines:
        raise SystemExit(f"no records under {records}")
    sets = {
        "reported": {p.id for p in suite.limited(suite.all_prompts(), REPORTED)},
        "dev": {p.id for p in suite.limited(suite.all_prompts(), DEV, REPORTED)},
    }
    held = set.intersection(*(set(r["scores"]) for r in lines))  # each K scored, in step order, then finished
    keys = sorted(held, key=lambda k: (k == "finished", int(k) if k.isdigit() else 0))
    out = {"sets": {}, "gaps": [r["pipeline_gap"] for r in lines if "pipeline_gap" in r]}
    drawn = records / "drawn_with.json"
    out["drawn_with"] = json.loads(drawn.read_text()) if drawn.exists() else None

    def judged(rs: list[dict], picks) -> dict:
        """GenEval-world of each picture's candidate ``picks(record)[slot]``."""
        results = [
            suite.ImageResult(by_id[r["id"]], slot, r["candidates"][j][slot]["correct"], "", [])
            for r in rs
            for slot, j in enumerate(picks(r))
        ]
        right = sum(x.correct for x in results)
        return {"scores": suite.SuiteResult(results).scores(), "right": right, "pictures": len(results)}

    for name, ids in sets.items():
        rs = [r for r in lines if r["id"] in ids]
        if not rs:
            continue
        out["sets"][name] = {"prompts": {s: sum(r["split"] == s for r in rs) for s in suite.SPLITS}, "k": {}}
        # one candidate a picture (no reranking): every picture's first candidate, the picture itself
        out["sets"][name]["one"] = judged(rs, lambda r: [0] * suite.IMAGES_PER_PROMPT)
        for key in keys:
            out["sets"][name]["k"][key] = judged(rs, lambda r, key=key: pick(r["scores"][key]))
            # how often the pick at K is the finished pictures' pick
            out["sets"][name]["k"][key]["same_pick"] = float(
                np.mean([a == b for r in rs for a, b in zip(pick(r["scores"][key]), pick(r["scores"]["finished"]))])
            )
    out["seconds_per_prompt"] = float(np.mean([r["seconds"] for r in lines]))
    out["candidates"] = suite.IMAGES_PER_PROMPT * len(lines[0]["candidates"])  # per prompt, every record alike
    return out


def verdict(t: dict) -> dict:
    """The rule of the docstring applied to the tables."""
    dev, rep = t["sets"].get("dev"), t["sets"].get("reported")
    if not dev or not rep:
        return {"decided": False, "why": "the dev and reported prompts are not all drawn yet"}
    finished_dev = dev["k"]["finished"]["right"] / dev["k"]["finished"]["pictures"]
    chosen = next(
        (k for k in map(str, STEPS) if dev["k"][k]["right"] / dev["k"][k]["pictures"] >= finished_dev - TOLERANCE),
        None,
    )
    out = {"decided": True, "dev_finished": finished_dev, "chosen": chosen}
    if chosen is None:
        out.update(adopted=False, why="no K in STEPS came within the tolerance of the finished pictures' ranking")
        return out
    ok = {
        s: rep["k"][chosen]["scores"][s]["overall"] >= rep["k"]["finished"]["scores"][s]["overall"] - TOLERANCE
        for s in suite.SPLITS
    }
    bars = meets_bars(rep["k"][chosen]["scores"])
    out.update(adopted=all(ok.values()) and bars, per_split=ok, bars=bars)
    return out


def markdown(rep: dict) -> str:
    keys = [*map(str, STEPS), "finished"]
    lines = [
        "# When to rerank unCLIP's candidates: early ranking on the decoder's x̂₀",
        "",
        f"Measured by `python benchmarks/rerank_early.py` on {rep['machine']}, torch {rep['torch']}, promptism "
        f"{rep['promptism']}, {rep['threads']} thread(s) per process. Shipped models, default settings "
        f"({rep['rerank']} candidates a picture, reranked by `{rep['clip']}`), 64 px, {suite.IMAGES_PER_PROMPT} "
        "pictures per prompt.",
        "",
        "*one candidate*: each picture's first candidate, the picture `--rerank 1` draws. Column K: each picture is the candidate whose decoder x̂₀ after K of the 50 decoder steps the "
        "reranking CLIP scored highest (`--rerank-step K`); *finished*: the candidate whose finished 64 px "
        "picture it scored highest (the pipeline's default before this benchmark). The judge reads the "
        "finished picture of the candidate picked; it never picks. *same pick*: the share of pictures "
        "where K picks the candidate the finished pictures' ranking picks.",
        "",
    ]
    for name, title in (("reported", "prompts 1-40 of every category"), ("dev", "prompts 41-50 (choose K)")):
        t = rep["sets"].get(name)
        if not t:
            continue
        lines += [f"## {title}", ""]
        for split in suite.SPLITS:
            if not t["prompts"].get(split):
                continue
            lines += [
                f"### {split} ({t['prompts'][split]} prompts)",
                "",
                "| category | one candidate | "
                + " | ".join(f"K = {k}" if k != "finished" else "finished" for k in keys)
                + " |",
                "|---|---|" + "---|" * len(keys),
            ]
            for cat in (c for c in (*suite.CATEGORIES, "overall") if c in t["k"]["finished"]["scores"][split]):
                name_ = suite.CATEGORY_TITLES.get(cat, "**Overall**")
                lines.append(
                    f"| {name_} | {t['one']['scores'][split][cat]:.3f} | "
                    + " | ".join(f"{t['k'][k]['scores'][split][cat]:.3f}" for k in keys)
                    + " |"
                )
            lines.append("")
        lines += [
            "| both splits | " + " | ".join(keys) + " |",
            "|---|" + "---|" * len(keys),
            "| right / pictures | " + " | ".join(f"{t['k'][k]['right']}/{t['k'][k]['pictures']}" for k in keys) + " |",
            "| same pick | " + " | ".join(f"{t['k'][k]['same_pick']:.3f}" for k in keys) + " |",
            "",
        ]
    v = rep["verdict"]
    if not v["decided"]:
        lines += [f"Verdict: not yet ({v['why']}).", ""]
    elif v["chosen"] is None:
        lines += [f"Verdict by the rule in the script's docstring: {v['why']}; the default stays None.", ""]
    else:
        short = [s for s, ok in v["per_split"].items() if not ok]
        lines += [
            f"Verdict by the rule in the script's docstring: on the dev prompts the smallest K within {TOLERANCE} "
            f"of ranking the finished pictures is {v['chosen']}. On the reported prompts it "
            + (
                "meets issue #41's bars and is within the tolerance on both splits: it becomes the default."
                if v["adopted"]
                else (f"falls further below on {', '.join(short)}" if short else "is within the tolerance")
                + (" and meets issue #41's bars" if v["bars"] else " and misses issue #41's bars")
                + ": the default stays None."
            ),
            "",
        ]
    gaps = rep.get("gaps") or []
    if gaps:
        lines += [
            "Check: on each process's first prompt, `generate` drew the pictures these records rank; the largest "
            "pixel gap (0-255) between its pictures and the ones picked here: "
            + "; ".join(", ".join(f"{k}: {g}" for k, g in gap.items()) for gap in gaps)
            + ".",
            "",
        ]
    lines += [
        f"Seconds per prompt ({rep['candidates']} candidates drawn whole, scored at every K): "
        f"{rep['seconds_per_prompt']:.1f}.",
        "",
        *timing_lines(rep),
    ]
    if rep.get("conditions"):
        lines += [f"Conditions: {rep['conditions']}", ""]
    return "\n".join(lines)


def timing_lines(rep: dict) -> list[str]:
    """The --time table: the warm grid's median seconds for each setting timed."""
    tm = rep.get("timing")
    if not tm:
        return []
    names = list(tm["grids"])
    return [
        f"Warm 4-picture 64 px grid (`{tm['prompt']}`), median of "
        f"{len(next(iter(tm['grids'].values()))['runs'])} runs after one to warm up, {tm['threads']} threads, "
        "one process alone:",
        "",
        "| " + " | ".join(["setting", *(n if not n.isdigit() else f"K = {n}" for n in names)]) + " |",
        "|---|" + "---|" * len(names),
        "| seconds | " + " | ".join(f"{tm['grids'][n]['median']:.2f}" for n in names) + " |",
        "",
    ]


def rank_key(s) -> str:
    """The score that ranks each picture's candidates under settings ``s`` in the records (draw
    records it): the x̂₀ after ``s.rerank_step`` decoder steps, or after the last where there are
    fewer, or the finished pictures without one."""
    return "finished" if s.rerank_step is None else str(min(s.rerank_step, s.steps))


def ranked_on(at: str) -> str:
    return "the finished pictures" if at == "finished" else f"the decoder's x̂₀ after {at} steps"


def compare_markdown(rep: dict) -> str:
    """A sampling recipe's report: its GenEval-world on its prompts, each picture the best of its
    candidates as its settings rank them (finished pictures, or x̂₀ after its rerank_step), beside the
    default settings' on the same prompts and seeds, ranked as the default ranks them."""
    t, base, name = rep["tables"], rep["default"], rep["recipe"]
    at = rep.get("rank_at", "finished")
    base_at = rep.get("default_rank_at", at)  # reports before it ranked both alike
    lines = [
        f"# {rep.get('kind', 'Sampling')} recipe {name}: GenEval-world against the default settings",
        "",
        f"Measured by `python benchmarks/rerank_early.py --config {rep['config']}` on {rep['machine']}, torch "
        f"{rep['torch']}, promptism {rep['promptism']}, {rep['threads']} thread(s) per process. "
        f"{rep.get('models', 'Shipped models')}, "
        f"64 px, {suite.IMAGES_PER_PROMPT} pictures per prompt, each the best of {rep['rerank']} candidates by "
        f"`{rep['clip']}` on "
        + ranked_on(at)
        + (" (the default's)" if at == base_at else f", the default's on {ranked_on(base_at)}")
        + f"; {rep['changed']}. The default settings' "
        f"pictures are the records of `{rep.get('baseline', 'benchmarks/reports/rerank_early_records')}` "
        "for the same prompts and seeds.",
        "",
    ]
    for set_name, title in (("reported", "prompts 1-40 of every category"), ("dev", "prompts 41-50")):
        mine, theirs = t["sets"].get(set_name), base["sets"].get(set_name)
        if not mine or not theirs:
            continue
        lines += [f"## {title}", ""]
        for split in suite.SPLITS:
            if not mine["prompts"].get(split):
                continue
            lines += [
                f"### {split} ({mine['prompts'][split]} prompts)",
                "",
                f"| category | {name} | default |",
                "|---|---|---|",
            ]
            for cat in (c for c in (*suite.CATEGORIES, "overall") if c in mine["k"][at]["scores"][split]):
                a = mine["k"][at]["scores"][split][cat]
                b = theirs["k"][base_at]["scores"][split][cat]
                lines.append(f"| {suite.CATEGORY_TITLES.get(cat, '**Overall**')} | {a:.3f} | {b:.3f} |")
            lines.append("")
        a, b = mine["k"][at], theirs["k"][base_at]
        lines += [f"Both splits: {a['right']}/{a['pictures']} right against {b['right']}/{b['pictures']}.", ""]
    lines += [
        f"Seconds per prompt ({t['candidates']} candidates drawn whole): {t['seconds_per_prompt']:.1f} against "
        f"{base['seconds_per_prompt']:.1f} for the default's records (each run's conditions apply).",
        "",
        *timing_lines(rep),
    ]
    if rep.get("conditions"):
        lines += [f"Conditions: {rep['conditions']}", ""]
    return "\n".join(lines)


def main() -> int:
    from dataclasses import asdict

    from tried import TRIED

    from promptism.pipelines.settings import Settings
    from promptism.recipes import load_recipe

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--splits", nargs="+", default=[], choices=suite.SPLITS, help="splits to draw and score")
    ap.add_argument("--limit", type=int, default=REPORTED + DEV, help="prompts per category and split (default: 50)")
    ap.add_argument("--offset", type=int, default=0, help="skip this many prompts of every category first (default: 0)")
    ap.add_argument(
        "--config",
        default=None,
        metavar="RECIPE",
        help="a sampling recipe (kind generate) to draw with instead of the default settings, or a decoder recipe "
        "whose trained decoder (--decoder) draws instead of the shipped one: its records and report go to "
        "experiments/reports/rerank_early_NAME*, compared with the default settings' records",
    )
    ap.add_argument(
        "--decoder",
        default=None,
        metavar="FOLDER",
        help="with a decoder recipe as --config: the decoder that recipe trained (a model folder)",
    )
    ap.add_argument(
        "--records",
        type=Path,
        default=None,
        help="folder of per-prompt records (default: benchmarks/reports/rerank_early_records, or the recipe's)",
    )
    ap.add_argument(
        "--baseline",
        type=Path,
        default=None,
        help="with --config: the default settings' records the recipe is compared with (default: "
        "benchmarks/reports/rerank_early_records); they must be drawn with today's default settings",
    )
    ap.add_argument("--report", action="store_true", help="write the tables and the verdict from the records")
    ap.add_argument(
        "--time",
        action="store_true",
        help="with --report: also time a warm 4-picture 64 px grid (median of 3, --time-threads) for each "
        "rerank_step in TIMED, or for the recipe's settings beside the default's",
    )
    ap.add_argument("--time-threads", type=int, default=2, help="torch threads for --time (default: 2)")
    ap.add_argument("--threads", type=int, default=int(os.environ.get("PROMPTISM_THREADS", "1")), help="torch threads")
    ap.add_argument("--conditions", default="", help="what else ran beside it, written into the report")
    args = ap.parse_args()
    if not args.splits and not args.report:
        ap.error("give --splits to draw, --report to write the tables, or both")
    torch.set_num_threads(args.threads)
    settings, recipe = Settings(), None
    if args.config:
        recipe = load_recipe(args.config)
        if recipe.kind not in ("generate", "decoder"):
            ap.error(f"{args.config} is a {recipe.kind} recipe, not a sampling one (kind generate) nor a decoder one")
        if (recipe.kind == "decoder") != (args.decoder is not None):
            ap.error("--decoder FOLDER goes with a decoder recipe as --config, and only with one")
        if recipe.kind == "generate":
            settings = Settings(**recipe.preset["settings"])
            settings.check()
    elif args.decoder:
        ap.error("--decoder needs the decoder recipe that trained it as --config")
    decoder = args.decoder or "world"
    default_records = REPORTS / "rerank_early_records"
    records = args.records or (TRIED / f"rerank_early_{recipe.name}_records" if recipe else default_records)
    records.mkdir(parents=True, exist_ok=True)
    for split in args.splits:
        run_split(split, args.limit, records, settings, args.offset, decoder)
    if args.report and recipe:
        baseline = args.baseline or default_records
        drawn = baseline / "drawn_with.json"
        if drawn.exists() and json.loads(drawn.read_text()) != drawn_with(Settings(), "world"):
            raise SystemExit(
                f"{baseline} holds pictures drawn with other settings than today's defaults ({drawn}): "
                "give --baseline the records of a run at the default settings"
            )
        t = tables(records)
        changed = {k: v for k, v in asdict(settings).items() if v != getattr(Settings(), k)}
        rep = {
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
            "torch": torch.__version__,
            "promptism": __version__,
            "threads": args.threads,
            "recipe": recipe.name,
            "config": args.config,
            "clip": settings.rerank_clip,
            "rerank": settings.rerank,
            "rank_at": rank_key(settings),
            "default_rank_at": rank_key(Settings()),
            "baseline": str(baseline),
            "kind": "Decoder" if args.decoder else "Sampling",
            "models": f"Shipped models, the decoder {args.decoder} in place of decoder-world"
            if args.decoder
            else "Shipped models",
            "changed": "settings changed: " + (", ".join(f"{k} = {v}" for k, v in changed.items()) or "none"),
            "judge_sha256": judge_fingerprint(),
            "tables": t,
            "default": tables(baseline, {r["id"] for r in read_records(records)}),
            "conditions": args.conditions,
        }
        if args.time:
            rep["timing"] = time_grids(
                [("default", Settings(), "world"), (recipe.name, settings, decoder)], args.time_threads
            )
        (TRIED / f"rerank_early_{recipe.name}.json").write_text(json.dumps(rep, indent=1))
        (TRIED / f"rerank_early_{recipe.name}.md").write_text(compare_markdown(rep))
        print(compare_markdown(rep))
    elif args.report:
        t = tables(records)
        rep = {
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
            "torch": torch.__version__,
            "promptism": __version__,
            "threads": args.threads,
            "clip": Settings().rerank_clip,
            "rerank": Settings().rerank,
            "judge_sha256": judge_fingerprint(),
            **t,
            "verdict": verdict(t),
            "conditions": args.conditions,
        }
        if args.time:
            rep["timing"] = time_grids(
                [(str(k) if k else "finished", Settings(rerank_step=k), "world") for k in TIMED], args.time_threads
            )
        (REPORTS / "rerank_early.json").write_text(json.dumps(rep, indent=1))
        (REPORTS / "rerank_early.md").write_text(markdown(rep))
        print(markdown(rep))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
