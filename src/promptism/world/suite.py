"""GenEval-world: the evaluation suite (spec "The evaluation suite").

Six categories as in GenEval (Ghosh et al. 2023): single object, two objects, counting,
colours, position and attribute binding, each with PROMPTS_PER_CATEGORY fixed, seeded
prompts written from templates, in two splits:

* ``seen``: prompts whose colour–shape pairs all occur in training;
* ``heldout``: every prompt names at least one held-out pair. Where a seen-split category
  names no colour (single object, two objects, counting), its held-out prompts add one, so
  that the category can be asked about a held-out composition at all.

Each prompt is judged on IMAGES_PER_PROMPT pictures; a category's score is the mean over its
pictures, overall is the mean of the six categories (GenEval's definition).

Pictures on disk live at ``DIR/<prompt id>/<k>.png`` (``promptism eval prompts`` lists the
ids, ``promptism eval truth`` writes ground truth in that layout).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from . import vocab
from .captions import parse
from .constraints import Constraints, layout
from .judge import ImageLike, JudgeError, judge, load_image
from .render import render
from .scene import Scene

CATEGORIES = ("single_object", "two_objects", "counting", "colors", "position", "color_attr")
CATEGORY_TITLES = {
    "single_object": "Single object",
    "two_objects": "Two objects",
    "counting": "Counting",
    "colors": "Colours",
    "position": "Position",
    "color_attr": "Attribute binding",
}
SPLITS = ("seen", "heldout")
PROMPTS_PER_CATEGORY = 80
DRAW_PROMPTS = 20  # per category in each fresh draw of prompts (build's draw > 0)
IMAGES_PER_PROMPT = 4
THUMB = 128  # contact-sheet thumbnail side
SUITE_SEED = 20231018  # GenEval's arXiv date: the suite is fixed, never re-drawn
# DALL·E 2's published GenEval scores (Ghosh et al. 2023, Table 2), the bar our models must clear
DALLE2_GENEVAL = {
    "overall": 0.52,
    "single_object": 0.94,
    "two_objects": 0.66,
    "counting": 0.49,
    "colors": 0.77,
    "position": 0.10,
    "color_attr": 0.19,
}

PREFIXES = ("a photo of ", "a photo of ", "a picture of ", "an image of ", "")
BACKGROUND_SUFFIXES = ("", "", "", " on a gray background", " on a black background", " under a blue sky")
REL_TEXT = {"above": "above", "below": "below", "left of": "to the left of", "right of": "to the right of"}


@dataclass(frozen=True)
class Prompt:
    id: str
    category: str
    split: str
    text: str
    constraints: Constraints = field(compare=False)

    def to_dict(self) -> dict:
        return {"id": self.id, "category": self.category, "split": self.split, "text": self.text}


def _a(word: str) -> str:
    return f"an {word}" if word[0] in "aeiou" else f"a {word}"


def _noun(rng, shape: str, plural: bool = False) -> str:
    return vocab.noun_for(shape, plural, synonym=int(rng.integers(3)))


def _pairs(held_out: bool) -> list[tuple[str, str]]:
    return sorted((c, s) for c in vocab.COLORS for s in vocab.SHAPES if vocab.is_held_out(c, s) == held_out)


def _pick(rng, seq):
    return seq[int(rng.integers(len(seq)))]


def _body(category: str, split: str, rng) -> str:
    """One prompt body of a category (before prefix and background)."""
    held = split == "heldout"
    seen_pairs, held_pairs = _pairs(False), _pairs(True)
    shapes = list(vocab.SHAPES)
    if category == "single_object":
        if held:
            c, s = _pick(rng, held_pairs)
            return _a(f"{c} {_noun(rng, s)}")
        return _a(_noun(rng, _pick(rng, shapes)))
    if category == "two_objects":
        s1, s2 = rng.choice(len(shapes), 2, replace=False)
        s1, s2 = shapes[s1], shapes[s2]
        if held:
            c, s1 = _pick(rng, held_pairs)
            s2 = _pick(rng, [s for s in shapes if s != s1])
            return f"{_a(f'{c} {_noun(rng, s1)}')} and {_a(_noun(rng, s2))}"
        return f"{_a(_noun(rng, s1))} and {_a(_noun(rng, s2))}"
    if category == "counting":
        n = int(rng.integers(2, vocab.MAX_COUNT + 1))
        if held:
            c, s = _pick(rng, held_pairs)
            return f"{vocab.NUMBER_NAMES[n]} {c} {_noun(rng, s, plural=True)}"
        return f"{vocab.NUMBER_NAMES[n]} {_noun(rng, _pick(rng, shapes), plural=True)}"
    if category == "colors":
        c, s = _pick(rng, held_pairs if held else seen_pairs)
        return _a(f"{c} {_noun(rng, s)}")
    first, second = _two_pairs(rng, held, seen_pairs, held_pairs)
    a = _a(f"{first[0]} {_noun(rng, first[1])}")
    b = _a(f"{second[0]} {_noun(rng, second[1])}")
    if category == "position":
        return f"{a} {REL_TEXT[_pick(rng, vocab.RELATIONS)]} {b}"
    if category == "color_attr":
        return f"{a} and {b}"
    raise ValueError(f"unknown category {category!r}")


def _two_pairs(rng, held: bool, seen_pairs, held_pairs):
    """Two (colour, shape) pairs with different colours and shapes; one held out if asked."""
    while True:
        first = _pick(rng, held_pairs if held else seen_pairs)
        second = _pick(rng, seen_pairs)
        if first[0] != second[0] and first[1] != second[1]:
            return (first, second) if rng.random() < 0.5 else (second, first)


@cache
def build(split: str = "seen", draw: int = 0) -> tuple[Prompt, ...]:
    """The fixed prompt list of a split: every category, PROMPTS_PER_CATEGORY prompts each.

    ``draw`` 0 is the suite, the prompts reports quote. A later draw (1, 2, ...) writes
    DRAW_PROMPTS fresh prompts per category from the same templates with its own seed, none of
    them a prompt of the suite or of an earlier draw: for judging a recipe once the suite's own
    prompts for choosing settings are spent. Where the templates run out (held-out single objects
    and colours write the same few texts), a draw has fewer, or none. Their ids name the draw
    (``seen-d1-colors-004``).
    """
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; splits are {', '.join(SPLITS)}")
    if draw < 0:
        raise ValueError(f"draw must be 0 (the suite) or a positive number, not {draw}")
    taken = {p.text for d in range(draw) for p in build(split, d)}
    size = DRAW_PROMPTS if draw else PROMPTS_PER_CATEGORY
    prompts: list[Prompt] = []
    for ci, category in enumerate(CATEGORIES):
        rng = np.random.default_rng([SUITE_SEED, SPLITS.index(split), ci] + ([draw] if draw else []))
        texts: list[str] = []
        misses = 0  # draws in a row that wrote nothing new: the templates have run out
        while len(texts) < size and misses < 5000:
            bg = _pick(rng, BACKGROUND_SUFFIXES)
            text = _pick(rng, PREFIXES) + _body(category, split, rng) + bg
            new = text not in texts and text not in taken
            misses = 0 if new else misses + 1
            if new:
                texts.append(text)
        name = f"{split}-d{draw}" if draw else split
        for i, text in enumerate(texts):
            prompts.append(Prompt(f"{name}-{category}-{i:03d}", category, split, text, parse(text)))
    return tuple(prompts)


def all_prompts(splits: Iterable[str] = SPLITS, draw: int = 0) -> list[Prompt]:
    return [p for s in splits for p in build(s, draw)]


def truth_constraints(prompt: Prompt, style: str = "flat") -> Constraints:
    """A prompt's constraints drawn in a style. Neon pictures are always black, so a neon
    render of "... on a gray background" states no background (it is judged without one)."""
    background = "black" if style == "neon" and prompt.constraints.background in (None, "black") else None
    if style != "neon":
        background = prompt.constraints.background
    return replace(prompt.constraints, style=style, background=background)


def truth_scene(prompt: Prompt, k: int, style: str = "flat") -> Scene:
    """The k-th ground-truth scene of a prompt, drawn in a style."""
    rng = np.random.default_rng([SUITE_SEED, hash_id(prompt.id), k])
    c = truth_constraints(prompt, style)
    if style == "neon":
        c = replace(c, background="black")
    return layout(c, rng)


def hash_id(text: str) -> int:
    """A stable 32-bit hash (Python's hash() is salted per process)."""
    h = 2166136261
    for ch in text.encode():
        h = ((h ^ ch) * 16777619) & 0xFFFFFFFF
    return h


# --------------------------------------------------------------------------------------------
# scoring
# --------------------------------------------------------------------------------------------
@dataclass
class ImageResult:
    prompt: Prompt
    k: int
    correct: bool
    reason: str
    objects: list[dict]
    path: str | None = None
    thumbnail: Image.Image | None = field(default=None, repr=False, compare=False)  # failures only


@dataclass
class SuiteResult:
    results: list[ImageResult]
    problems: list[str] = field(default_factory=list)

    def scores(self) -> dict[str, dict[str, float]]:
        """{split: {category: score, ..., "overall": mean of categories}}."""
        out: dict[str, dict[str, float]] = {}
        for split in SPLITS:
            rs = [r for r in self.results if r.prompt.split == split]
            if not rs:
                continue
            cats = {}
            for cat in CATEGORIES:
                cr = [r.correct for r in rs if r.prompt.category == cat]
                if cr:
                    cats[cat] = float(np.mean(cr))
            cats["overall"] = float(np.mean(list(cats.values())))
            out[split] = cats
        return out

    def counts(self) -> dict[str, dict[str, int]]:
        return {
            split: {
                cat: sum(1 for r in self.results if r.prompt.split == split and r.prompt.category == cat)
                for cat in CATEGORIES
            }
            for split in SPLITS
        }


def score_images(
    prompt: Prompt, images: Sequence[ImageLike], paths: Sequence[str | None] | None = None
) -> list[ImageResult]:
    out = []
    for k, img in enumerate(images):
        j = judge(img, prompt.constraints)
        thumb = None
        if not j.correct and paths is None:  # no file to show on the contact sheet: keep a small copy
            thumb = Image.fromarray(load_image(img)).resize((THUMB, THUMB), Image.NEAREST)
        out.append(
            ImageResult(
                prompt, k, j.correct, j.reason, j.reading.to_dict()["objects"], paths[k] if paths else None, thumb
            )
        )
    return out


def evaluate(
    generate: Callable[[str, int, int], Sequence[ImageLike]],
    splits: Sequence[str] = SPLITS,
    limit: int | None = None,
    images_per_prompt: int = IMAGES_PER_PROMPT,
    progress: bool = True,
    offset: int = 0,
    categories: Sequence[str] | None = None,
    draw: int = 0,
) -> SuiteResult:
    """Score a generator: ``generate(prompt_text, n, seed)`` returns n pictures.

    ``limit`` takes the first ``limit`` prompts of every category (a quick look; the full
    suite is what reports should quote), after skipping ``offset`` of them (prompts for choosing a
    recipe, apart from those a report quotes); ``categories`` keeps only those; ``draw`` > 0
    takes fresh prompts instead of the suite's (see ``build``).
    """
    from tqdm.auto import tqdm

    unknown = set(categories or ()) - set(CATEGORIES)
    if unknown:
        raise ValueError(f"unknown categories {sorted(unknown)}; categories are {', '.join(CATEGORIES)}")
    chosen = [p for p in all_prompts(splits, draw) if categories is None or p.category in categories]
    prompts = limited(chosen, limit, offset)
    results: list[ImageResult] = []
    for p in tqdm(prompts, desc="GenEval-world", disable=not progress, unit="prompt"):
        images = list(generate(p.text, images_per_prompt, hash_id(p.id)))
        if len(images) != images_per_prompt:
            raise ValueError(f"generate() returned {len(images)} pictures for {p.id}, expected {images_per_prompt}")
        results.extend(score_images(p, images))
    return SuiteResult(results)


def limited(prompts: list[Prompt], limit: int | None, offset: int = 0) -> list[Prompt]:
    """Prompts ``offset + 1`` to ``offset + limit`` of every (split, category), in order: the
    benchmarks report the first ``limit`` and choose settings on later ones, which reports never quote."""
    if limit is None and not offset:
        return prompts
    seen: dict[tuple[str, str], int] = {}
    out = []
    for p in prompts:
        key = (p.split, p.category)
        k = seen.get(key, 0)
        if offset <= k and (limit is None or k < offset + limit):
            out.append(p)
        seen[key] = k + 1
    return out


def evaluate_dir(
    images_dir: str | Path,
    splits: Sequence[str] = SPLITS,
    limit: int | None = None,
    images_per_prompt: int = IMAGES_PER_PROMPT,
    allow_missing: bool = False,
    progress: bool = True,
) -> SuiteResult:
    """Score pictures saved as ``images_dir/<prompt id>/<k>.png``.

    A missing or unreadable picture is an error that names it (never a silent zero), unless
    ``allow_missing``: then it scores as incorrect and is listed in ``problems``.
    """
    from tqdm.auto import tqdm

    root = Path(images_dir)
    if not root.is_dir():
        raise JudgeError(f"no folder of pictures at {str(root)!r}")
    prompts = limited(all_prompts(splits), limit)
    problems: list[str] = []
    results: list[ImageResult] = []
    for p in tqdm(prompts, desc="judging", disable=not progress, unit="prompt"):
        for k in range(images_per_prompt):
            path = root / p.id / f"{k}.png"
            try:
                results.extend(score_images(p, [path], [str(path)]))
            except JudgeError as e:
                problems.append(f"{p.id}/{k}.png: {e}")
                results.append(ImageResult(p, k, False, f"unreadable: {e}", [], str(path)))
    if problems and not allow_missing:
        shown = "\n  ".join(problems[:10])
        more = f"\n  ... and {len(problems) - 10} more" if len(problems) > 10 else ""
        raise JudgeError(
            f"{len(problems)} picture(s) missing or unreadable under {str(root)!r}:\n  {shown}{more}\n"
            "(write them as <prompt id>/<k>.png, see `promptism eval prompts`; or pass --allow-missing "
            "to score them as incorrect)"
        )
    return SuiteResult(results, problems)


def write_truth(
    out_dir: str | Path,
    size: int = 64,
    style: str = "flat",
    splits: Sequence[str] = SPLITS,
    limit: int | None = None,
    images_per_prompt: int = IMAGES_PER_PROMPT,
    progress: bool = True,
) -> int:
    """Write ground-truth renders of the suite in the layout evaluate_dir reads."""
    from tqdm.auto import tqdm

    root = Path(out_dir)
    count = 0
    for p in tqdm(limited(all_prompts(splits), limit), desc="rendering truth", disable=not progress, unit="prompt"):
        (root / p.id).mkdir(parents=True, exist_ok=True)
        for k in range(images_per_prompt):
            render(truth_scene(p, k, style), size).save(root / p.id / f"{k}.png")
            count += 1
    return count


# --------------------------------------------------------------------------------------------
# reports
# --------------------------------------------------------------------------------------------
def table_markdown(result: SuiteResult, title: str = "GenEval-world") -> str:
    scores = result.scores()
    counts = result.counts()
    lines = [
        f"## {title}",
        "",
        "| category | " + " | ".join(scores) + " | DALL·E 2 (GenEval) |",
        "|---|" + "---|" * (len(scores) + 1),
    ]
    for cat in (*CATEGORIES, "overall"):
        cells = []
        for split in scores:
            v = scores[split].get(cat)
            n = counts[split].get(cat) if cat != "overall" else None
            cells.append("—" if v is None else (f"{v:.3f}" + (f" ({n})" if n else "")))
        name = CATEGORY_TITLES.get(cat, "**Overall**")
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {DALLE2_GENEVAL[cat]:.2f} |")
    lines.append("")
    lines.append(
        "Scores are the share of pictures judged correct (pictures per category in brackets); "
        "overall is the mean of the six categories."
    )
    return "\n".join(lines)


def table_text(result: SuiteResult) -> str:
    scores = result.scores()
    header = f"{'category':<20}" + "".join(f"{s:>10}" for s in scores) + f"{'DALL·E 2':>10}"
    rows = [header, "-" * len(header)]
    for cat in (*CATEGORIES, "overall"):
        row = f"{CATEGORY_TITLES.get(cat, 'Overall'):<20}"
        for split in scores:
            v = scores[split].get(cat)
            row += f"{'-' if v is None else f'{v:.3f}':>10}"
        rows.append(row + f"{DALLE2_GENEVAL[cat]:>10.2f}")
    return "\n".join(rows)


def write_reports(
    result: SuiteResult, out_dir: str | Path, title: str = "GenEval-world", meta: dict | None = None
) -> dict[str, Path]:
    """Write results.json, report.md and failures.png (a contact sheet) into out_dir."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    data = {
        "title": title,
        "meta": meta or {},
        "scores": result.scores(),
        "images_per_category": result.counts(),
        "dalle2_geneval": DALLE2_GENEVAL,
        "problems": result.problems,
        "results": [
            {
                "id": r.prompt.id,
                "prompt": r.prompt.text,
                "category": r.prompt.category,
                "split": r.prompt.split,
                "k": r.k,
                "correct": r.correct,
                "reason": r.reason,
                "objects": r.objects,
                "path": r.path,
            }
            for r in result.results
        ],
    }
    paths = {"json": out / "results.json", "markdown": out / "report.md", "failures": out / "failures.png"}
    _atomic_write(paths["json"], json.dumps(data, indent=1))
    fails = [r for r in result.results if not r.correct]
    md = [f"# {title}", ""]
    if meta:
        md += [f"- {k}: {v}" for k, v in meta.items()] + [""]
    md += [table_markdown(result, "Scores"), "", f"## Failures ({len(fails)} of {len(result.results)} pictures)", ""]
    for r in fails[:200]:
        md.append(f"- `{r.prompt.id}/{r.k}` “{r.prompt.text}”: {r.reason}")
    if len(fails) > 200:
        md.append(f"- … {len(fails) - 200} more in results.json")
    _atomic_write(paths["markdown"], "\n".join(md) + "\n")
    contact_sheet(fails, paths["failures"])
    return paths


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def contact_sheet(
    failures: list[ImageResult], path: str | Path, max_items: int = 48, thumb: int = THUMB, columns: int = 6
) -> Path:
    """A PNG grid of failed pictures, each with its prompt and the judge's reason."""
    items = failures[:max_items]
    text_h = 58
    rows = max(1, math.ceil(len(items) / columns))
    sheet = Image.new("RGB", (columns * (thumb + 8) + 8, rows * (thumb + text_h + 8) + 8), (245, 245, 245))
    draw = ImageDraw.Draw(sheet)
    font = _font(10)
    if not items:
        draw.text((12, 12), "no failures", fill=(30, 30, 30), font=font)
    for i, r in enumerate(items):
        x = 8 + (i % columns) * (thumb + 8)
        y = 8 + (i // columns) * (thumb + text_h + 8)
        img = r.thumbnail
        if img is None and r.path and Path(r.path).is_file():
            try:
                img = Image.open(r.path).convert("RGB")
            except OSError:
                img = None
        if img is not None:
            sheet.paste(img.convert("RGB").resize((thumb, thumb), Image.NEAREST), (x, y))
        else:
            draw.rectangle([x, y, x + thumb, y + thumb], outline=(200, 0, 0))
        lines = _wrap(r.prompt.text, 24)[:2] + _wrap(r.reason, 24)[:2]
        for li, line in enumerate(lines):
            draw.text((x, y + thumb + 2 + li * 13), line, fill=(20, 20, 20) if li < 2 else (170, 20, 20), font=font)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path)
    return Path(path)


def _font(size: int):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1
        return ImageFont.load_default()


def _wrap(text: str, width: int) -> list[str]:
    words, lines, cur = text.split(), [], ""
    for w in words:
        if len(cur) + len(w) + 1 > width and cur:
            lines.append(cur)
            cur = w
        else:
            cur = f"{cur} {w}".strip()
    if cur:
        lines.append(cur)
    return lines
