"""guide's code prior (promptism.guide.prior): the shipped mini-world's transformer, reading the
empty caption, as a loss on the vqgan generator's code vectors. Steps on it alone make the snapped
codes likelier under the transformer; larger grids are scored window by window; a prior over
another VQGAN's codes, or on another generator, is refused."""

import numpy as np
import pytest
import torch

from promptism.errors import PromptismError
from promptism.guide import guide
from promptism.guide.optimize import DEFAULTS
from promptism.guide.prior import CodePrior
from promptism.mini import load as load_mini
from promptism.vqgan import load as load_vqgan


@pytest.fixture(scope="module")
def prior():
    return CodePrior(load_mini("world"), load_vqgan("world"), 1.0)


def _nll(prior, z: torch.Tensor) -> float:
    """The transformer's mean negative log-likelihood of z's snapped codes (a 16×16 grid), in nats."""
    with torch.no_grad():
        flat = torch.nn.functional.normalize(z.flatten(2).transpose(1, 2), dim=-1)
        codes = (flat @ prior.codebook.T).argmax(-1)
        logp = prior.model(prior.null.expand(len(codes), -1), codes).log_softmax(-1)
        return float(-logp.gather(-1, codes[..., None]).mean())


def test_steps_on_the_prior_make_the_codes_likelier(prior):
    g = torch.Generator().manual_seed(0)
    z = torch.nn.Parameter(torch.randn(1, 32, 16, 16, generator=g))
    before_nll, before = _nll(prior, z), float(prior.loss(z))
    opt = torch.optim.Adam([z], lr=0.1)
    for _ in range(20):
        loss = prior.loss(z)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(prior.loss(z)) < before - 1.0
    assert _nll(prior, z) < before_nll - 1.5


def test_larger_grids_are_scored_window_by_window(prior):
    g = torch.Generator().manual_seed(1)
    z = torch.randn(1, 32, 32, 32, generator=g)  # a 128 px picture: four windows
    windows = [z[:, :, i : i + 16, j : j + 16] for i in (0, 16) for j in (0, 16)]
    assert torch.allclose(prior.loss(z), torch.stack([prior.loss(w) for w in windows]).mean(), atol=1e-5)
    odd = torch.randn(1, 32, 24, 24, generator=g)  # 96 px: the edge windows overlap
    assert torch.isfinite(prior.loss(odd))
    with pytest.raises(PromptismError, match="at least 64 px"):
        prior.loss(torch.randn(1, 32, 8, 8))


def test_guide_records_the_prior_and_refuses_it_where_it_cannot_apply(tiny_mini):
    fast = dict(steps=2, cutn=2, generator="vqgan", prior=0.5)
    r = guide("a red square", **fast)
    assert r.metadata[0]["settings"]["prior"] == 0.5
    assert r.metadata[0]["settings"]["mini"]["name"] == "world"
    assert len(r.metadata[0]["settings"]["mini"]["sha256"]) == 64
    with pytest.raises(PromptismError, match="needs --generator vqgan"):
        guide("a red square", **{**fast, "generator": "pixels"})
    with pytest.raises(PromptismError, match="at least 64 px"):
        guide("a red square", **{**fast, "size": 32})
    with pytest.raises(PromptismError, match="prior must be a number from 0 to 100"):
        guide("a red square", **{**fast, "prior": -1})
    with pytest.raises(PromptismError, match="another VQGAN's codes"):
        guide("a red square", **{**fast, "mini": str(tiny_mini / "mini" / "model")})


def test_the_prior_canvas_is_a_drawn_world_picture_and_the_same_seed_draws_it_again():
    import numpy as np

    from promptism.guide.parametrize import GRAY

    # the drawn canvas itself, not recoloured
    fast = dict(steps=1, cutn=2, generator="vqgan", canvas="prior", init_noise=0.0, recolour=0)
    a, b, other = (
        guide("a red square", seed=3, **fast),
        guide("a red square", seed=3, **fast),
        guide("a red square", seed=4, **fast),
    )
    pa = np.asarray(a.images[0]).astype(float)
    assert np.array_equal(pa, np.asarray(b.images[0]))
    assert np.abs(pa - np.asarray(other.images[0]).astype(float)).mean() > 5
    plain = np.asarray(guide("a red square", seed=3, **{**fast, "canvas": "gray"}).images[0]).astype(float)
    assert np.abs(plain - (GRAY + 1) * 127.5).mean() < 6  # one step from the gray canvas is still near gray
    assert np.abs(pa - plain).mean() > 30  # the drawn world picture is not
    assert a.metadata[0]["settings"]["canvas"] == "prior"
    assert guide("a red square", seed=3, size=96, **fast).images[0].size == (96, 96)  # the canvas resized
    assert a.metadata[0]["settings"]["mini"]["name"] == "world"
    with pytest.raises(PromptismError, match="unknown canvas 'white'"):
        guide("a red square", **{**fast, "canvas": "white"})
    with pytest.raises(PromptismError, match="it needs --generator vqgan"):
        guide("a red square", **{**fast, "generator": "fft"})


