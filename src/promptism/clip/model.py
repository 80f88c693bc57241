"""Our CLIP (Radford et al. 2021): a text transformer and a small image ResNet, projected
into one embedding space and trained with a symmetric contrastive loss.

Shapes: B batch, L context, W text width, D embedding, C channels, S the last feature map's side.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..nn.text import CaptionEncoder


@dataclass(frozen=True)
class CLIPConfig:
    vocab_size: int = 512
    context: int = 32
    text_width: int = 256
    text_layers: int = 4
    text_heads: int = 4
    image_size: int = 64
    image_channels: tuple[int, ...] = (32, 64, 128, 128)  # one stage each, each halving the side
    image_blocks: int = 2  # conv-BN-ReLU layers a stage
    # "pool": the first stage is conv blocks then a max-pool, as every stage; "stride": one
    # stride-2 conv-BN-ReLU instead, so no layer runs at the full side (ImageTower)
    image_stem: str = "pool"
    embed_dim: int = 256
    init_temperature: float = 0.07
    text_embed_std: float = 0.02  # initial std of the token embeddings (only training reads it)
    text_token_shift: bool = False  # each word also sees the previous one's embedding (nn/text.py)
    # the composition head reads the unit embedding times this; sqrt(embed_dim) gives its inputs
    # unit variance. At 1 the head's logits start tiny and learn slowly (world-bind2's recipe uses 16)
    compose_scale: float = 1.0
    compose_outputs: int = 0  # >0: a linear head on the image embedding for training targets (world/targets.py)
    text_causal: bool = False  # each word attends only to the words before it, as CLIP's text tower (nn/text.py)
    place_outputs: int = 0  # >0: a linear head reading each colour's and shape's place (world/targets.py)

    def __post_init__(self):
        object.__setattr__(self, "image_channels", tuple(self.image_channels))
        if self.image_stem not in ("pool", "stride"):
            raise ValueError(f"image_stem must be 'pool' or 'stride', not {self.image_stem!r}")
        if self.image_size % (2 ** len(self.image_channels)):
            raise ValueError(f"image_size {self.image_size} must be divisible by {2 ** len(self.image_channels)}")


class TextTower(CaptionEncoder):
    """The caption encoder with a projection into the shared embedding space.

    CLIP initialises token embeddings with std 0.02 and positions with 0.01. With std 1.0
    (torch's default) the positions are 100x smaller than the words and attention hardly sees
    order, so a tower cannot learn which colour goes with which shape. Pooling is the mean over the caption's tokens: CLIP pools at [EOS], but from scratch
    at this scale that token starts identical for every caption and the embeddings start collapsed.
    """

    def __init__(self, cfg: CLIPConfig):
        super().__init__(
            cfg.vocab_size,
            cfg.context,
            cfg.text_width,
            cfg.text_layers,
            cfg.text_heads,
            token_std=cfg.text_embed_std,
            pos_std=0.01,
            token_shift=cfg.text_token_shift,
            causal=cfg.text_causal,
        )
        self.proj = nn.Linear(cfg.text_width, cfg.embed_dim, bias=False)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # ids, mask: (B, L) -> pooled embedding (B, D), token features (B, L, W)
        tokens, pooled = super().forward(ids, mask)
        return self.proj(pooled), tokens

    def embed(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The pooled embedding alone (B, D), as forward's, skipping the padding (CaptionEncoder.pool)."""
        return self.proj(self.pool(ids, mask))


class ConvStage(nn.Sequential):
    """conv-BN-ReLU x blocks, then 2x max-pool. (A GroupNorm/SiLU residual stack behind a
    pixel-unshuffle stem learned shapes far slower here.)"""

    def __init__(self, cin: int, cout: int, blocks: int):
        layers: list[nn.Module] = []
        for i in range(blocks):
            layers += [
                nn.Conv2d(cin if i == 0 else cout, cout, 3, padding=1, bias=False),
                nn.BatchNorm2d(cout),
                nn.ReLU(),
            ]
        super().__init__(*layers, nn.MaxPool2d(2))


class WhatWhereHead(nn.Module):
    """What is there: global average and max pools (translation-invariant, so a shape is
    learned once, not once per position). Where: a 1x1-reduced copy of the last map,
    flattened, so "above" and "left of" survive into the embedding."""

    def __init__(self, channels: int, side: int, out: int, where: int = 16):
        super().__init__()
        self.reduce = nn.Conv2d(channels, where, 1)
        n = 2 * channels + where * side * side
        self.norm = nn.LayerNorm(n)
        self.proj = nn.Linear(n, out, bias=False)

    def forward(self, x):  # x: (B, C, S, S) -> (B, D)
        feats = torch.cat([x.mean(dim=(2, 3)), x.amax(dim=(2, 3)), self.reduce(x).flatten(1)], dim=1)
        return self.proj(self.norm(feats))


def stride_stem(cin: int, cout: int) -> nn.Sequential:
    """A first stage that halves the side with one stride-2 conv-BN-ReLU. At 64 px the pooled
    first stage (two convolutions and their BatchNorm and ReLU at the full side) is a fifth of
    the image tower's arithmetic and over half of its memory traffic."""
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU())


