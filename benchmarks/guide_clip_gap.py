"""Does CLIP tell guide's pictures from true ones? For each prompt, the CLIP cosine of guide's picture
(the defaults, with that one CLIP) beside the cosines of true renders of the prompt (random Scene
World layouts that state exactly what it asks), and what the judge says of guide's picture.

    .venv/bin/python benchmarks/guide_clip_gap.py                  # CLIPs world and world-v1
    .venv/bin/python benchmarks/guide_clip_gap.py --clips world --limit 3

If guide's pictures already score as high as the true renders while the judge rejects them, more
optimisation of the same loss cannot help: the loss does not separate them. The prompts are the
dev prompts of experiments/guide (the seen split's prompts 11-16 of single object and colours).
Writes benchmarks/reports/guide_clip_gap.{json,md} (`--out DIR`: DIR/guide_clip_gap.{json,md}).
`--score-with CLIP` also scores every guide picture and its true renders with a second CLIP: does a
CLIP trained not to be fooled (`train clip --adversarial`) reject pictures made against another one?
The judge only scores; nothing is picked by it.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

REPORTS = Path(__file__).resolve().parent / "reports"


def _cosines(clip, text, true, picture) -> dict:
    """A CLIP's cosines of a caption with its true renders (mean, min, max) and with guide's picture."""
    import torch

    with torch.no_grad():
        t = clip.encode_text([text])
        true_cos = (clip.encode_image(true) @ t.T).squeeze(1)
        guided = float(clip.encode_image([picture])[0] @ t[0])
    return {
        "true_mean": round(float(true_cos.mean()), 4),
        "true_min": round(float(true_cos.min()), 4),
        "true_max": round(float(true_cos.max()), 4),
        "guided": round(guided, 4),
    }


def measure(clips: list[str], limit: int, renders: int, steps: int, score_with: str | None = None) -> dict:
    import numpy as np
    import torch

    from promptism.clip import load
    from promptism.guide import guide
    from promptism.world import suite
    from promptism.world.constraints import layout
    from promptism.world.judge import judge
    from promptism.world.render import render

    chosen = [p for p in suite.all_prompts(("seen",)) if p.category in ("single_object", "colors")]
    prompts = suite.limited(chosen, limit, 10)
    second = load(score_with) if score_with else None
    rows = []
    for name in clips:
        clip = load(name)
        for p in prompts:
            t0 = time.time()
            true = [render(layout(p.constraints, np.random.default_rng(k))) for k in range(renders)]
            picture = guide(p.text, clips=(name,), seed=suite.hash_id(p.id) % 2**32, steps=steps).images[0]
            row = {"clip": name, "prompt": p.text, "id": p.id, **_cosines(clip, p.text, true, picture)}
            if second is not None:
                row["scored_with"] = _cosines(second, p.text, true, picture)
            row["judged_correct"] = judge(picture, p.constraints).correct
            row["seconds"] = round(time.time() - t0, 1)
            rows.append(row)
            print(json.dumps(rows[-1]), flush=True)
    return {
        "machine": f"{platform.machine()}, {torch.get_num_threads()} torch threads",
        "renders per prompt": renders,
        "guide steps": steps,
        "scored with": score_with,
        "rows": rows,
    }


def _fooled_table(result: dict, key: str | None) -> list[str]:
    """Per guiding CLIP: pictures judged right and wrong, and how many wrong ones score within or above
    the true renders' range (under that CLIP, or under the row's ``key`` cosines)."""
    lines = [
        "| CLIP | prompts | judged correct | judged wrong | wrong, within or above the true renders' range | "
        "wrong, below it |",
        "|---|---|---|---|---|---|",
    ]
    for name in dict.fromkeys(r["clip"] for r in result["rows"]):
        rs = [r for r in result["rows"] if r["clip"] == name]
        wrong = [r for r in rs if not r["judged_correct"]]
        scored = [r[key] if key else r for r in wrong]
        fooled = sum(c["guided"] >= c["true_min"] for c in scored)
        lines.append(
            f"| {name} | {len(rs)} | {len(rs) - len(wrong)} | {len(wrong)} | {fooled} | {len(wrong) - fooled} |"
        )
    return lines


def write(result: dict, out: Path = REPORTS) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "guide_clip_gap.json").write_text(json.dumps(result, indent=1) + "\n")
    lines = [
        "# Does CLIP tell guide's pictures from true ones?",
        "",
        f"Measured by `benchmarks/guide_clip_gap.py` on {result['machine']}: for each dev prompt of "
        "`experiments/guide` (the seen split's prompts 11-16 of single object and colours), the CLIP's cosine "
        f"with guide's picture (defaults, {result['guide steps']} steps, that CLIP alone, the benchmark's seed) "
        f"beside its cosines with {result['renders per prompt']} true renders of the prompt, and the judge's "
        "verdict on guide's picture.",
        "",
        "| CLIP | prompt | true renders: mean (min–max) | guide's picture | judge |",
        "|---|---|---|---|---|",
    ]
    for r in result["rows"]:
        lines.append(
            f"| {r['clip']} | {r['prompt']} | {r['true_mean']:.3f} ({r['true_min']:.3f}–{r['true_max']:.3f}) | "
            f"{r['guided']:.3f} | {'correct' if r['judged_correct'] else 'wrong'} |"
        )
    lines += [
        "",
        "A wrong picture scored at or above the true renders' lowest cosine is one the loss cannot tell from the "
        "truth (CLIP is fooled); one scored below it is one the optimisation left short.",
        "",
        *_fooled_table(result, None),
    ]
    other = result.get("scored with")
    if other:
        lines += [
            "",
            f"The same pictures and true renders scored by CLIP `{other}`, which guided none of them unless named "
            "above: guide's picture against the true renders' range.",
            "",
            "| guiding CLIP | prompt | true renders: mean (min–max) | guide's picture | judge |",
            "|---|---|---|---|---|",
        ]
        for r in result["rows"]:
            s = r["scored_with"]
            lines.append(
                f"| {r['clip']} | {r['prompt']} | {s['true_mean']:.3f} ({s['true_min']:.3f}–{s['true_max']:.3f}) | "
                f"{s['guided']:.3f} | {'correct' if r['judged_correct'] else 'wrong'} |"
            )
        lines += ["", *_fooled_table(result, "scored_with")]
    (out / "guide_clip_gap.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", nargs="+", default=["world", "world-v1"], help="CLIPs (default: world world-v1)")
    ap.add_argument("--limit", type=int, default=6, help="dev prompts per category (default: 6)")
    ap.add_argument("--renders", type=int, default=8, help="true renders per prompt (default: 8)")
    ap.add_argument("--steps", type=int, default=200, help="guide's steps (default: 200, its default)")
    ap.add_argument("--threads", type=int, default=2, help="torch threads (default: 2)")
    ap.add_argument(
        "--score-with", default=None, help="a second CLIP that also scores every picture and its true renders"
    )
    ap.add_argument("--out", default=str(REPORTS), help="report folder (default: benchmarks/reports)")
    ap.add_argument("--rewrite", action="store_true", help="only rewrite the Markdown from the JSON report")
    args = ap.parse_args()
    out = Path(args.out)
    if args.rewrite:
        write(json.loads((out / "guide_clip_gap.json").read_text()), out)
        return 0
    import torch

    torch.set_num_threads(args.threads)
    write(measure(args.clips, args.limit, args.renders, args.steps, args.score_with), out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
