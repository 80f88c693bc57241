"""Recipe files: a training run's settings written down outside the code.

The presets in ``src/`` are the recipes that ship or that tests use. Every other recipe is a TOML
file (``experiments/<family>/<name>.toml``) that names a base, the sections it overrides, the rule
it was to be judged by (written before it ran) and what it measured:

    kind = "clip"                  # clip, decoder, prior, upsampler, unclip (a whole stack), vqgan,
                                   # mini, gan, distill (a round of the decoder's), layout, guide, or
                                   # generate (unCLIP's sampling settings: a [settings] table)
    base = "world-bind2"           # a preset of that kind, or another recipe file beside this one
    rule = "it ships if ..."       # written before the run
    result = "not shipped: ..."    # filled in after it
    reports = ["clip_world_bind3.md"]
    unset = ["diffusion.min_snr_gamma"]   # keys set back to None (TOML has no null)

    [model]
    text_causal = true
    [task]
    relate = 1.0

Sections merge into the base's key by key, nested tables too; lists become tuples, as the
presets write them. ``promptism train clip --config FILE`` (and ``train decoder`` ...) runs one.
"""

from __future__ import annotations

import copy
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from .errors import PromptismError

# unclip: a whole stack (train unclip); guide: promptism guide's settings (a [guide] section);
# generate: the unCLIP pipeline's sampling settings (a [settings] table of Settings fields), base "default"
KINDS = (
    "clip",
    "decoder",
    "prior",
    "upsampler",
    "unclip",
    "vqgan",
    "guide",
    "mini",
    "gan",
    "distill",
    "generate",
    "layout",
)
TEXT_KEYS = ("kind", "base", "rule", "result", "reports", "unset", "why")


@dataclass(frozen=True)
class Recipe:
    """A recipe file, resolved: ``preset`` is the base's preset with the overrides applied."""

    name: str
    kind: str
    preset: dict
    path: Path
    base: str
    rule: str = ""
    result: str = ""
    why: str = ""
    reports: tuple[str, ...] = field(default_factory=tuple)


def _tuples(value):
    if isinstance(value, dict):
        return {k: _tuples(v) for k, v in value.items()}
    if isinstance(value, list):
        return tuple(_tuples(v) for v in value)
    return value


def merge(base: dict, overrides: dict) -> dict:
    """``base`` with ``overrides`` applied key by key, nested dicts merged, neither changed."""
    out = copy.deepcopy(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _unset(preset: dict, dotted: str, path: Path) -> None:
    *parents, last = dotted.split(".")
    node = preset
    for part in parents:
        if not isinstance(node.get(part), dict):
            raise PromptismError(f"{path}: unset names {dotted!r}, but the preset has no table {part!r}")
        node = node[part]
    node[last] = None


def presets_of(kind: str) -> dict[str, dict]:
    """The presets defined in code for a kind of model."""
    if kind == "clip":
        from .clip.presets import PRESETS

        return PRESETS
    if kind == "unclip":
        from .unclip.presets import stack_presets

        return stack_presets()
    if kind == "vqgan":
        from .vqgan.presets import PRESETS as VQGAN_PRESETS

        return VQGAN_PRESETS
    if kind == "layout":
        from .layout.presets import PRESETS as LAYOUT_PRESETS

        return LAYOUT_PRESETS
    if kind == "mini":
        from .mini.presets import PRESETS as MINI_PRESETS

        return MINI_PRESETS
    if kind == "gan":
        from .gan.presets import PRESETS as GAN_PRESETS

        return GAN_PRESETS
    if kind == "distill":
        from .unclip.distill import PRESETS as DISTILL_PRESETS

        return DISTILL_PRESETS
    if kind == "guide":
        from .guide.optimize import presets

        return presets()
    if kind == "generate":
        from dataclasses import asdict

        from .pipelines.settings import Settings

        return {"default": {"settings": asdict(Settings())}}
    from .unclip.presets import PRESETS

    return PRESETS[kind]


def load_recipe(path: str | Path, _seen: tuple[Path, ...] = ()) -> Recipe:
    """Read a recipe file and resolve its base (a preset, or another recipe file beside it)."""
    path = Path(path)
    if not path.is_file():
        raise PromptismError(f"no such recipe file: {path}")
    if path.resolve() in _seen:
        raise PromptismError(f"{path}: its bases come back to it")
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as e:
        raise PromptismError(f"{path}: not valid TOML: {e}") from None
    kind = data.get("kind")
    if kind not in KINDS:
        raise PromptismError(f"{path}: kind must be one of {', '.join(KINDS)}, got {kind!r}")
    base = data.get("base")
    if not isinstance(base, str) or not base:
        raise PromptismError(f"{path}: a recipe names its base (a preset or another recipe file)")
    if base.endswith(".toml"):
        parent = load_recipe(path.parent / base, (*_seen, path.resolve()))
        if parent.kind != kind:
            raise PromptismError(f"{path}: its base {base} is a {parent.kind} recipe, not a {kind} one")
        start = parent.preset
    else:
        known = presets_of(kind)
        if base not in known:
            raise PromptismError(f"{path}: no {kind} preset {base!r}; presets are {', '.join(known)}")
        start = known[base]
    sections = {k: v for k, v in data.items() if k not in TEXT_KEYS}
    preset = merge(start, _tuples(sections))
    for dotted in data.get("unset", ()):
        _unset(preset, dotted, path)
    return Recipe(
        name=path.stem,
        kind=kind,
        preset=preset,
        path=path,
        base=base,
        rule=data.get("rule", ""),
        result=data.get("result", ""),
        why=data.get("why", ""),
        reports=tuple(data.get("reports", ())),
    )


def resolve(kind: str, preset: str | None, config: str | None, default: str) -> tuple[str, dict]:
    """The (name, settings) a training command runs: a preset by name, or a recipe file."""
    if preset and config:
        raise PromptismError("give --preset NAME or --config FILE, not both")
    if config:
        recipe = load_recipe(config)
        if recipe.kind != kind:
            raise PromptismError(f"{config} is a {recipe.kind} recipe; this command trains a {kind}")
        return recipe.name, recipe.preset
    name = preset or default
    known = presets_of(kind)
    if name not in known:
        raise PromptismError(f"unknown {kind} preset {name!r}; presets are {', '.join(known)}")
    return name, known[name]
