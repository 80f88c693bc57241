"""CLIP reranking of unCLIP's pictures on the Scene World: GenEval-world when each picture is the
best of k candidates by a CLIP's score against the prompt (k = 1: the plain pipeline).

    python benchmarks/rerank_world.py --splits seen --candidates 3 --limit 40     # one process
    python benchmarks/rerank_world.py --splits heldout --candidates 3 --limit 40  # another
    python benchmarks/rerank_world.py --report                                    # both -> tables
    python benchmarks/rerank_world.py --vary 100 --candidates 3                   # variations

Candidate j of a prompt's pictures is what ``generate(prompt, n=4, seed=(s + j * CANDIDATE_STRIDE)
mod 2**32, rerank=1)`` draws: the candidates the pipeline's ``rerank=k`` draws in one batch (the
suite's seeds are below 2**32 - 4, so no picture's seed wraps apart from its call's). The world's judge
scores every candidate; the reranking CLIP (``--clip``, by default the one Settings.rerank_clip
names, "world-bind2") scores each at 64 px against the prompt. The table for k keeps, in each of the 4 slots, the candidate among the
first k with the highest CLIP score, and counts what the judge said of it. The judge never picks:
it only scores what CLIP picked.

``--vary N`` measures variations the same way, on edit_world.py's N trials (a world picture, 4
variations of it, each agreeing when the judge reads the same colours and shapes in it): the
candidates of each variation are scored by the reranking CLIP against the source picture.

Records (one JSON line per prompt or trial, so a killed run resumes where it stopped) go to
``--records``; the report reads every split's records there.

Rule fixed before the first run, for the pipeline's default ``rerank``: the largest k in {1, 2, 3}
whose warm 4-picture 64 px generation (unclip_world.py's timing part, 2 threads, nothing else
running) takes a median of at most 8 s, provided its GenEval-world overall on the seen split is
not below k = 1's here; otherwise 1. Variations share the setting: their table is reported, not
used to choose it (written before the variations' first run).

Since the layout decoder shipped, the default follows experiments/unclip/generate-rerank-layout.toml
(written before its run): the smallest k in {1, 2, 3} whose GenEval-world here meets issue #41's bars
on both splits (BARS); the report says which k do. Variations have their own count (VARY_RERANK,
experiments/unclip/vary-rerank-5.toml).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import torch

from promptism import __version__
from promptism.pipelines.settings import CANDIDATE_STRIDE, Settings
from promptism.world import suite
from promptism.world.judge import fingerprint as judge_fingerprint

REPORTS = Path(__file__).parent / "reports"


def run_split(split: str, k: int, limit: int, records: Path, clip_name: str) -> None:
    from tqdm.auto import tqdm

    from promptism.clip import load as load_clip
    from promptism.pipelines.unclip import generate, load_models

    models, clip = load_models(), load_clip(clip_name)
    out = records / f"{split}.jsonl"
    done = {json.loads(line)["id"] for line in out.read_text().splitlines()} if out.exists() else set()
    prompts = [p for p in suite.limited(suite.all_prompts((split,)), limit) if p.id not in done]
    for p in tqdm(prompts, desc=f"rerank {split}", unit="prompt"):
        seed, cands, secs = suite.hash_id(p.id), [], []
        for j in range(k):
            t0 = time.perf_counter()
            images = generate(
                p.text,
                n=suite.IMAGES_PER_PROMPT,
                seed=(seed + j * CANDIDATE_STRIDE) % 2**32,
                size=64,
                models=models,
                rerank=1,
            ).images
            secs.append(time.perf_counter() - t0)
            scores = clip.score(images, [p.text])[:, 0].tolist()
            cands.append(
                [
                    {"correct": r.correct, "reason": r.reason, "clip": s}
                    for r, s in zip(suite.score_images(p, images), scores)
                ]
            )
        line = {
            "id": p.id,
            "split": p.split,
            "category": p.category,
            "seed": seed,
            "seconds": secs,
            "candidates": cands,
        }
        with out.open("a") as f:  # one whole line per prompt: a kill loses at most the prompt in hand
            f.write(json.dumps(line) + "\n")


def run_vary(trials: int, k: int, records: Path, clip_name: str) -> None:
    from edit_world import SIZE, _objects
    from tqdm.auto import tqdm

    from promptism import world
    from promptism.clip import load as load_clip
    from promptism.pipelines.edit import vary
    from promptism.pipelines.images import square
    from promptism.pipelines.unclip import load_models
    from promptism.world.sampling import sample_example

    models, clip = load_models(), load_clip(clip_name)
    out = records / "vary.jsonl"
    done = {json.loads(line)["id"] for line in out.read_text().splitlines()} if out.exists() else set()
    for t in tqdm([t for t in range(trials) if f"vary-{t}" not in done], desc="rerank vary", unit="trial"):
        picture = world.render(sample_example(np.random.default_rng([6, t])).scene, SIZE)  # edit_world's trial t
        want = _objects(picture)
        target = clip.encode_image([square(picture, clip.image_size)])[0]
        cands, secs = [], []
        for j in range(k):
            t0 = time.perf_counter()
            images = vary(picture, n=4, seed=(4 * t + j * CANDIDATE_STRIDE) % 2**32, models=models, rerank=1).images
            secs.append(time.perf_counter() - t0)
            scores = (clip.encode_image(images) @ target).tolist()
            row = []
            for im, sc in zip(images, scores):
                got = _objects(im)
                row.append(
                    {
                        "correct": got == want,
                        "clip": sc,
                        "colours": Counter(c for c, _ in got.elements()) == Counter(c for c, _ in want.elements()),
                        "shapes": Counter(s for _, s in got.elements()) == Counter(s for _, s in want.elements()),
                        "pixels": hashlib.sha256(np.asarray(im).tobytes()).hexdigest()[:16],
                    }
                )
            cands.append(row)
        with out.open("a") as f:
            f.write(json.dumps({"id": f"vary-{t}", "seconds": secs, "candidates": cands}) + "\n")


def vary_tables(records: Path) -> dict | None:
    path = records / "vary.jsonl"
    if not path.exists():
        return None
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    k_max = min(len(r["candidates"]) for r in lines)
    out = {
        "trials": len(lines),
        "candidates": k_max,
        "k": {},
        "seconds_per_candidate_set": float(np.mean([s for r in lines for s in r["seconds"]])),
    }
    for k in range(1, k_max + 1):
        kept = [pick(r["candidates"], k) for r in lines]
        flat = [c for row in kept for c in row]
        out["k"][str(k)] = {key: float(np.mean([c[key] for c in flat])) for key in ("correct", "colours", "shapes")}
        out["k"][str(k)]["all_four_distinct"] = float(
            np.mean([len({c["pixels"] for c in row}) == len(row) for row in kept])
        )
    return out


def pick(cands: list[list[dict]], k: int) -> list[dict]:
    """For each slot, the candidate among the first k with the highest CLIP score (the first on a tie)."""
    return [max(cands[:k], key=lambda c: c[slot]["clip"])[slot] for slot in range(len(cands[0]))]


def read_records(records: Path) -> list[dict]:
    """Every split's per-prompt records under ``records``, split by split."""
    return [
        json.loads(line)
        for split in suite.SPLITS
        if (records / f"{split}.jsonl").exists()
        for line in (records / f"{split}.jsonl").read_text().splitlines()
    ]


