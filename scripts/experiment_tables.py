"""Write docs/experiments/{clip,unclip}.md: one row per recipe file under experiments/, in the order
the runs were made, from each file's base, overrides, result and reports.

    .venv/bin/python scripts/experiment_tables.py
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from promptism.recipes import TEXT_KEYS, load_recipe

ROOT = Path(__file__).resolve().parent.parent
INTRO = {
    "clip": (
        "# CLIP experiments\n\n"
        "The road from the bag-of-words `world` CLIP (`clip-world-v1`) to the binding `world-bind21` that ships as "
        "`clip-world`. Each row is a recipe file under `experiments/clip/` (run it with "
        "`promptism train clip --data DIR --out RUN --config experiments/clip/NAME.toml`); its file holds why it "
        "was tried, the rule it was judged by (where one was written before the run) and the full result. "
        "Probe numbers read seen / held-out. The shipped recipes (`world`, `world-bind2`, `world-bind21`) are "
        "presets in `src/promptism/clip/presets.py`; their measurements are in the model cards and "
        "[`benchmarks/reports/clip_world.md`](../../benchmarks/reports/clip_world.md) (world-bind2's, from when it "
        "was the default: [`clip_world_bind2.md`](../../experiments/reports/clip_world_bind2.md)).\n"
    ),
    "unclip": (
        "# unCLIP experiments\n\n"
        "The shipped decoder was trained in phases, each `--init` from the one before "
        "(`scripts/train_unclip_world.sh`): `world` → `world-ft` → `world-ft2` → `world-inpaint` → "
        "`world-more-ln` → `world-more-ln2`; the upsampler `world-64-res` → `world-64-res-more`. Those are presets "
        "in `src/promptism/unclip/presets.py`, measured in "
        "[`benchmarks/reports/unclip_world.md`](../../benchmarks/reports/unclip_world.md) and the model cards. "
        "Each row below is a recipe that did not ship, a file under `experiments/unclip/` (run it with "
        "`promptism train decoder --config FILE`, and the same for `prior` and `upsampler`).\n"
    ),
}


def _order(path: Path) -> tuple:
    numbers = [int(n) for n in re.findall(r"\d+", path.stem)]
    return (numbers or [0], path.stem)


def _changes(path: Path) -> str:
    data = tomllib.loads(path.read_text())
    parts = []
    for section, values in data.items():
        if section in TEXT_KEYS or not isinstance(values, dict):
            continue
        for key, value in values.items():
            parts.append(f"{section}.{key} = {value}")
    parts += [f"{key} unset" for key in data.get("unset", ())]
    return "; ".join(parts).replace("|", "\\|") or "(the base as it is)"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def table(family: str) -> str:
    rows = [
        "| recipe | base | what changed | result and verdict | reports |",
        "|---|---|---|---|---|",
    ]
    for path in sorted((ROOT / "experiments" / family).glob("*.toml"), key=_order):
        recipe = load_recipe(path)
        links = ", ".join(f"[{Path(r).stem}](../../experiments/reports/{Path(r).name})" for r in recipe.reports)
        source = f"[{recipe.name}](../../experiments/{family}/{path.name})"
        rows.append(
            f"| {source} | {recipe.base.removesuffix('.toml')} | {_changes(path)} | {_cell(recipe.result)} | "
            f"{links or '—'} |"
        )
    return INTRO[family] + "\n" + "\n".join(rows) + "\n"


def main() -> None:
    for family in INTRO:
        out = ROOT / "docs" / "experiments" / f"{family}.md"
        out.write_text(table(family))
        print(f"wrote {out}")


if __name__ == "__main__":
    main()
