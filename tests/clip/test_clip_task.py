"""CLIP's training task (clip/task.py): counterfactual pairs, the heads' terms, colour-free captions."""

import json
import subprocess

import numpy as np
import pytest
import torch
from clip_helpers import TINY, cli, env1

from promptism.clip.model import CLIP, CLIPConfig
from promptism.world.negatives import negatives


def _train(data, out, *extra, env=None):
    return subprocess.run(
        cli("train", "clip", "--data", str(data), "--out", str(out), "--preset", "tiny", "--quiet", *extra),
        capture_output=True,
        text=True,
        env=env or env1(),
    )


def test_counterfactual_pairs_join_the_batch(data, tok):
    from promptism.clip.task import ClipTask
    from promptism.data import load_pairs

    pairs = load_pairs(data, "train", size=32, progress=False)
    task = ClipTask(pairs, tok, counterfactuals=0.5)
    idx = np.arange(40)
    images, captions, sources = task.counterfactual_pairs(idx, 3, *task.batch_captions(idx, 3)[:2])
    again = task.counterfactual_pairs(idx, 3, *task.batch_captions(idx, 3)[:2])
    assert 4 <= len(images) <= 20 and len(images) == len(captions)  # ~1 in 3 scenes has one
    assert (
        all(np.array_equal(a, b) for a, b in zip(images, again[0])) and captions == again[1]
    )  # a function of the step
    assert all(im.shape == (32, 32, 3) for im in images)
    assert not set(captions) & {pairs.captions[i] for i in idx}
    for j, c in zip(sources, captions):  # each is an edit of the batch picture it names
        assert c in negatives(pairs.captions[idx[j]], task.stated[idx[j]]).values()
    model = CLIP(CLIPConfig(vocab_size=tok.vocab_size, **TINY))
    loss, logs = task.loss(model, idx, step=3)
    assert torch.isfinite(loss) and 0.0 <= logs["neg_acc"] <= 1.0
    task.separate = 1.0  # fresh towers embed near twins alike: the separation term adds to the loss
    loss_sep, logs = task.loss(model, idx, step=3)
    assert logs["twin_cos"] > 0.8 and loss_sep > loss


def test_counterfactual_kinds_limit_the_edits(data, tok):
    from promptism.clip.task import ClipTask
    from promptism.data import load_pairs

    pairs = load_pairs(data, "train", size=32, progress=False)
    idx = np.arange(len(pairs))
    task = ClipTask(pairs, tok, counterfactuals=1.0, counterfactual_kinds=("relation",))
    images, captions, sources = task.counterfactual_pairs(idx, 1, *task.batch_captions(idx, 1)[:2])
    assert len(captions) >= 5
    for j, c in zip(sources, captions):  # every twin reverses its source's relation, none swaps colours
        assert negatives(pairs.captions[idx[j]], task.stated[idx[j]])["relation"] == c
    assert all(task.stated[idx[j]].relations for j in sources)
    with pytest.raises(ValueError, match="counterfactual kinds"):
        ClipTask(pairs, tok, counterfactuals=1.0, counterfactual_kinds=("shape",))
    r = subprocess.run(
        cli("train", "clip", "--data", data, "--out", "/nonexistent", "--counterfactual-kinds", "shape"),
        capture_output=True,
        text=True,
        env=env1(),
    )
    assert r.returncode == 2 and "expected kinds among" in r.stderr


def _fit(task, model, opt, idx, steps: int) -> dict:
    """A few optimiser steps on one batch; the last step's logs."""
    for _ in range(steps):
        loss, logs = task.loss(model, idx, step=0)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return logs


def test_composition_head_trains_with_the_clip_loss(data, tok):
    from promptism.clip.task import ClipTask
    from promptism.data import load_pairs
    from promptism.world.targets import SIZE

    pairs = load_pairs(data, "train", size=32, progress=False)
    idx = np.arange(32)
    model = CLIP(CLIPConfig(vocab_size=tok.vocab_size, compose_outputs=SIZE, **TINY))
    plain_loss, _ = ClipTask(pairs, tok, negative_weights={"swap_colors": 4.0}).loss(model, idx, step=0)
    task = ClipTask(pairs, tok, compose=1.0, negative_weights={"swap_colors": 4.0})
    loss, logs = task.loss(model, idx, step=0)
    assert logs["compose_loss"] > 0.1 and torch.isclose(loss, plain_loss + logs["compose_loss"], atol=1e-4)
    opt = torch.optim.Adam(model.compose.parameters(), lr=0.05)  # the head alone can learn the targets
    assert _fit(task, model, opt, idx, 30)["compose_loss"] < 0.7 * logs["compose_loss"]
    with pytest.raises(ValueError, match="composition head"):
        task.loss(CLIP(CLIPConfig(vocab_size=tok.vocab_size, **TINY)), idx, step=0)


