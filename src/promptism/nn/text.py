"""A caption encoder: token + learned position embeddings, pre-LN blocks, mean pooling. CLIP's
text tower is one with a projection on top; the decoder trains its own jointly with itself
(GLIDE's text transformer, Nichol et al. 2022, §2.3).
Token and position embeddings share one init scale (0.02, as CLIP and GPT-2): with a larger
token init the positions do not register and the encoder cannot tell word order.

Optionally a token shift (as RWKV's): each position adds a projection of the previous word's
embedding. Binding a colour to its noun then needs no attention search (a one-off test, not in the
repository, found colour swaps told apart far more often with it).

Optionally causal attention, as CLIP's own text transformer (Radford et al. 2021, §2.4): each word
attends only to itself and the words before it, so a word's features say what came before it.
That is the order a relation needs ("a red circle above a blue square": "blue square" comes
after "above", "red circle" does not). With bidirectional attention and learned absolute
positions a small tower must find the order by comparing position embeddings, which it learns
slowly (experiments/reports/clip_world_bind3.md and bind5.md: the causal tower with the place loss)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .layers import TransformerBlock


class CaptionEncoder(nn.Module):
    def __init__(
        self,
        vocab_size: int,
        context: int,
        width: int,
        layers: int,
        heads: int,
        token_std: float = 0.02,
        pos_std: float = 0.02,
        token_shift: bool = False,
        causal: bool = False,
    ):
        super().__init__()
        self.causal = causal
        # token shift: each position also gets a projection of the previous word's embedding, so
        # "blue" reaches "square" in "a small blue square" without attention having to find it
        self.shift = nn.Linear(width, width) if token_shift else None
        if self.shift is not None:
            nn.init.normal_(self.shift.weight, std=0.02)
            nn.init.zeros_(self.shift.bias)
        self.tok = nn.Embedding(vocab_size, width)
        nn.init.normal_(self.tok.weight, std=token_std)
        self.pos = nn.Parameter(torch.randn(context, width) * pos_std)
        self.blocks = nn.ModuleList(TransformerBlock(width, heads) for _ in range(layers))
        self.ln = nn.LayerNorm(width)

    def _attend(self, mask: torch.Tensor) -> torch.Tensor:
        """(B, L) padding mask -> what attention may see: the mask itself, or with ``causal`` a
        (B, 1, L, L) mask of the words up to each one that are not padding."""
        if not self.causal:
            return mask
        n = mask.shape[1]
        return mask[:, None, None, :] & torch.ones(n, n, dtype=torch.bool, device=mask.device).tril()

    def _inputs(self, ids: torch.Tensor) -> torch.Tensor:
        """(B, L) -> (B, L, W): each token's embedding, its position's, and with ``shift`` the
        previous token's, as the first block reads them."""
        emb = self.tok(ids)
        x = emb + self.pos[: ids.shape[1]]
        if self.shift is not None:
            x = x + self.shift(F.pad(emb, (0, 0, 1, 0))[:, :-1])
        return x

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # ids, mask: (B, L) -> token features (B, L, W), pooled (B, W): the mean over the caption
        x = self._inputs(ids)
        attend = self._attend(mask)
        for block in self.blocks:
            x = block(x, attend)
        x = self.ln(x)
        m = mask.unsqueeze(-1).to(x.dtype)
        return x, (x * m).sum(1) / m.sum(1).clamp(min=1.0)

    def pool(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The pooled features alone, (B, L) -> (B, W), equal to forward's but computed over the
        real tokens only: every layer but attention works token by token, so the blocks carry
        the (N, W) tokens that are not padding and attention alone scatters them back into the
        (B, L) grid. World captions average 13 tokens and a training batch pads to about 23, so
        this skips about two fifths of the text tower's arithmetic."""
        b, n = ids.shape
        index = mask.reshape(-1).nonzero().squeeze(1)  # flat positions of the real tokens
        x = self._inputs(ids).reshape(b * n, -1).index_select(0, index)
        attend = self._attend(mask)
        for block in self.blocks:
            x = block(x, attend, pack=(index, b, n))
        x = self.ln(x)
        summed = x.new_zeros(b, x.shape[1]).index_add(0, torch.div(index, n, rounding_mode="floor"), x)
        return summed / mask.sum(1, keepdim=True).clamp(min=1).to(x.dtype)