def _spy(monkeypatch, module, name: str) -> list:
    """What ``module.name`` returns, call by call, from now on in this test."""
    seen, real = [], getattr(module, name)

    def spy(*args):
        out = real(*args)
        seen.append(out)
        return out

    monkeypatch.setattr(module, name, spy)
    return seen


def test_clip_picks_the_canvas_it_scores_highest_among_the_drawn_ones(monkeypatch):
    from promptism.guide import optimize

    seen = _spy(monkeypatch, optimize, "_score")
    # with the contrast loss on too: its targets must not take the place of the recorded index
    r = guide(
        "a blue square",
        steps=1,
        cutn=2,
        canvas="prior",
        canvas_candidates=4,
        canvas_pick="cosine",
        init_noise=0.0,
        contrast=0.2,
    )
    drawn = seen[:4]  # the four canvases are scored before any step
    assert isinstance(r.metadata[0]["canvas_picked"], int)
    assert r.metadata[0]["canvas_picked"] == max(range(4), key=drawn.__getitem__)
    assert r.metadata[0]["settings"]["canvas_candidates"] == 4
    with pytest.raises(PromptismError, match="canvas_candidates must be a whole number from 1 to 256"):
        guide("a blue square", canvas="prior", canvas_candidates=0)


def test_each_generator_takes_its_own_defaults_where_none_are_given():
    v = guide("a red square", steps=1, cutn=2, canvas_candidates=2).metadata[0]
    assert [c["name"] for c in v["clips"]] == ["world-v1"]
    assert (v["settings"]["canvas"], v["settings"]["init_noise"], v["settings"]["lr"]) == ("prompt", 0.0, 0.05)
    settings = v["settings"]
    # 4 canvases recoloured, but no more than the 2 drawn
    assert (settings["canvas_pick"], settings["keep_canvas"], settings["recolour"]) == ("cosine", 0.9, 2)
    assert DEFAULTS["vqgan"]["recolour"] == 4
    f = guide("a red square", generator="fft", steps=1, cutn=2).metadata[0]
    assert [c["name"] for c in f["clips"]] == ["world"]
    assert (f["settings"]["init_noise"], f["settings"]["lr"]) == (1.0, 0.2)
    g = guide("a red square", canvas="gray", steps=1, cutn=2).metadata[0]  # the gray canvas keeps its noise
    assert (g["settings"]["canvas"], g["settings"]["init_noise"]) == ("gray", 1.0)
    assert "canvas_pick" not in g["settings"]  # nothing drawn, nothing picked or kept


def test_the_contrast_pick_keeps_the_canvas_likeliest_among_the_contrast_captions(monkeypatch):
    from promptism.guide import optimize

    seen = _spy(monkeypatch, optimize, "_contrast_score")
    r = guide("a blue square", steps=1, cutn=2, canvas_candidates=4, canvas_pick="contrast")
    drawn = seen[:4]
    assert all(s <= 0 for s in drawn)  # log-probabilities, where the cosine would be positive
    assert r.metadata[0]["canvas_picked"] == max(range(4), key=drawn.__getitem__)
    assert r.metadata[0]["settings"]["canvas_pick"] == "contrast"
    assert r.metadata[0]["settings"]["contrast"] == 0.0  # the pick needs the captions, not the loss
    with pytest.raises(PromptismError, match="unknown canvas_pick 'best'"):
        guide("a blue square", canvas_pick="best")


