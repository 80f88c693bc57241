"""Training the unCLIP stages through the one generic loop: each stage supplies its presets
and a task whose ``loss(model, indices, step)`` the loop calls.

    promptism embed --data DIR --out emb.safetensors          # CLIP embeddings, once
    promptism train decoder --data DIR --embeddings emb.safetensors --out runs/decoder
    promptism train prior --data DIR --embeddings emb.safetensors --out runs/prior
    promptism train upsampler --data DIR --config world-64 --out runs/up64

Every task draws its noise, timesteps and condition drops from a generator seeded by (seed,
step, the batch's first index), so resuming after a kill repeats exactly what a straight run
does.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..clip.task import to_pixels
from ..data import Pairs, load_pairs
from ..data.consent import card_record
from ..diffusion import Denoiser, DiffusionConfig
from ..errors import PromptismError
from ..train.loop import LoopConfig, model_device, run_record, to_device, train
from .decoder import random_keep_masks
from .folders import Stage, model_classes
from .presets import PRESETS
from .task_config import DecoderTaskConfig

P_DROP_IMAGE, P_DROP_TEXT, P_DROP_PRIOR_TEXT = 0.1, 0.5, 0.1  # Ramesh et al. 2022, §2.1


def _generator(seed: int, step: int, idx: np.ndarray) -> torch.Generator:
    s = np.random.default_rng([seed, step, int(idx[0]) if len(idx) else 0]).integers(2**62)
    return torch.Generator().manual_seed(int(s))


def perturb_embeddings(emb: torch.Tensor, most: float, g: torch.Generator) -> torch.Tensor:
    """Each row plus Gaussian noise of norm about s·|row|, s uniform in [0, most] per row, scaled
    back to the row's norm: at s the cosine with the row is about 1/√(1+s²)."""
    s = torch.rand(len(emb), 1, generator=g) * most
    e = torch.randn(emb.shape, generator=g) / emb.shape[1] ** 0.5
    norm = emb.norm(dim=1, keepdim=True)
    out = emb + s * norm * e
    return out * norm / out.norm(dim=1, keepdim=True)


class DecoderTask:
    def __init__(
        self,
        pairs: Pairs,
        image_embed: torch.Tensor,
        tokenizer,
        denoiser: Denoiser,
        seed: int = 0,
        config: DecoderTaskConfig | None = None,
        caption_reader=None,
        **knobs,
    ):
        """``config`` holds the task's knobs (DecoderTaskConfig); knobs given by name replace its fields.
        ``caption_reader``: the loaded CLIP that ``config.caption_clip`` names, which reads the captions
        for a decoder that takes its text embedding (train_stage loads it)."""
        cfg = replace(config or DecoderTaskConfig(), **knobs)
        self.pairs, self.emb, self.tok, self.denoiser, self.seed = pairs, image_embed, tokenizer, denoiser, seed
        self.p_plain, self.embed_noise = cfg.p_plain, cfg.embed_noise
        self.relation_share, self.related = cfg.relation_share, None
        if cfg.relation_share:
            self.related = np.array([i for i, c in enumerate(pairs.captions) if states_relation(c)], dtype=np.int64)
            if not len(self.related):
                raise PromptismError("relation_share is set, but no training caption states a relation")
        if bool(cfg.caption_clip) != (caption_reader is not None):
            raise ValueError("give the loaded caption CLIP (caption_reader) exactly when config.caption_clip names one")
        self.caption_clip = caption_reader
        self.layouts = None
        if cfg.layout:  # the stage's bins only: it draws layouts at generation, not here
            from ..layout import read

            self.layouts = SceneLayouts(pairs, read(cfg.layout)[1], cfg.layout_drop)

    def loss(self, model, idx: np.ndarray, step: int):
        g = _generator(self.seed, step, idx)
        idx = self.draw(idx, g)
        x0 = to_pixels(self.pairs.images[idx])
        drop_text = torch.rand(len(idx), generator=g) < P_DROP_TEXT
        drop_image = torch.rand(len(idx), generator=g) < P_DROP_IMAGE
        captions = ["" if d else self.pairs.captions[i] for i, d in zip(idx, drop_text.tolist())]
        ids, mask = self.tok(captions, warn=False)
        emb = self.emb[torch.from_numpy(idx)]
        if self.embed_noise:
            emb = perturb_embeddings(emb, self.embed_noise, g)
        kw = {}
        if _unwrap(model).config.inpaint:  # GLIDE-style: random masks, the known part as input
            kw = dict(known=x0, keep=random_keep_masks(len(idx), x0.shape[-1], g, self.p_plain))
        if self.caption_clip is not None:  # the same captions (empty where dropped) by the caption CLIP
            with torch.no_grad():
                kw["caption_embed"] = self.caption_clip.encode_text(captions).float()
        if self.layouts is not None:
            kw["layout"] = self.layouts.maps(idx, g, x0.shape[-1])
        x0, emb, ids, mask, drop_image, kw = to_device((x0, emb, ids, mask, drop_image, kw), model_device(model))
        loss = self.denoiser.loss(lambda x, t: model(x, t, emb, ids, mask, drop_image, **kw), x0, generator=g)
        return loss, {}

    def draw(self, idx: np.ndarray, g: torch.Generator) -> np.ndarray:
        """The batch's pairs: ``idx``, with a share ``relation_share`` of them replaced by pairs whose
        caption states a relation (none replaced, and no draw from ``g``, when it is 0)."""
        if self.related is None:
            return idx
        swap = (torch.rand(len(idx), generator=g) < self.relation_share).numpy()
        pick = self.related[torch.randint(0, len(self.related), (len(idx),), generator=g).numpy()]
        return np.where(swap, pick, idx)


