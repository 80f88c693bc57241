"""The contrastive loss, with composition-aware hard-negative captions (NegCLIP,
Yuksekgonul et al. 2023): each picture's row of logits also holds every hard negative of
the batch, so the model must tell "a red circle above a blue square" from its swaps."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def contrastive_loss(img: torch.Tensor, txt: torch.Tensor, scale: torch.Tensor,
                     neg: torch.Tensor | None = None, neg_valid: torch.Tensor | None = None) -> torch.Tensor:
    """img, txt: (B, D) normalised; neg: (B, D) one hard negative per picture (rows with
    neg_valid False are ignored). Symmetric InfoNCE: (image->text + text->image) / 2."""
    target = torch.arange(img.shape[0], device=img.device)
    logits_it = scale * img @ txt.T  # (B, B)
    if neg is not None:
        logits_neg = scale * img @ neg.T  # (B, B): every picture against every negative caption
        if neg_valid is not None:
            logits_neg = logits_neg.masked_fill(~neg_valid[None, :], float("-inf"))
        logits_it = torch.cat([logits_it, logits_neg], dim=1)  # (B, 2B)
    return 0.5 * (F.cross_entropy(logits_it, target) + F.cross_entropy(scale * txt @ img.T, target))
