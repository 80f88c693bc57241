"""The training loop's learning-rate schedules."""

import pytest

from promptism.errors import PromptismError
from promptism.train.loop import LoopConfig, loop_config, lr_at


def test_the_cosine_schedule_decays_to_zero_and_the_constant_one_keeps_the_rate():
    cosine = LoopConfig(steps=100, lr=1e-3, warmup=10)
    constant = LoopConfig(steps=100, lr=1e-3, warmup=10, schedule="constant")
    for cfg in (cosine, constant):  # both warm up linearly
        assert lr_at(0, cfg) == pytest.approx(1e-4) and lr_at(9, cfg) == pytest.approx(1e-3)
    assert lr_at(55, cosine) == pytest.approx(5e-4) and lr_at(100, cosine) == pytest.approx(0.0)
    assert all(lr_at(s, constant) == 1e-3 for s in (10, 55, 99, 100, 500))


def test_a_recipe_names_its_schedule_and_a_wrong_name_is_a_clear_error(tmp_path):
    assert loop_config({"steps": 5, "schedule": "constant"}, tmp_path, {}).schedule == "constant"
    assert loop_config({"steps": 5}, tmp_path, {}).schedule == "cosine"
    with pytest.raises(PromptismError, match="unknown learning-rate schedule 'linear'; schedules are cosine, constant"):
        loop_config({"steps": 5, "schedule": "linear"}, tmp_path, {})
