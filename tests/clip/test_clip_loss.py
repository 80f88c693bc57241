"""CLIP's loss terms (clip/loss.py)."""

import torch

from promptism.clip.loss import contrastive_loss


def test_loss_prefers_aligned_pairs_and_counts_hard_negatives():
    torch.manual_seed(0)
    x = torch.nn.functional.normalize(torch.randn(8, 16), dim=-1)
    scale = torch.tensor(10.0)
    aligned = contrastive_loss(x, x, scale)
    shuffled = contrastive_loss(x, x[torch.randperm(8)], scale)
    assert aligned < shuffled
    # a hard negative identical to the caption makes the task harder; masked out, it is ignored
    assert contrastive_loss(x, x, scale, x.clone()) > aligned + 0.1
    assert torch.isclose(contrastive_loss(x, x, scale, x.clone(), torch.zeros(8, dtype=torch.bool)), aligned)


def test_caption_composition_loss_prefers_the_stated_binding():
    from promptism.clip.loss import caption_composition_loss
    from promptism.world.targets import N_PAIRS

    presence = torch.zeros(1, N_PAIRS)
    presence[0, [0, 7]] = 1.0
    mask, swaps = torch.ones(1, N_PAIRS), torch.tensor([[0, 7, 6, 1]])

    def head(bound: float):
        pred = torch.zeros(1, 3 * N_PAIRS)
        pred[0, [0, 7]], pred[0, [6, 1]] = bound, -bound
        return caption_composition_loss(pred, presence, mask, N_PAIRS, swaps)

    assert head(-3.0) > head(3.0) + 10.0  # the swapped binding costs far more than the stated one
    masked = caption_composition_loss(
        torch.zeros(1, 3 * N_PAIRS), presence, torch.zeros(1, N_PAIRS), N_PAIRS, torch.full((1, 4), -1)
    )
    assert masked == 0  # nothing stated, nothing asked


def test_relation_loss_prefers_the_stated_side():
    from promptism.clip.loss import relation_loss

    rows = torch.tensor([[[0, 1, 1, -1], [-1, -1, -1, 0]]])  # key 0 above key 1
    pred = torch.zeros(1, 3, 2)
    pred[0, 0, 1], pred[0, 1, 1] = -0.2, 0.2  # key 0 drawn above key 1 ...
    right = relation_loss(pred, rows)
    pred[0, 0, 0], pred[0, 1, 0] = 0.2, -0.2  # ... whatever the other axis says
    assert torch.isclose(relation_loss(pred, rows), right) and right < 0.01
    assert relation_loss(-pred, rows) > 7.0  # the other way round costs about 0.4 / 0.05
    assert relation_loss(pred, torch.full((1, 2, 4), -1)) == 0  # no relation, nothing asked


def test_rank_loss_asks_each_true_pair_to_beat_its_twin_by_the_margin():
    from promptism.clip.loss import rank_loss

    e = torch.eye(4)
    img, txt = e[[0, 1, 2]], e[[0, 1, 2]]  # rows 0, 1: batch pairs; row 2: a counterfactual of row 0
    neg = torch.nn.functional.normalize(e[[0, 1, 2]] + e[[3, 3, 3]] * torch.tensor([[0.1], [10.0], [0.0]]), dim=-1)
    valid = torch.tensor([True, True, False])
    loss, gaps = rank_loss(img, txt, neg, valid, torch.tensor([0]), torch.tensor(50.0), margin=0.1)
    # caption 0 beats its near twin by ~0.005 (< margin), caption 1 by ~0.9; the counterfactual pair
    # (orthogonal pictures) is told apart by 1.0 both ways; the invalid row is not asked
    assert gaps.shape == (4,) and 0.0 < gaps[0] < 0.01 and 0.85 < gaps[1] < 0.95
    assert torch.allclose(gaps[2:], torch.ones(2))
    near = torch.nn.functional.softplus(torch.tensor(50.0 * (0.1 - float(gaps[0]))))
    assert torch.isclose(loss, near / 4, rtol=1e-3)  # the wide gaps cost next to nothing
    scale = torch.tensor(50.0, requires_grad=True)
    img = img.clone().requires_grad_(True)
    rank_loss(img, txt, neg, valid, torch.tensor([0]), scale, margin=0.1)[0].backward()
    assert scale.grad is None and img.grad.abs().sum() > 0  # the temperature is not the loss's to move
    assert (
        rank_loss(
            img, txt, neg, torch.zeros(3, dtype=torch.bool), torch.tensor([], dtype=torch.long), torch.tensor(50.0), 0.1
        )[0]
        == 0
    )
