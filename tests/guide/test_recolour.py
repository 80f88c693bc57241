"""guide's recolouring (promptism.guide.recolour): regions of one colour found in a picture, the
palettes the drawn canvases hold, and a coordinate ascent that changes a whole region's colour when
the rating rises; and how guide uses it (``recolour=K``)."""

import math

import numpy as np
import pytest
import torch

from promptism.errors import PromptismError
from promptism.guide import guide
from promptism.guide.recolour import palettes, recolour, regions

GRAY, RED, BLUE, GREEN, WHITE = (
    torch.tensor(c) for c in ([0.0, 0.0, 0.0], [1.0, -1.0, -1.0], [-1.0, -1.0, 1.0], [-1.0, 1.0, -1.0], [1.0, 1.0, 1.0])
)


def _picture(background=GRAY, square=RED, disc=BLUE) -> torch.Tensor:
    """64 px: a square at rows/cols 8-23 and a disc of radius 8 about (44, 44), blended at its edge."""
    img = background[:, None, None].expand(3, 64, 64).clone()
    img[:, 8:24, 8:24] = square[:, None, None]
    yy, xx = torch.meshgrid(torch.arange(64.0), torch.arange(64.0), indexing="ij")
    inside = (8.5 - ((yy - 44) ** 2 + (xx - 44) ** 2).sqrt()).clamp(0, 1)  # a 1-pixel soft edge
    return img * (1 - inside) + disc[:, None, None] * inside


def _square_mask() -> torch.Tensor:
    m = torch.zeros(64, 64, dtype=torch.bool)
    m[8:24, 8:24] = True
    return m


PALETTE = torch.stack([GRAY, RED, BLUE, GREEN, WHITE])


def test_regions_are_the_connected_patches_of_one_colour_largest_first():
    found = regions(_picture(), PALETTE)
    assert len(found) == 3  # the background, the square, the disc (its blended edge is too thin)
    assert int(found[0].sum()) > 64 * 64 // 2  # the background first
    assert any(torch.equal(m, _square_mask()) for m in found)
    # two squares of one colour apart are two regions; one of them recolours alone
    img = _picture(disc=RED)
    assert len(regions(img, PALETTE)) == 3


def test_palettes_hold_the_canvases_colours_and_their_backgrounds():
    drawn = torch.stack([_picture(), _picture(background=WHITE, square=GREEN)])
    colours, backgrounds = palettes(drawn)
    for c in (GRAY, RED, BLUE, GREEN, WHITE):
        assert float((colours - c).norm(dim=1).min()) < 0.05
    for c in (GRAY, WHITE):  # each canvas's border
        assert float((backgrounds - c).norm(dim=1).min()) < 0.05
    assert float((backgrounds - RED).norm(dim=1).min()) > 0.5  # no shape colour among them


def _greenness_of_square(x: torch.Tensor) -> torch.Tensor:
    """A rating that likes the square green and cares for nothing else."""
    return -(x[:, :, 8:24, 8:24] - GREEN[:, None, None]).abs().mean((1, 2, 3))


def test_recolour_changes_a_whole_region_to_the_palette_colour_rated_best():
    img = _picture()
    out, score = recolour(img, PALETTE, PALETTE[[0, 4]], _greenness_of_square)
    square = _square_mask()
    assert torch.allclose(out[:, square], GREEN[:, None].expand(3, int(square.sum())), atol=1e-6)
    assert torch.equal(out[:, ~square], img[:, ~square])  # nothing else moved: it would not rate higher
    assert score == pytest.approx(float(_greenness_of_square(out[None])[0]))
    assert score > float(_greenness_of_square(img[None])[0])


def test_recolour_keeps_the_picture_when_no_colour_rates_higher():
    img = _picture()
    out, score = recolour(img, PALETTE, PALETTE[[0, 4]], lambda x: torch.zeros(len(x)))
    assert torch.equal(out, img) and score == 0.0


def test_a_disc_blended_into_the_background_takes_its_edge_along():
    img = _picture()

    def green_disc(x):
        return -(x[:, :, 38:51, 38:51] - GREEN[:, None, None]).abs().mean((1, 2, 3))

    out, _ = recolour(img, PALETTE, PALETTE[[0, 4]], green_disc)
    edge = img[:, 44, 52]  # half disc, half background: blue blended into gray
    assert 0.1 < float((edge - GRAY).norm()) and 0.1 < float((edge - BLUE).norm())
    assert float(out[2, 44, 52]) < float(img[2, 44, 52]) - 0.1  # less blue there too
    assert float(out[1, 44, 52]) > float(img[1, 44, 52]) + 0.1  # and greener


def test_a_background_takes_only_a_background_colour():
    img = _picture()

    def reddish_background(x):  # red above all, white next, gray least
        corner = x[:, :, 30:34, 0:4]
        return (corner[:, 0] - 0.5 * corner[:, 1]).mean((1, 2))

    out, _ = recolour(img, PALETTE, PALETTE[[0, 4]], reddish_background)
    # red is not a background colour: the best the backgrounds offer (white) is taken, all over
    assert torch.allclose(out[:, 30:34, 0:4], WHITE[:, None, None].expand(3, 4, 4), atol=0.01)
    assert torch.equal(out[:, _square_mask()], img[:, _square_mask()])


