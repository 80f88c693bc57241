"""Editing with unCLIP: input pictures and masks, variations, interpolation, text-diff edits,
inpainting, outpainting, img2img, their provenance and their errors (tiny random models; the
methods' correctness with exact denoisers is in test_diffusion.py, and their quality with the
shipped models in benchmarks/edit_world.py)."""

import hashlib
import io
import json
import struct
import subprocess
import sys
import zlib

import numpy as np
import pytest
import torch
from PIL import Image

from promptism.errors import PromptismError
from promptism.pipelines.edit import (
    context_box,
    inpaint,
    interpolate,
    outpaint,
    parse_pad,
    slerp,
    text_diff,
    vary,
)
from promptism.pipelines.images import open_image, open_mask
from promptism.pipelines.provenance import read_provenance, save_animation
from promptism.pipelines.unclip import generate

FAST = dict(steps=3, upsampler_steps=2, prior_steps=2)


def _px(images):
    return np.stack([np.asarray(im, dtype=np.int16) for im in images])


def _picture(w=32, h=32, seed=0) -> Image.Image:
    rng = np.random.default_rng(seed)
    arr = np.full((h, w, 3), 250, np.uint8)
    arr[h // 4 : h // 2, w // 3 : w // 3 + 8] = rng.integers(0, 255, 3)
    return Image.fromarray(arr)


def _png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims width × height pixels, with one tiny data chunk."""

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 4)) + chunk(b"IEND", b"")


# --- pictures and masks -------------------------------------------------------------------------
def test_open_image_reads_paths_bytes_and_pil_and_lays_transparency_on_white(tmp_path):
    rgba = Image.new("RGBA", (5, 4), (255, 0, 0, 0))
    rgba.putpixel((0, 0), (0, 0, 255, 255))
    path = tmp_path / "a.png"
    rgba.save(path)
    src = open_image(path)
    assert src.image.mode == "RGB" and src.image.size == (5, 4)
    assert src.image.getpixel((1, 1)) == (255, 255, 255) and src.image.getpixel((0, 0)) == (0, 0, 255)
    assert src.sha256 == hashlib.sha256(path.read_bytes()).hexdigest() and src.name == "a.png"
    assert open_image(path.read_bytes()).sha256 == src.sha256
    assert open_image(rgba).image.size == (5, 4)


@pytest.mark.parametrize(
    "make,msg",
    [
        (lambda p: p.write_text("not a picture"), "not a picture Pillow can read"),
        (lambda p: p.write_bytes(_png_claiming(10_000, 10_000)), "10000×10000 pixels; at most"),
        (lambda p: p.write_bytes(_png_claiming(50_000, 50_000)), "claims 2,500,000,000 pixels; at most"),
        (lambda p: p.write_bytes(_png_claiming(16, 16)), "damaged or truncated"),
        (lambda p: None, "is not a file"),
    ],
)
def test_bad_pictures_are_refused_clearly(tmp_path, make, msg):
    path = tmp_path / "in.png"
    make(path)
    with pytest.raises(PromptismError, match=msg):
        open_image(path)


def test_masks_white_or_transparent_of_the_same_size_marking_something(tmp_path):
    m = np.zeros((4, 6), np.uint8)
    m[1:3, 2:4] = 200
    Image.fromarray(m).save(tmp_path / "m.png")
    mask, sha = open_mask(tmp_path / "m.png", (6, 4))
    assert mask.sum() == 4 and mask[1, 2] and not mask[0, 0] and len(sha) == 64
    with pytest.raises(PromptismError, match="6×4 pixels but the picture is 8×4"):
        open_mask(tmp_path / "m.png", (8, 4))
    Image.fromarray(np.full((4, 6), 100, np.uint8)).save(tmp_path / "dark.png")
    with pytest.raises(PromptismError, match="marks nothing"):
        open_mask(tmp_path / "dark.png", (6, 4))
    alpha = Image.new("RGBA", (6, 4), (0, 0, 0, 255))
    alpha.putpixel((5, 3), (0, 0, 0, 0))  # OpenAI: transparent = repaint
    alpha.save(tmp_path / "a.png")
    mask, _ = open_mask(tmp_path / "a.png", (6, 4), "alpha")
    assert mask.sum() == 1 and mask[3, 5]
    with pytest.raises(PromptismError, match="no transparency"):
        open_mask(tmp_path / "m.png", (6, 4), "alpha")


def test_context_box_is_a_square_around_the_mask_inside_the_picture():
    mask = np.zeros((64, 64), bool)
    mask[:28, :28] = True
    assert context_box(mask) == (0, 0, 37, 37)  # 1.3 × 28, moved inside the picture
    tiny = np.zeros((64, 64), bool)
    tiny[40, 40] = True
    x0, y0, x1, y1 = context_box(tiny)
    assert x1 - x0 == y1 - y0 == 32 and x0 <= 40 < x1 and y0 <= 40 < y1  # at least half the picture
    wide = np.zeros((20, 50), bool)
    wide[:, :10] = True
    assert context_box(wide) == (0, 0, 20, 20)  # never more than the shorter side


def test_slerp_runs_along_the_great_circle():
    a, b = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 1.0]])
    assert torch.allclose(slerp(a, b, 0.0), a, atol=1e-6) and torch.allclose(slerp(a, b, 1.0), b, atol=1e-6)
    mid = slerp(a, b, 0.5)
    assert torch.allclose(mid, torch.tensor([[0.5**0.5, 0.5**0.5]]), atol=1e-6)
    assert torch.allclose(slerp(3 * a, b, 0.5).norm(), torch.tensor(2.0))  # norms interpolate linearly


# --- variations, interpolation, text-diff ---------------------------------------------------------
def test_variations_are_seeded_distinct_and_name_their_source(models, tmp_path):
    path = tmp_path / "src.png"
    _picture(40, 30).save(path)
    kw = dict(n=3, seed=4, size=32, models=models, **FAST)
    a, b = vary(path, **kw), vary(path, **kw)
    assert [im.size for im in a.images] == [(32, 32)] * 3
    assert np.array_equal(_px(a.images), _px(b.images))
    px = _px(a.images)
    assert all(not np.array_equal(px[i], px[j]) for i in range(3) for j in range(i))
    meta = a.metadata[1]
    assert meta["operation"] == "vary" and meta["seed"] == 5 and meta["invert"] is True
    assert meta["source"]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert meta["settings"]["eta"] == 0.5
    fresh = vary(path, invert=False, **kw)
    assert fresh.metadata[0]["invert"] is False and not np.array_equal(_px(fresh.images), px)
    with pytest.raises(PromptismError, match="strength"):
        vary(path, strength=0.0, **kw)


class _GreyClip:
    """A reranker that sees only a picture's mean grey level: its embedding is (g, 1 - g) normalised."""

    image_size = 32

    def encode_image(self, images):
        g = torch.tensor([float(np.asarray(im).mean()) / 255.0 for im in images])
        return torch.nn.functional.normalize(torch.stack([g, 1 - g], 1), dim=1)


def test_variations_rerank_towards_their_source(models, tmp_path, monkeypatch):
    from promptism.pipelines import edit
    from promptism.pipelines.settings import CANDIDATE_STRIDE

    monkeypatch.setattr(edit, "load_reranker", lambda name: (_GreyClip(), None))
    path = tmp_path / "src.png"
    _picture(40, 30).save(path)
    kw = dict(size=32, models=models, **FAST)
    r = vary(path, n=2, seed=4, rerank=3, **kw)
    from promptism.pipelines.images import square

    want = _GreyClip().encode_image([square(Image.open(path).convert("RGB"), 32)])[
        0
    ]  # the source as the reranker sees it
    cands = [vary(path, n=2, seed=(4 + j * CANDIDATE_STRIDE) % 2**32, rerank=1, **kw) for j in range(3)]
    for i, md in enumerate(r.metadata):
        close = [float(_GreyClip().encode_image([c.images[i]])[0] @ want) for c in cands]
        assert md["rerank"]["candidate"] == int(np.argmax(close)) and md["settings"]["rerank"] == 3
        assert np.allclose(md["rerank"]["scores"], close, atol=1e-4)
        diff = np.abs(_px([r.images[i]]).astype(int) - _px([cands[md["rerank"]["candidate"]].images[i]]).astype(int))
        assert diff.max() <= 1
    assert len({_px([c.images[0]]).tobytes() for c in cands}) == 3  # three different candidates to pick from
    # unless asked, a variation is the best of vary's own count of candidates, not generate's
    from promptism.pipelines.settings import VARY_RERANK

    md = vary(path, n=1, seed=4, **kw).metadata[0]
    assert md["settings"]["rerank"] == VARY_RERANK and len(md["rerank"]["scores"]) == VARY_RERANK


def test_edits_other_than_variations_do_not_rerank(models):
    from promptism.pipelines.settings import Settings

    kw = dict(frames=2, seed=2, size=32, models=models, **FAST)
    with pytest.raises(PromptismError, match="rerank applies to generate and vary only"):
        interpolate(_picture(), "a blue square", rerank=2, **kw)
    # settings that rerank (a server's defaults) still work, and the frames say they were not reranked
    r = interpolate(_picture(), "a blue square", settings=Settings(rerank=3), **kw)
    assert r.metadata[0]["settings"]["rerank"] == 1 and "rerank" not in r.metadata[0]


def test_interpolation_frames_start_at_the_same_end_whatever_the_other_end(models):
    kw = dict(frames=4, seed=2, size=32, models=models, **FAST)
    start = _picture(seed=1)
    ab = interpolate(start, "a blue square", **kw)
    ac = interpolate(start, _picture(seed=2), **kw)
    assert len(ab.images) == 4 and [m["theta"] for m in ab.metadata] == [0.0, 0.3333, 0.6667, 1.0]
    # θ = 0 is the start alone: the same picture up to the last bit of float rounding, which the
    # other frames in its batch may move on some CPUs (on one without AVX-512, 2 of 3,072 values
    # differed by 1)
    assert np.abs(_px(ab.images[:1]) - _px(ac.images[:1])).max() <= 1
    assert np.abs(_px(ab.images[-1:]) - _px(ac.images[-1:])).max() > 8
    assert ab.metadata[0]["end"] == {"prompt": "a blue square"} and "sha256" in ab.metadata[0]["start"]
    with pytest.raises(PromptismError, match="at least 2 frames"):
        interpolate(start, "a red circle", frames=1, models=models)


def test_text_diff_frames_grow_towards_the_target(models):
    r = text_diff(_picture(), "a red circle", "a blue circle", amount=0.4, frames=2, size=32, models=models, **FAST)
    assert [m["theta"] for m in r.metadata] == [0.2, 0.4]
    assert r.metadata[0]["operation"] == "text_diff" and r.metadata[0]["target_text"] == "a blue circle"
    assert not np.array_equal(*_px(r.images))
    with pytest.raises(PromptismError, match="the same"):
        text_diff(_picture(), "a red circle", "a red circle", models=models)
    with pytest.raises(PromptismError, match="amount"):
        text_diff(_picture(), "a red circle", "a blue circle", amount=2.0, models=models)


# --- inpainting, outpainting, img2img -------------------------------------------------------------
# with the residual upsampler too: RePaint there joins the known pixels in its diffusion's own space
@pytest.mark.parametrize("which", ["models", "residual_models"])
def test_inpainting_changes_only_the_masked_pixels_at_the_pictures_own_size(which, request):
    models = request.getfixturevalue(which)
    pic = _picture(48, 36)
    mask = np.zeros((36, 48), bool)
    mask[2:14, 30:46] = True
    r = inpaint(pic, mask, "a yellow star", n=2, seed=1, size=32, models=models, resample=2, **FAST)
    px, orig = _px(r.images), np.asarray(pic, np.int16)
    assert px.shape == (2, 36, 48, 3)
    assert np.array_equal(px[:, ~mask], np.broadcast_to(orig[~mask], px[:, ~mask].shape))
    assert (px[:, mask] != orig[mask]).any(axis=(1, 2)).all()
    meta = r.metadata[0]
    assert meta["operation"] == "inpaint" and meta["prompt"] == "a yellow star" and meta["resample"] == 2
    assert meta["repainted_fraction"] == round(mask.mean(), 4)
    no_prompt = inpaint(pic, mask, "", n=1, size=32, models=models, resample=1, **FAST)
    assert no_prompt.metadata[0]["prompt"] == ""
    with pytest.raises(PromptismError, match="marks nothing"):
        inpaint(pic, np.zeros((36, 48), bool), "a red circle", models=models)
    with pytest.raises(PromptismError, match="same size"):
        inpaint(pic, np.ones((36, 40), bool), "a red circle", models=models)
    with pytest.raises(PromptismError, match="resample"):
        inpaint(pic, mask, "a red circle", resample=0, models=models)


@pytest.fixture(scope="module")
def inpaint_models(tiny, tmp_path_factory):
    """The tiny models with an inpainting decoder: the tiny decoder widened, its new channels random."""
    from dataclasses import replace

    from promptism.pipelines.unclip import load_models
    from promptism.unclip.decoder import Decoder, widen
    from promptism.unclip.folders import Stage, load_stage

    plain = load_stage(str(tiny / "decoder"), "decoder")
    cfg = plain.model.config
    cfg = replace(cfg, inpaint=True, unet=replace(cfg.unet, in_channels=7))
    dec = widen(Decoder(cfg), plain.model.state_dict())
    with torch.no_grad():
        new = dec.unet.conv_in.weight[:, 3 * cfg.unet.unshuffle**2 :]
        new.normal_(0, 0.2, generator=torch.Generator().manual_seed(4))
    folder = tmp_path_factory.mktemp("inpaint") / "decoder"
    Stage("decoder", dec, plain.diffusion, {}, plain.tokenizer).save(
        folder, extra={"vocabulary": plain.meta["vocabulary"]}
    )
    return load_models(str(tiny / "clip"), str(tiny / "prior"), str(folder), (str(tiny / "up32"),))


def test_inpainting_through_the_decoders_inpainting_channels(inpaint_models, models, monkeypatch):
    pic, other = _picture(32, 32, seed=0), _picture(32, 32, seed=5)
    mask = np.zeros((32, 32), bool)
    mask[:16, 16:] = True
    kw = dict(n=2, seed=3, size=32, resample=1, **FAST)
    r = inpaint(pic, mask, "a yellow star", models=inpaint_models, method="auto", **kw)
    px, orig = _px(r.images), np.asarray(pic, np.int16)
    assert np.array_equal(px[:, ~mask], np.broadcast_to(orig[~mask], px[:, ~mask].shape))
    assert r.metadata[0]["method"] == "decoder"  # auto takes the channels when the decoder has them
    # without a method it is RePaint, even with a decoder that has the channels
    assert inpaint(pic, mask, "a yellow star", models=inpaint_models, **kw).metadata[0]["method"] == "repaint"
    # the decoder reads the kept pixels: its pictures (what the upsampler gets) differ for another
    # picture around the same hole, and are the same for the same picture
    from promptism.pipelines import inpaint as painting

    decoded = []

    def spy(stage, low, gens, s):
        decoded.append(low.clone())
        return real(stage, low, gens, s)

    real = painting.upsampler_denoise
    monkeypatch.setattr(painting, "upsampler_denoise", spy)
    for p in (pic, other, pic):
        inpaint(p, mask, "a yellow star", models=inpaint_models, method="decoder", **kw)
    left, top, right, bottom = painting.context_box(mask)
    hole = painting.mask_at(mask[top:bottom, left:right], 16)[0, 0].bool()
    assert hole.any() and not hole.all()
    assert not torch.equal(decoded[0][..., hole], decoded[1][..., hole])
    assert torch.equal(decoded[0], decoded[2])
    assert (
        inpaint(pic, mask, "a yellow star", models=inpaint_models, method="repaint", **kw).metadata[0]["method"]
        == "repaint"
    )
    assert inpaint(pic, mask, "a yellow star", models=models, **kw).metadata[0]["method"] == "repaint"
    with pytest.raises(PromptismError, match="no inpainting channels"):
        inpaint(pic, mask, "a yellow star", models=models, method="decoder", **kw)
    with pytest.raises(PromptismError, match="methods are auto, decoder, repaint"):
        inpaint(pic, mask, "a yellow star", models=inpaint_models, method="glide", **kw)
    out = outpaint(pic, {"right": 8}, n=1, size=32, models=inpaint_models, resample=1, method="decoder", **FAST)
    assert out.metadata[0]["method"] == "decoder" and np.array_equal(np.asarray(out.images[0])[:, :32], np.asarray(pic))
    # an inpainting decoder with nothing known is a plain decoder: text-to-image still works
    g = generate("a red circle", n=1, seed=1, size=32, models=inpaint_models, **FAST)
    assert np.asarray(g.images[0]).std() > 0


def test_outpainting_grows_the_picture_and_keeps_it_where_it_was(models):
    pic = _picture(32, 32)
    r = outpaint(pic, {"left": 8, "top": 4}, n=1, size=32, models=models, resample=1, **FAST)
    out = np.asarray(r.images[0])
    assert out.shape == (36, 40, 3)
    assert np.array_equal(out[4:, 8:], np.asarray(pic))
    assert r.metadata[0]["pad"] == {"left": 8, "right": 0, "top": 4, "bottom": 0}
    assert parse_pad("left=16, bottom=2") == {"left": 16, "right": 0, "top": 0, "bottom": 2}
    for bad, msg in (("middle=3", "sides"), ("left=x", "whole number"), ("left", "side=pixels")):
        with pytest.raises(PromptismError, match=msg):
            parse_pad(bad)
    with pytest.raises(PromptismError, match="needs some padding"):
        outpaint(pic, {}, models=models)
    with pytest.raises(PromptismError, match="from 0 to"):
        outpaint(pic, {"left": -3}, models=models)


def test_img2img_starts_from_the_init_picture(models, tmp_path, monkeypatch):
    from promptism.pipelines import unclip

    # the tiny random upsampler hides its input under its own noise: upscale plainly instead,
    # so that the decoder's pictures can be compared with the init picture
    monkeypatch.setattr(unclip, "upsample", lambda stage, low, *a: torch.nn.functional.interpolate(low, scale_factor=2))
    path = tmp_path / "init.png"
    init = _picture(seed=3)
    init.save(path)
    kw = dict(n=1, seed=0, size=32, models=models, **{**FAST, "sampler": "ddim", "steps": 5})  # t = 999, 749, …, 0
    low, high = (
        generate("a red circle", init=path, strength=0.3, **kw),
        generate("a red circle", init=path, strength=0.9, **kw),
    )
    plain = generate("a red circle", **kw)
    assert low.metadata[0]["operation"] == "img2img" and low.metadata[0]["strength"] == 0.3
    assert low.metadata[0]["source"]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert plain.metadata[0]["operation"] == "generate"
    target = np.asarray(init.resize((16, 16), Image.BICUBIC).resize((32, 32), Image.NEAREST), np.int16)
    dist = {
        k: float(np.abs(_px(r.images)[0] - target).mean()) for k, r in (("low", low), ("high", high), ("plain", plain))
    }
    assert dist["low"] < 0.5 * dist["high"] and dist["low"] < 0.5 * dist["plain"]  # low strength keeps the init
    with pytest.raises(PromptismError, match="strength"):
        generate("a red circle", init=path, strength=1.5, **kw)
    (tmp_path / "x.png").write_text("text")
    with pytest.raises(PromptismError, match="init image"):
        generate("a red circle", init=tmp_path / "x.png", **kw)


def test_animations_loop_there_and_back_with_provenance(tmp_path):
    frames = [Image.new("RGB", (8, 8), (40 * i, 0, 0)) for i in range(4)]
    path = save_animation(frames, tmp_path / "a.gif", {"operation": "interpolate"}, 100)
    with Image.open(path) as im:
        assert im.n_frames == 6 and im.info.get("loop") == 0
        assert json.loads(im.info["comment"])["operation"] == "interpolate"
    assert json.loads((tmp_path / "a.json").read_text())["frames"] == 4
    webp = save_animation(frames, tmp_path / "a.webp", {"operation": "interpolate"}, bounce=False)
    with Image.open(webp) as im:
        assert im.n_frames == 4


# --- the command line -----------------------------------------------------------------------------
def _cli(tiny, *args):
    models = [
        "--clip",
        str(tiny / "clip"),
        "--prior",
        str(tiny / "prior"),
        "--decoder",
        str(tiny / "decoder"),
        "--upsamplers",
        str(tiny / "up32"),
        "--size",
        "32",
        "--steps",
        "3",
        "--upsampler-steps",
        "2",
        "--quiet",
    ]
    return subprocess.run(
        [sys.executable, "-m", "promptism.cli", *args, *models], capture_output=True, text=True, timeout=300
    )


@pytest.mark.slow
def test_cli_editing_commands_write_pictures_with_provenance(tiny, tmp_path):
    src, mask = tmp_path / "src.png", tmp_path / "mask.png"
    _picture(32, 32).save(src)
    m = np.zeros((32, 32), np.uint8)
    m[:12, :12] = 255
    Image.fromarray(m).save(mask)
    out = tmp_path / "out"
    r = _cli(tiny, "vary", str(src), "-n", "2", "--out", str(out))
    assert r.returncode == 0, r.stderr[-2000:]
    assert read_provenance(out / "vary-1.png")["source"]["name"] == "src.png"
    r = _cli(
        tiny, "inpaint", str(src), "--mask", str(mask), "a yellow star", "-n", "1", "--resample", "1", "--out", str(out)
    )
    assert r.returncode == 0, r.stderr[-2000:]
    meta = read_provenance(out / "inpaint-0.png")
    assert meta["operation"] == "inpaint" and meta["mask_sha256"] == hashlib.sha256(mask.read_bytes()).hexdigest()
    r = _cli(tiny, "interpolate", str(src), "a blue square", "--frames", "3", "--out", str(out))
    assert r.returncode == 0, r.stderr[-2000:]
    assert (out / "interpolate-0-strip.png").exists() and (out / "interpolate-0.gif").exists()
    assert read_provenance(out / "interpolate-0-frame2.png")["theta"] == 1.0
    r = _cli(
        tiny, "edit", str(src), "--from", "a red circle", "--to", "a blue circle", "--frames", "2", "--out", str(out)
    )
    assert r.returncode == 0 and (out / "edit-0-strip.png").exists(), r.stderr[-2000:]
    r = _cli(tiny, "outpaint", str(src), "--pad", "right=8", "-n", "1", "--resample", "1", "--out", str(out))
    assert r.returncode == 0 and Image.open(out / "outpaint-0.png").size == (40, 32), r.stderr[-2000:]


@pytest.mark.parametrize(
    "case",
    ["mask of another size", "not a picture", "10000 x 10000", "empty mask", "missing end", "strength without init"],
)
def test_cli_refuses_bad_input_clearly_and_writes_nothing(tiny, tmp_path, case):
    src, mask, out = tmp_path / "src.png", tmp_path / "mask.png", tmp_path / "out"
    _picture(32, 32).save(src)
    Image.fromarray(np.full((32, 32), 255, np.uint8)).save(mask)
    if case == "mask of another size":
        Image.fromarray(np.full((20, 32), 255, np.uint8)).save(mask)
        msg = "must be the same size"
    elif case == "not a picture":
        src.write_text("hello")
        msg = "not a picture"
    elif case == "10000 x 10000":
        src.write_bytes(_png_claiming(10_000, 10_000))
        msg = "10000×10000"
    elif case == "empty mask":
        Image.fromarray(np.zeros((32, 32), np.uint8)).save(mask)
        msg = "marks nothing"
    if case == "missing end":
        r = _cli(tiny, "interpolate", str(tmp_path / "nope.png"), "a red circle", "--out", str(out))
        msg = "no such picture"
    elif case == "strength without init":
        r = _cli(tiny, "generate", "a red circle", "--strength", "0.3", "--out", str(out))
        msg = "give --init"
    else:
        r = _cli(tiny, "inpaint", str(src), "--mask", str(mask), "a yellow star", "--out", str(out))
    assert r.returncode == 2 and msg in r.stderr, r.stderr[-2000:]
    assert not out.exists()


def test_pictures_from_bytes_hash_like_their_file(tmp_path):
    buf = io.BytesIO()
    _picture().save(buf, format="PNG")
    assert open_image(buf.getvalue()).sha256 == hashlib.sha256(buf.getvalue()).hexdigest()


def test_the_edits_and_img2img_keep_their_own_sampler_steps_and_guidance_unless_asked(models, tmp_path):
    from promptism.pipelines.settings import (
        EDIT_GUIDANCE_INTERVAL,
        EDIT_SAMPLER,
        IMG2IMG_STEPS,
        INVERSION_STEPS,
        Settings,
    )

    path = tmp_path / "init.png"
    _picture(seed=3).save(path)
    mask = np.zeros((32, 32), bool)
    mask[:8, :8] = True
    kw = dict(n=1, seed=0, models=models, upsampler_steps=2, prior_steps=2)

    def used(result):
        s = result.metadata[0]["settings"]
        return s["sampler"], s["steps"], s["guidance_interval"]

    assert Settings().sampler != EDIT_SAMPLER  # generate's own differs: the edits are asked for theirs
    assert used(generate("a red circle", size=32, **kw)) == (
        Settings().sampler,
        Settings().steps,
        Settings().guidance_interval,
    )
    assert used(generate("a red circle", init=path, size=32, strength=0.1, **kw)) == (
        EDIT_SAMPLER,
        IMG2IMG_STEPS,
        EDIT_GUIDANCE_INTERVAL,
    )
    assert used(vary(path, size=32, rerank=1, **kw)) == (EDIT_SAMPLER, INVERSION_STEPS, EDIT_GUIDANCE_INTERVAL)
    assert used(inpaint(path, mask, "a red circle", steps=2, **kw)) == (EDIT_SAMPLER, 2, EDIT_GUIDANCE_INTERVAL)
    asked = generate("a red circle", init=path, size=32, strength=0.1, sampler="dpm++2m", steps=4, **kw)
    assert used(asked) == ("dpm++2m", 4, EDIT_GUIDANCE_INTERVAL)  # what is asked wins