def tables(records: Path) -> dict:
    by_id = {p.id: p for p in suite.all_prompts()}
    lines = read_records(records)
    if not lines:
        raise SystemExit(f"no records under {records}")
    k_max = min(len(r["candidates"]) for r in lines)
    out = {"candidates": k_max, "prompts": {}, "k": {}}
    for k in range(1, k_max + 1):
        results = [
            suite.ImageResult(by_id[r["id"]], slot, c["correct"], c["reason"], [])
            for r in lines
            for slot, c in enumerate(pick(r["candidates"], k))
        ]
        res = suite.SuiteResult(results)
        out["k"][str(k)] = {"scores": res.scores(), "pictures": res.counts()}
    for split in suite.SPLITS:
        rs = [r for r in lines if r["split"] == split]
        if rs:
            out["prompts"][split] = len(rs)
            out.setdefault("seconds_per_candidate_set", {})[split] = float(
                np.mean([s for r in rs for s in r["seconds"]])
            )
    # how often CLIP's pick is right when its slot has a right and a wrong candidate among k_max
    mixed = [[c[slot] for c in r["candidates"]] for r in lines for slot in range(len(r["candidates"][0]))]
    mixed = [m for m in mixed if len({c["correct"] for c in m}) == 2]
    out["mixed_slots"] = len(mixed)
    out["mixed_slots_picked_right"] = (
        float(np.mean([max(m, key=lambda c: c["clip"])["correct"] for m in mixed])) if mixed else float("nan")
    )
    # what a pick at random would get right in those slots: the share of right candidates in each
    out["mixed_slots_random_pick"] = (
        float(np.mean([np.mean([c["correct"] for c in m]) for m in mixed])) if mixed else float("nan")
    )
    return out


