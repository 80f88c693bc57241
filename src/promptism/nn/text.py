"""A caption encoder: token + learned position embeddings, pre-LN blocks, mean pooling. CLIP's
text tower is one with a projection on top; the decoder trains its own jointly with itself
(GLIDE's text transformer, Nichol et al. 2022, §2.3).
Token and position embeddings share one init scale (0.02, as CLIP and GPT-2): with a larger
token init the positions do not register and the encoder cannot tell word order."""

from __future__ import annotations

import torch
from torch import nn

from .layers import TransformerBlock


class CaptionEncoder(nn.Module):
    def __init__(self, vocab_size: int, context: int, width: int, layers: int, heads: int,
                 token_std: float = 0.02, pos_std: float = 0.02):
        super().__init__()
        self.tok = nn.Embedding(vocab_size, width)
        nn.init.normal_(self.tok.weight, std=token_std)
        self.pos = nn.Parameter(torch.randn(context, width) * pos_std)
        self.blocks = nn.ModuleList(TransformerBlock(width, heads) for _ in range(layers))
        self.ln = nn.LayerNorm(width)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # ids, mask: (B, L) -> token features (B, L, W), pooled (B, W): the mean over the caption
        x = self.tok(ids) + self.pos[: ids.shape[1]]
        for block in self.blocks:
            x = block(x, mask)
        x = self.ln(x)
        m = mask.unsqueeze(-1).to(x.dtype)
        return x, (x * m).sum(1) / m.sum(1).clamp(min=1.0)
