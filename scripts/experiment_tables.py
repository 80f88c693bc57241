"""Write docs/experiments/{clip,unclip,vqgan,gan,guide,mini}.md: one row per recipe file under experiments/, in the order
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
        "`world-more-ln` → `world-more-ln2`; the upsampler `world-64-res` → `world-64-res-more`; the 64→128 upsampler "
        "`world-128` in one phase. Those are presets "
        "in `src/promptism/unclip/presets.py`, measured in "
        "[`benchmarks/reports/unclip_world.md`](../../benchmarks/reports/unclip_world.md) and the model cards. "
        "Each row below is a recipe file under `experiments/unclip/` (run it with "
        "`promptism train decoder --config FILE`, and the same for `prior` and `upsampler`); all but "
        "upsampler-world-128-wide, which became the preset `world-128`, did not ship. A recipe of kind `generate` "
        "(named `generate-*`) changes only sampling settings (its `[settings]` table over the pipeline's "
        "defaults) and is measured by `benchmarks/rerank_early.py --config FILE` beside the default settings on "
        "the same prompts and seeds.\n"
    ),
    "vqgan": (
        "# VQGAN experiments\n\n"
        "The shipped `vqgan-world` is the preset `world-f4` (16×16 codes of a 64 px picture) in "
        "`src/promptism/vqgan/presets.py`, measured in its model card and "
        "[`benchmarks/reports/vqgan_world.md`](../../benchmarks/reports/vqgan_world.md). Each row below is a recipe "
        "that did not ship, a file under `experiments/vqgan/` (run it with "
        "`promptism train vqgan --data DIR --out RUN --config FILE`).\n"
    ),
    "gan": (
        "# GAN experiments\n\n"
        "The shipped `gan-world` is the preset `world` in `src/promptism/gan/presets.py`, measured in its model card, "
        "[`benchmarks/reports/fid_world.md`](../../benchmarks/reports/fid_world.md) and "
        "[`benchmarks/reports/gan_world.md`](../../benchmarks/reports/gan_world.md). Each row below is a recipe that "
        "did not ship, a file under `experiments/gan/` (run it with "
        "`promptism train gan --data DIR --out RUN --config FILE`).\n"
    ),
    "guide": (
        "# CLIP-guided generation experiments\n\n"
        "Settings of `promptism guide` tried against its defaults (`presets()` in "
        "`src/promptism/guide/optimize.py`), each a file under `experiments/guide/` with the rule it was judged by. "
        "They are measured on the dev prompts (the seen split's prompts 11–16 of single object and colours) by "
        "`benchmarks/guide_world.py --config FILE --offset 10 --limit 6 --categories single_object colors`, so that "
        "the benchmark's reports, which quote prompts 1–10, are not the prompts a recipe was chosen on. "
        "After eleven recipes on those twelve pictures, the recipes from dev2-defaults on are measured on dev "
        "prompts 2 (prompts 21–30 of the same categories, `--offset 20 --limit 10`), against the control "
        "dev2-defaults; later ones on later prompts of both splits, up to the 80th. "
        "Once every prompt of the suite was spent, a recipe is judged on a fresh draw (`--draw 1`: prompts "
        "written from the suite's templates with their own seed, none of them the suite's). "
        "Each file lists only what it changed from the defaults of its day: until canvas-v1-gentle became the "
        "vqgan generator's defaults, those were the gray canvas plus noise, 200 steps at lr 0.1 and CLIP `world`, "
        "and every recipe up to that one was measured against them; until pick-contrast-keep became them, the "
        "canvas was picked by its cosine with the prompt and every step was taken.\n"
    ),
    "mini": (
        "# DALL·E mini experiments\n\n"
        "The shipped `mini-world` is trained by `scripts/train_mini_world.sh` from the preset `world` in "
        "`src/promptism/mini/presets.py`, measured in its model card and "
        "[`benchmarks/reports/mini_world.md`](../../benchmarks/reports/mini_world.md). Each row below is a file under "
        "`experiments/mini/`: a training recipe (run it with `promptism train mini --data DIR --out RUN --config "
        "FILE`, with `--init` where it continues a model), or a sampling setting (its `[sample]` table), measured by "
        "`benchmarks/mini_world.py --tag NAME --offset K --limit N` on prompts the benchmark's report did not quote "
        "when it ran: prompts 11-15 of every category while it quoted the first 10, prompts 41-50 since it "
        "quotes the first 40 (a reranker is compared on recorded candidates with `--report --records-of TAG "
        "--rerank-with CLIP+CLIP`).\n"
    ),
}


# the phases that trained the shipped unCLIP models: presets in src/promptism/unclip/presets.py, each
# --init from the one before (scripts/train_unclip_world.sh); what each measured, from the runs' notes
SHIPPED_PHASES = [
    (
        "decoder",
        "world",
        "—",
        "4,000 steps, v target with min-SNR weighting (γ = 5)",
        "its x₀ error at high noise, where layout and shapes are decided, stayed large; shapes blobby",
        "phase",
    ),
    (
        "decoder",
        "world-ft",
        "world",
        "the plain v loss, 4,500 steps at 2e-4",
        "fine-tuned where min-SNR weighting had left high noise nearly unweighted",
        "phase",
    ),
    (
        "decoder",
        "world-ft2",
        "world-ft",
        "3,000 steps more at 1.5e-4",
        "held-out x₀ error still falling at every noise level",
        "phase",
    ),
    (
        "decoder",
        "world-inpaint",
        "world-ft2",
        "four more input channels (the known picture and its mask), 1,500 steps",
        "an inpainting decoder that stays a text-to-image one",
        "phase",
    ),
    (
        "decoder",
        "world-more-ln",
        "world-inpaint",
        "timesteps drawn logit-normally, half the pictures with nothing known, 6,000 steps at 1e-4",
        "GenEval-world 0.401 seen / 0.362 held-out against 0.359 / 0.308 with uniform timesteps (its control, "
        "decoder-world-more) and 0.285 / 0.292 before; decoded val embeddings R@1 among 100 0.90 (0.88, 0.77)",
        "phase",
    ),
    (
        "decoder",
        "world-more-ln2",
        "world-more-ln",
        "9,000 steps more of the same",
        "rule set before it ran: it ships if GenEval-world (40 prompts) is not below the decoder it replaces on "
        "either split. 0.599 / 0.545 against 0.524 / 0.472 (the judge of e1315b3); R@1 0.93, cosine 0.903; 94 minutes on one thread. "
        "Ships as decoder-world",
        "[unclip_world](../../benchmarks/reports/unclip_world.md)",
    ),
    (
        "upsampler",
        "world-64-res",
        "world-64",
        "the residual upsampler: diffuses 4x the residual over bicubic, input noised to t < 100, plain v loss, 6,000 steps",
        "starts from bicubic quality instead of having to reach it",
        "phase",
    ),
    (
        "upsampler",
        "world-64-res-more",
        "world-64-res",
        "9,000 steps more at 1.5e-4",
        "200 val pictures, aug_t 50, 8 steps: PSNR 31.1 -> 33.1 dB alone (bicubic 31.9), 34.2 -> 36.0 dB "
        "back-projected; 97 minutes on one thread. Ships as upsampler-world-64",
        "[upsampler_world_more](../../benchmarks/reports/upsampler_world_more.md)",
    ),
    (
        "upsampler",
        "world-128",
        "—",
        "64 -> 128 px: the residual recipe with a four-level UNet (2 x 2 pixels folded), timesteps drawn near pure "
        "noise, 5,000 steps on pictures rendered at 128 px; drawn in 2 steps (the recipe upsampler-world-128-wide)",
        "rule set before it ran: it ships if its best setting beats bicubic with back-projection on 200 val pictures. "
        "38.55 dB against 36.44 (37.88 at the pipeline's defaults); 43 minutes on two threads. Ships as "
        "upsampler-world-128",
        "[upsampler_world_128_wide](../../benchmarks/reports/upsampler_world_128_wide.md)",
    ),
]


def shipped_table() -> str:
    rows = [
        "## The shipped phases\n",
        "| stage | preset | from | what changed | result and verdict | report |",
        "|---|---|---|---|---|---|",
    ]
    for kind, name, base, change, result, report in SHIPPED_PHASES:
        rows.append(f"| {kind} | `{name}` | {base} | {change} | {result} | {'—' if report == 'phase' else report} |")
    return "\n".join(rows) + "\n\n## Recipes tried\n\n"


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


def _link(recipe: Path, report: str) -> str:
    """A link from docs/experiments/ to a report named relative to its recipe's file, named by the report's
    stem (or, for a report.md, by its folder's name)."""
    target = (recipe.parent / report).resolve().relative_to(ROOT)
    name = target.parent.name if target.stem == "report" else target.stem
    return f"[{name}](../../{target.as_posix()})"


def table(family: str) -> str:
    rows = [
        "| recipe | base | what changed | result and verdict | reports |",
        "|---|---|---|---|---|",
    ]
    for path in sorted((ROOT / "experiments" / family).glob("*.toml"), key=_order):
        recipe = load_recipe(path)
        links = ", ".join(_link(path, r) for r in recipe.reports)
        source = f"[{recipe.name}](../../experiments/{family}/{path.name})"
        rows.append(
            f"| {source} | {recipe.base.removesuffix('.toml')} | {_changes(path)} | "
            f"{_cell(recipe.result) or 'not run yet'} | "
            f"{links or '—'} |"
        )
    middle = shipped_table() if family == "unclip" else ""
    return INTRO[family] + "\n" + middle + "\n".join(rows) + "\n"


def main() -> None:
    for family in INTRO:
        out = ROOT / "docs" / "experiments" / f"{family}.md"
        out.write_text(table(family))
        print(f"wrote {out}")


if __name__ == "__main__":
    main()
