"""A bias probe: what a generator draws when the prompt leaves an attribute unstated.

For prompts that do not say an attribute ("a circle" says no colour), the probe draws pictures,
reads the attribute of every object in them, and sets the distribution it finds beside the
training data's (the Scene World sampler's, over every object of ``TRAIN_SCENES`` training
scenes) and beside uniform. The reader is the Scene World's judge (a yardstick: the probe only
reports, it never picks pictures), or for other data CLIP zero-shot over the attribute's words.

Attributes: colour (the world's eight), size (small, medium, large), shape (six), position (the
cell of a 3 × 3 grid the object's centre falls in).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from ..errors import PromptismError

ATTRIBUTES = ("colour", "size", "position", "shape")
TRAIN_SCENES = 4000
POSITIONS = tuple(f"{v}-{h}" for v in ("top", "middle", "bottom") for h in ("left", "centre", "right"))


def values(attribute: str) -> tuple[str, ...]:
    from ..world import vocab

    return {
        "colour": tuple(vocab.COLORS),
        "size": tuple(vocab.SIZES),
        "shape": vocab.SHAPES,
        "position": POSITIONS,
    }[attribute]


def _cell(x: float, y: float) -> str:
    v = ("top", "middle", "bottom")[min(2, int(y * 3))]
    h = ("left", "centre", "right")[min(2, int(x * 3))]
    return f"{v}-{h}"


def value_of(obj, attribute: str) -> str:
    """An object's (a scene's or a judge's reading's) value of the attribute."""
    if attribute == "colour":
        return obj.color
    if attribute == "position":
        return _cell(obj.x, obj.y)
    return getattr(obj, attribute)


def check_attribute(attribute: str) -> str:
    if attribute not in ATTRIBUTES:
        raise PromptismError(f"the attribute is one of {', '.join(ATTRIBUTES)}, not {attribute!r}")
    return attribute


def training_distribution(attribute: str, scenes: int = TRAIN_SCENES, seed: int = 0) -> dict[str, float]:
    """The attribute's share of values over every object of ``scenes`` Scene World training scenes."""
    from ..world.sampling import example_rng, sample_example

    counts = dict.fromkeys(values(attribute), 0)
    for i in range(scenes):
        for obj in sample_example(example_rng(seed, "train", i)).scene.objects:
            counts[value_of(obj, attribute)] += 1
    total = sum(counts.values())
    return {k: v / total for k, v in counts.items()}


def read_pictures(pictures, attribute: str, reader: str = "judge", clip: str = "world") -> list[str]:
    """The attribute's value of every object in the pictures (the judge), or of each picture's
    one object (CLIP zero-shot over the attribute's words)."""
    if reader == "judge":
        from ..world.judge import read

        return [value_of(o, attribute) for p in pictures for o in read(p).objects]
    if reader != "clip":
        raise PromptismError(f"the reader is 'judge' or 'clip', not {reader!r}")
    from ..clip import load

    words = values(attribute)
    labels = [w.replace("-", " ") for w in words]
    template = {
        "colour": "a {} object",
        "size": "a {} object",
        "shape": "a {}",
        "position": "an object at the {} of the picture",
    }[attribute]
    probs = load(clip).zero_shot(list(pictures), labels, (template,))
    return [words[int(i)] for i in probs.argmax(-1)]


def total_variation(p: dict[str, float], q: dict[str, float]) -> float:
    return 0.5 * sum(abs(p.get(k, 0.0) - q.get(k, 0.0)) for k in set(p) | set(q))


def chi_square_p(counts: dict[str, int], expected: dict[str, float]) -> float | None:
    """The p-value of the counts under the expected shares (Pearson's chi-square), None when it
    cannot be computed (no objects, or an expected share of zero with counts in it)."""
    from scipy.stats import chisquare

    n = sum(counts.values())
    keys = [k for k in expected if expected[k] > 0]
    if n == 0 or any(counts.get(k, 0) for k in expected if expected[k] == 0):
        return None
    obs = [counts.get(k, 0) for k in keys]
    exp = [expected[k] * n / sum(expected[k2] for k2 in keys) for k in keys]
    return float(chisquare(obs, exp).pvalue)


@dataclass
class ProbeResult:
    attribute: str
    generator: str
    prompts: list[str]
    pictures: int
    objects: int
    counts: dict[str, int]
    generated: dict[str, float]
    training: dict[str, float]
    uniform: dict[str, float]
    tv_training: float
    tv_uniform: float
    p_training: float | None
    p_uniform: float | None
    reader: str

    def to_json(self) -> dict:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in self.__dict__.items()}

    def table(self) -> str:
        rows = [
            f"Attribute **{self.attribute}** left unstated: {len(self.prompts)} prompts, {self.pictures} "
            f"pictures of {self.generator}, {self.objects} objects read by the {self.reader}.",
            "",
            "| value | generated | training data | uniform |",
            "|---|---|---|---|",
        ]
        for k in self.generated:
            rows.append(f"| {k} | {self.generated[k]:.3f} | {self.training[k]:.3f} | {self.uniform[k]:.3f} |")

        def p(x):
            return "n/a" if x is None else f"{x:.2g}"

        rows += [
            "",
            f"Total variation distance: {self.tv_training:.3f} from the training data (χ² p = {p(self.p_training)}), "
            f"{self.tv_uniform:.3f} from uniform (χ² p = {p(self.p_uniform)}).",
        ]
        return "\n".join(rows)


