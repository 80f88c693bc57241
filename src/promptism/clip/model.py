"""Our CLIP (Radford et al. 2021): a text transformer and a small image ResNet, projected
into one embedding space and trained with a symmetric contrastive loss.

Shapes: B batch, L context, W text width, D embedding, C channels, S = image_size / 2.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..nn import TransformerBlock


@dataclass(frozen=True)
class CLIPConfig:
    vocab_size: int = 512
    context: int = 32
    text_width: int = 256
    text_layers: int = 4
    text_heads: int = 4
    image_size: int = 64
    image_channels: tuple[int, ...] = (32, 64, 128)  # one stage each, each halving the resolution
    image_blocks: int = 2  # residual blocks a stage
    embed_dim: int = 256
    init_temperature: float = 0.07

    def __post_init__(self):
        object.__setattr__(self, "image_channels", tuple(self.image_channels))
        if self.image_size % (2 ** (len(self.image_channels) + 1)):
            raise ValueError(f"image_size {self.image_size} must be divisible by {2 ** (len(self.image_channels) + 1)}")


class TextTower(nn.Module):
    def __init__(self, cfg: CLIPConfig):
        super().__init__()
        self.tok = nn.Embedding(cfg.vocab_size, cfg.text_width)
        self.pos = nn.Parameter(torch.randn(cfg.context, cfg.text_width) * 0.01)
        self.blocks = nn.ModuleList(TransformerBlock(cfg.text_width, cfg.text_heads) for _ in range(cfg.text_layers))
        self.ln = nn.LayerNorm(cfg.text_width)
        self.proj = nn.Linear(cfg.text_width, cfg.embed_dim, bias=False)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # ids, mask: (B, L) -> pooled (B, D), token features (B, L, W)
        x = self.tok(ids) + self.pos[: ids.shape[1]]
        for block in self.blocks:
            x = block(x, mask)
        x = self.ln(x)
        # mean over the caption's tokens. CLIP pools at [EOS]; from scratch at this scale that
        # token starts identical for every caption and the embeddings start collapsed
        m = mask.unsqueeze(-1).to(x.dtype)
        pooled = (x * m).sum(dim=1) / m.sum(dim=1).clamp(min=1.0)
        return self.proj(pooled), x


class ResBlock(nn.Module):
    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.norm1 = nn.GroupNorm(8, cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.norm2 = nn.GroupNorm(8, cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x):
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(F.silu(self.norm2(h)))
        return self.skip(x) + h


class FlattenHead(nn.Module):
    """Every position of the last feature map, flattened and projected: where an object is
    stays in the embedding ("above", "to the left of"). An average or attention pool starts
    out dominated by the background and gives nearly the same embedding for every picture."""

    def __init__(self, channels: int, side: int, out: int):
        super().__init__()
        self.norm = nn.LayerNorm(channels * side * side)
        self.proj = nn.Linear(channels * side * side, out, bias=False)

    def forward(self, x):  # x: (B, C, S, S) -> (B, D)
        return self.proj(self.norm(x.flatten(1)))


class ImageTower(nn.Module):
    def __init__(self, cfg: CLIPConfig):
        super().__init__()
        chans = cfg.image_channels
        # pixel-unshuffle (space to depth, x2): a 64 px picture costs what a 32 px one would
        self.stem = nn.Sequential(nn.PixelUnshuffle(2), nn.Conv2d(12, chans[0], 3, padding=1))
        layers: list[nn.Module] = []
        cin = chans[0]
        for i, c in enumerate(chans):
            for _ in range(cfg.image_blocks):
                layers.append(ResBlock(cin, c))
                cin = c
            layers.append(nn.Conv2d(c, c, 3, stride=2, padding=1))  # 32 -> 16 -> 8 -> 4 at 64 px
        self.body = nn.Sequential(*layers)
        self.norm = nn.GroupNorm(8, cin)
        side = cfg.image_size // 2 ** (len(chans) + 1)
        self.head = FlattenHead(cin, side, cfg.embed_dim)

    def forward(self, x):  # x: (B, 3, H, W) in [-1, 1] -> (B, D)
        return self.head(F.silu(self.norm(self.body(self.stem(x)))))


class CLIP(nn.Module):
    def __init__(self, cfg: CLIPConfig):
        super().__init__()
        self.config = cfg
        self.text = TextTower(cfg)
        self.image = ImageTower(cfg)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1.0 / cfg.init_temperature)))

    def encode_text(self, ids, mask, normalize: bool = True):
        emb, _ = self.text(ids, mask)
        return F.normalize(emb, dim=-1) if normalize else emb

    def text_features(self, ids, mask):
        """Token-level features (B, L, W) and the pooled embedding (B, D), for the prior and decoder."""
        emb, tokens = self.text(ids, mask)
        return tokens, F.normalize(emb, dim=-1)

    def encode_image(self, pixels, normalize: bool = True):
        emb = self.image(pixels)
        return F.normalize(emb, dim=-1) if normalize else emb

    def forward(self, pixels, ids, mask, neg_ids=None, neg_mask=None):
        """Training entry point (DDP synchronises gradients through forward only): normalised
        picture, caption and hard-negative embeddings, and the logit scale."""
        img = self.encode_image(pixels)
        txt = self.encode_text(ids, mask)
        neg = self.encode_text(neg_ids, neg_mask) if neg_ids is not None else None
        return img, txt, neg, self.scale()

    def scale(self) -> torch.Tensor:
        return self.logit_scale.clamp(max=math.log(100.0)).exp()  # CLIP clips the temperature at 1/100
