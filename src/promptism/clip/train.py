"""Training CLIP: `promptism train clip` over the one generic loop (the task is clip/task.py)."""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch

from ..data import load_pairs
from ..data.consent import card_record
from ..train.loop import run_record, train
from .model import CLIP
from .task import ClipTask, to_pixels
from .task_config import RANK_MARGIN, ClipTaskConfig
from .tokenizer import CaptionTokenizer, train_tokenizer

__all__ = ["RANK_MARGIN", "ClipTask", "ClipTaskConfig", "build_tokenizer", "to_pixels", "train_clip"]

BN_RECALIBRATION_BATCHES = 50  # batches of training pictures that set the EMA weights' BatchNorm statistics


def build_tokenizer(captions: list[str], vocab_size: int, context: int) -> CaptionTokenizer:
    from ..world import vocab

    words = [" ".join(vocab.COLORS), " ".join(vocab.PLURALS), " ".join(vocab.PLURALS.values())]
    return CaptionTokenizer(train_tokenizer(list(captions) + words, vocab_size), context)


def tokenizer_for_run(tok_path: Path, captions: list[str], vocab_size: int, context: int, state) -> CaptionTokenizer:
    """The run's tokenizer: read back when resuming (the vocabulary must stay the one the weights
    were trained with), else trained on the captions. The main process writes tokenizer.json,
    the others then read it."""
    with state.main_process_first():
        if tok_path.exists():
            return CaptionTokenizer.load(tok_path, context)
        tok = build_tokenizer(captions, vocab_size, context)
        tok.save(tok_path)
        return tok


def train_clip(
    data: str,
    out: str,
    preset_name: str = "world",
    task: dict | None = None,
    limit: int | None = None,
    progress: bool = True,
    settings: dict | None = None,
    crop: str = "center",
    init: str | None = None,
    **loop_overrides,
) -> Path:
    """Train (or resume) a CLIP on image–caption data; write the model folder out/model.

    ``preset_name`` names a preset, or labels ``settings`` (a recipe file's resolved preset) when
    given; ``task`` replaces fields of the preset's ClipTaskConfig; ``loop_overrides`` (steps,
    batch_size, ...) replace the loop's, None keeping the preset's. ``init`` (a shipped name or a
    native model folder of the preset's architecture) fine-tunes: the run starts from its weights
    and keeps its tokenizer."""
    import time

    from accelerate import PartialState

    from ..checkpoint import keep_start_tokenizer, resolve, start_from
    from ..errors import PromptismError
    from .native import NativeClip
    from .presets import PRESETS, configs

    if settings is None:
        if preset_name not in PRESETS:
            raise PromptismError(f"unknown preset {preset_name!r}; presets are {', '.join(PRESETS)}")
        settings = PRESETS[preset_name]
    try:
        task_cfg = ClipTaskConfig(**{**settings.get("task", {}), **(task or {})})
    except (TypeError, ValueError) as e:
        raise PromptismError(f"CLIP task settings: {e}") from None
    if init:  # checked before the data is read
        init = str(resolve(init, "clip"))
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    pairs = load_pairs(data, "train", size=settings["model"]["image_size"], limit=limit, progress=progress, crop=crop)
    state = PartialState(cpu=not torch.cuda.is_available())  # as the loop's Accelerator: one shared state
    keep_start_tokenizer(init, out_dir, state)
    tok = tokenizer_for_run(
        out_dir / "tokenizer.json", pairs.captions, settings["vocab_size"], settings["model"]["context"], state
    )
    cfg, loop = configs(settings, tok.vocab_size, out=str(out_dir), **loop_overrides)
    clip_task = ClipTask(pairs, tok, task_cfg, seed=loop.seed)
    cfg = _with_heads(cfg, clip_task)
    torch.manual_seed(loop.seed)  # the same initial weights every run: resuming must match running straight
    model = CLIP(cfg)
    start = {}
    if init:  # a resumed run's checkpoint then replaces these weights
        from .model import CLIPConfig

        start = start_from(init, "clip", CLIPConfig, model, cfg, preset_name)
    result = train(model, clip_task, len(pairs), loop, progress=progress)
    if not state.is_main_process:
        return out_dir / "model"
    weights = result["ema"]
    if weights is not None:  # BatchNorm statistics for the averaged weights, from training pictures
        from ..train.loop import recalibrate_batchnorm

        rng = np.random.default_rng([loop.seed, 5])

        def picture_batch():
            chosen = rng.choice(len(pairs), min(len(pairs), loop.batch_size), replace=False)
            model.encode_image(to_pixels(pairs.images[chosen]).to(next(model.parameters()).device))

        weights = recalibrate_batchnorm(model, weights, picture_batch, BN_RECALIBRATION_BATCHES)
    knobs = asdict(clip_task.effective())
    knobs["counterfactual_kinds"] = list(knobs["counterfactual_kinds"])
    extra = {
        "name": out_dir.name,
        "preset": preset_name,
        "data": str(data),
        "examples": len(pairs),
        "consent": card_record(data),
        **knobs,
        **run_record(result, loop, t0),
        **start,
    }
    folder = NativeClip(model, tok).save(out_dir / "model", extra=extra, state_dict=weights)
    (out_dir / "model" / "loop.json").write_text(json.dumps(asdict(loop), indent=1))
    return folder


def _with_heads(cfg, task: ClipTask):
    """The model config with the heads the task's terms read: the composition head (pair targets,
    then attribute logits after them) and the place head."""
    from ..world.targets import N_PLACES, SIZE

    if task.targets is not None or task.caption_targets is not None or task.attribute_targets is not None:
        cfg = replace(cfg, compose_outputs=SIZE + (N_PLACES if task.attribute_targets is not None else 0))
    if task.places is not None:
        cfg = replace(cfg, place_outputs=N_PLACES)
    return cfg