class SceneLayouts:
    """Each training picture's own layout, its objects as a layout stage with config ``cfg``
    writes them (centroids binned), for a decoder that reads layouts: its training task's and its
    distillation's (promptism.unclip.distill)."""

    def __init__(self, pairs: Pairs, cfg, drop: float):
        from ..layout import quantised
        from ..layout.training import scene_objects

        self.layouts, self.drop = [quantised(o, cfg) for o in scene_objects(pairs)], drop

    def maps(self, idx: np.ndarray, g: torch.Generator, size: int) -> torch.Tensor:
        """The maps (len(idx), C, size, size) of the pictures ``idx``, all zero ("no layout") for a
        share ``drop`` of them, drawn from ``g``."""
        from ..layout import layout_maps

        shown = (torch.rand(len(idx), generator=g) >= self.drop).tolist()
        return layout_maps([self.layouts[i] if s else [] for i, s in zip(idx, shown)], size)


def states_relation(caption: str) -> bool:
    """Whether a Scene World caption states where one object is relative to another; False for a
    caption the world's parser does not read."""
    from ..world.captions import ParseError, parse

    try:
        return bool(parse(caption).relations)
    except ParseError:
        return False


class PriorTask:
    def __init__(self, pairs: Pairs, image_embed: torch.Tensor, clip, denoiser: Denoiser, seed: int = 0):
        self.pairs, self.emb, self.clip, self.denoiser, self.seed = pairs, image_embed, clip, denoiser, seed

    def loss(self, model, idx: np.ndarray, step: int):
        g = _generator(self.seed, step, idx)
        tokens, mask, text = self.clip.text_features([self.pairs.captions[i] for i in idx])
        drop = torch.rand(len(idx), generator=g) < P_DROP_PRIOR_TEXT
        x0 = self.emb[torch.from_numpy(idx)] * model_dim(model) ** 0.5
        x0, tokens, mask, text, drop = to_device((x0, tokens, mask, text, drop), model_device(model))
        loss = self.denoiser.loss(lambda x, t: model(x, t, tokens, mask, text, drop), x0, generator=g)
        return loss, {}


def _unwrap(model):
    return model.module if hasattr(model, "module") else model


def model_dim(model) -> int:
    return _unwrap(model).config.clip_dim