def test_place_loss_trains_the_text_tower_through_the_place_head(data, tok):
    from promptism.clip.task import ClipTask
    from promptism.data import load_pairs
    from promptism.world.targets import N_PLACES

    pairs = load_pairs(data, "train", size=32, progress=False)
    related = [i for i, m in enumerate(pairs.metas) if m["stated"]["relations"]]
    idx = np.array(related[:24] + [i for i in range(len(pairs)) if i not in related][:8])
    torch.manual_seed(0)
    model = CLIP(CLIPConfig(vocab_size=tok.vocab_size, place_outputs=N_PLACES, text_causal=True, **TINY))
    plain_loss, _ = ClipTask(pairs, tok).loss(model, idx, step=0)
    task = ClipTask(pairs, tok, relate=0.5)
    loss, logs = task.loss(model, idx, step=0)
    assert logs["place_loss"] > 0 and logs["relation_loss"] > 0
    assert torch.isclose(loss, plain_loss + 0.5 * (logs["place_loss"] + logs["relation_loss"]), atol=1e-4)
    loss.backward()
    assert model.text.tok.weight.grad.abs().sum() > 0 and model.place.weight.grad.abs().sum() > 0
    model.zero_grad()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    fitted = _fit(task, model, opt, idx, 40)
    assert fitted["relation_loss"] < 0.5 * logs["relation_loss"] and fitted["place_loss"] < logs["place_loss"]
    with pytest.raises(ValueError, match="place head"):
        task.loss(CLIP(CLIPConfig(vocab_size=tok.vocab_size, **TINY)), idx, step=0)
    # relate_picture weighs the picture term alone: at 0 only the captions' sides are trained
    model.zero_grad()
    captions_only, logs0 = ClipTask(pairs, tok, relate=0.5, relate_picture=0.0).loss(model, idx, step=0)
    plain_loss, _ = ClipTask(pairs, tok).loss(model, idx, step=0)
    assert logs0["place_loss"] > 0
    assert torch.isclose(captions_only, plain_loss + 0.5 * logs0["relation_loss"], atol=1e-4)
    # and relate_caption the caption term: at 0 only where each colour and shape is in the picture
    pictures_only, logs1 = ClipTask(pairs, tok, relate=0.5, relate_caption=0.0).loss(model, idx, step=0)
    assert logs1["relation_loss"] > 0
    assert torch.isclose(pictures_only, plain_loss + 0.5 * logs1["place_loss"], atol=1e-4)


def test_caption_side_composition_loss_trains_the_text_tower(data, tok):
    from promptism.clip.task import ClipTask
    from promptism.data import load_pairs
    from promptism.world.targets import SIZE

    pairs = load_pairs(data, "train", size=32, progress=False)
    idx = np.arange(32)
    model = CLIP(
        CLIPConfig(
            vocab_size=tok.vocab_size,
            compose_outputs=SIZE,
            compose_scale=TINY["embed_dim"] ** 0.5,
            text_token_shift=True,
            **TINY,
        )
    )
    plain_loss, _ = ClipTask(pairs, tok).loss(model, idx, step=0)
    task = ClipTask(pairs, tok, compose_text=1.0)
    loss, logs = task.loss(model, idx, step=0)
    assert "compose_loss" not in logs and torch.isclose(loss, plain_loss + logs["compose_text_loss"], atol=1e-4)
    loss.backward()
    assert model.text.tok.weight.grad.abs().sum() > 0 and model.compose.weight.grad.abs().sum() > 0
    model.zero_grad()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    assert _fit(task, model, opt, idx, 40)["compose_text_loss"] < 0.6 * logs["compose_text_loss"]


