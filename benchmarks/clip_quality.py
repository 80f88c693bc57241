"""How good is a CLIP on the Scene World? (issue #3's bars)

    python benchmarks/clip_quality.py --model runs/clip-world/model --data data/world-64-50k

Measures, on the dataset's val split and on held-out compositions rendered from the suite:
text->image retrieval R@1 among 100 pictures, the binding probes (caption vs the same caption
with colours swapped / relation reversed / count changed), and zero-shot shape and colour of
single objects. Writes benchmarks/reports/clip_world.{json,md} and the model card next to the
weights (MODEL_CARD.md).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import torch

from promptism import __version__, clip
from promptism.clip.task_config import ClipTaskConfig
from promptism.data import load_pairs
from promptism.eval.clip import evaluate_clip
from promptism.world.constraints import Constraints

REPORTS = Path(__file__).parent / "reports"
BARS = {
    "retrieval_r1_100": 0.80,
    "binding_seen": 0.95,
    "binding_heldout": 0.90,
    "zero_shot": 0.97,
}


def verdicts(r: dict) -> list[tuple[str, float | None, float, bool]]:
    rows = [("text->image R@1 among 100", r["retrieval_r1_100"], BARS["retrieval_r1_100"])]
    for split in ("seen", "heldout"):
        for kind, v in r[f"binding_{split}"].items():
            rows.append((f"binding {split}: {kind}", v["accuracy"], BARS[f"binding_{split}"]))
    for split in ("seen", "heldout"):
        for what in ("shape", "color"):
            rows.append((f"zero-shot {what} ({split} pairs)", r[f"zero_shot_{split}"][what], BARS["zero_shot"]))
    return [(name, v, bar, v is not None and v >= bar) for name, v, bar in rows]


def _share(v: float | None) -> str:
    return "—" if v is None else f"{v:.3f}"


def markdown(r: dict, meta: dict) -> str:
    lines = [
        f"# CLIP on the Scene World: {meta['model']}",
        "",
        f"Measured by `{meta['command']}` (promptism {meta['promptism']}, {meta['cpus']} CPUs, {meta['seconds']} s).",
        "",
        "| measure | value | bar (issue #3) | met |",
        "|---|---|---|---|",
    ]
    for name, v, bar, ok in verdicts(r):
        lines.append(f"| {name} | {_share(v)} | ≥ {bar:.2f} | {'yes' if ok else '**no**'} |")
    lines += [
        "",
        "Probe counts: "
        + ", ".join(f"{s} {k} n={v['n']}" for s in ("seen", "heldout") for k, v in r[f"binding_{s}"].items()),
        f"Zero-shot pictures: {r['zero_shot_seen']['n']} seen-pair, {r['zero_shot_heldout']['n']} held-out-pair.",
        "",
    ]
    for split, name in (("seen", "seen (val)"), ("heldout", "held-out")):
        rel = r[f"binding_{split}"]["relation"]
        if rel.get("one_shape", {}).get("n"):  # none of the suite's held-out prompts does
            one, two = rel["one_shape"], rel["two_shapes"]
            lines += [
                f"Relation probe, {name}, by the related objects' shapes (not a bar): "
                + "; ".join(
                    f"{label} {_share(v['accuracy'])} (n={v['n']})"
                    for label, v in (("two of one shape", one), ("of two shapes", two))
                )
                + ".",
                "",
            ]
    if "shape_plain" in r["zero_shot_heldout"]:
        lines += [
            'Zero-shot shape named by the shape\'s name alone ("a {}", no colour; not a bar): '
            f"{r['zero_shot_seen']['shape_plain']:.3f} on seen pairs, {r['zero_shot_heldout']['shape_plain']:.3f} "
            "on held-out pairs.",
            "",
        ]
    side = r.get("image_side_binding")
    if side and side["accuracy"] is not None:
        lines += [
            f"The picture embedding alone (the composition head it was trained with): {side['accuracy']:.3f} of "
            f"{side['n']} val pictures with a colour swap score their own (colour, shape) pairs above the "
            "swapped ones.",
            "",
        ]
    sides = r.get("relation_sides")
    if sides and sides["n"]:
        lines += [
            f"The place head (trained with it): over the {sides['n']} sides that val captions' relations state "
            f"(the two colours, the two shapes), it reads {sides['picture']:.3f} right off the picture embedding "
            f"and {sides['caption']:.3f} off the caption embedding.",
            "",
        ]
    held = r.get("relation_sides_heldout")
    if held and held["n"]:
        lines += [
            f"On held-out compositions (the probe's {held['n']} sides): {held['picture']:.3f} off the picture "
            f"embedding, {held['caption']:.3f} off the caption embedding.",
            "",
        ]
    pairs = r["zero_shot_heldout"].get("by_pair")
    if pairs:
        lines += [
            "Zero-shot on held-out pairs, by pair (shape named right, colour named right, the wrong shape "
            'named most often; shape named right by "a {}" alone):',
            "",
            '| pair | pictures | shape | colour | taken for | shape by "a {}" |',
            "|---|---|---|---|---|---|",
        ]
        lines += [
            f"| {p} | {v['n']} | {v['shape']:.2f} | {v['color']:.2f} | {v['taken_for'] or '—'} | "
            f"{v['shape_plain']:.2f} |"
            for p, v in pairs.items()
        ]
        lines.append("")
    return "\n".join(lines)


def _towers(model: dict) -> str:
    """The model's config.json fields that differ from CLIPConfig's defaults."""
    from promptism.clip.model import CLIPConfig
    from promptism.knobs import describe

    return describe(CLIPConfig, model) or "the defaults"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="world", help="model folder or 'world' (the shipped one)")
    ap.add_argument(
        "--data", required=True, help="the Scene World dataset the model was trained on (its val split is used)"
    )
    ap.add_argument("--val", type=int, default=2000, help="val pictures to use (default: 2000)")
    ap.add_argument("--out", default=str(REPORTS), help="report folder")
    ap.add_argument("--name", default="clip_world", help="report file name (default: clip_world)")
    args = ap.parse_args()
    torch.set_num_threads(int(os.environ.get("PROMPTISM_THREADS", "2")))
    t0 = time.time()
    model = clip.load(args.model)
    val = load_pairs(args.data, "val", size=model.image_size, limit=args.val, progress=False)
    r = evaluate_clip(
        model,
        val.images,
        val.captions,
        [Constraints.from_dict(m["stated"]) for m in val.metas],
        val_scenes=[m["scene"] for m in val.metas],
    )
    meta = {
        "model": args.model,
        "data": args.data,
        "command": "python " + " ".join(sys.argv),
        "promptism": __version__,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "seconds": round(time.time() - t0, 1),
        "val_pictures": len(val),
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{args.name}.json").write_text(json.dumps({"meta": meta, "results": r}, indent=1))
    md = markdown(r, meta)
    (out / f"{args.name}.md").write_text(md)
    folder = clip.SHIPPED.get(args.model, Path(args.model))
    cfg = json.loads((folder / "config.json").read_text())
    manifest = Path(args.data) / "manifest.json"  # the world it was measured on: the card's commands make it
    made = json.loads(manifest.read_text())["settings"] if manifest.exists() else {"n": 50000, "size": 64, "seed": 0}
    world = f"data/world-{made['size']}-{made['n'] // 1000}k"
    card = [
        f"# Model card: CLIP `{cfg.get('name', folder.name)}`",
        "",
        "A contrastive text–image model trained from scratch on the Scene World (promptism).",
        "",
        "## Training",
        "",
        "Reproduce with `bash scripts/train_clip_world.sh`, which runs:",
        "",
        "```",
        f"promptism world make --out {world} --n {made['n']} --size {made['size']} --seed {made['seed']}",
        f"PROMPTISM_THREADS=2 promptism train clip --data {world} --out runs/clip-world --preset {cfg.get('preset')}",
        "```",
        "",
        f"- preset `{cfg.get('preset')}`, {cfg.get('steps')} steps of batch {cfg.get('batch_size')} "
        f"over {cfg.get('examples')} training pairs, EMA {cfg.get('ema')}",
        f"- task (ClipTaskConfig, the knobs set away from their defaults): {ClipTaskConfig.describe(cfg)}",
        f"- towers: {_towers(cfg.get('config', {}))}",
        f"- wall time of the training command on this machine (2 CPU cores, data loading included): "
        f"{cfg.get('wall_seconds_this_run')} s"
        + (f"; stepping time over every resume of the run: {cfg['train_seconds']} s" if "train_seconds" in cfg else ""),
        "",
        "## Measured quality",
        "",
        md.split("\n", 2)[2],
    ]
    old_card = folder / "MODEL_CARD.md"
    kept = old_card.read_text().partition("\n## Limits")[1:] if old_card.exists() else ("", "")
    (folder / "MODEL_CARD.md").write_text("\n".join(card) + "".join(kept))  # hand-written limits stay
    print(md)
    return 0 if all(ok for *_, ok in verdicts(r)) else 1


if __name__ == "__main__":
    sys.exit(main())
