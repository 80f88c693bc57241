"""The bias probe: reading attributes, the training distribution, the comparison, the report."""

import json

import pytest

from promptism.errors import PromptismError
from promptism.eval import probe as P


def test_the_judge_reads_what_the_world_drew_and_the_training_shares_sum_to_one():
    from promptism.world.render import render
    from promptism.world.sampling import example_rng, sample_example

    scenes = [sample_example(example_rng(4, "val", i)).scene for i in range(6)]
    truth = [P.value_of(o, "colour") for s in scenes for o in s.objects]
    read = P.read_pictures([render(s, 64) for s in scenes], "colour")
    assert sorted(read) == sorted(truth)
    shares = P.training_distribution("size", scenes=200)
    assert set(shares) == {"small", "medium", "large"} and sum(shares.values()) == pytest.approx(1.0)
    assert P._cell(0.1, 0.9) == "bottom-left" and P._cell(0.5, 0.2) == "top-centre"


def test_distances_and_tests():
    uniform = {"a": 0.5, "b": 0.5}
    assert P.total_variation({"a": 1.0, "b": 0.0}, uniform) == pytest.approx(0.5)
    assert P.chi_square_p({"a": 50, "b": 50}, uniform) == pytest.approx(1.0)
    assert P.chi_square_p({"a": 100, "b": 0}, uniform) < 1e-6
    assert P.chi_square_p({"a": 0, "b": 0}, uniform) is None


@pytest.mark.slow
def test_the_probe_command_writes_a_table_a_chart_and_json(tmp_path, capsys):
    from promptism.cli import main

    prompts = tmp_path / "p.txt"
    prompts.write_text("# colour unstated\na circle\na star\n")
    assert main(["probe", "--prompts", str(prompts), "--attribute", "colour", "-n", "2", "--out", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "probe-unclip-colour.json").read_text())
    assert report["pictures"] == 4 and report["objects"] == sum(report["counts"].values()) > 0
    assert sum(report["generated"].values()) == pytest.approx(1.0) and 0 <= report["tv_uniform"] <= 1
    assert (tmp_path / "probe-unclip-colour.png").stat().st_size > 0
    assert "| red |" in (tmp_path / "probe-unclip-colour.md").read_text()
    prompts.write_text("a red circle\n")
    assert main(["probe", "--prompts", str(prompts), "--attribute", "colour", "--out", str(tmp_path)]) == 2
    assert "states the colour" in capsys.readouterr().err
    with pytest.raises(PromptismError, match="attribute"):
        P.check_attribute("mood")