def test_rank_loss_joins_the_task_with_hard_negatives_and_twins(data, tok):
    from promptism.clip.task import ClipTask
    from promptism.data import load_pairs

    pairs = load_pairs(data, "train", size=32, progress=False)
    idx = np.arange(40)
    model = CLIP(CLIPConfig(vocab_size=tok.vocab_size, **TINY))
    plain, _ = ClipTask(pairs, tok, counterfactuals=0.5).loss(model, idx, step=3)
    task = ClipTask(pairs, tok, counterfactuals=0.5, rank=0.5)
    loss, logs = task.loss(model, idx, step=3)
    # fresh towers embed twins alike (gaps near 0 < margin): the term costs about softplus(scale * 0.1)
    assert abs(logs["rank_gap"]) < 0.05 and logs["rank_loss"] > 0.5
    assert torch.isclose(loss, plain + 0.5 * logs["rank_loss"], atol=1e-4)
    wide, wide_logs = ClipTask(pairs, tok, counterfactuals=0.5, rank=0.5, rank_margin=0.5).loss(model, idx, step=3)
    assert wide_logs["rank_loss"] > logs["rank_loss"]  # a wider margin asks more of the same gaps
    r = subprocess.run(cli("train", "clip", "--help"), capture_output=True, text=True, env=env1())
    assert "--rank-margin" in r.stdout and "world-bind21" in r.stdout


def test_colorless_captions_join_the_batch_with_their_own_targets(data, tok, tmp_path, monkeypatch):
    import promptism.clip.task as train_mod
    from promptism.clip.task import ClipTask
    from promptism.data import load_pairs
    from promptism.world.captions import parse
    from promptism.world.targets import SIZE, caption_target

    pairs = load_pairs(data, "train", size=32, progress=False)
    idx = np.arange(48)
    plain = ClipTask(pairs, tok)
    assert plain.batch_captions(idx, 2) == ([pairs.captions[i] for i in idx], [plain.stated[i] for i in idx], [])
    task = ClipTask(pairs, tok, colorless=1.0, compose_text=1.0)
    captions, stated, shortened = task.batch_captions(idx, 2)
    assert len(shortened) > 24 and task.batch_captions(idx, 2)[0] == captions  # a function of the step
    for j in range(len(idx)):
        if j in shortened:
            assert captions[j] != pairs.captions[idx[j]] and parse(captions[j]) == stated[j]
            assert not any(o.color for o in stated[j].objects)
        else:
            assert captions[j] == pairs.captions[idx[j]]
    half = ClipTask(pairs, tok, colorless=0.5).batch_captions(np.arange(len(pairs)), 2)[2]
    assert 0.25 * len(pairs) < len(half) < 0.6 * len(pairs)
    assert any(stated[j].relations for j in shortened)  # relation captions are shortened too by default...
    _, kept_stated, kept = ClipTask(pairs, tok, colorless=1.0, colorless_relations=False).batch_captions(idx, 2)
    assert not any(kept_stated[j].relations for j in kept)  # ...but not with colorless_relations False
    assert set(kept) == {j for j in shortened if not stated[j].relations}
    # the caption head is asked what the shortened caption states: no colour of its shapes is known
    model = CLIP(CLIPConfig(vocab_size=tok.vocab_size, compose_outputs=SIZE, **TINY))
    seen = []
    real = train_mod.caption_composition_loss
    monkeypatch.setattr(
        train_mod,
        "caption_composition_loss",
        lambda out, presence, mask, *a: (seen.append(mask), real(out, presence, mask, *a))[1],
    )
    loss, logs = task.loss(model, idx, step=2)
    assert torch.isfinite(loss) and logs["colorless"] == len(shortened) / len(idx)
    for j in shortened:
        assert torch.equal(seen[0][j], torch.from_numpy(caption_target(stated[j].to_dict())[1]))
        assert not torch.equal(seen[0][j], task.caption_targets[1][idx[j]])
    with pytest.raises(ValueError, match="colorless"):
        ClipTask(pairs, tok, colorless=1.5)
    r = _train(data, tmp_path / "run", "--steps", "2", "--colorless", "0.5", "--colorless-no-relations")
    assert r.returncode == 0, r.stderr
    meta = json.loads((tmp_path / "run" / "model" / "config.json").read_text())
    assert meta["colorless"] == 0.5 and meta["colorless_relations"] is False
    bad = _train(data, tmp_path / "bad", "--steps", "2", "--colorless", "2")
    assert bad.returncode == 2 and "between 0 and 1" in bad.stderr


