"""The unCLIP stages as model folders: save and load a prior, decoder or upsampler with its
diffusion settings, so that sampling reads them from the folder and never repeats a training
flag (``config.json`` holds ``config`` and ``diffusion``; the decoder adds ``tokenizer.json``)."""

from __future__ import annotations

import json
from dataclasses import asdict
from functools import cached_property
from pathlib import Path

import torch

from ..checkpoint import MODELS_DIR, load_weights, read_config, resolve, save_model, weights_sha256
from ..diffusion import Denoiser, DiffusionConfig
from ..errors import PromptismError

KINDS = ("prior", "decoder", "upsampler")


def model_classes(kind: str):
    if kind == "prior":
        from .prior import Prior, PriorConfig

        return Prior, PriorConfig
    if kind == "decoder":
        from .decoder import Decoder, DecoderConfig

        return Decoder, DecoderConfig
    if kind == "upsampler":
        from .upsampler import Upsampler, UpsamplerConfig

        return Upsampler, UpsamplerConfig
    raise PromptismError(f"unknown stage {kind!r}; stages are {', '.join(KINDS)}")


class Stage:
    """A loaded stage: the network, its denoiser, its metadata, and (decoder) its tokenizer, the
    CLIP that reads its captions too, where it has one (``caption_clip``), and the layout stage that
    draws its layouts, where it reads them (``layout``, a promptism.layout.Layout)."""

    def __init__(
        self,
        kind: str,
        model: torch.nn.Module,
        diffusion: DiffusionConfig,
        meta: dict,
        tokenizer=None,
        folder: Path | None = None,
        caption_clip=None,
        layout=None,
    ):
        self.kind, self.model, self.meta, self.tokenizer, self.folder = kind, model.eval(), meta, tokenizer, folder
        self.caption_clip, self.layout = caption_clip, layout
        self.diffusion = diffusion
        self.denoiser = Denoiser(diffusion)

    @property
    def name(self) -> str:
        return self.meta.get("name", self.folder.name if self.folder else self.kind)

    def read_captions(self, texts: list[str]) -> dict[str, torch.Tensor]:
        """A decoder's caption inputs for ``texts``: token ids and mask, and the caption CLIP's text
        embeddings where the decoder reads them."""
        ids, mask = self.tokenizer(texts)
        out = {"ids": ids, "mask": mask}
        if self.caption_clip is not None:
            with torch.no_grad():
                out["caption_embed"] = self.caption_clip.encode_text(texts).float()
        return out

    @cached_property
    def weights_sha256(self) -> str | None:
        """Of the weights file, read once per loaded stage (provenance names it in every picture)."""
        return None if self.folder is None else weights_sha256(self.folder)

    def save(
        self,
        folder: str | Path,
        extra: dict | None = None,
        state_dict: dict | None = None,
        dtype: torch.dtype | None = None,
    ) -> Path:
        folder = save_model(
            folder,
            self.kind,
            self.model,
            self.model.config,
            {**(extra or {}), "diffusion": asdict(self.diffusion)},
            state_dict,
            dtype,
        )
        if self.tokenizer is not None:
            self.tokenizer.save(Path(folder) / "tokenizer.json")
        return folder


def load_stage(name: str | Path, kind: str) -> Stage:
    folder = resolve(name, kind)
    model_cls, config_cls = model_classes(kind)
    cfg, meta = read_config(folder, kind, config_cls)
    model = load_weights(folder, model_cls(cfg))
    tok = caption_clip = layout = None
    if kind == "decoder":
        from ..clip.tokenizer import CaptionTokenizer

        tok = CaptionTokenizer.load(folder / "tokenizer.json", cfg.context)
        if cfg.caption_clip_dim:
            name = meta.get("caption_clip")
            if not name:
                raise PromptismError(f"{folder}/config.json reads a caption CLIP but names none (caption_clip)")
            caption_clip, got = load_caption_clip(name)
            if got != cfg.caption_clip_dim:
                raise PromptismError(
                    f"the decoder at {folder} read captions through a {cfg.caption_clip_dim}-wide CLIP; "
                    f"{name!r} is {got} wide"
                )
        if cfg.layout:
            from ..layout import load as load_layout

            if not meta.get("layout"):
                raise PromptismError(f"{folder}/config.json reads layouts but names no layout stage (layout)")
            layout = load_layout(meta["layout"])
    diffusion = DiffusionConfig(**meta.get("diffusion", {}))
    return Stage(kind, model, diffusion, meta, tok, folder, caption_clip, layout)


def load_caption_clip(name: str):
    """(the CLIP a decoder reads its captions through, the width of its text embeddings)."""
    from ..clip import load as load_clip

    clip = load_clip(name)
    return clip, clip.encode_text([""]).shape[1]


def ship(src: str | Path, kind: str, name: str, layout: str | None = None) -> Path:
    """Copy a trained stage into the package (float16 weights) as ``<kind>-<name>``. A decoder that
    reads layouts names the shipped layout stage it draws them with (``layout``, e.g. "world":
    promptism.layout.ship puts it there), in place of the run folder it trained beside."""
    import shutil

    stage = load_stage(src, kind)
    meta = json.loads((Path(src) / "config.json").read_text())
    extra = {k: v for k, v in meta.items() if k not in ("kind", "promptism", "config", "stored_dtype", "diffusion")}
    if stage.layout is not None:
        if layout is None or not (MODELS_DIR / f"layout-{layout}").is_dir():
            raise PromptismError(f"{src} reads layouts: name the shipped layout stage it draws them with (layout=)")
        extra["layout"] = layout
    dst = MODELS_DIR / f"{kind}-{name}"
    shutil.rmtree(dst, ignore_errors=True)
    return stage.save(dst, extra={**extra, "name": f"{kind}-{name}"}, dtype=torch.float16)
