"""The one UNet every pixel-space diffusion stage uses (decoder, upsamplers): written once, set up
by a frozen config (a copy-paste variant per stage would be a defect here).

ADM-style (Dhariwal & Nichol 2021): residual blocks whose GroupNorm is scaled and shifted by the
timestep embedding (their "AdaGN"), stride-2 downsampling, nearest upsampling, skip connections.
Attention blocks, where a level asks for them, attend over the picture's positions and, GLIDE's
way (Nichol et al. 2022, §2.3 / Appendix), over context tokens whose keys and values are
concatenated to the picture's. ``unshuffle`` = 2 folds 2×2 pixels into channels at the input and
unfolds them at the output, so a 64 px model costs about what a 32 px one does. ``coords`` adds
two input channels that hold each pixel's x and y (-1 to 1), CoordConv's way (Liu et al. 2018), so
that where a thing goes can follow from the conditioning directly rather than from the borders'
zero padding.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class UNetConfig:
    in_channels: int = 3
    out_channels: int = 3
    channels: tuple[int, ...] = (32, 64, 128)  # one width per resolution level
    res_blocks: int = 2
    attention: tuple[bool, ...] = (False, True, True)  # per level; the middle has it if any level does
    heads: int = 4
    cond_dim: int = 0  # a vector added (projected) to the timestep embedding; 0 = none
    context_dim: int = 0  # width of context tokens the attention layers also attend to; 0 = none
    unshuffle: int = 1
    groups: int = 8
    dropout: float = 0.0
    coords: bool = False  # two more input channels: each pixel's x and y, after the in_channels

    def __post_init__(self):
        object.__setattr__(self, "channels", tuple(self.channels))
        object.__setattr__(self, "attention", tuple(bool(a) for a in self.attention))
        if len(self.attention) != len(self.channels):
            raise ValueError("attention needs one flag per level in channels")
        if any(c % self.groups for c in self.channels):
            raise ValueError(f"every width in channels must be divisible by groups={self.groups}")


COORD_CHANNELS = 2


def coordinate_channels(x: torch.Tensor) -> torch.Tensor:
    """(B, 2, H, W): each pixel's x (across) and y (down), from -1 at the first pixel's centre to 1 at the last's."""
    b, _, h, w = x.shape
    ys = torch.linspace(-1, 1, h, dtype=x.dtype, device=x.device)
    xs = torch.linspace(-1, 1, w, dtype=x.dtype, device=x.device)
    grid = torch.stack(torch.meshgrid(xs, ys, indexing="xy"))  # (2, H, W): x, y
    return grid.expand(b, -1, -1, -1)


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """Sinusoidal embedding of integer timesteps (Vaswani et al. 2017, §3.5): (B,) -> (B, dim)."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    args = t.float()[:, None] * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


class ResBlock(nn.Module):
    def __init__(self, cin: int, cout: int, emb: int, groups: int, dropout: float):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.emb = nn.Linear(emb, 2 * cout)
        self.norm2 = nn.GroupNorm(groups, cout)
        self.drop = nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        nn.init.zeros_(self.conv2.weight)  # each block starts as the identity
        nn.init.zeros_(self.conv2.bias)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        scale, shift = self.emb(F.silu(emb))[:, :, None, None].chunk(2, dim=1)
        h = self.norm2(h) * (1 + scale) + shift  # AdaGN
        h = self.conv2(self.drop(F.silu(h)))
        return self.skip(x) + h


class AttentionBlock(nn.Module):
    """Self-attention over positions, plus the context tokens' keys and values (GLIDE)."""

    def __init__(self, ch: int, heads: int, groups: int, context_dim: int):
        super().__init__()
        self.heads = heads
        self.norm = nn.GroupNorm(groups, ch)
        self.qkv = nn.Conv1d(ch, 3 * ch, 1)
        self.ctx = nn.Linear(context_dim, 2 * ch) if context_dim else None
        self.out = nn.Conv1d(ch, ch, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(
        self, x: torch.Tensor, context: torch.Tensor | None = None, context_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        b, c, hgt, wid = x.shape
        q, k, v = self.qkv(self.norm(x).flatten(2)).transpose(1, 2).chunk(3, dim=-1)  # each (B, HW, C)
        mask = None
        if self.ctx is not None and context is not None:
            ck, cv = self.ctx(context).chunk(2, dim=-1)  # (B, L, C)
            k, v = torch.cat([k, ck], 1), torch.cat([v, cv], 1)
            if context_mask is not None:
                keep = torch.ones(b, hgt * wid, dtype=torch.bool, device=x.device)
                mask = torch.cat([keep, context_mask.bool()], 1)[:, None, None, :]  # (B, 1, 1, HW+L)
        split = lambda z: z.view(b, z.shape[1], self.heads, c // self.heads).transpose(1, 2)  # noqa: E731
        y = F.scaled_dot_product_attention(split(q), split(k), split(v), attn_mask=mask)  # (B, H, HW, C/H)
        y = y.transpose(1, 2).reshape(b, hgt * wid, c).transpose(1, 2)
        return x + self.out(y).view(b, c, hgt, wid)


class UNet(nn.Module):
    def __init__(self, cfg: UNetConfig):
        super().__init__()
        self.config = cfg
        ch0, u = cfg.channels[0], cfg.unshuffle
        self.emb_dim = emb = 4 * ch0
        self.time = nn.Sequential(nn.Linear(ch0, emb), nn.SiLU(), nn.Linear(emb, emb))
        self.cond = nn.Linear(cfg.cond_dim, emb) if cfg.cond_dim else None
        self.conv_in = nn.Conv2d((cfg.in_channels + COORD_CHANNELS * cfg.coords) * u * u, ch0, 3, padding=1)
        g, drop, ctx = cfg.groups, cfg.dropout, cfg.context_dim

        self.down = nn.ModuleList()
        skips, ch = [ch0], ch0
        for level, (width, attn) in enumerate(zip(cfg.channels, cfg.attention)):
            for _ in range(cfg.res_blocks):
                self.down.append(
                    nn.ModuleList(
                        [ResBlock(ch, width, emb, g, drop)]
                        + ([AttentionBlock(width, cfg.heads, g, ctx)] if attn else [])
                    )
                )
                ch = width
                skips.append(ch)
            if level < len(cfg.channels) - 1:
                self.down.append(nn.ModuleList([nn.Conv2d(ch, ch, 3, stride=2, padding=1)]))
                skips.append(ch)
        mid_attn = any(cfg.attention)
        self.mid = nn.ModuleList(
            [ResBlock(ch, ch, emb, g, drop)]
            + ([AttentionBlock(ch, cfg.heads, g, ctx)] if mid_attn else [])
            + [ResBlock(ch, ch, emb, g, drop)]
        )
        self.up = nn.ModuleList()
        for level in reversed(range(len(cfg.channels))):
            width, attn = cfg.channels[level], cfg.attention[level]
            for i in range(cfg.res_blocks + 1):
                layers = [ResBlock(ch + skips.pop(), width, emb, g, drop)]
                ch = width
                if attn:
                    layers.append(AttentionBlock(width, cfg.heads, g, ctx))
                if level > 0 and i == cfg.res_blocks:
                    layers.append(nn.Upsample(scale_factor=2, mode="nearest"))
                    layers.append(nn.Conv2d(ch, ch, 3, padding=1))
                self.up.append(nn.ModuleList(layers))
        self.norm_out = nn.GroupNorm(g, ch)
        self.conv_out = nn.Conv2d(ch, cfg.out_channels * u * u, 3, padding=1)
        nn.init.zeros_(self.conv_out.weight)
        nn.init.zeros_(self.conv_out.bias)

    def _run(self, layers, h, emb, context, context_mask):
        for layer in layers:
            if isinstance(layer, ResBlock):
                h = layer(h, emb)
            elif isinstance(layer, AttentionBlock):
                h = layer(h, context, context_mask)
            else:
                h = layer(h)
        return h

    def forward(
        self,
        x: torch.Tensor,
        t: torch.Tensor,
        cond: torch.Tensor | None = None,
        context: torch.Tensor | None = None,
        context_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        # x: (B, C_in, S, S); t: (B,) int; cond: (B, cond_dim); context: (B, L, context_dim)
        u = self.config.unshuffle
        if self.config.coords:
            x = torch.cat([x, coordinate_channels(x)], 1)
        if u > 1:
            x = F.pixel_unshuffle(x, u)
        emb = self.time(timestep_embedding(t, self.config.channels[0]))
        if self.cond is not None and cond is not None:
            emb = emb + self.cond(cond)
        h = self.conv_in(x)
        hs = [h]
        for layers in self.down:
            h = self._run(layers, h, emb, context, context_mask)
            hs.append(h)
        h = self._run(self.mid, h, emb, context, context_mask)
        for layers in self.up:
            h = self._run(layers, torch.cat([h, hs.pop()], dim=1), emb, context, context_mask)
        out = self.conv_out(F.silu(self.norm_out(h)))
        return F.pixel_shuffle(out, u) if u > 1 else out
