"""The unCLIP diffusion prior (Ramesh et al. 2022, §2.1): a decoder-only transformer that
denoises a CLIP image embedding given the caption.

Its sequence, in order: the caption's CLIP token features, the CLIP text embedding, the
timestep embedding, the noisy CLIP image embedding, and a final query token whose output is the
prediction of the clean image embedding (the paper predicts x₀ directly, with an MSE loss).
Attention is causal. A position embedding of the prior's own tells the tokens' order apart.
Classifier-free guidance: training drops the text conditioning (token features and text
embedding) 10% of the time, replacing it with learned null vectors.

Embeddings are unit length from CLIP; the prior works on them scaled by sqrt(D) (unit variance
per dimension, as DALLE2-pytorch does).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from ..nn.layers import TransformerBlock
from ..nn.unet import timestep_embedding


@dataclass(frozen=True)
class PriorConfig:
    clip_dim: int = 256  # CLIP embedding width
    token_width: int = 256  # CLIP text token feature width
    context: int = 28  # CLIP text context length
    width: int = 256
    layers: int = 4
    heads: int = 4

    def to_dict(self) -> dict:
        return asdict(self)


class Prior(nn.Module):
    def __init__(self, cfg: PriorConfig):
        super().__init__()
        self.config = cfg
        w = cfg.width
        self.tokens_in = nn.Linear(cfg.token_width, w)
        self.text_in = nn.Linear(cfg.clip_dim, w)
        self.time_in = nn.Sequential(nn.Linear(w, w), nn.SiLU(), nn.Linear(w, w))
        self.image_in = nn.Linear(cfg.clip_dim, w)
        self.query = nn.Parameter(torch.randn(w) * 0.02)
        self.null_text = nn.Parameter(torch.zeros(cfg.clip_dim))
        self.null_tokens = nn.Parameter(torch.zeros(cfg.token_width))
        self.pos = nn.Parameter(torch.randn(cfg.context + 4, w) * 0.02)
        self.blocks = nn.ModuleList(TransformerBlock(w, cfg.heads) for _ in range(cfg.layers))
        self.ln = nn.LayerNorm(w)
        self.out = nn.Linear(w, cfg.clip_dim)

    def forward(
        self,
        x: torch.Tensor,
        t: torch.Tensor,
        tokens: torch.Tensor,
        mask: torch.Tensor,
        text_embed: torch.Tensor,
        drop_text: torch.Tensor | None = None,
    ) -> torch.Tensor:
        # x: (B, D) noisy image embedding (scaled); t: (B,); tokens: (B, L, Wt); mask: (B, L);
        # text_embed: (B, D) unit; drop_text: (B,) bool -> predicted clean embedding (B, D), scaled
        b, L = mask.shape
        text = text_embed * self.config.clip_dim**0.5
        if drop_text is not None:
            d = drop_text[:, None]
            text = torch.where(d, self.null_text.expand(b, -1), text)
            tokens = torch.where(d[:, :, None], self.null_tokens.expand(b, L, -1), tokens)
            mask = mask & ~d | (torch.arange(L, device=mask.device) == 0)[None] & d  # one null token
        seq = (
            torch.cat(
                [
                    self.tokens_in(tokens),  # (B, L, W)
                    self.text_in(text)[:, None],
                    self.time_in(timestep_embedding(t, self.config.width))[:, None],
                    self.image_in(x)[:, None],
                    self.query.expand(b, 1, -1),
                ],
                1,
            )
            + self.pos[: L + 4]
        )
        n = L + 4
        causal = torch.ones(n, n, dtype=torch.bool, device=x.device).tril()
        keys = torch.cat([mask, torch.ones(b, 4, dtype=torch.bool, device=x.device)], 1)  # (B, n)
        # causal and not padding; every token may see itself, so no row is empty
        allowed = (causal[None] & keys[:, None, :]) | torch.eye(n, dtype=torch.bool, device=x.device)[None]
        h = seq
        for block in self.blocks:
            h = block(h, allowed[:, None])  # (B, 1, n, n) broadcast over heads
        return self.out(self.ln(h[:, -1]))
