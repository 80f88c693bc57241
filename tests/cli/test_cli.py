"""The command line: what a user types, what they get back."""

import json
import subprocess
import sys

import pytest
from PIL import Image

from promptism.cli import build_parser, main
from promptism.world import judge


def run(*args):
    return subprocess.run([sys.executable, "-m", "promptism.cli", *args], capture_output=True, text=True)


def test_world_show_writes_a_picture_with_provenance(tmp_path):
    out = tmp_path / "x.png"
    assert (
        main(
            [
                "world",
                "show",
                "two yellow stars and a blue box on a gray background",
                "--out",
                str(out),
                "--seed",
                "3",
                "--size",
                "96",
            ]
        )
        == 0
    )
    img = Image.open(out)
    assert img.size == (96, 96)
    assert img.text["promptism:prompt"] == "two yellow stars and a blue box on a gray background"
    assert img.text["promptism:seed"] == "3"
    assert img.text["Software"].startswith("promptism ")
    assert json.loads(img.text["promptism:scene"])["background"] == "gray"
    assert judge(out, "two yellow stars and a blue box on a gray background").correct


def test_same_seed_same_picture(tmp_path):
    for name in ("a", "b"):
        main(
            ["world", "show", "a red circle above a blue square", "--out", str(tmp_path / f"{name}.png"), "--seed", "9"]
        )
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()


def test_unknown_words_exit_2_with_the_words_named(tmp_path):
    r = run("world", "show", "a flamingo in a red circle", "--out", str(tmp_path / "x.png"))
    assert r.returncode == 2
    assert "'flamingo'" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "x.png").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["world", "show", "a circle", "--size", "1000"], "between 32 and 256"),
        (["world", "show", ""], "empty"),
        (["world", "show", "four large stars in the top left corner"], "cannot lay"),
        (["eval", "judge", "/nonexistent.png"], "no picture"),
        (["eval", "suite", "--images", "/nonexistent"], "no folder"),
        (["--threads", "0", "world", "vocab"], "at least 1"),
    ],
)
def test_bad_input_is_one_clear_line(args, message):
    r = run(*args)
    assert r.returncode == 2, r.stderr
    assert message in r.stderr and "Traceback" not in r.stderr


def test_parse_vocab_prompts_and_judge(tmp_path, capsys):
    assert main(["world", "parse", "three purple diamonds at the top"]) == 0
    parsed = json.loads(capsys.readouterr().out)
    assert parsed["objects"][0] == {
        "shape": "diamond",
        "color": "purple",
        "size": None,
        "count": 3,
        "exact": True,
        "position": "top",
    }
    assert main(["world", "vocab"]) == 0
    assert "rhombus" in capsys.readouterr().out
    assert main(["eval", "prompts", "--split", "heldout", "--out", str(tmp_path / "p.jsonl")]) == 0
    lines = (tmp_path / "p.jsonl").read_text().splitlines()
    assert len(lines) == 480 and json.loads(lines[0])["split"] == "heldout"
    main(["world", "show", "a green cross in the center", "--out", str(tmp_path / "c.png")])
    capsys.readouterr()
    assert main(["eval", "judge", str(tmp_path / "c.png"), "--prompt", "a green cross in the center", "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert got["correct"] is True and got["reading"]["objects"][0]["shape"] == "cross"


def test_world_make_and_eval_suite(tmp_path, capsys):
    assert (
        main(
            [
                "world",
                "make",
                "--out",
                str(tmp_path / "d"),
                "--n",
                "30",
                "--size",
                "32",
                "--shard-size",
                "10",
                "--quiet",
                "--workers",
                "1",
            ]
        )
        == 0
    )
    assert "train: 28 in 3 shards" in capsys.readouterr().out
    assert main(["eval", "truth", "--out", str(tmp_path / "t"), "--limit", "1", "--split", "seen", "--quiet"]) == 0
    assert main(["eval", "suite", "--images", str(tmp_path / "t"), "--limit", "1", "--split", "seen", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "Overall" in out and "1.000" in out
    assert (tmp_path / "t" / "report" / "results.json").exists()


def test_every_option_has_help():
    import argparse

    stack, checked = [build_parser()], 0
    while stack:
        p = stack.pop()
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                stack.extend(action.choices.values())
            elif not isinstance(action, argparse._HelpAction):
                assert action.help, f"{p.prog}: {action.dest} has no help"
                checked += 1
    assert checked > 30


def test_train_help_names_every_preset():
    import re

    from promptism.clip.presets import PRESETS as CLIP_PRESETS
    from promptism.unclip.presets import stack_presets
    from promptism.unclip.training import PRESETS

    train = next(a for a in build_parser()._actions if hasattr(a, "choices") and a.choices and "train" in a.choices)
    kinds = next(a for a in train.choices["train"]._actions if hasattr(a, "choices") and a.choices).choices
    for kind, names in [("clip", CLIP_PRESETS), ("unclip", stack_presets()), *PRESETS.items()]:
        text = next(a.help for a in kinds[kind]._actions if a.dest == "preset")
        listed = set(re.findall(r"[a-z0-9]+(?:-[a-z0-9]+)*", text))
        assert set(names) <= listed, f"train {kind} --preset help misses {set(names) - listed}"


def test_rerank_step_zero_on_the_command_line_ranks_the_finished_pictures():
    import argparse

    from promptism.cli.generate import _settings_kwargs

    assert _settings_kwargs(argparse.Namespace(rerank_step=0, rerank=3)) == {"rerank": 3, "rerank_step": None}
    assert _settings_kwargs(argparse.Namespace(rerank_step=30)) == {"rerank_step": 30}
    assert _settings_kwargs(argparse.Namespace(rerank_step=None, steps=20)) == {"steps": 20}