def markdown(rep: dict) -> str:
    ks = sorted(rep["k"], key=int)
    lines = [
        "# CLIP reranking of unCLIP on the Scene World",
        "",
        f"Measured by `python benchmarks/rerank_world.py` on {rep['machine']}, torch {rep['torch']}, promptism "
        f"{rep['promptism']}, {rep['threads']} thread(s) per process. Shipped models, default settings, 64 px, "
        f"{suite.IMAGES_PER_PROMPT} pictures per prompt; prompts per split: "
        + ", ".join(f"{s} {n}" for s, n in rep["prompts"].items())
        + ".",
        "",
        f"Each picture is the best of k candidates by the reranking CLIP (`{rep['clip']}`) against the prompt; "
        "k = 1 is the plain pipeline. The judge scores what CLIP picked; it never picks.",
        "",
    ]
    for split in rep["prompts"]:
        lines += [
            f"## {split}",
            "",
            "| category | " + " | ".join(f"k = {k}" for k in ks) + " | DALL·E 2 (GenEval) |",
            "|---|" + "---|" * (len(ks) + 1),
        ]
        for cat in (*suite.CATEGORIES, "overall"):
            title = suite.CATEGORY_TITLES.get(cat, "**Overall**")
            ref = f"{suite.DALLE2_GENEVAL[cat]:.2f}"
            lines.append(
                f"| {title} | " + " | ".join(f"{rep['k'][k]['scores'][split][cat]:.3f}" for k in ks) + f" | {ref} |"
            )
        lines.append("")
    lines += [
        f"Slots whose {rep['candidates']} candidates the judge did not all score alike: {rep['mixed_slots']}; "
        f"CLIP picked a right one in {rep['mixed_slots_picked_right']:.3f} of them, where a pick at random "
        f"would in {rep['mixed_slots_random_pick']:.3f}.",
        "",
        "Seconds per candidate set (4 pictures): "
        + ", ".join(f"{s} {v:.2f}" for s, v in rep["seconds_per_candidate_set"].items())
        + ".",
        "",
    ]
    meeting = [k for k in ks if meets_bars(rep["k"][k]["scores"])]
    lines += [
        "Issue #41's bars (overall at least "
        + ", ".join(f"{v:.2f} {s}" for s, v in BARS["overall"].items())
        + "; "
        + ", ".join(f"{suite.CATEGORY_TITLES[c].lower()} at least {v:.2f}" for c, v in BARS.items() if c != "overall")
        + " on both splits) are met with k = "
        + (", ".join(meeting) if meeting else "none of these")
        + ".",
        "",
    ]
    d = rep.get("default")
    if d:
        lines += [
            f"The default, k = {d['k']} (`Settings.rerank`): the fewest candidates that meet those bars, by the rule "
            "of `experiments/unclip/generate-rerank-layout.toml`, written before this run. A warm 4-picture 64 px grid "
            f"with it takes {d['warm_seconds']:.2f} s (unclip_world.md's timing, {d['threads']} threads).",
            "",
        ]
    v = rep.get("vary")
    if v:
        vk = sorted(v["k"], key=int)
        lines += [
            "## Variations",
            "",
            f"{v['trials']} trials of edit_world.py (a world picture, 4 variations, DDIM inversion at the default "
            "η); each variation is the best of k candidates by the reranking CLIP's cosine with the source "
            "picture. Agreement: the judge reads the same colours and shapes as in the source.",
            "",
            "| | " + " | ".join(f"k = {k}" for k in vk) + " | bar (issue #5) |",
            "|---|" + "---|" * (len(vk) + 1),
            "| judge agreement | " + " | ".join(f"{v['k'][k]['correct']:.3f}" for k in vk) + " | ≥ 0.70 |",
            "| colours alone | " + " | ".join(f"{v['k'][k]['colours']:.3f}" for k in vk) + " | |",
            "| shapes alone | " + " | ".join(f"{v['k'][k]['shapes']:.3f}" for k in vk) + " | |",
            "| no two of four identical | "
            + " | ".join(f"{v['k'][k]['all_four_distinct']:.2f}" for k in vk)
            + " | 1.00 |",
            "",
            f"Seconds per candidate set (4 variations): {v['seconds_per_candidate_set']:.2f}.",
            "",
        ]
    if rep.get("conditions"):
        lines += [f"Conditions: {rep['conditions']}", ""]
    return "\n".join(lines)


