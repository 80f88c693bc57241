"""Progressive distillation of the unCLIP decoder (Salimans & Ho 2022), with its classifier-free
guidance folded in (Meng et al. 2023, "On Distillation of Guided Diffusion Models", which distils
a guided teacher into one student).

    promptism train distill --teacher world --data DIR --out runs/distill-1
    promptism train distill --teacher runs/distill-1/model --data DIR --out runs/distill-2

A round starts its student as a copy of the teacher. The first round's teacher is a decoder as
it was trained: it samples with deterministic DDIM along ``teacher_steps`` trailing timesteps,
guided at ``guidance`` on the image embedding and caption against the null embedding and the
empty caption, its x̂₀ clipped to [−1, 1], as ``promptism generate`` samples. Its student learns
to land in one step where two guided steps land (promptism.diffusion.distill), on the training
pictures noised at the student's timesteps, conditioned on their CLIP embeddings and captions;
it is then sampled unguided, one network evaluation a step instead of two. A later round's
teacher is a student: its path and guidance come from its ``config.json`` (``distilled``), and
each round halves the steps.

A decoder that reads layouts (promptism.layout) is distilled on each training picture's own
layout, none for the share of pictures its training left without one (``layout_drop``); teacher
and student see the same maps, and the student draws from its layout stage's layouts as the
decoder does. Only plain generation is distilled: edits (inpainting, variations by inversion,
text-diff) keep the teacher.
"""

from __future__ import annotations

import copy
import json
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from ..clip.task import to_pixels
from ..data import load_pairs
from ..diffusion import classifier_free, spaced_timesteps
from ..diffusion.distill import pairs_of, student_path, truncated_snr_weight, two_step_target
from ..errors import PromptismError
from ..train.loop import LoopConfig, model_device, run_record, to_device, train
from .folders import Stage, load_stage
from .training import SceneLayouts, _embeddings, _generator

_LOOP = dict(checkpoint_every=250, log_every=25, warmup=20, ema=0.999, weight_decay=0.0)

# the command's presets; a recipe file (kind "distill") changes any of it
PRESETS: dict[str, dict] = {
    "tiny": {
        "loop": dict(_LOOP, steps=6, batch_size=4, lr=1e-4, warmup=2, checkpoint_every=3, log_every=2, ema=0.9),
        "task": dict(teacher_steps=4, guidance=3.0),
    },  # fmt: skip
    # a round for a 32 px decoder on this project's CPU: 2,000 steps of 32 pictures at a tenth of the
    # decoder's training rate, as progressive distillation fine-tunes at a constant small rate
    "default": {"loop": dict(_LOOP, steps=2000, batch_size=32, lr=5e-5), "task": dict(teacher_steps=64, guidance=3.0)},
}


def preset(name: str) -> dict:
    if name not in PRESETS:
        raise PromptismError(f"unknown distill preset {name!r}; presets are {', '.join(PRESETS)}")
    return PRESETS[name]


def conditioned_x0(stage: Stage, z: torch.Tensor, t: torch.Tensor, emb, ids, mask, layout=None) -> torch.Tensor:
    """A decoder's x̂₀ given the image embedding and caption (and a layout decoder's maps),
    unguided, clipped to [−1, 1]: a student's prediction as it samples, and a later round's
    teacher's."""
    keep = torch.zeros(len(z), dtype=torch.bool, device=z.device)
    x0 = stage.denoiser(stage.model, z, t, image_embed=emb, ids=ids, mask=mask, drop_image=keep, layout=layout)
    return x0.clamp(-1, 1)


def teacher_plan(teacher: Stage, task: dict) -> tuple[list[int], float | None, int]:
    """(the teacher's DDIM path, its guidance scale or None for a student teacher, the round the
    student will be)."""
    record = teacher.meta.get("distilled")
    if record:
        path = list(record["path"])
        if len(path) < 2 or len(path) % 2:
            raise PromptismError(f"the teacher samples in {len(path)} step(s): only an even number halves")
        return path, None, int(record["round"]) + 1
    steps, guidance = check_task(task)
    return spaced_timesteps(teacher.denoiser.T, steps, "trailing"), guidance, 1


def check_task(task: dict) -> tuple[int, float]:
    """A first round's (teacher_steps, guidance), or an error saying which is wrong."""
    steps, guidance = int(task["teacher_steps"]), float(task["guidance"])
    if steps < 2 or steps % 2:
        raise PromptismError(f"teacher_steps must be an even number of at least 2, not {steps}")
    if guidance < 1:
        raise PromptismError(f"guidance must be at least 1, not {guidance}")
    return steps, guidance