class UpsamplerTask:
    def __init__(self, pairs: Pairs, low_size: int, denoiser: Denoiser, seed: int = 0):
        self.pairs, self.low_size, self.denoiser, self.seed = pairs, low_size, denoiser, seed

    def loss(self, model, idx: np.ndarray, step: int):
        from .upsampler import gaussian_blur

        g = _generator(self.seed, step, idx)
        up = _unwrap(model)
        x0 = to_pixels(self.pairs.images[idx])
        low = F.interpolate(x0, size=self.low_size, mode="area")
        # conditioning augmentation (Ramesh et al. 2022 §2.1; Ho et al. 2022): blur, then noise
        sigma = 0.4 + 0.2 * torch.rand(len(idx), generator=g)
        low = gaussian_blur(low, sigma)
        aug_t = torch.randint(0, up.config.max_aug_t, (len(idx),), generator=g)
        low = self.denoiser.add_noise(low, aug_t, torch.randn(low.shape, generator=g))
        dev = model_device(model)
        x0, low, aug_t = to_device((x0, low, aug_t), dev)
        target = up.encode(x0, up.reference(low))  # the picture, or its residual over bicubic(low)
        loss = self.denoiser.loss(lambda x, t: model(x, t, low, aug_t), target, generator=g)
        return loss, {}


def preset(kind: str, preset_name: str) -> dict:
    if kind not in PRESETS:
        raise PromptismError(f"unknown stage {kind!r}; stages are {', '.join(PRESETS)}")
    if preset_name not in PRESETS[kind]:
        raise PromptismError(f"unknown {kind} preset {preset_name!r}; presets are {', '.join(PRESETS[kind])}")
    return PRESETS[kind][preset_name]


def build(kind: str, preset_name: str, settings: dict | None = None, **model_fields):
    """(model, diffusion config, loop config) of a stage preset (or of ``settings``, a recipe
    file's), with fields the data decides."""
    p = preset(kind, preset_name) if settings is None else settings
    model_cls, config_cls = model_classes(kind)
    fields = {**p["model"], **model_fields}
    cfg = config_cls.build(**fields) if kind == "decoder" else config_cls(**fields)
    return model_cls, cfg, DiffusionConfig(**p["diffusion"]), p["loop"]


def _embeddings(data, split, captions, embeddings, clip_name, out_dir, limit, progress, crop="center"):
    from .embeddings import embed_dataset, load_embeddings

    path = Path(embeddings) if embeddings else out_dir / "embeddings.safetensors"
    if not embeddings and not path.exists():
        embed_dataset(data, path, clip_name, split, limit=limit, progress=progress, crop=crop)
    tensors, meta = load_embeddings(path, captions)
    return tensors, meta


def _start_from(init: str, kind: str, model, cfg, preset_name: str) -> dict:
    """Load a trained model folder's weights into ``model`` (a plain decoder's start an inpainting
    one, its extra channels at zero); the provenance fields the fine-tune records."""
    from ..checkpoint import init_record, load_weights, read_config, start_from

    init_cfg, init_meta = read_config(init, kind, model_classes(kind)[1])
    if kind == "decoder":
        from .decoder import Decoder, widen, widens

        if widens(init_cfg, cfg):
            # a decoder's weights start one with inputs added (inpainting channels, layout channels, a
            # caption CLIP, coordinate channels), the new inputs' weights at zero
            widen(model, load_weights(init, Decoder(init_cfg)).state_dict()).train()
            return init_record(init, init_meta)
    return start_from(init, kind, model_classes(kind)[1], model, cfg, preset_name)


def _conditioning(kind, p, pairs, data, embeddings, clip_name, out_dir, limit, progress, init, state, extra, crop):
    """What a stage is conditioned on besides pictures: the CLIP embeddings of the pairs (prior and
    decoder), the decoder's tokenizer (a fine-tune keeps its start's), the prior's CLIP; the model
    fields they decide, and the provenance (``extra``) they add."""
    tensors, tok, clip = None, None, None
    fields: dict = {}
    if kind in ("decoder", "prior"):
        with state.main_process_first():
            tensors, emb_meta = _embeddings(
                data, "train", pairs.captions, embeddings, clip_name, out_dir, limit, progress, crop
            )
        extra["clip"] = emb_meta.get("clip", clip_name)
        fields["clip_dim"] = tensors["image_embed"].shape[1]
    if kind == "decoder":
        from ..checkpoint import keep_start_tokenizer
        from ..clip.tokenizer import words
        from ..clip.train import tokenizer_for_run

        keep_start_tokenizer(init, out_dir, state)
        tok = tokenizer_for_run(out_dir / "tokenizer.json", pairs.captions, 512, p["model"].get("context", 28), state)
        fields["vocab_size"] = tok.vocab_size
        # the words of the training captions: a prompt's other words get a warning at generation
        extra["vocabulary"] = sorted({w for c in pairs.captions for w in words(c)})
    if kind == "prior":
        from ..clip import load as load_clip

        clip = load_clip(extra["clip"])
        tokens, _, _ = clip.text_features(pairs.captions[:1])
        fields.update(token_width=tokens.shape[-1], context=tokens.shape[1])
    return tensors, tok, clip, fields


