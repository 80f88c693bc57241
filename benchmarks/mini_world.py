"""GenEval-world of `promptism mini` (DALL·E mini), with and without CLIP reranking, beside unCLIP on
the same prompts.

    .venv/bin/python benchmarks/mini_world.py --split seen --limit 10      # one process
    .venv/bin/python benchmarks/mini_world.py --split heldout --limit 10   # another
    .venv/bin/python benchmarks/mini_world.py --report                     # both -> tables

For each prompt (the first --limit of every category of the split) the shipped mini model draws
--candidates pictures at its default sampling settings, candidate j from the prompt's suite seed
+ j (what ``promptism mini --seed S`` draws); the reranking CLIP (the default, ``world``) scores
each against the prompt. The table for k keeps the candidate among the first k that CLIP scored
highest and counts what the judge said of it: k = 1 is no reranking, k = the default candidates its first
picture. The judge scores every candidate and picks none.

unCLIP's columns read benchmarks/reports/rerank_world_records (benchmarks/rerank_world.py: the
shipped unCLIP on the same prompts and suite seeds, its first picture, k = 1 and its default 3
candidates).

Records (one JSON line per prompt) go to benchmarks/reports/mini_world_records/<split>.jsonl, so a
killed run resumes where it stopped; each names the weights' sha256, and records of other weights
stop a run rather than being counted as this model's. A model being tried (``--model FOLDER --tag NAME``) keeps its
records and report with the experiment reports: experiments/reports/mini_world_<NAME>{_records/,.md,.json}.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPORTS = Path(__file__).resolve().parent / "reports"
RECORDS = REPORTS / "mini_world_records"
EXPERIMENT_REPORTS = Path(__file__).resolve().parents[1] / "experiments" / "reports"
KS = tuple(k * k for k in range(1, 9))  # columns: the best of the first k, k a square up to 64


def run(
    split: str,
    limit: int,
    candidates: int,
    model: str,
    records: Path = RECORDS,
    offset: int = 0,
    sampling: dict | None = None,
    also_score: tuple[str, ...] = (),
    contrast: bool = False,
) -> None:
    from tqdm.auto import tqdm

    from promptism.checkpoint import resolve, weights_sha256
    from promptism.mini.pipeline import DEFAULTS, mini
    from promptism.pipelines.unclip import load_reranker
    from promptism.world import suite

    records.mkdir(parents=True, exist_ok=True)
    path = records / f"{split}.jsonl"
    sha = weights_sha256(resolve(model, "mini"))
    kept = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
    if any(r.get("model_sha256", sha) != sha for r in kept):
        raise SystemExit(f"{path} holds records of other weights than {model}'s: move it away to measure these")
    want = {"sampling": sampling or {}, "rerank_clip": list(DEFAULTS["rerank_clip"])}
    if any({"sampling": r.get("sampling", {}), "rerank_clip": r.get("rerank_clip", ["world"])} != want for r in kept):
        raise SystemExit(f"{path} holds records drawn with other settings: move it away to measure these")
    if any(len(r["candidates"]) > candidates for r in kept):
        raise SystemExit(f"{path} holds records of more candidates than {candidates}: move it away to measure these")

    def draw(p, seed: int, first: int, count: int) -> tuple[list[dict], float]:
        """Candidates first..first+count-1 of prompt p, judged, each with its CLIP scores."""
        t0 = time.perf_counter()
        by_seed = {}
        for start, n in _chunks(count):  # every candidate kept, ranked: a grid of n (a square)
            g = int(round(n**0.5))
            r = mini(p.text, candidates=n, grid=g, seed=(seed + first + start) % 2**32, model=model, **(sampling or {}))
            by_seed.update(zip(r.seeds, zip(r.images, r.scores)))
        seconds = time.perf_counter() - t0
        imgs = [by_seed[(seed + first + j) % 2**32][0] for j in range(count)]
        others = {}
        for name in also_score:  # other CLIPs' cosines with the prompt, for reranking them offline
            clip, _ = load_reranker(name)
            with torch.no_grad():
                cos = clip.encode_image(imgs) @ clip.encode_text([p.text])[0]
            others[name] = [round(float(v), 5) for v in cos]
        if contrast:  # the three default CLIPs' margins of the prompt over its counterfactuals, summed
            cfs = counterfactuals(p.text)
            margin = torch.zeros(len(imgs))
            for name in DEFAULTS["rerank_clip"]:
                clip, _ = load_reranker(name)
                with torch.no_grad():
                    emb = clip.encode_image(imgs)
                    margin += emb @ clip.encode_text([p.text])[0]
                    if cfs:
                        margin -= (emb @ clip.encode_text(cfs).T).max(1).values
        cands = []
        for j, img in enumerate(imgs):
            judged = suite.score_images(p, [img])[0]
            cands.append(
                {"correct": judged.correct, "reason": judged.reason, "clip": by_seed[(seed + first + j) % 2**32][1]}
            )
            if others:
                cands[-1]["clip_by"] = {name: cos[j] for name, cos in others.items()}
            if contrast:
                cands[-1]["contrast"] = round(float(margin[j]), 5)
        return cands, seconds

    by_id = {p.id: p for p in suite.all_prompts((split,))}
    short = [i for i, r in enumerate(kept) if len(r["candidates"]) < candidates]
    for i in tqdm(short, desc=f"mini {split}: more candidates", unit="prompt"):
        # candidate j comes from seed + j, so the missing ones are drawn alone and appended
        r = kept[i]
        more, seconds = draw(by_id[r["id"]], r["seed"], len(r["candidates"]), candidates - len(r["candidates"]))
        r["candidates"] += more
        r["seconds"] += seconds
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text("".join(json.dumps(k) + "\n" for k in kept))
        tmp.replace(path)
    done = {r["id"] for r in kept}
    prompts = [p for p in suite.limited(suite.all_prompts((split,)), limit, offset) if p.id not in done]
    for p in tqdm(prompts, desc=f"mini {split}", unit="prompt"):
        seed = suite.hash_id(p.id) % 2**32
        cands, seconds = draw(p, seed, 0, candidates)
        record = {"id": p.id, "split": split, "category": p.category, "seed": seed, "seconds": seconds}
        record["threads"] = torch.get_num_threads()
        record["sampling"] = sampling or {}
        record["model_sha256"] = sha
        record["rerank_clip"] = list(DEFAULTS["rerank_clip"])
        with path.open("a") as f:
            f.write(json.dumps({**record, "candidates": cands}) + "\n")


NUMBERS = ("one", "two", "three", "four", "five", "six")
RELATIONS = {
    "above": "below",
    "below": "above",
    "to the left of": "to the right of",
    "to the right of": "to the left of",
}


def counterfactuals(text: str) -> list[str]:
    """Captions that differ from a Scene World prompt in one way (experiments/mini/sample-rerank-contrast.toml):
    the count one lower and one higher, the relation reversed, two objects' colours swapped, and each
    of two objects alone. Words it does not know give none."""
    import re

    from promptism.world import vocab
    from promptism.world.negatives import fix_articles

    lead = re.match(r"^(a photo of |an image of |a picture of )?", text).group(0)
    tail = re.search(r"( on an? \w+ background| under a blue sky)?$", text).group(0)
    core = text[len(lead) : len(text) - len(tail)]
    out = []
    words = core.split()
    if words and words[0] in NUMBERS:
        n = NUMBERS.index(words[0])
        for m in (n - 1, n + 1):
            if 1 <= m < len(NUMBERS):  # "one" would need the noun in the singular
                out.append(" ".join([NUMBERS[m], *words[1:]]))
    pair = None
    for rel in RELATIONS:
        if f" {rel} " in core:
            a, b = core.split(f" {rel} ", 1)
            out.append(f"{a} {RELATIONS[rel]} {b}")
            pair = (a, b)
            break
    if pair is None and " and " in core:
        pair = tuple(core.split(" and ", 1))
        a, b = pair
        ca = [w for w in a.split() if w in vocab.COLORS]
        cb = [w for w in b.split() if w in vocab.COLORS]
        if len(ca) == 1 and len(cb) == 1 and ca != cb:
            swap = {ca[0]: cb[0], cb[0]: ca[0]}
            out.append(" and ".join(fix_articles(" ".join(swap.get(w, w) for w in x.split())) for x in (a, b)))
    if pair is not None:
        out += list(pair)
    return [lead + c + tail for c in out]


def _chunks(candidates: int) -> list[tuple[int, int]]:
    """(first, count) of the mini calls that draw candidates 0..candidates-1 with every one kept:
    grids of 16 (the largest promptism mini returns whole), then one square grid of the rest.
    Candidate j comes from seed + j whatever call draws it, so the pictures are those of one call."""
    full, rest = divmod(candidates, 16)
    if candidates < 1 or int(round(rest**0.5)) ** 2 != rest:
        raise SystemExit(f"--candidates must be 16 a number of times plus a square (16, 25, 36 ...), got {candidates}")
    return [(16 * i, 16) for i in range(full)] + ([(16 * full, rest)] if rest else [])


def _pick(cands: list[dict], k: int, rerank: tuple[str, ...] = ()) -> bool:
    """What the judge said of the candidate among the first k that CLIP scored highest (the first on a
    tie): the CLIP the candidates were drawn with, or the sum of the cosines of the ``rerank`` CLIPs
    recorded with --also-score ("drawn" names the drawing's own reranker)."""

    def score(c: dict) -> float:
        if not rerank:
            return c["clip"]
        return sum(
            c["clip"] if name == "drawn" else c["contrast"] if name == "contrast" else c["clip_by"][name]
            for name in rerank
        )

    return max(cands[:k], key=score)["correct"]


def _unclip(split: str) -> dict[str, dict]:
    path = REPORTS / "rerank_world_records" / f"{split}.jsonl"
    if not path.exists():
        return {}
    out = {}
    for line in path.read_text().splitlines():
        rec = json.loads(line)
        slot0 = [cand[0] for cand in rec["candidates"]]  # the first picture's candidates
        out[rec["id"]] = {"k1": slot0[0]["correct"], "k3": _pick(slot0, 3) if len(slot0) >= 3 else None}
    return out


def report(
    records: Path = RECORDS,
    out: Path = REPORTS / "mini_world",
    model: str = "the shipped `mini-world`",
    rerank: tuple[str, ...] = (),
) -> None:
    from promptism import __version__
    from promptism.mini.pipeline import DEFAULTS
    from promptism.world.suite import CATEGORIES, CATEGORY_TITLES

    data: dict = {"categories": {}, "seconds": {}, "rerank": list(rerank) or "drawn"}
    drawn = {  # records from before the reranker was recorded were drawn with world, mini's until 25 candidates
        " + ".join(json.loads(line).get("rerank_clip", ["world"]))
        for path in sorted(records.glob("*.jsonl"))
        for line in path.read_text().splitlines()
    }
    drawn_by = " or ".join(f"`{d}`" for d in sorted(drawn)) or "—"
    named = [
        drawn_by
        if n == "drawn"
        else "the contrast score (the default CLIPs' margins of the prompt over captions that differ in one way)"
        if n == "contrast"
        else f"`{n}`"
        for n in rerank
    ]
    ranker = "the sum of the cosines of " + " and ".join(named) if rerank else f"the reranking CLIP ({drawn_by})"
    md = [
        "# GenEval-world of `promptism mini` (DALL·E mini)",
        "",
        f"Measured by `benchmarks/mini_world.py` on {platform.machine()}, torch {torch.__version__}, promptism "
        f"{__version__}: {model} at its default sampling settings, one picture per prompt. "
        f"Column k: the best of the first k candidates by {ranker}; k = 1 is no reranking, "
        f"k = {DEFAULTS['candidates']} the default count (`promptism mini`'s first picture). unCLIP: the shipped stack on the same prompts and "
        "seeds (benchmarks/rerank_world.py's records; its default reranks 3 candidates). The judge scores, it "
        "never picks.",
        "",
    ]
    for split in ("seen", "heldout"):
        path = records / f"{split}.jsonl"
        if not path.exists():
            continue
        recs = [json.loads(line) for line in path.read_text().splitlines()]
        unclip = _unclip(split)
        n_cands = min(len(r["candidates"]) for r in recs)
        ks = [k for k in KS if k <= n_cands]
        header = (
            "| category | prompts | " + " | ".join(f"mini k = {k}" for k in ks) + " | unCLIP k = 1 | unCLIP k = 3 |"
        )
        md += [f"## {split}", "", header, "|---|---|" + "---|" * (len(ks) + 2)]
        table = {}
        for cat in (*CATEGORIES, "overall"):
            rows = [r for r in recs if cat == "overall" or r["category"] == cat]
            if not rows:
                continue
            if cat == "overall":  # the mean of the categories, as the suite's overall
                cells = {k: float(np.mean([table[c][f"mini_k{k}"] for c in CATEGORIES if c in table])) for k in ks}
                u1 = [table[c]["unclip_k1"] for c in CATEGORIES if table.get(c, {}).get("unclip_k1") is not None]
                u3 = [table[c]["unclip_k3"] for c in CATEGORIES if table.get(c, {}).get("unclip_k3") is not None]
                entry = {**{f"mini_k{k}": v for k, v in cells.items()}}
                entry["unclip_k1"] = float(np.mean(u1)) if len(u1) == len(CATEGORIES) else None
                entry["unclip_k3"] = float(np.mean(u3)) if len(u3) == len(CATEGORIES) else None
                entry["prompts"] = len(rows)
            else:
                entry = {f"mini_k{k}": float(np.mean([_pick(r["candidates"], k, rerank) for r in rows])) for k in ks}
                known = [unclip[r["id"]] for r in rows if r["id"] in unclip]
                full = len(known) == len(rows)
                entry["unclip_k1"] = float(np.mean([u["k1"] for u in known])) if full else None
                entry["unclip_k3"] = (
                    float(np.mean([u["k3"] for u in known]))
                    if full and all(u["k3"] is not None for u in known)
                    else None
                )
                entry["prompts"] = len(rows)
            table[cat] = entry
            title = "**Overall**" if cat == "overall" else CATEGORY_TITLES.get(cat, cat)

            def cell(v):
                return "—" if v is None else f"{v:.3f}"

            md.append(
                f"| {title} | {entry['prompts']} | "
                + " | ".join(cell(entry[f"mini_k{k}"]) for k in ks)
                + f" | {cell(entry['unclip_k1'])} | {cell(entry['unclip_k3'])} |"
            )
        secs = [r["seconds"] for r in recs]
        per_candidate = float(np.median(secs)) / n_cands
        data["categories"][split] = table
        data["seconds"][split] = {
            "median_per_prompt": round(float(np.median(secs)), 2),
            "per_candidate": round(per_candidate, 3),
            "candidates": n_cands,
        }
        md += [
            "",
            f"Median {np.median(secs):.1f} s per prompt for {n_cands} candidates, drawing and ranking "
            f"({per_candidate:.2f} s a candidate, so about {per_candidate * 9:.1f} s for k = 9 and "
            f"{per_candidate * 4:.1f} s for k = 4), on {sorted({r.get('threads') for r in recs}, key=str)} "
            "thread(s); benchmarks/mini_speed.md times a grid on its own.",
            "",
        ]
    data["model"] = model
    out.with_name(out.name + ".json").write_text(json.dumps(data, indent=1))
    out.with_name(out.name + ".md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--split", choices=("seen", "heldout"), help="draw and judge this split's prompts")
    ap.add_argument("--limit", type=int, default=10, help="prompts per category (default: 10)")
    ap.add_argument(
        "--candidates",
        type=int,
        default=None,
        help="candidates per prompt: 16 a number of times plus a square, e.g. 16, 25, 36 (default: mini's)",
    )
    ap.add_argument("--model", default="world", help="the mini model (default: the shipped world)")
    ap.add_argument(
        "--tag",
        default=None,
        help="a model being tried: its records and report go to experiments/reports/mini_world_TAG* "
        "(default: the shipped model's, in benchmarks/reports)",
    )
    ap.add_argument(
        "--offset",
        type=int,
        default=0,
        help="prompts of each category to skip first (default: 0); with --tag, to choose settings on "
        "prompts the shipped report never quotes",
    )
    ap.add_argument(
        "--sampling",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a sampling setting other than the default (temperature, top_k, top_p, cond_scale); repeatable",
    )
    ap.add_argument(
        "--also-score",
        action="append",
        default=[],
        metavar="CLIP",
        help="a CLIP (a shipped name or folder) whose cosine of each candidate with the prompt is recorded "
        "too, to compare rerankers on the same pictures; repeatable",
    )
    ap.add_argument(
        "--contrast",
        action="store_true",
        help="record each candidate's contrast score too: the default CLIPs' margins of the prompt over "
        "captions that differ from it in one way (experiments/mini/sample-rerank-contrast.toml); rank by it "
        "with --report --rerank-with contrast",
    )
    ap.add_argument(
        "--rerank-with",
        default=None,
        metavar="CLIP+CLIP",
        help="with --report: rank by these recorded CLIPs' summed cosines ('drawn' is the drawing's own "
        "reranker, the others recorded with --also-score) instead of the drawing's reranker",
    )
    ap.add_argument(
        "--records-of",
        default=None,
        metavar="TAG",
        help="with --report --tag: read the records of that tag's run (e.g. to rerank them otherwise)",
    )
    ap.add_argument("--report", action="store_true", help="write mini_world.md/.json from the records")
    args = ap.parse_args()
    from promptism.mini.pipeline import DEFAULTS

    knobs = {k: type(v) for k, v in DEFAULTS.items() if k not in ("candidates", "grid", "rerank_clip")}  # typed
    sampling = {}
    for item in args.sampling:
        key, _, value = item.partition("=")
        if key not in knobs or not value:
            ap.error(f"--sampling takes {', '.join(k + '=' for k in knobs)}, got {item!r}")
        sampling[key] = knobs[key](value)
    if (args.offset or sampling) and not args.tag:
        ap.error("--offset and --sampling measure something other than the shipped defaults: give --tag")
    if args.tag:
        records, out = (
            EXPERIMENT_REPORTS / f"mini_world_{args.tag}_records",
            EXPERIMENT_REPORTS / f"mini_world_{args.tag}",
        )
        label = f"`{args.model}` (tried as {args.tag}" + "".join(f", {k} {v}" for k, v in sampling.items())
        label += f", prompts {args.offset + 1}–{args.offset + args.limit} of each category)" if args.offset else ")"
    else:
        records, out, label = RECORDS, REPORTS / "mini_world", "the shipped `mini-world`"
    if args.records_of:
        if not args.tag or args.split:
            ap.error("--records-of reports another tag's records under --tag: give --tag and no --split")
        records = EXPERIMENT_REPORTS / f"mini_world_{args.records_of}_records"
        label = label[:-1] + f", on {args.records_of}'s candidates)"
    rerank = tuple(args.rerank_with.split("+")) if args.rerank_with else ()
    if args.split:
        candidates = args.candidates or DEFAULTS["candidates"]
        run(
            args.split,
            args.limit,
            candidates,
            args.model,
            records,
            args.offset,
            sampling,
            tuple(args.also_score),
            args.contrast,
        )
    if args.report or not args.split:
        report(records, out, label, rerank)
    return 0


if __name__ == "__main__":
    sys.exit(main())