class DistillTask:
    """One batch: training pictures noised at the student's timesteps, the teacher's two-step
    target from there, and the student's x̂₀ error on it, weighted max(SNR, 1). ``layouts``
    (SceneLayouts): the pictures' own layouts, for a teacher that reads them."""

    def __init__(self, pairs, image_embed: torch.Tensor, teacher: Stage, path, guidance, seed: int = 0, layouts=None):
        self.pairs, self.emb, self.teacher, self.path, self.guidance = pairs, image_embed, teacher, path, guidance
        self.seed, self.denoiser, self.tok, self.layouts = seed, teacher.denoiser, teacher.tokenizer, layouts
        self.empty = self.tok([""], warn=False)

    def teacher_x0(self, z, t, emb, ids, mask, layout=None):
        if self.guidance is None:
            return conditioned_x0(self.teacher, z, t, emb, ids, mask, layout)
        e_ids, e_mask = (x.to(z.device).expand(len(z), -1) for x in self.empty)
        keep = torch.zeros(len(z), dtype=torch.bool, device=z.device)

        def pair(zz, tt):  # [z; z]: with the caption and image embedding, then with neither (the layout in both)
            both = dict(
                ids=torch.cat([ids, e_ids]),
                mask=torch.cat([mask, e_mask]),
                drop_image=torch.cat([keep, ~keep]),
                layout=None if layout is None else torch.cat([layout, layout]),
            )
            return self.teacher.denoiser(
                self.teacher.model, zz, torch.cat([tt, tt]), image_embed=torch.cat([emb, emb]), **both
            )

        return classifier_free(pair, self.guidance)(z, t).clamp(-1, 1)

    def loss(self, model, idx: np.ndarray, step: int):
        g = _generator(self.seed, step, idx)
        b = len(idx)
        x0 = to_pixels(self.pairs.images[idx])
        ids, mask = self.tok([self.pairs.captions[i] for i in idx], warn=False)
        emb = self.emb[torch.from_numpy(idx)]
        i = torch.randint(0, len(self.path) // 2, (b,), generator=g)
        t, t_mid, t_end = pairs_of(self.path, self.denoiser.T, i)
        z = self.denoiser.add_noise(x0, t, torch.randn(x0.shape, generator=g))
        maps = None if self.layouts is None else self.layouts.maps(idx, g, x0.shape[-1])
        dev = model_device(model)
        z, t, t_mid, t_end, emb, ids, mask, maps = to_device((z, t, t_mid, t_end, emb, ids, mask, maps), dev)
        self.teacher.model.to(dev)

        def teacher(x, tt):
            return self.teacher_x0(x, tt, emb, ids, mask, maps)

        target = two_step_target(teacher, self.denoiser.abar, z, t, t_mid, t_end)
        keep = torch.zeros(b, dtype=torch.bool, device=dev)
        x0_student = self.denoiser.to_x0(model(z, t, emb, ids, mask, keep, layout=maps), z, t)
        err = (x0_student - target).pow(2).flatten(1).mean(1)
        return (truncated_snr_weight(self.denoiser.abar, t) * err).mean(), {}


def train_distill(
    data: str,
    out: str,
    preset_name: str = "default",
    teacher: str = "world",
    settings: dict | None = None,
    embeddings: str | None = None,
    limit: int | None = None,
    progress: bool = True,
    crop: str = "center",
    **loop_overrides,
) -> Path:
    """One round of progressive distillation of a decoder (a shipped name or a folder, or a
    student of an earlier round) on a dataset's pictures and captions: writes OUT/model, a
    decoder whose ``config.json`` records its path (``distilled``)."""
    from accelerate import PartialState

    p = preset(preset_name) if settings is None else settings
    t0 = time.time()
    teach = load_stage(teacher, "decoder")
    if teach.caption_clip is not None:
        raise PromptismError(
            f"{teacher} reads its captions through a second CLIP ({teach.meta.get('caption_clip')}); "
            "distillation does not pass that input on yet: distil a decoder without one"
        )
    path, guidance, round_ = teacher_plan(teach, p["task"])
    for param in teach.model.parameters():
        param.requires_grad_(False)
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    state = PartialState(cpu=not torch.cuda.is_available())
    cfg = teach.model.config
    pairs = load_pairs(data, "train", size=cfg.image_size, limit=limit, progress=progress, crop=crop)
    clip_name = teach.meta.get("clip", "world")
    with state.main_process_first():
        tensors, emb_meta = _embeddings(
            data, "train", pairs.captions, embeddings, clip_name, out_dir, limit, progress, crop
        )
    if emb_meta.get("clip", clip_name) != clip_name:
        raise PromptismError(
            f"the embeddings are {emb_meta.get('clip')!r}'s, but the teacher learnt {clip_name!r}'s: "
            "give embeddings of the teacher's CLIP, or none"
        )
    loop = LoopConfig(
        **{**p["loop"], "out": str(out_dir), **{k: v for k, v in loop_overrides.items() if v is not None}}
    )
    student = copy.deepcopy(teach.model).train()
    for param in student.parameters():
        param.requires_grad_(True)
    layouts = None
    if teach.layout is not None:  # the share without a layout is the teacher's training's
        layouts = SceneLayouts(pairs, teach.layout.model.config, float(teach.meta.get("layout_drop", 0.0)))
    task = DistillTask(pairs, tensors["image_embed"], teach, path, guidance, loop.seed, layouts)
    result = train(student, task, len(pairs), loop, progress=progress)
    if not state.is_main_process:
        return out_dir / "model"
    first = teach.meta.get("distilled", {})
    record = {
        "path": student_path(path),
        "round": round_,
        "guidance": first.get("guidance", guidance),
        "teacher_steps": first.get("teacher_steps", len(path)),
        "teacher": str(teacher),
        "teacher_sha256": teach.weights_sha256,
    }
    keep = {k: teach.meta[k] for k in ("clip", "vocabulary", "layout", "layout_drop") if k in teach.meta}
    extra = {"name": out_dir.name, "data": str(data), "examples": len(pairs), "preset": preset_name, **keep}
    folder = Stage("decoder", student, teach.diffusion, {}, teach.tokenizer).save(
        out_dir / "model",
        extra={**extra, "distilled": record, **run_record(result, loop, t0)},
        state_dict=result["ema"],
    )
    (folder / "loop.json").write_text(json.dumps(asdict(loop), indent=1))
    return folder
