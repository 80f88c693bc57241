"""The knobs of the unCLIP stages' training tasks, declared once as typed configs (torch-free, so
that building the command line loads no model code)."""

from __future__ import annotations

from dataclasses import dataclass

from ..knobs import knob, share

PLAIN_SHARE = 0.25  # of an inpainting decoder's training pictures, those with nothing known


@dataclass(frozen=True)
class DecoderTaskConfig:
    """The knobs of the decoder's training task, each declared once (promptism.knobs): a preset's
    ``task`` table or a recipe file sets them, `promptism train decoder` has an option for each."""

    p_plain: float = knob(
        PLAIN_SHARE,
        "inpainting decoders: the share of training pictures with nothing known (the rest get random masks)",
        parse=share,
        metavar="P",
    )
    embed_noise: float = knob(
        0.0,
        "conditioning augmentation: how far the training image embeddings are perturbed (perturb_embeddings), "
        "so that the decoder learns what the prior's samples lack from the caption; 0 is off",
    )
    caption_clip: str | None = knob(
        None,
        "a second CLIP (a shipped name or a folder) whose text embedding of each caption the decoder reads "
        "too, through projections that start at zero (the empty caption's where the caption is dropped); "
        "unset, the decoder reads none",
        parse=str,
        metavar="CLIP",
    )
    relation_share: float = knob(
        0.0,
        "the share of each batch replaced by pictures whose caption states where one object is relative to "
        "another ('A to the left of B'; Scene World captions), drawn at random from those; 0 is off",
        parse=share,
        metavar="P",
    )
    layout: str | None = knob(
        None,
        "a layout stage (`promptism train layout`: a shipped name or a folder) that draws, at generation, where "
        "each object goes; the decoder gains input channels for its maps (starting at zero) and trains on the "
        "maps of its pictures' own scenes; unset, the decoder reads no layout",
        parse=str,
        metavar="LAYOUT",
    )
    layout_drop: float = knob(
        0.2,
        "layout decoders: the share of training pictures shown no layout (all-zero maps), so the decoder still "
        "draws without one (variations, edits)",
        parse=share,
        metavar="P",
    )
