"""Progressive distillation of the decoder: what the first round's teacher computes is what
`promptism generate` samples with, and each round halves the path it records."""

import json

import numpy as np
import pytest
import torch

from promptism.data import load_pairs
from promptism.diffusion import spaced_timesteps
from promptism.errors import PromptismError
from promptism.pipelines.settings import Settings
from promptism.pipelines.unclip import decoder_denoise
from promptism.unclip.distill import DistillTask, teacher_plan, train_distill
from promptism.unclip.folders import load_stage
from promptism.world.shards import make_dataset


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    out = tmp_path_factory.mktemp("distilldata")
    make_dataset(out, n=16, size=32, seed=4, val_fraction=0.0, shard_size=16, progress=False)
    return out


def test_the_first_teacher_is_the_guided_clipped_decoder_generate_samples_with(models, tiny, data):
    teacher = load_stage(tiny / "decoder", "decoder")
    path, guidance, round_ = teacher_plan(teacher, {"teacher_steps": 4, "guidance": 3.0})
    assert path == spaced_timesteps(teacher.denoiser.T, 4) and guidance == 3.0 and round_ == 1
    pairs = load_pairs(data, "train", size=16, progress=False)
    emb = torch.nn.functional.normalize(torch.randn(1, 32, generator=torch.Generator().manual_seed(0)), dim=-1)
    task = DistillTask(pairs, emb, teacher, path, guidance)
    prompt = pairs.captions[0]
    ids, mask = teacher.tokenizer([prompt], warn=False)
    z = torch.randn(1, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        mine = task.teacher_x0(z, torch.tensor([path[1]]), emb, ids, mask)
        theirs = decoder_denoise(models, prompt, "", emb, 1, Settings())(z, path[1])
        unguided = DistillTask(pairs, emb, teacher, path, None).teacher_x0(z, torch.tensor([path[1]]), emb, ids, mask)
    assert torch.allclose(mine, theirs, atol=1e-5)
    assert not torch.allclose(mine, unguided, atol=1e-3)  # the guidance is in it


def test_the_task_is_a_pure_function_of_step_and_batch_and_trains_the_student(tiny, data):
    import copy

    teacher = load_stage(tiny / "decoder", "decoder")
    pairs = load_pairs(data, "train", size=16, progress=False)
    emb = torch.nn.functional.normalize(torch.randn(16, 32, generator=torch.Generator().manual_seed(0)), dim=-1)
    task = DistillTask(pairs, emb, teacher, spaced_timesteps(teacher.denoiser.T, 4), 3.0)
    student = copy.deepcopy(teacher.model).train()
    a, b, c = (task.loss(student, np.arange(4), s)[0] for s in (3, 3, 4))
    assert float(a) == float(b) and float(a) != float(c)
    a.backward()
    assert all(p.grad is None for p in teacher.model.parameters())
    assert sum(float(p.grad.abs().sum()) for p in student.parameters() if p.grad is not None) > 0


def test_each_round_halves_the_recorded_path_and_a_one_step_student_stops(tiny, data, tmp_path):
    first = train_distill(str(data), str(tmp_path / "r1"), "tiny", teacher=str(tiny / "decoder"), progress=False)
    meta = json.loads((first / "config.json").read_text())
    T = load_stage(first, "decoder").denoiser.T
    assert meta["distilled"]["path"] == spaced_timesteps(T, 4)[::2] and meta["distilled"]["round"] == 1
    assert meta["distilled"]["guidance"] == 3.0 and meta["distilled"]["teacher_sha256"]
    assert meta["clip"] == str(tiny / "clip") and meta["vocabulary"]
    second = train_distill(str(data), str(tmp_path / "r2"), "tiny", teacher=str(first), progress=False)
    meta2 = json.loads((second / "config.json").read_text())["distilled"]
    assert meta2["path"] == spaced_timesteps(T, 4)[:1] and meta2["round"] == 2 and meta2["guidance"] == 3.0
    with pytest.raises(PromptismError, match="only an even number halves"):
        train_distill(str(data), str(tmp_path / "r3"), "tiny", teacher=str(second), progress=False)


@pytest.mark.parametrize("task,message", [({"teacher_steps": 5, "guidance": 3.0}, "even number"),
                                          ({"teacher_steps": 4, "guidance": 0.5}, "at least 1")])  # fmt: skip
def test_bad_round_settings_are_refused(tiny, task, message):
    with pytest.raises(PromptismError, match=message):
        teacher_plan(load_stage(tiny / "decoder", "decoder"), task)