class ImageTower(nn.Module):
    def __init__(self, cfg: CLIPConfig):
        super().__init__()
        stages, cin = [], 3
        for i, c in enumerate(cfg.image_channels):  # each stage halves the side: 64 -> 32 -> 16 -> 8 -> 4
            stride = i == 0 and cfg.image_stem == "stride"
            stages.append(stride_stem(cin, c) if stride else ConvStage(cin, c, cfg.image_blocks))
            cin = c
        self.body = nn.Sequential(*stages)
        self.head = WhatWhereHead(cin, cfg.image_size // 2 ** len(cfg.image_channels), cfg.embed_dim)

    def forward(self, x):  # x: (B, 3, H, W) in [-1, 1] -> (B, D)
        # channels-last activations, the layout oneDNN's CPU convolutions prefer: faster training
        # steps with the same outputs (benchmarks/reports/clip_train_speed.md times whole steps)
        return self.head(self.body(x.contiguous(memory_format=torch.channels_last)))


def trim_padding(ids: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Drop the padding columns every caption of the batch has (B, L) -> (B, L'), L' the longest
    caption. The pooled embedding does not change: padding is never attended to nor pooled, and
    attention is causal or masked. Captions average 13 of the 28 tokens the world presets pad to,
    so the text tower, half of a training step's arithmetic, does about a fifth less."""
    used = mask.any(0).nonzero()
    n = int(used[-1]) + 1 if len(used) else 1
    return ids[:, :n], mask[:, :n]


class CLIP(nn.Module):
    def __init__(self, cfg: CLIPConfig):
        super().__init__()
        self.config = cfg
        self.text = TextTower(cfg)
        self.image = ImageTower(cfg)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1.0 / cfg.init_temperature)))
        # training only: reads what the picture holds (and the caption states) off the normalised
        # embedding, so the embedding itself must hold it linearly (inference never calls it)
        self.compose = nn.Linear(cfg.embed_dim, cfg.compose_outputs) if cfg.compose_outputs else None
        # training only, likewise: each colour's and shape's (x, y), read off pictures and, as the
        # sides of a stated relation, off captions (world/targets.py place_target, relation_rows)
        self.place = nn.Linear(cfg.embed_dim, 2 * cfg.place_outputs) if cfg.place_outputs else None

    def encode_text(self, ids, mask, normalize: bool = True):
        emb = self.text.embed(*trim_padding(ids, mask))
        return F.normalize(emb, dim=-1) if normalize else emb

    def text_features(self, ids, mask):
        """Token-level features (B, L, W) and the pooled embedding (B, D), for the prior and decoder."""
        emb, tokens = self.text(ids, mask)
        return tokens, F.normalize(emb, dim=-1)

    def encode_image(self, pixels, normalize: bool = True):
        emb = self.image(pixels)
        return F.normalize(emb, dim=-1) if normalize else emb

    def forward(self, pixels, ids, mask, neg_ids=None, neg_mask=None, neg_valid=None):
        """Training entry point (DDP synchronises gradients through forward only): normalised
        picture, caption and hard-negative embeddings, the logit scale, the composition head's
        output for the pictures, then for the captions, stacked, and the place head's for the
        pictures, the captions, then the negatives (None without the head). With ``neg_valid``
        (B,) only those negatives are encoded and the others' rows are zero: the losses ignore
        them, and a batch's counterfactual captions, a fifth of its text, have none."""
        img = self.encode_image(pixels)
        txt = self.encode_text(ids, mask)
        neg = None
        if neg_ids is not None and neg_valid is None:
            neg = self.encode_text(neg_ids, neg_mask)
        elif neg_ids is not None:
            rows = neg_valid.nonzero().squeeze(1)
            neg = txt.new_zeros(len(neg_ids), txt.shape[1])
            if len(rows):
                neg = neg.index_copy(0, rows, self.encode_text(neg_ids[rows], neg_mask[rows]))
        both = torch.cat([img, txt])
        comp = self.composition(both) if self.compose is not None else None
        place = self.places(torch.cat([both] + ([neg] if neg is not None else []))) if self.place is not None else None
        return img, txt, neg, self.scale(), comp, place

    def composition(self, emb: torch.Tensor) -> torch.Tensor:
        """The composition head's output for normalised embeddings (B, D) -> (B, compose_outputs)."""
        return self.compose(emb * self.config.compose_scale)

    def places(self, emb: torch.Tensor) -> torch.Tensor:
        """The place head's output for normalised embeddings (B, D) -> (B, place_outputs, 2)."""
        return self.place(emb * self.config.compose_scale).view(len(emb), -1, 2)

    def scale(self) -> torch.Tensor:
        return self.logit_scale.clamp(max=math.log(100.0)).exp()  # CLIP clips the temperature at 1/100