# issue #41's GenEval-world bars with the default settings: overall per split, and these categories on both
BARS = {"overall": {"seen": 0.85, "heldout": 0.80}, "position": 0.60, "color_attr": 0.70}


def meets_bars(scores: dict) -> bool:
    """Whether GenEval-world scores (split -> category -> share) meet BARS on every split."""
    return all(
        scores[split]["overall"] >= BARS["overall"][split]
        and all(scores[split][c] >= v for c, v in BARS.items() if c != "overall")
        for split in BARS["overall"]
    )


def default_line() -> dict | None:
    """The shipped default k and the warm time unclip_world.py measured with it, when it did."""
    path, k = REPORTS / "unclip_world.json", Settings().rerank
    timing = json.loads(path.read_text()).get("timing", {}) if path.exists() else {}
    if timing.get("settings", {}).get("rerank", 1) != k:
        return None
    return {"k": k, "warm_seconds": timing["warm_seconds_median"], "threads": timing["threads"]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--splits", nargs="+", default=[], choices=suite.SPLITS, help="splits to draw and score")
    ap.add_argument("--candidates", type=int, default=3, help="candidates per picture to draw (default: 3)")
    ap.add_argument("--limit", type=int, default=40, help="prompts per category and split (default: 40)")
    ap.add_argument(
        "--clip",
        default=Settings().rerank_clip,
        help="the reranking CLIP (default: %(default)s, the one Settings.rerank_clip names)",
    )
    ap.add_argument(
        "--records",
        type=Path,
        default=REPORTS / "rerank_world_records",
        help="folder of per-prompt records (default: benchmarks/reports/rerank_world_records)",
    )
    ap.add_argument(
        "--vary",
        type=int,
        default=0,
        metavar="TRIALS",
        help="also measure variations on this many of edit_world.py's trials (default: 0, none)",
    )
    ap.add_argument("--report", action="store_true", help="write the tables from the records")
    ap.add_argument("--threads", type=int, default=int(os.environ.get("PROMPTISM_THREADS", "1")), help="torch threads")
    ap.add_argument("--conditions", default="", help="what else ran beside it, written into the report")
    args = ap.parse_args()
    if not args.splits and not args.vary and not args.report:
        ap.error("give --splits or --vary to draw, --report to write the tables, or both")
    torch.set_num_threads(args.threads)
    args.records.mkdir(parents=True, exist_ok=True)
    for split in args.splits:
        run_split(split, args.candidates, args.limit, args.records, args.clip)
    if args.vary:
        run_vary(args.vary, args.candidates, args.records, args.clip)
    if args.report:
        rep = {
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
            "torch": torch.__version__,
            "promptism": __version__,
            "threads": args.threads,
            "clip": args.clip,
            "judge_sha256": judge_fingerprint(),
            "conditions": args.conditions,
            **tables(args.records),
            "vary": vary_tables(args.records),
            "default": default_line(),
        }
        (REPORTS / "rerank_world.json").write_text(json.dumps(rep, indent=1))
        (REPORTS / "rerank_world.md").write_text(markdown(rep))
        print(markdown(rep))
    return 0


if __name__ == "__main__":
    sys.exit(main())