def chart(result: ProbeResult, path: str | Path) -> Path:
    """A bar chart: for each value, the generated share beside the training data's and uniform's."""
    from PIL import Image, ImageDraw

    keys = list(result.generated)
    bar_w, gap, h, top, left = 12, 14, 180, 30, 40
    width = left + len(keys) * (3 * bar_w + gap) + 20
    img = Image.new("RGB", (width, h + top + 70), "white")
    d = ImageDraw.Draw(img)
    peak = max([*result.generated.values(), *result.training.values(), result.uniform[keys[0]], 1e-9])
    colours = {"generated": (59, 91, 219), "training data": (150, 150, 150), "uniform": (230, 170, 60)}
    for i, k in enumerate(keys):
        x0 = left + i * (3 * bar_w + gap)
        for j, (name, share) in enumerate(
            (("generated", result.generated[k]), ("training data", result.training[k]), ("uniform", result.uniform[k]))
        ):
            bh = share / peak * h
            d.rectangle([x0 + j * bar_w, top + h - bh, x0 + (j + 1) * bar_w - 2, top + h], fill=colours[name])
        d.text((x0, top + h + 6), k[:9], fill="black")
    d.line([left - 4, top + h, width - 10, top + h], fill="black")
    d.text((left, 8), f"{result.generator}: {result.attribute} when the prompt does not say it", fill="black")
    for j, (name, colour) in enumerate(colours.items()):
        d.rectangle([left + j * 120, top + h + 40, left + j * 120 + 10, top + h + 50], fill=colour)
        d.text((left + j * 120 + 14, top + h + 38), name, fill="black")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)
    return path


def read_prompts(path: str | Path) -> list[str]:
    path = Path(path)
    if not path.is_file():
        raise PromptismError(f"prompt file {str(path)!r} is not a file")
    lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    prompts = [line for line in lines if line and not line.startswith("#")]
    if not prompts:
        raise PromptismError(f"{path.name} holds no prompts (one a line; # starts a comment)")
    return prompts


def _draw(generator: str, prompt: str, n: int, seed: int, progress: bool):
    if generator == "unclip":
        from ..pipelines.unclip import generate

        return generate(prompt, n=n, seed=seed, progress=progress).images
    if generator == "dalle-mini":
        from ..mini.pipeline import mini

        grid = max(1, math.isqrt(n))
        return mini(prompt, grid=grid, candidates=max(grid * grid, 16), seed=seed).images[:n]
    raise PromptismError(f"the probe draws with 'unclip' or 'dalle-mini', not {generator!r}")


def probe(
    prompts: list[str],
    attribute: str,
    generator: str = "unclip",
    n: int = 4,
    seed: int = 0,
    reader: str = "judge",
    progress: bool = True,
) -> ProbeResult:
    """Draw ``n`` pictures a prompt and compare the attribute's distribution with the training
    data's and uniform's."""
    from tqdm.auto import tqdm

    check_attribute(attribute)
    from ..world import parse

    for p in prompts if reader == "judge" else []:  # a prompt that states the attribute measures nothing
        c = parse(p)
        stated = {
            "colour": any(o.color for o in c.objects),
            "size": any(o.size for o in c.objects),
            "shape": any(o.shape for o in c.objects),
            "position": bool(c.relations) or any(getattr(o, "position", None) for o in c.objects),
        }[attribute]
        if stated:
            raise PromptismError(f"the prompt {p!r} states the {attribute}: the probe needs prompts that leave it out")
    pictures = []
    for i, prompt in enumerate(tqdm(prompts, desc=f"probe {attribute}", disable=not progress, unit="prompt")):
        pictures += _draw(generator, prompt, n, seed + i * n, False)
    found = read_pictures(pictures, attribute, reader)
    keys = values(attribute)
    counts = {k: found.count(k) for k in keys}
    total = max(1, sum(counts.values()))
    generated = {k: counts[k] / total for k in keys}
    training = training_distribution(attribute)
    uniform = {k: 1 / len(keys) for k in keys}
    return ProbeResult(
        attribute,
        generator,
        prompts,
        len(pictures),
        sum(counts.values()),
        counts,
        generated,
        training,
        uniform,
        total_variation(generated, training),
        total_variation(generated, uniform),
        chi_square_p(counts, training),
        chi_square_p(counts, uniform),
        reader,
    )


def write(result: ProbeResult, out: str | Path) -> list[Path]:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"probe-{result.generator}-{result.attribute}"
    (out / f"{stem}.json").write_text(json.dumps(result.to_json(), indent=1))
    (out / f"{stem}.md").write_text(f"# Bias probe: {result.attribute}\n\n{result.table()}\n")
    return [out / f"{stem}.json", out / f"{stem}.md", chart(result, out / f"{stem}.png")]