def test_attribute_loss_reads_colours_and_shapes_off_both_towers(data, tok, tmp_path):
    from promptism.clip.loss import attribute_loss
    from promptism.clip.task import ClipTask
    from promptism.data import load_pairs
    from promptism.world.targets import N_PLACES, SIZE

    presence = torch.tensor([[1.0, 0.0, 1.0]])
    right, wrong = attribute_loss(presence * 8 - 4, presence), attribute_loss(4 - presence * 8, presence)
    assert right < 0.02 and wrong > 3.0  # 3 x softplus(-4) / 4 against 3 x softplus(4) / 4
    assert attribute_loss(4 - presence * 8, presence, torch.zeros_like(presence)) == 0  # nothing known, nothing asked
    pairs = load_pairs(data, "train", size=32, progress=False)
    idx = np.arange(32)
    torch.manual_seed(0)
    model = CLIP(CLIPConfig(vocab_size=tok.vocab_size, compose_outputs=SIZE + N_PLACES, compose_scale=16.0, **TINY))
    plain_loss, _ = ClipTask(pairs, tok).loss(model, idx, step=0)
    task = ClipTask(pairs, tok, attributes=0.5)
    both = ClipTask(pairs, tok, attributes=0.5, relate=1.0)  # read off the place targets' presences then
    assert torch.equal(both.attribute_targets, task.attribute_targets) and both.places is not None
    loss, logs = task.loss(model, idx, step=0)
    assert torch.isclose(loss, plain_loss + 0.5 * logs["attribute_loss"], atol=1e-4)
    loss.backward()  # the head's attribute rows learn, and both towers under them
    assert model.compose.weight.grad[SIZE:].abs().sum() > 0 and model.compose.weight.grad[:SIZE].abs().sum() == 0
    assert model.text.tok.weight.grad.abs().sum() > 0 and model.image.body[0][0].weight.grad.abs().sum() > 0
    model.zero_grad()
    fitted = _fit(task, model, torch.optim.Adam(model.parameters(), lr=3e-3), idx, 40)
    assert fitted["attribute_loss"] < 0.5 * logs["attribute_loss"]
    with pytest.raises(ValueError, match="attribute outputs"):
        task.loss(CLIP(CLIPConfig(vocab_size=tok.vocab_size, compose_outputs=SIZE, **TINY)), idx, step=0)
    r = _train(data, tmp_path / "run", "--steps", "2", "--attributes", "1", "--compose", "1")
    assert r.returncode == 0, r.stderr
    meta = json.loads((tmp_path / "run" / "model" / "config.json").read_text())
    assert meta["attributes"] == 1.0 and meta["config"]["compose_outputs"] == SIZE + N_PLACES


def _fooling_pictures(folder, pairs) -> list[str]:
    """Six pictures of noise, each with a guide-style sidecar naming a training caption, and two
    sidecars the pool must skip: a caption the world cannot read, and two positive prompts."""
    from PIL import Image

    folder.mkdir()
    rng = np.random.default_rng(0)
    captions = pairs.captions[:6]
    for i, caption in enumerate(captions):
        Image.fromarray(rng.integers(0, 256, (48, 48, 3), dtype=np.uint8)).save(folder / f"{i}.png")
        (folder / f"{i}.json").write_text(json.dumps({"prompts": [{"text": caption, "weight": 1.0}]}))
    for i, prompts in ((6, [{"text": "a flying car", "weight": 1.0}]), (7, [{"text": c} for c in captions[:2]])):
        Image.fromarray(rng.integers(0, 256, (48, 48, 3), dtype=np.uint8)).save(folder / f"{i}.png")
        (folder / f"{i}.json").write_text(json.dumps({"prompts": prompts}))
    return captions


def test_fooling_pictures_join_the_batch_and_their_captions_learn_to_pick_true_renders(data, tok, tmp_path):
    from promptism.clip.adversarial import load_pool
    from promptism.clip.task import ClipTask
    from promptism.clip.task_config import ClipTaskConfig
    from promptism.data import load_pairs
    from promptism.world.judge import judge

    pairs = load_pairs(data, "train", size=32, progress=False)
    captions = _fooling_pictures(tmp_path / "fooling", pairs)
    pool = load_pool(tmp_path / "fooling", 32)
    assert pool.captions == captions and pool.skipped == 2 and pool.images.shape == (6, 32, 32, 3)
    task = ClipTask(pairs, tok, adversarial=1.0, adversarial_pictures=str(tmp_path / "fooling"))
    idx = np.arange(16)
    batch = task.prepare(idx, step=3)
    assert batch["fooling"] == 4 and len(batch["pixels"]) == 16 + 4 + 4 and len(batch["ids"]) == 16 + 4
    assert torch.equal(batch["pixels"], task.prepare(idx, step=3)["pixels"])  # a function of the step
    truths, fooling, said = task.adversarial_pairs(16, 3)
    for truth, caption in zip(truths, said):  # each caption's new picture is a true render of it
        assert judge(truth, pool.constraints[captions.index(caption)]).correct
    assert {tuple(f.ravel()) for f in fooling} <= {tuple(p.ravel()) for p in pool.images}
    torch.manual_seed(0)
    model = CLIP(CLIPConfig(vocab_size=tok.vocab_size, **TINY))
    plain, _ = ClipTask(pairs, tok).loss(model, idx, step=3)
    loss, logs = task.loss(model, idx, step=3)
    assert torch.isfinite(loss) and loss != plain and 0.0 <= logs["adversarial_acc"] <= 1.0
    first = logs["adversarial_loss"]
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(15):
        loss, logs = task.loss(model, idx, step=3)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert logs["adversarial_loss"] < 0.8 * first and logs["adversarial_acc"] == 1.0
    assert task.effective().adversarial == 1.0
    with pytest.raises(ValueError, match="needs adversarial_pictures"):
        ClipTaskConfig(adversarial=1.0)


