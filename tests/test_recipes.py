"""Recipe files: every experiment under experiments/ loads and builds its configs; the loader's
merging and its errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from promptism.errors import PromptismError
from promptism.recipes import load_recipe, merge, resolve

ROOT = Path(__file__).resolve().parent.parent
RECIPES = sorted((ROOT / "experiments").rglob("*.toml"))


def test_there_are_experiment_recipes():
    assert len(RECIPES) >= 20


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_every_experiment_recipe_loads_and_builds_its_configs(path):
    recipe = load_recipe(path)
    assert recipe.result.strip(), f"{path.name} says what it measured"
    for report in recipe.reports:
        assert (path.parent / report).is_file(), f"{path.name} links a report that is not there: {report}"
    if recipe.kind == "clip":
        from promptism.clip.presets import configs
        from promptism.clip.task_config import ClipTaskConfig

        model, loop = configs(recipe.preset, vocab_size=recipe.preset["vocab_size"])
        assert model.vocab_size == recipe.preset["vocab_size"] and loop.steps > 0
        ClipTaskConfig(**recipe.preset.get("task", {}))
    elif recipe.kind == "guide":
        import inspect

        from promptism.guide import guide

        inspect.signature(guide).bind(**recipe.preset["guide"])  # every setting is one of guide's
    elif recipe.kind == "vqgan":
        from promptism.train.loop import LoopConfig
        from promptism.vqgan.model import VQGANConfig

        assert VQGANConfig(**recipe.preset["model"]).grid > 0 and LoopConfig(**recipe.preset["loop"]).steps > 0
    elif recipe.kind == "gan":
        from promptism.gan.augment import parse_augment
        from promptism.gan.model import GANConfig
        from promptism.gan.training import check_discriminator
        from promptism.train.loop import LoopConfig

        assert GANConfig(**recipe.preset["model"]).num_ws > 0 and LoopConfig(**recipe.preset["loop"]).steps > 0
        assert parse_augment(recipe.preset["task"]["augment"])
        check_discriminator(recipe.preset["task"])  # a known discriminator, and its feature CLIP ships
    elif recipe.kind == "distill":
        from promptism.train.loop import LoopConfig
        from promptism.unclip.distill import check_task

        assert check_task(recipe.preset["task"])[0] >= 2 and LoopConfig(**recipe.preset["loop"]).steps > 0
    elif recipe.kind == "generate":
        from promptism.pipelines.settings import Settings

        Settings(**recipe.preset["settings"]).check()  # every setting is one of Settings', and valid
    elif recipe.kind == "mini":
        import inspect

        from promptism.mini.model import MiniConfig
        from promptism.mini.pipeline import mini
        from promptism.train.loop import LoopConfig

        cfg = MiniConfig(**recipe.preset["model"], text_vocab=recipe.preset["task"]["text_vocab"], codebook_size=512)
        assert cfg.width % cfg.heads == 0 and LoopConfig(**recipe.preset["loop"]).steps > 0
        inspect.signature(mini).bind("a red circle", **recipe.preset.get("sample", {}))  # sampling settings are mini's
    elif recipe.kind == "layout":
        from promptism.layout import LayoutConfig
        from promptism.train.loop import LoopConfig

        cfg = LayoutConfig(**recipe.preset["model"], text_vocab=recipe.preset["task"]["text_vocab"])
        assert cfg.width % cfg.heads == 0 and LoopConfig(**recipe.preset["loop"]).steps > 0
    else:
        from promptism.diffusion import DiffusionConfig
        from promptism.train.loop import LoopConfig
        from promptism.unclip.folders import model_classes

        _, config_cls = model_classes(recipe.kind)
        fields = dict(recipe.preset["model"])
        if recipe.kind == "decoder":
            config_cls.build(**fields)
        elif recipe.kind == "upsampler":
            config_cls(**fields)
        else:
            config_cls(**fields)
        DiffusionConfig(**recipe.preset["diffusion"])
        LoopConfig(**recipe.preset["loop"])


def test_every_link_in_docs_experiments_reaches_a_file():
    import re

    for page in (ROOT / "docs" / "experiments").glob("*.md"):
        for target in re.findall(r"\]\((\.\./[^)#]+)\)", page.read_text()):
            assert (page.parent / target).exists(), f"{page.name} links {target}, which is not there"


def test_experiment_reports_are_each_linked_from_docs_experiments():
    reports = {p.name for p in (ROOT / "experiments" / "reports").glob("*.md")}
    docs = "".join(p.read_text() for p in (ROOT / "docs" / "experiments").glob("*.md"))
    assert reports and not {r for r in reports if r not in docs}


def test_a_recipe_merges_its_overrides_into_its_base(tmp_path):
    from promptism.clip.presets import PRESETS

    (tmp_path / "a.toml").write_text(
        'kind = "clip"\nbase = "world-bind2"\nresult = "x"\n[task]\nnegative_weights = { count = 5.0 }\n'
        "[model]\nimage_channels = [8, 16]\n"
    )
    (tmp_path / "b.toml").write_text(
        'kind = "clip"\nbase = "a.toml"\nunset = ["task.compose_text"]\n[loop]\nsteps = 7\n'
    )
    a, b = load_recipe(tmp_path / "a.toml"), load_recipe(tmp_path / "b.toml")
    base = PRESETS["world-bind2"]
    assert a.preset["task"]["negative_weights"] == {**base["task"]["negative_weights"], "count": 5.0}
    assert a.preset["model"]["image_channels"] == (8, 16)  # lists become tuples, as presets write them
    assert b.preset["loop"] == {**base["loop"], "steps": 7} and b.preset["task"]["compose_text"] is None
    assert base["task"]["negative_weights"]["count"] == 3.0  # the preset itself is untouched
    assert merge({"x": {"y": 1}}, {"x": {"z": 2}}) == {"x": {"y": 1, "z": 2}}
    assert resolve("clip", None, str(tmp_path / "b.toml"), "world")[0] == "b"


@pytest.mark.parametrize(
    "text,message",
    [
        ('kind = "diffusion"\nbase = "world"\n', "kind must be one of"),
        ('kind = "clip"\n', "names its base"),
        ('kind = "clip"\nbase = "nope"\n', "no clip preset 'nope'"),
        ('kind = "clip"\nbase = "bad.toml"\n', "bases come back"),
        ('kind = "clip\n', "not valid TOML"),
    ],
)
def test_a_bad_recipe_is_refused_with_a_reason(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(PromptismError, match=message):
        load_recipe(path)


def test_a_recipe_of_another_kind_or_both_preset_and_config_are_refused(tmp_path):
    with pytest.raises(PromptismError, match="is a decoder recipe"):
        resolve("clip", None, str(ROOT / "experiments" / "unclip" / "decoder-world-aug.toml"), "world")
    with pytest.raises(PromptismError, match="not both"):
        resolve("clip", "world", str(ROOT / "experiments" / "clip" / "world-bind3.toml"), "world")
    with pytest.raises(PromptismError, match="no such recipe"):
        resolve("clip", None, str(tmp_path / "missing.toml"), "world")


def test_the_experiment_tables_match_the_recipe_files():
    import importlib.util

    spec = importlib.util.spec_from_file_location("experiment_tables", ROOT / "scripts" / "experiment_tables.py")
    tables = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tables)
    for family in ("clip", "unclip", "vqgan"):
        written = (ROOT / "docs" / "experiments" / f"{family}.md").read_text()
        assert written == tables.table(family), (
            f"run scripts/experiment_tables.py: docs/experiments/{family}.md is stale"
        )