def test_guide_recolours_when_the_picked_canvas_is_not_kept(monkeypatch):
    from promptism.guide import optimize

    calls = []
    real = optimize._recoloured

    def spy(*args, **kwargs):
        out = real(*args, **kwargs)
        calls.append(out)
        return out

    monkeypatch.setattr(optimize, "_recoloured", spy)
    fast = dict(seed=5, steps=2, cutn=2, canvas_candidates=3)
    r = guide("a brown square", recolour=2, keep_canvas=0.999999, **fast).metadata[0]
    assert len(calls) == 1 and r["settings"]["recolour"] == 2
    assert isinstance(r["canvas_recoloured"], bool) and r["canvas_kept"] is False
    assert r["canvas_picked"] == calls[0][1]
    # any canvas is that likely: kept as drawn, nothing recoloured
    k = guide("a brown square", recolour=2, keep_canvas=1e-9, **fast).metadata[0]
    assert len(calls) == 1 and k["canvas_kept"] is True and k["canvas_recoloured"] is False
    off = guide("a brown square", keep_canvas=0.999999, recolour=0, **fast)
    assert len(calls) == 1 and "canvas_recoloured" not in off.metadata[0]
    assert off.metadata[0]["settings"]["recolour"] == 0
    kept = guide("a brown square", recolour=3, keep_canvas=1e-9, **fast)  # recolouring never reached
    plain = guide("a brown square", recolour=0, keep_canvas=1e-9, **fast)
    assert np.array_equal(np.asarray(kept.images[0]), np.asarray(plain.images[0]))


def test_a_recoloured_canvas_clip_believes_is_returned_as_the_vqgan_draws_it(monkeypatch):
    from promptism.guide import optimize
    from promptism.guide.parametrize import Codes

    seen = []
    real = optimize._recoloured

    def spy(*args, **kwargs):
        out = real(*args, **kwargs)
        seen.append((args, out))
        return out

    # CLIP finds the prompt 0.5 likely on each of the 3 drawn canvases, which the contrast pick
    # scores (none is kept), and certain on the recoloured one as the VQGAN draws it (kept)
    likely = iter([math.log(0.5)] * 3)
    monkeypatch.setattr(optimize, "_recoloured", spy)
    monkeypatch.setattr(optimize, "_contrast_score", lambda *a: next(likely, 0.0))
    fast = dict(seed=5, steps=2, cutn=2, canvas="prior", canvas_candidates=3, canvas_pick="contrast")
    r = guide("a brown square", recolour=2, keep_canvas=0.9, **fast)
    (args, (start, _, kept, changed)) = seen[0]
    assert r.metadata[0]["canvas_recoloured"] is changed
    assert kept is True and r.metadata[0]["canvas_kept"] is True
    assert np.array_equal(np.asarray(r.images[0]), np.asarray(optimize.to_images(start)[0]))
    # the start is a VQGAN drawing: drawing its own codes again changes it little
    net = args[-1]
    with torch.no_grad():
        again = Codes(64, start, 0.0, torch.Generator(), net)()
    assert float((again - start).abs().mean()) < 0.1


def test_recolourings_rated_by_their_colour_contrasts_alone(monkeypatch):
    from promptism.guide import optimize

    calls = []
    real = optimize._recoloured

    def spy(models, targets, rating, *rest):
        calls.append((targets, rating))
        return real(models, targets, rating, *rest)

    monkeypatch.setattr(optimize, "_recoloured", spy)
    fast = dict(seed=5, steps=2, cutn=2, canvas_candidates=3, keep_canvas=0.999999, recolour=2)
    r = guide("a brown square on a gray background", recolour_rating="colours", **fast).metadata[0]
    assert r["settings"]["recolour_rating"] == "colours"
    (targets, rating) = calls[-1]
    every, colours = targets[0][2][0][2], rating[0][2][0][2]  # the prompt's caption embeddings
    assert torch.equal(every[0], colours[0]) and 1 < len(colours) < len(every)  # the prompt, then fewer
    guide("a brown square on a gray background", **fast)  # all of them by default
    assert calls[-1][0] is calls[-1][1]
    # a prompt whose contrasts change only shapes is not recoloured when colours rate
    s = guide("a picture of a diamond and a circle", recolour_rating="colours", **fast).metadata[0]
    assert len(calls) == 2 and s["canvas_recoloured"] is False
    with pytest.raises(PromptismError, match="unknown recolour_rating 'shapes'"):
        guide("a red square", recolour_rating="shapes")


def test_recolour_errors_are_clear():
    with pytest.raises(PromptismError, match="recolour recolours drawn canvases"):
        guide("a red square", canvas="gray", recolour=2)
    for bad in (-1, 65, 1.5, True):
        with pytest.raises(PromptismError, match="recolour must be a whole number of canvases"):
            guide("a red square", recolour=bad)
