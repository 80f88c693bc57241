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
    emb = torch.nn.functional.normalize(torch.randn(48, 32, generator=torch.Generator().manual_seed(0)), dim=-1)
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


def test_the_fast_path_is_unguided_ddim_along_the_students_path(models, tiny):
    """A 'student' that is the teacher itself, distilled at guidance 1, samples exactly what the
    decoder samples with DDIM at guidance 1 along the same path."""
    from promptism.pipelines.unclip import sample_decoder, sample_fast
    from promptism.unclip.folders import Stage

    dec = models.decoder
    path = spaced_timesteps(dec.denoiser.T, 3)
    same = Stage("decoder", dec.model, dec.diffusion, {**dec.meta, "distilled": {"path": path, "guidance": 1.0}},
                 dec.tokenizer)  # fmt: skip
    emb = torch.nn.functional.normalize(torch.randn(2, 32, generator=torch.Generator().manual_seed(2)), dim=-1)
    gens = lambda: [torch.Generator().manual_seed(s) for s in (5, 6)]  # noqa: E731
    with torch.no_grad():
        fast = sample_fast(same, "a red circle", emb, gens())
        slow = sample_decoder(
            models, "a red circle", "", emb, gens(), Settings(sampler="ddim", steps=3, guidance_decoder=1.0)
        )
    assert torch.allclose(fast, slow, atol=1e-5)


def test_generate_draws_with_the_student_and_says_so_but_not_for_a_negative_prompt(tiny, data, tmp_path):
    from promptism.pipelines.unclip import generate, load_models

    student = train_distill(str(data), str(tmp_path / "r1"), "tiny", teacher=str(tiny / "decoder"), progress=False)
    spec = dict(clip=str(tiny / "clip"), prior=str(tiny / "prior"), decoder=str(tiny / "decoder"), upsamplers=())
    fast, plain = load_models(**spec, fast=str(student)), load_models(**spec)
    kw = dict(n=1, seed=3, rerank=1, steps=4, prior_steps=2)
    a, b = generate("a red circle", models=fast, **kw), generate("a red circle", models=plain, **kw)
    assert a.metadata[0]["fast_decoder"] == {"steps": 2, "guidance": 3.0}
    assert a.metadata[0]["models"]["fast_decoder"]["sha256"] and "fast_decoder" not in b.metadata[0]
    assert not np.array_equal(np.asarray(a.images[0]), np.asarray(b.images[0]))
    c = generate("a red circle", negative="a blue square", models=fast, **kw)
    d = generate("a red circle", negative="a blue square", models=plain, **kw)
    assert "fast_decoder" not in c.metadata[0] and np.array_equal(np.asarray(c.images[0]), np.asarray(d.images[0]))
    with pytest.raises(PromptismError, match="not a distilled decoder"):
        load_models(**spec, fast=str(tiny / "decoder"))
