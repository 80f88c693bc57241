"""Transformer layers shared by the CLIP text tower and the diffusion prior.

Pre-LayerNorm blocks (Xiong et al. 2020) with fused scaled-dot-product attention.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class Attention(nn.Module):
    def __init__(self, width: int, heads: int):
        super().__init__()
        if width % heads:
            raise ValueError(f"width {width} is not divisible by heads {heads}")
        self.heads = heads
        self.qkv = nn.Linear(width, 3 * width)
        self.out = nn.Linear(width, width)

    def forward(
        self, x: torch.Tensor, mask: torch.Tensor | None = None, pack: tuple[torch.Tensor, int, int] | None = None
    ) -> torch.Tensor:
        # x: (B, L, W); mask: (B, L) True where a token may be attended to, or a full
        # (B, 1, L, L) mask of which query may see which key. With pack = (index, B, L), x is
        # (N, W): only the real tokens, at flat positions index of the (B, L) batch
        # (nn/text.py CaptionEncoder.pool)
        qkv = self.qkv(x)
        if pack is not None:
            index, b, n = pack
            qkv = qkv.new_zeros(b * n, qkv.shape[-1]).index_copy(0, index, qkv)
        else:
            b, n = x.shape[:2]
        w = qkv.shape[-1] // 3
        q, k, v = qkv.view(b, n, 3, self.heads, w // self.heads).permute(2, 0, 3, 1, 4)
        attn_mask = mask[:, None, None, :] if mask is not None and mask.ndim == 2 else mask
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)  # (B, H, L, W/H)
        y = y.transpose(1, 2).reshape(b, n, w)
        if pack is not None:
            y = y.reshape(b * n, w).index_select(0, pack[0])
        return self.out(y)


class MLP(nn.Sequential):
    def __init__(self, width: int, ratio: int = 4):
        super().__init__(nn.Linear(width, ratio * width), nn.GELU(), nn.Linear(ratio * width, width))


class TransformerBlock(nn.Module):
    def __init__(self, width: int, heads: int):
        super().__init__()
        self.ln1 = nn.LayerNorm(width)
        self.attn = Attention(width, heads)
        self.ln2 = nn.LayerNorm(width)
        self.mlp = MLP(width)

    def forward(
        self, x: torch.Tensor, mask: torch.Tensor | None = None, pack: tuple[torch.Tensor, int, int] | None = None
    ) -> torch.Tensor:
        # pack: x holds only a padded batch's real tokens (Attention.forward)
        x = x + self.attn(self.ln1(x), mask, pack)
        return x + self.mlp(self.ln2(x))