def test_the_contrast_score_is_the_prompts_log_probability_among_its_contrasts():
    from promptism.clip import load
    from promptism.guide.optimize import _contrast_score, _contrast_targets, _score
    from promptism.guide.prompts import parse_prompts

    clip = load("world-v1")
    text = parse_prompts("a blue square")
    against = _contrast_targets(clip, text)
    targets = [(clip.encode_text(["a blue square"]), torch.tensor([1.0]), against, 0.0)]
    img = torch.rand(1, 3, 64, 64) * 2 - 1
    with torch.no_grad():
        e = clip._encode_pixels(img)
        _, scale, captions = against[0]
        want = (scale * e @ captions.T).log_softmax(-1)[0, 0]
        assert _contrast_score([clip], targets, img) == pytest.approx(float(want), rel=1e-5)
        # a prompt with no word of the vocabulary has no contrasts: the cosine decides
        plain = [(clip.encode_text(["a photo"]), torch.tensor([1.0]), [], 0.0)]
        assert _contrast_score([clip], plain, img) == _score([clip], plain, img)


def test_canvases_drawn_in_chunks_are_the_ones_drawn_at_once(monkeypatch):
    from promptism.guide import prior as prior_module

    mini = load_mini("world")
    whole = prior_module.drawn_canvases(mini, 64, torch.Generator().manual_seed(3), 5)
    monkeypatch.setattr(prior_module, "CHUNK", 2)  # chunks of 2, 2 and 1
    chunked = prior_module.drawn_canvases(mini, 64, torch.Generator().manual_seed(3), 5)
    assert chunked.shape == (5, 3, 64, 64)
    assert torch.allclose(whole, chunked, atol=1e-5)
    assert not torch.allclose(chunked[0], chunked[1])  # each from its own generator


def test_stop_at_ends_the_steps_once_clip_finds_the_prompt_likely_enough():
    fast = dict(seed=5, steps=4, cutn=2, canvas_candidates=2, keep_canvas=0)  # the steps always start
    stopped = guide("a red square", stop_at=1e-9, **fast)  # any picture is that likely: no step is taken
    assert stopped.metadata[0]["steps_taken"] == 0
    assert stopped.metadata[0]["settings"]["stop_at"] == 1e-9
    again = guide("a red square", stop_at=1e-9, **{**fast, "steps": 9})
    moved = guide("a red square", **fast)
    assert np.array_equal(np.asarray(stopped.images[0]), np.asarray(again.images[0]))  # both the start
    assert not np.array_equal(np.asarray(stopped.images[0]), np.asarray(moved.images[0]))
    assert "steps_taken" not in moved.metadata[0]
    # never reached, and a prompt naming nothing of the vocabulary has no contrasts: every step runs
    assert guide("a red square", stop_at=0.999999, **fast).metadata[0]["steps_taken"] == 4
    assert guide("a photo", stop_at=1e-9, **fast).metadata[0]["steps_taken"] == 4
    for bad in (1.0, -0.1, True, "0.5"):
        with pytest.raises(PromptismError, match="stop_at must be a probability"):
            guide("a red square", stop_at=bad)


def test_keep_canvas_returns_a_canvas_clip_already_believes_as_drawn(monkeypatch):
    from promptism.guide import optimize
    from promptism.guide import prior as prior_module

    drawn = _spy(monkeypatch, prior_module, "drawn_canvases")
    fast = dict(seed=5, steps=4, cutn=2, canvas_candidates=3, canvas_pick="contrast", save_every=2)
    kept = guide("a red square", keep_canvas=1e-9, **fast)  # any canvas is that likely
    m = kept.metadata[0]
    assert m["canvas_kept"] is True and m["settings"]["keep_canvas"] == 1e-9
    canvas = drawn[-1][m["canvas_picked"]][None]
    assert np.array_equal(np.asarray(kept.images[0]), np.asarray(optimize.to_images(canvas)[0]))
    assert len(kept.frames[0]) == 1  # the canvas is the one frame
    moved = guide("a red square", keep_canvas=0.999999, **fast)  # never that likely: the steps run
    assert moved.metadata[0]["canvas_kept"] is False
    assert not np.array_equal(np.asarray(kept.images[0]), np.asarray(moved.images[0]))
    assert len(moved.frames[0]) == 2
    assert guide("a photo", keep_canvas=1e-9, **fast).metadata[0]["canvas_kept"] is False  # no contrasts
    with pytest.raises(PromptismError, match="keep_canvas keeps a drawn canvas"):
        guide("a red square", canvas="gray", keep_canvas=0.5)
    with pytest.raises(PromptismError, match="keep_canvas must be a probability"):
        guide("a red square", keep_canvas=1)


