"""The contrastive loss, with composition-aware hard-negative captions (NegCLIP,
Yuksekgonul et al. 2023): each picture's row of logits also holds every hard negative of
the batch, so the model must tell "a red circle above a blue square" from its swaps."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def contrastive_loss(
    img: torch.Tensor,
    txt: torch.Tensor,
    scale: torch.Tensor,
    neg: torch.Tensor | None = None,
    neg_valid: torch.Tensor | None = None,
) -> torch.Tensor:
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


def composition_loss(
    pred: torch.Tensor, target: torch.Tensor, n_pairs: int, swaps: torch.Tensor | None = None
) -> torch.Tensor:
    """pred, target: (B, 3 * n_pairs) as world/targets.py lays them out; swaps: (B, 4) from
    ``swap_pairs`` (-1 rows: none). Presence by binary cross-entropy; each present pair's
    centre by squared error (in units of half the picture, so both terms start near 1); and
    where a scene has a colour swap, softplus(swapped - true) over the summed pair logits, the
    term that makes the embedding bind colour to shape."""
    presence = target[:, :n_pairs]
    bce = F.binary_cross_entropy_with_logits(pred[:, :n_pairs], presence)
    err = ((pred[:, n_pairs:] - target[:, n_pairs:]) * 2).pow(2).view(len(pred), n_pairs, 2).sum(-1)
    mse = (err * presence).sum() / presence.sum().clamp(min=1.0)
    loss = bce * n_pairs / 4 + mse  # presence summed over ~4 pairs a picture, not averaged over all
    return loss if swaps is None else loss + swap_loss(pred[:, :n_pairs], swaps)


def caption_composition_loss(
    pred: torch.Tensor, presence: torch.Tensor, mask: torch.Tensor, n_pairs: int, swaps: torch.Tensor
) -> torch.Tensor:
    """The composition head on caption embeddings, with targets from what each caption states
    (world/targets.py ``caption_target``): presence of the pairs it names by binary
    cross-entropy over the pairs it says anything about, and the colour-swap term as for
    pictures. Sharing the head with the pictures puts the caption's binding where the
    picture's is. (A third term placing a stated relation's two pairs on the head's centres kept
    the text tower from binding at all in a one-off test, and the relation stayed at chance.)"""
    bce = F.binary_cross_entropy_with_logits(pred[:, :n_pairs], presence, weight=mask, reduction="sum")
    loss = bce / len(pred) / 4  # summed over pairs as the picture term, ~4 named a caption at most
    return loss + swap_loss(pred[:, :n_pairs], swaps)


def attribute_loss(logits: torch.Tensor, presence: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """(B, K) logits of which colours and which shapes are there (world/targets.py
    ``attribute_target``, ``caption_attributes``), (B, K) presences in {0, 1}, optional (B, K)
    mask of the ones known. Binary cross-entropy summed over the known ones and over ~4 present
    (two colours, two shapes), averaged over the batch, as ``composition_loss``'s presence."""
    bce = F.binary_cross_entropy_with_logits(logits, presence, weight=mask, reduction="sum")
    return bce / len(logits) / 4


def swap_loss(logits: torch.Tensor, swaps: torch.Tensor) -> torch.Tensor:
    """softplus(swapped - true) over the rows that have a colour swap (0 if none): the term that
    makes an embedding bind colour to shape."""
    rows = swaps[:, 0] >= 0
    return F.softplus(-swap_margin(logits[rows], swaps[rows])).mean() if rows.any() else logits.new_zeros(())


def swap_margin(logits: torch.Tensor, swaps: torch.Tensor) -> torch.Tensor:
    """(B, n_pairs) presence logits, (B, 4) ``swap_pairs`` rows -> (B,): the two true pairs'
    summed logits minus the two swapped pairs'; > 0 where the embedding binds."""
    return logits.gather(1, swaps[:, :2]).sum(1) - logits.gather(1, swaps[:, 2:]).sum(1)


RELATION_TEMPERATURE = 0.05  # a relation's two places must differ by about this (a 20th of the picture)


def place_loss(pred: torch.Tensor, target: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
    """pred, target: (B, K, 2) places (world/targets.py ``place_target``), present: (B, K).
    Squared error of the places present, in units of half the picture, as ``composition_loss``."""
    err = ((pred - target) * 2).pow(2).sum(-1)
    return (err * present).sum() / present.sum().clamp(min=1.0)


def relation_loss(pred: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    """pred: (B, K, 2) places read off caption embeddings; rows: (B, R, 4) ``relation_rows``.
    softplus(-sign * (a - b) / RELATION_TEMPERATURE) along each row's axis: a caption saying
    "a red circle above a blue square" must put red above blue and circles above squares. The
    difference, not the places themselves: a caption does not say where the pair is, only
    which side of the other each is. 0 where no caption has a relation."""
    margin = relation_margin(pred, rows)
    return F.softplus(-margin / RELATION_TEMPERATURE).mean() if len(margin) else pred.new_zeros(())


def relation_margin(pred: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    """(B, K, 2) places, (B, R, 4) ``relation_rows`` -> (n,) over the rows that state a side:
    sign * (a - b) along the row's axis, > 0 where the places are on the stated sides."""
    b, r = torch.nonzero(rows[:, :, 0] >= 0, as_tuple=True)
    ka, kb, axis, sign = rows[b, r].unbind(-1)
    return sign.to(pred.dtype) * (pred[b, ka, axis] - pred[b, kb, axis])


def rank_loss(
    img: torch.Tensor,
    txt: torch.Tensor,
    neg: torch.Tensor,
    valid: torch.Tensor,
    sources: torch.Tensor,
    scale: torch.Tensor,
    margin: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The cross-modal rank loss of CE-CLIP (Zhang, Awal & Agrawal 2023, arXiv 2306.08832): each
    true pair must beat its near twin by ``margin`` in cosine, here softplus(scale * (margin - gap))
    with the logit scale held fixed (the loss must not move the temperature). The twins: a
    picture's caption against its hard negative (rows of ``neg`` where ``valid``), and for each
    counterfactual picture (rows len(sources) from the end of ``img`` and ``txt``, made from batch
    row ``sources[k]``) its source caption against it and its own caption against its source.

    InfoNCE puts a hard negative among 2B columns and stops pushing once it trails the true
    caption a little, and the binding probes' misses were near ties
    (experiments/reports/clip_world_bind14.md). Returns the loss and the gaps (for logging)."""
    b = len(img) - len(sources)  # the batch's own pairs come first, then the counterfactuals
    gaps = [((img * txt).sum(-1) - (img * neg).sum(-1))[valid]]
    if len(sources):
        cf = torch.arange(b, len(img), device=img.device)
        src_cap, cf_cap, src_img, cf_img = txt[sources], txt[cf], img[sources], img[cf]
        gaps.append((src_cap * src_img).sum(-1) - (src_cap * cf_img).sum(-1))
        gaps.append((cf_cap * cf_img).sum(-1) - (cf_cap * src_img).sum(-1))
    gap = torch.cat(gaps)
    if not len(gap):
        return img.new_zeros(()), gap
    return F.softplus(scale.detach() * (margin - gap)).mean(), gap.detach()
