"""DALL·E mini's model, in the original DALL·E's decoder-only form (Ramesh et al. 2021): one causal
transformer reads a caption's tokens and then writes a picture's VQGAN codes in raster order, each
code predicted from the caption and every code before it.

The sequence is [caption tokens; BOI; code 0 ... code N-2]: the output at BOI predicts code 0, the
output at code i predicts code i+1. Caption and picture positions have their own learned embeddings
(the picture's a row's plus a column's, as DALL·E's). Attention keeps a key–value cache, so that
writing a code costs one position instead of the whole sequence again.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..nn.layers import MLP


@dataclass(frozen=True)
class MiniConfig:
    text_vocab: int = 512
    context: int = 32  # caption tokens, padded
    codebook_size: int = 512  # the VQGAN's codes: this model's picture vocabulary
    grid: int = 16  # codes per side
    width: int = 256
    layers: int = 6
    heads: int = 8
    dropout: float = 0.0

    @property
    def codes(self) -> int:
        return self.grid * self.grid

    @property
    def length(self) -> int:
        return self.context + self.codes  # caption + BOI + all codes but the last

    def to_dict(self) -> dict:
        return asdict(self)


class CachedAttention(nn.Module):
    """Causal self-attention; ``cache`` (a dict) keeps the keys and values seen so far."""

    def __init__(self, width: int, heads: int, dropout: float):
        super().__init__()
        self.heads, self.dropout = heads, dropout
        self.qkv = nn.Linear(width, 3 * width)
        self.out = nn.Linear(width, width)

    def forward(self, x: torch.Tensor, cache: dict | None = None) -> torch.Tensor:
        b, n, w = x.shape
        q, k, v = self.qkv(x).view(b, n, 3, self.heads, w // self.heads).permute(2, 0, 3, 1, 4)
        if cache is not None:  # keys and values written in place into buffers of the whole length
            if "k" not in cache:
                shape = (b, self.heads, cache["length"], w // self.heads)
                cache.update(k=k.new_empty(shape), v=v.new_empty(shape), n=0)
            start = cache["n"]
            cache["k"][:, :, start : start + n] = k
            cache["v"][:, :, start : start + n] = v
            cache["n"] = start + n
            k, v = cache["k"][:, :, : start + n], cache["v"][:, :, : start + n]
        past = k.shape[2] - n
        if n == 1:  # one new position sees everything before it
            mask = None
        else:
            mask = torch.ones(n, k.shape[2], dtype=torch.bool, device=x.device).tril(past)
        drop = self.dropout if self.training else 0.0
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=drop)
        return self.out(y.transpose(1, 2).reshape(b, n, w))


class Block(nn.Module):
    def __init__(self, width: int, heads: int, dropout: float):
        super().__init__()
        self.ln1 = nn.LayerNorm(width)
        self.attn = CachedAttention(width, heads, dropout)
        self.ln2 = nn.LayerNorm(width)
        self.mlp = MLP(width)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, cache: dict | None = None) -> torch.Tensor:
        x = x + self.drop(self.attn(self.ln1(x), cache))
        return x + self.drop(self.mlp(self.ln2(x)))


class MiniTransformer(nn.Module):
    def __init__(self, cfg: MiniConfig):
        super().__init__()
        if cfg.width % cfg.heads:
            raise ValueError(f"width {cfg.width} is not divisible by heads {cfg.heads}")
        self.cfg = cfg
        w = cfg.width
        self.text_emb = nn.Embedding(cfg.text_vocab, w)
        self.text_pos = nn.Parameter(torch.randn(cfg.context, w) * 0.02)
        self.code_emb = nn.Embedding(cfg.codebook_size + 1, w)  # the last is BOI, "begin image"
        self.row_pos = nn.Parameter(torch.randn(cfg.grid, w) * 0.02)
        self.col_pos = nn.Parameter(torch.randn(cfg.grid, w) * 0.02)
        self.blocks = nn.ModuleList(Block(w, cfg.heads, cfg.dropout) for _ in range(cfg.layers))
        self.ln = nn.LayerNorm(w)
        self.head = nn.Linear(w, cfg.codebook_size, bias=False)
        self.apply(self._init)

    @staticmethod
    def _init(m: nn.Module) -> None:
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, std=0.02)
            if getattr(m, "bias", None) is not None:
                nn.init.zeros_(m.bias)

    @property
    def boi(self) -> int:
        return self.cfg.codebook_size

    def _image_pos(self, start: int, n: int) -> torch.Tensor:
        """Position embeddings of picture inputs start .. start+n-1 (input 0 is BOI, at code 0's place)."""
        g = self.cfg.grid
        idx = torch.arange(start, start + n, device=self.row_pos.device)
        return self.row_pos[idx // g] + self.col_pos[idx % g]

    def _run(self, x: torch.Tensor, caches: list[dict] | None) -> torch.Tensor:
        for i, block in enumerate(self.blocks):
            x = block(x, caches[i] if caches is not None else None)
        return self.head(self.ln(x))

    def _sequence(self, text: torch.Tensor, codes: torch.Tensor | None) -> torch.Tensor:
        """The embedded sequence [caption; BOI; codes] for text (B, context) and codes (B, P) or None."""
        b = text.shape[0]
        boi = torch.full((b, 1), self.boi, dtype=torch.long, device=text.device)
        inputs = boi if codes is None else torch.cat([boi, codes], 1)
        t = self.text_emb(text) + self.text_pos
        return torch.cat([t, self.code_emb(inputs) + self._image_pos(0, inputs.shape[1])], 1)

    def forward(self, text: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
        """text (B, context) ids, codes (B, N) -> logits (B, N, codebook) for every code (teacher forcing)."""
        return self._run(self._sequence(text, codes[:, :-1]), None)[:, self.cfg.context :]

    def start(self, text: torch.Tensor, prefix: torch.Tensor | None = None) -> tuple[torch.Tensor, list[dict]]:
        """Read the caption, BOI and ``prefix`` (B, P) known codes into a fresh cache; returns the
        logits for the next code (B, codebook) and the cache."""
        caches: list[dict] = [{"length": self.cfg.length} for _ in self.blocks]
        return self._run(self._sequence(text, prefix), caches)[:, -1], caches

    def step(self, code: torch.Tensor, position: int, caches: list[dict]) -> torch.Tensor:
        """Feed code ``position`` (B,) through the cache; returns logits for code position + 1."""
        x = self.code_emb(code[:, None]) + self._image_pos(position + 1, 1)
        return self._run(x, caches)[:, -1]

    def step_uncached(self, text: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
        """The logits for the next code after ``codes`` (B, P), the whole sequence run again: what
        the cache saves (benchmarks compare the two)."""
        return self._run(self._sequence(text, codes), None)[:, -1]