def train_stage(
    kind: str,
    data: str,
    out: str,
    preset_name: str = "world",
    embeddings: str | None = None,
    clip_name: str = "world",
    limit: int | None = None,
    progress: bool = True,
    init: str | None = None,
    settings: dict | None = None,
    task: dict | None = None,
    crop: str = "center",
    **loop_overrides,
) -> Path:
    """Train (or resume) one stage; write the model folder OUT/model with the EMA weights.
    ``settings`` (a recipe file's resolved preset) replaces the preset ``preset_name`` labels;
    ``task`` replaces fields of the decoder's DecoderTaskConfig."""
    from accelerate import PartialState

    p = preset(kind, preset_name) if settings is None else settings
    if init:  # a shipped model's name or a folder; checked before the data is read
        from .folders import resolve

        init = str(resolve(init, kind))
    t0 = time.time()
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    state = PartialState(cpu=not torch.cuda.is_available())
    # the prior reads captions and precomputed embeddings only: no pictures to decode
    pairs = load_pairs(
        data,
        "train",
        size=p["model"].get("image_size", 0),
        limit=limit,
        progress=progress,
        images=kind != "prior",
        crop=crop,
    )
    extra: dict = {
        "data": str(data),
        "examples": len(pairs),
        "preset": preset_name,
        "crop": crop,
        "consent": card_record(data),
    }
    if pairs.skipped:
        extra["skipped"] = pairs.skipped
    task_cfg = DecoderTaskConfig(**{**p.get("task", {}), **(task or {})}) if kind == "decoder" else None
    if task_cfg is not None and p["model"].get("layout") and not task_cfg.layout:
        raise PromptismError(
            f"the {preset_name} decoder reads layouts: name the layout stage whose layouts it learns "
            "(--layout FOLDER, or layout in the recipe's [task])"
        )
    tensors, tok, clip, fields = _conditioning(
        kind, p, pairs, data, embeddings, clip_name, out_dir, limit, progress, init, state, extra, crop
    )
    caption_reader = None
    if task_cfg is not None and task_cfg.caption_clip:
        from .folders import load_caption_clip

        caption_reader, fields["caption_clip_dim"] = load_caption_clip(task_cfg.caption_clip)
    if task_cfg is not None and task_cfg.layout:
        fields["layout"] = True
    model_cls, cfg, dcfg, loop_defaults = build(kind, preset_name, p, **fields)
    loop = LoopConfig(
        **{**loop_defaults, "out": str(out_dir), **{k: v for k, v in loop_overrides.items() if v is not None}}
    )
    torch.manual_seed(loop.seed)
    model = model_cls(cfg)
    if init:  # fine-tune: start from a trained model folder of the same architecture
        extra.update(_start_from(init, kind, model, cfg, preset_name))
    denoiser = Denoiser(dcfg)
    if kind == "decoder":
        extra.update(asdict(task_cfg))
        task = DecoderTask(pairs, tensors["image_embed"], tok, denoiser, loop.seed, task_cfg, caption_reader)
    elif kind == "prior":
        task = PriorTask(pairs, tensors["image_embed"], clip, denoiser, loop.seed)
    else:
        task = UpsamplerTask(pairs, cfg.low_size, denoiser, loop.seed)
    result = train(model, task, len(pairs), loop, progress=progress)
    if not state.is_main_process:
        return out_dir / "model"
    stage = Stage(kind, model, dcfg, {}, tok)
    folder = stage.save(
        out_dir / "model",
        extra={
            "name": out_dir.name,
            **extra,
            **run_record(result, loop, t0),
        },
        state_dict=result["ema"],
    )
    (folder / "loop.json").write_text(json.dumps(asdict(loop), indent=1))
    return folder