def test_a_look_matched_positive_named_by_a_sidecar_stands_in_for_the_fresh_render(data, tok, tmp_path):
    from PIL import Image

    from promptism.clip.adversarial import load_pool
    from promptism.clip.task import ClipTask
    from promptism.data import load_pairs

    pairs = load_pairs(data, "train", size=32, progress=False)
    folder = tmp_path / "fooling"
    captions = _fooling_pictures(folder, pairs)
    rng = np.random.default_rng(1)
    for i in (0, 1):  # two pictures get a positive of their own; a third names one that is missing
        Image.fromarray(rng.integers(0, 256, (48, 48, 3), dtype=np.uint8)).save(folder / f"{i}-positive.png")
    for i, name in ((0, "0-positive.png"), (1, "1-positive.png"), (2, "2-positive.png")):
        meta = json.loads((folder / f"{i}.json").read_text())
        (folder / f"{i}.json").write_text(json.dumps({**meta, "positive": name}))
    pool = load_pool(folder, 32)
    assert pool.captions == [c for k, c in enumerate(captions) if k != 2] and pool.skipped == 3
    assert [p is not None for p in pool.positives] == [True, True, False, False, False]
    with Image.open(folder / "0-positive.png") as im:
        expected = np.asarray(im.convert("RGB").resize((32, 32), Image.Resampling.BICUBIC))
    truths = pool.truths(np.array([0, 0, 3]), np.random.default_rng(0))
    assert np.array_equal(truths[0], expected) and np.array_equal(truths[1], expected)
    assert not np.array_equal(truths[2], pool.images[3])  # no positive: a fresh render of its caption
    task = ClipTask(pairs, tok, adversarial=1.0, adversarial_pictures=str(folder))
    truths, fooling, said = task.adversarial_pairs(16, 3)
    for truth, caption, picture in zip(truths, said, fooling):
        k = pool.captions.index(caption)
        if pool.positives[k] is not None:
            assert np.array_equal(truth, pool.positives[k]) and np.array_equal(picture, pool.images[k])


def test_robust_training_moves_pictures_within_the_ball_to_a_higher_loss(data, tok):
    from promptism.clip.task import ClipTask
    from promptism.clip.task_config import ClipTaskConfig
    from promptism.data import load_pairs

    pairs = load_pairs(data, "train", size=32, progress=False)
    torch.manual_seed(0)
    model = CLIP(CLIPConfig(vocab_size=tok.vocab_size, **TINY)).train()
    idx = np.arange(24)
    plain = ClipTask(pairs, tok)
    robust = ClipTask(pairs, tok, robust_eps=0.5, robust_steps=3)
    batch = robust.prepare(idx, 2)
    stats = {k: v.clone() for k, v in model.state_dict().items() if "running" in k}
    moved, distance = robust.attack(model, batch)
    size = (moved - batch["pixels"]).flatten(1).norm(dim=1)
    assert distance == pytest.approx(float(size.mean()), rel=1e-4)
    assert (size <= 0.5 + 1e-4).all() and size.mean() > 0.25  # inside the ball, and it moved
    assert moved.min() >= -1 and moved.max() <= 1
    assert model.training and all(torch.equal(v, model.state_dict()[k]) for k, v in stats.items())
    assert all(p.grad is None for p in model.parameters())
    model.eval()  # the same statistics for both losses: the moved pictures' is the higher
    with torch.no_grad():
        before, _ = plain.compute(model, batch)
        after, _ = plain.compute(model, {**batch, "pixels": moved})
    assert after > before
    model.train()
    loss, logs = robust.loss(model, idx, 2)
    assert torch.isfinite(loss) and 0.25 < logs["robust_move"] <= 0.5 + 1e-4
    with pytest.raises(ValueError, match="robust_eps must be 0 or more"):
        ClipTaskConfig(robust_eps=-1.0)
