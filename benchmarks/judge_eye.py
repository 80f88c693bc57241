"""Does the judge see in generated pictures what a person sees?

The world's own renders test the judge on exact drawings (benchmarks/judge_accuracy.py); the
pictures a model draws are softer and a little off the named sizes and colours. This scores the
judge against shapes labelled by eye in pictures the shipped pipeline drew
(benchmarks/data/judge_eye/README.md): an object a person names is matched when the judge names
the same shape in the picture (labels and readings compared as multisets); objects a person
could not name (`?`) are left out, and whether the judge finds as many objects as the person saw
is reported beside.

    python benchmarks/judge_eye.py        # writes benchmarks/reports/judge_eye.{json,md}
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

from promptism import __version__
from promptism.world import read
from promptism.world.judge import fingerprint as judge_fingerprint

DATA = Path(__file__).parent / "data" / "judge_eye"
REPORTS = Path(__file__).parent / "reports"
SETS = ("blind", "design")


def score(folder: Path) -> dict:
    labels = json.loads((folder / "labels.json").read_text())
    named = matched = same_count = 0
    differ = []
    for name, seen in labels.items():
        shapes = [o.shape for o in read(folder / name).objects]
        want = Counter(s for s in seen if s != "?")
        hit = sum((want & Counter(shapes)).values())
        named, matched, same_count = named + sum(want.values()), matched + hit, same_count + (len(shapes) == len(seen))
        if hit < sum(want.values()) or len(shapes) != len(seen):
            differ.append({"picture": name, "person": seen, "judge": shapes})
    return {
        "pictures": len(labels),
        "named_objects": named,
        "matched": matched,
        "agreement": matched / named,
        "same_count": same_count / len(labels),
        "differ": differ,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=str(REPORTS), help="report folder (default: benchmarks/reports)")
    args = ap.parse_args()
    res = {"promptism": __version__, "judge_sha256": judge_fingerprint(), "sets": {s: score(DATA / s) for s in SETS}}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "judge_eye.json").write_text(json.dumps(res, indent=1) + "\n")
    lines = [
        "# The judge against a person's eye",
        "",
        f"Made by `python benchmarks/judge_eye.py` (promptism {__version__}, judge.py sha256 "
        f"{res['judge_sha256'][:12]}…). Pictures and labels: `benchmarks/data/judge_eye/` (see its README; "
        "`blind` is the fair test, `design` shaped the judge's rules).",
        "",
        "| set | pictures | objects a person names | the judge names the same | share | same number of objects |",
        "|---|---|---|---|---|---|",
    ]
    for s in SETS:
        r = res["sets"][s]
        lines.append(
            f"| {s} | {r['pictures']} | {r['named_objects']} | {r['matched']} | {r['agreement']:.3f} | "
            f"{r['same_count']:.3f} |"
        )
    for s in SETS:
        lines += ["", f"Where the judge differs from the person ({s}):", ""]
        lines += [
            f"- `{d['picture']}`: person {', '.join(d['person'])}; judge {', '.join(d['judge']) or 'nothing'}"
            for d in res["sets"][s]["differ"]
        ] or ["- nowhere"]
    (out / "judge_eye.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines[4 : 4 + 2 + len(SETS)]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
