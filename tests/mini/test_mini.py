"""DALL·E mini: the transformer's cache, sampling filters and guidance, training (with an exact
resume after a kill), the reranked grid, image-prefix completion, and the command's errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from clip_helpers import assert_a_killed_run_resumes_exactly, cli

from promptism.cli import main
from promptism.errors import PromptismError
from promptism.mini import load
from promptism.mini.model import MiniConfig, MiniTransformer
from promptism.mini.pipeline import mini
from promptism.mini.sample import filtered, guided, sample_codes


@pytest.fixture
def trained(tiny_mini):
    return tiny_mini


def _model(seed: int = 0) -> MiniTransformer:
    torch.manual_seed(seed)
    return MiniTransformer(MiniConfig(text_vocab=20, context=5, codebook_size=12, grid=4, width=16, layers=2, heads=2))


def test_the_cache_gives_the_logits_of_the_whole_sequence():
    model = _model().eval()
    text = torch.randint(0, 20, (3, 5))
    codes = torch.randint(0, 12, (3, 16))
    full = model(text, codes)  # teacher forcing: the logits for every code
    logits, caches = model.start(text)
    assert torch.allclose(logits, full[:, 0], atol=1e-5)
    for pos in range(1, 16):
        logits = model.step(codes[:, pos - 1], pos - 1, caches)
        assert torch.allclose(logits, full[:, pos], atol=1e-5)
        assert torch.allclose(model.step_uncached(text, codes[:, :pos]), full[:, pos], atol=1e-5)
    # a prefix read at the start continues as if it had been written
    logits, _ = model.start(text, codes[:, :6])
    assert torch.allclose(logits, full[:, 6], atol=1e-5)


def test_a_code_depends_only_on_the_caption_and_the_codes_before_it():
    model = _model().eval()
    text = torch.randint(0, 20, (1, 5))
    a = torch.randint(0, 12, (1, 16))
    b = a.clone()
    b[0, 9:] = (b[0, 9:] + 1) % 12
    la, lb = model(text, a), model(text, b)
    assert torch.allclose(la[:, :10], lb[:, :10], atol=1e-6)  # code 9 is read only from position 10 on
    assert not torch.allclose(la[:, 10:], lb[:, 10:])


def test_top_k_top_p_and_temperature_filter_as_documented():
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]]))
    assert torch.isfinite(filtered(logits, 1.0, 2, 1.0)).tolist() == [[True, True, False, False]]
    # top-p 0.7: 0.5 alone is below it, 0.5 + 0.3 reaches it
    assert torch.isfinite(filtered(logits, 1.0, 0, 0.7)).tolist() == [[True, True, False, False]]
    assert torch.isfinite(filtered(logits, 1.0, 0, 0.9)).tolist() == [[True, True, True, False]]
    assert torch.isfinite(filtered(logits, 1.0, 0, 0.1)).tolist() == [[True, False, False, False]]
    hot, cold = filtered(logits, 2.0, 0, 1.0).exp(), filtered(logits, 0.5, 0, 1.0).exp()
    assert hot[0, 0] < 0.5 < cold[0, 0] and torch.allclose(hot.sum(), torch.tensor(1.0))
    cond, uncond = torch.randn(2, 4), torch.randn(2, 4)
    assert torch.allclose(guided(cond, uncond, 1.0), cond.log_softmax(-1), atol=1e-6)
    assert torch.allclose(guided(cond, uncond, 0.0), uncond.log_softmax(-1), atol=1e-6)


def test_each_picture_depends_on_its_own_seed_alone_and_the_cache_changes_nothing():
    model = _model(1).eval()
    text = torch.randint(0, 20, (3, 5))
    null = torch.zeros(3, 5, dtype=torch.long)

    def gens(*seeds):
        return [torch.Generator().manual_seed(s) for s in seeds]

    three = sample_codes(model, text, null, gens(4, 5, 6), cond_scale=3.0)
    alone = sample_codes(model, text[1:2], null[1:2], gens(5), cond_scale=3.0)
    assert torch.equal(three[1], alone[0])
    assert torch.equal(three, sample_codes(model, text, null, gens(4, 5, 6), cond_scale=3.0, cache=False))
    assert not torch.equal(three[0], three[1])


def test_train_mini_writes_a_model_that_draws_a_reranked_grid(trained, tmp_path):
    meta = json.loads((trained / "mini" / "model" / "config.json").read_text())
    assert meta["kind"] == "mini" and meta["steps"] == 6 and meta["config"]["grid"] == 8
    assert meta["vqgan"]["sha256"] and (trained / "mini" / "model" / "tokenizer.json").exists()
    codes = np.load(trained / "mini" / "codes" / "codes.npy")
    assert codes.shape == (meta["examples"], 64) and codes.max() < 32
    model = str(trained / "mini" / "model")
    r = mini("a red circle", candidates=10, grid=2, seed=3, model=model, rerank_clip=_clip(trained))
    assert len(r.images) == 4 and r.grid.size[0] > 2 * r.images[0].size[0]
    assert r.scores == sorted(r.scores, reverse=True)  # best first
    assert [m["rank"] for m in r.metadata] == [1, 2, 3, 4] and set(r.seeds) <= set(range(3, 13))
    again = mini("a red circle", candidates=10, grid=2, seed=3, model=model, rerank_clip=_clip(trained), batch=3)
    assert again.seeds == r.seeds and all(
        np.array_equal(np.asarray(a), np.asarray(b)) for a, b in zip(again.images, r.images)
    )
    plain = mini("a red circle", grid=2, seed=3, model=model, rerank=False)
    assert plain.seeds == [3, 4, 5, 6] and plain.scores == [None] * 4
    big = mini("a red circle", grid=1, candidates=1, seed=3, model=model, rerank=False, size=64)
    assert big.images[0].size == (64, 64)  # the VQGAN's 16 px, enlarged 4 times


def test_several_reranking_clips_sum_their_cosines(trained, tmp_path):
    import shutil

    model, one = str(trained / "mini" / "model"), _clip(trained)
    twin = shutil.copytree(one, tmp_path / "twin")  # the same weights under another name: every cosine twice
    alone = mini("a red circle", candidates=6, grid=2, seed=5, model=model, rerank_clip=one)
    both = mini("a red circle", candidates=6, grid=2, seed=5, model=model, rerank_clip=[one, str(twin)])
    assert both.seeds == alone.seeds
    assert both.scores == pytest.approx([2 * v for v in alone.scores], abs=2e-5)
    assert [c["name"] for c in both.metadata[0]["rerank_clip"]] == [one, str(twin)]
    for bad in ([], [one, one], [""]):
        with pytest.raises(PromptismError, match="rerank_clip"):
            mini("a red circle", candidates=6, grid=2, model=model, rerank_clip=bad)


def test_a_fine_tune_starts_from_its_init_and_keeps_its_tokenizer(trained, tmp_path):
    from promptism.mini.training import train_mini

    start = trained / "mini" / "model"
    vq = str(trained / "vq" / "model")
    args = ["train", "mini", "--data", str(trained / "data"), "--out", str(tmp_path / "ft"), "--preset", "tiny"]
    # learning rate 0: the weights can only be the start's if the start was loaded
    assert main(args + ["--vqgan", vq, "--init", str(start), "--steps", "2", "--lr", "0", "--quiet"]) == 0
    tuned = load(tmp_path / "ft" / "model")
    for a, b in zip(load(start).model.state_dict().values(), tuned.model.state_dict().values()):
        assert torch.equal(a, b)
    assert (tmp_path / "ft" / "model" / "tokenizer.json").read_text() == (start / "tokenizer.json").read_text()
    assert tuned.meta["init"] == str(start) and tuned.meta["steps"] == 2
    assert [phase["steps"] for phase in tuned.meta["init_phases"]] == [6]
    with pytest.raises(PromptismError, match="another VQGAN"):  # its codes would mean other pictures
        train_mini(str(trained / "data"), str(tmp_path / "bad"), "tiny", vqgan=vq, init=vq, progress=False)


def _clip(trained) -> str:
    """A tiny CLIP to rerank with (the tests build no real one): the unCLIP tests' fixture's."""
    folder = trained / "clip"
    if not (folder / "config.json").exists():
        from promptism.clip.model import CLIP, CLIPConfig
        from promptism.clip.native import NativeClip
        from promptism.clip.train import build_tokenizer
        from promptism.world.sampling import sample_example

        caps = [sample_example(np.random.default_rng([3, i])).caption for i in range(100)]
        tok = build_tokenizer(caps, 256, 28)
        torch.manual_seed(0)
        from promptism.clip.presets import PRESETS

        NativeClip(CLIP(CLIPConfig(vocab_size=tok.vocab_size, **PRESETS["tiny"]["model"])), tok).save(folder)
    return str(folder)


def test_a_run_ships_in_float16_from_its_model_or_its_last_checkpoint(trained, tmp_path):
    import shutil

    from promptism.mini import ship

    run = tmp_path / "run"
    shutil.copytree(trained / "mini", run)
    shipped = load(ship(run, tmp_path / "shipped"))
    assert json.loads((shipped.folder / "config.json").read_text())["stored_dtype"] == "float16"
    shutil.rmtree(run / "model")  # a run stopped before its end
    early = load(ship(run, tmp_path / "early"))
    meta = json.loads((early.folder / "config.json").read_text())
    assert meta["stopped_early"] is True and meta["steps"] == 6 and meta["vqgan"] == shipped.meta["vqgan"]
    for a, b in zip(shipped.model.state_dict().values(), early.model.state_dict().values()):
        assert torch.equal(a, b)  # both the EMA weights of step 6
    with pytest.raises(PromptismError, match="no finished model and no checkpoint"):
        ship(tmp_path / "nothing", tmp_path / "x")


def test_the_grid_is_shown_forming_row_by_row(trained):
    from promptism.pipelines.common import step_hook

    calls, rows = [], []
    model = str(trained / "mini" / "model")
    with step_hook(lambda stage, done, total, x0: calls.append((stage, done, total, x0))):
        r = mini("a red circle", grid=2, candidates=4, seed=0, model=model, rerank=False,
                 on_rows=lambda k, n, picture: rows.append((k, n, picture.size)))  # fmt: skip
    assert [k for k, _, _ in rows] == list(range(1, 9)) and rows[0][2] == r.grid.size
    assert [c[0] for c in calls] == ["mini"] * 8 and calls[-1][1] == calls[-1][2] == 4 * 64
    first, last = calls[0][3], calls[-1][3]
    assert first.shape[-2:] == (r.grid.size[1], r.grid.size[0])

    # the first picture (at 2 px from the corner, past the grid's padding): its bottom still gray after one row
    def gray(x):
        return (x[0, :, 14:18, 2:18].abs() < 0.01).all()

    assert gray(first) and not gray(last)


def test_an_init_picture_keeps_its_first_rows(trained, tmp_path):
    from PIL import Image

    from promptism.pipelines.images import to_tensor

    m = load(trained / "mini" / "model")
    rng = np.random.default_rng(0)
    picture = Image.fromarray(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8))
    path = tmp_path / "init.png"
    picture.save(path)
    r = mini("a blue square", grid=1, candidates=1, seed=0, model=str(m.folder), rerank=False, init=path, keep_rows=3)
    kept = m.vq.encode(to_tensor([picture]))[0, :3]
    assert torch.equal(r.codes[0, :3], kept)
    fresh = mini("a blue square", grid=1, candidates=1, seed=0, model=str(m.folder), rerank=False)
    assert not torch.equal(fresh.codes[0, :3], kept)
    with pytest.raises(PromptismError, match="keep_rows must be"):
        mini("a blue square", model=str(m.folder), rerank=False, grid=1, candidates=1, init=path, keep_rows=8)


def test_bad_input_gets_a_clear_error_and_writes_nothing(trained, tmp_path, capsys):
    model = str(trained / "mini" / "model")
    out = tmp_path / "out"
    bad = tmp_path / "bad.png"
    bad.write_text("not a picture")
    cases = [
        ([""], "the prompt is empty"),
        (["x", "--grid", "0"], "grid must be a whole number from 1 to 4"),
        (["x", "--grid", "2", "--candidates", "3"], "candidates must be a whole number from grid² (4) to 64"),
        (["x", "--candidates", "65"], "to 64"),
        (["x", "--top-k", "-1"], "top_k must be"),
        (["x", "--top-p", "0"], "top_p must be"),
        (["x", "--temperature", "0"], "temperature must be"),
        (["x", "--init", str(bad), "--keep-rows", "2"], "init picture"),
        (["x", "--keep-rows", "2"], "keep_rows needs an init picture"),
        (["x", "--size", "100"], "size must be one of 16, 32, 64"),
    ]
    for args, message in cases:
        assert main(["mini", *args, "--model", model, "--out", str(out), "--quiet"]) == 2, args
        assert message in capsys.readouterr().err or pytest.fail(f"{args}: no {message!r}")
        assert not out.exists()


@pytest.mark.slow
def test_a_killed_training_run_resumes_exactly(trained, tmp_path):
    vq = str(trained / "vq" / "model")
    data = str(trained / "data")

    def args(out):
        return cli("train", "mini", "--data", data, "--out", str(out), "--preset", "tiny", "--vqgan", vq, "--quiet",
                   "--steps", "40", "--checkpoint-every", "5")  # fmt: skip

    assert_a_killed_run_resumes_exactly(args, tmp_path)


def test_the_shipped_mini_world_draws_the_same_grid_for_the_same_seed():
    a = mini("a red circle above a blue square", seed=11, candidates=9, grid=3)
    b = mini("a red circle above a blue square", seed=11, candidates=9, grid=3, batch=4)
    assert a.seeds == b.seeds and torch.equal(a.codes, b.codes)
    assert a.images[0].size == (64, 64) and a.metadata[0]["models"]["mini"]["name"] == "world"