def test_keep_cosine_keeps_only_a_canvas_clip_also_finds_like_the_prompt(monkeypatch):
    from promptism.guide import optimize

    calls = []
    real = optimize._recoloured

    def spy(*args, **kwargs):
        calls.append(real(*args, **kwargs))
        return calls[-1]

    monkeypatch.setattr(optimize, "_recoloured", spy)
    fast = dict(seed=5, steps=2, cutn=2, canvas_candidates=3, recolour=0, keep_canvas=1e-9)  # any canvas that likely
    plain = guide("a red square", **fast).metadata[0]
    cosine = plain["clip_score"]  # the kept canvas's cosine score
    assert plain["canvas_kept"] is True and plain["settings"]["keep_cosine"] == 0.0
    assert cosine > 1e-3  # so that a gate just below it is on
    below = guide("a red square", keep_cosine=cosine - 1e-3, **fast).metadata[0]
    assert below["canvas_kept"] is True and below["settings"]["keep_cosine"] == cosine - 1e-3
    above = guide("a red square", keep_cosine=0.999999, **fast).metadata[0]
    assert above["canvas_kept"] is False and above["clip_score"] != cosine  # the steps ran
    # a recoloured canvas must pass it too: here none can, so the steps start from the recolouring
    r = guide("a red square", keep_cosine=0.999999, **{**fast, "recolour": 2}).metadata[0]
    assert len(calls) == 1 and calls[0][2] is False and r["canvas_kept"] is False
    for bad in (1.0, -1.5, True, "0.5"):
        with pytest.raises(PromptismError, match="keep_cosine must be a cosine"):
            guide("a red square", keep_cosine=bad)
    with pytest.raises(PromptismError, match="keep_cosine is a further condition"):
        guide("a red square", keep_canvas=0, keep_cosine=0.5)


def _share(x: torch.Tensor, channel: int) -> float:
    """The share of pixels of pictures (N, 3, S, S) in [-1, 1] where ``channel`` leads the other two by 0.5."""
    others = [c for c in range(3) if c != channel]
    return float((x[:, channel] > x[:, others].max(1).values + 0.5).float().mean())


def test_canvases_drawn_reading_the_prompt_show_what_it_asks_and_the_seed_draws_them_again():
    from promptism.guide.prior import drawn_canvases

    mini = load_mini("world")

    def draw(caption, negative=""):
        return drawn_canvases(mini, 64, torch.Generator().manual_seed(7), 6, caption, negative)

    red, blue, empty = draw("a red square"), draw("a blue square"), draw("")
    assert torch.equal(red, draw("a red square"))  # the same seed and caption draw the same canvases
    assert not torch.allclose(red, empty)  # the caption is read
    assert _share(red, 0) > 2 * _share(blue, 0) and _share(blue, 2) > 2 * _share(red, 2)
    assert not torch.allclose(draw("a red square", "a blue square"), red)  # the negative caption guides too


def test_the_prompt_canvas_reads_the_positive_prompts_and_steers_from_the_negative_ones(monkeypatch):
    from promptism.guide import optimize
    from promptism.guide import prior as prior_module

    prompts = optimize.parse_prompts("a red star | a blue star:2 | a yellow star:-1")
    assert optimize._canvas_captions(prompts, "prompt") == ("a blue star and a red star", "a yellow star")
    assert optimize._canvas_captions(prompts, "prior") == ("", "")
    read, real = [], prior_module.drawn_canvases

    def spy(mini, size, g, n=1, caption="", negative=""):
        read.append((caption, negative))
        return real(mini, size, g, n, caption, negative)

    monkeypatch.setattr(prior_module, "drawn_canvases", spy)
    fast = dict(seed=2, steps=1, cutn=2, canvas_candidates=2, recolour=0)
    m = guide("a red square | a blue circle:-1", canvas="prompt", **fast).metadata[0]
    assert read[-1] == ("a red square", "a blue circle")
    assert m["settings"]["canvas"] == "prompt"
    assert (m["settings"]["canvas_caption"], m["settings"]["canvas_negative"]) == ("a red square", "a blue circle")
    assert m["settings"]["keep_canvas"] == DEFAULTS["vqgan"]["keep_canvas"]  # a drawn canvas's own defaults
    plain = guide("a red square", canvas="prior", **fast).metadata[0]
    assert read[-1] == ("", "") and "canvas_caption" not in plain["settings"]
    with pytest.raises(PromptismError, match="needs --generator vqgan"):
        guide("a red square", canvas="prompt", generator="pixels")
