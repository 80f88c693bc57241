"""CLIP-guided generation (`promptism guide`) and DeepDream (`promptism dream`) on the shipped CLIP:
weighted prompts, the same seed giving the same picture, CLIP's score rising, negative prompts
pushing away, both parametrisations round-tripping a starting picture, the layer's activation and
the prompt's cosine rising in a dream, and clear errors that write nothing."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from promptism.cli import main
from promptism.errors import PromptismError
from promptism.guide import Prompt, dream, guide, list_layers, parse_prompts
from promptism.guide.parametrize import Cutouts, Pixels, Spectrum

FAST = dict(steps=40, cutn=8, clips=("world",), generator="fft")


@pytest.fixture(scope="module")
def red_square(tmp_path_factory):
    path = tmp_path_factory.mktemp("pics") / "red.png"
    img = Image.new("RGB", (64, 64), (128, 128, 128))
    img.paste((220, 40, 40), (16, 16, 48, 48))
    img.save(path)
    return path


def test_prompts_carry_weights_and_bad_ones_are_refused():
    assert parse_prompts("a red star | a yellow star:-1 | blue:0.5") == [
        Prompt("a red star", 1.0),
        Prompt("a yellow star", -1.0),
        Prompt("blue", 0.5),
    ]
    assert parse_prompts("ratio 2:1") == [Prompt("ratio 2", 1.0)]  # the last colon's number is a weight
    for bad, msg in [
        ("a star:heavy", "is not a number: 'heavy'"),
        ("a star:nan", "must be a finite number"),
        ("a | | b", "an empty prompt between '|'"),
        (":2", "has no text before its weight"),
    ]:
        with pytest.raises(PromptismError, match=msg):
            parse_prompts(bad)


@pytest.mark.parametrize("kind", [Pixels, Spectrum])
def test_both_parametrisations_start_from_the_picture_they_are_given(kind, red_square):
    from promptism.pipelines.images import open_image, to_tensor

    start = to_tensor([open_image(red_square).image])
    out = kind(64, start, 0.0, torch.Generator().manual_seed(0))()
    assert out.shape == (1, 3, 64, 64) and (out - start).abs().max() < 2e-3


def test_cutouts_are_reproducible_and_in_range():
    img = torch.rand(1, 3, 96, 96) * 2 - 1
    a = Cutouts(64, 6, 1.0, ("flip", "affine", "noise", "colour"), torch.Generator().manual_seed(3))(img)
    b = Cutouts(64, 6, 1.0, ("flip", "affine", "noise", "colour"), torch.Generator().manual_seed(3))(img)
    assert a.shape == (6, 3, 64, 64) and torch.equal(a, b) and a.min() >= -1 and a.max() <= 1


def test_guide_is_seeded_per_picture_and_raises_clips_score():
    prompt = "a red circle above a blue square"
    two = guide(prompt, n=2, seed=5, **FAST)
    one = guide(prompt, n=1, seed=6, **FAST)
    a, b = (np.asarray(im) for im in two.images)
    assert two.seeds == [5, 6] and not np.array_equal(a, b)
    assert np.array_equal(b, np.asarray(one.images[0])), "picture i must not depend on n"
    barely = guide(prompt, seed=5, **{**FAST, "steps": 1})
    assert two.metadata[0]["clip_score"] > barely.metadata[0]["clip_score"] + 0.1
    meta = two.metadata[0]
    assert meta["operation"] == "guide" and meta["prompts"] == [{"text": prompt, "weight": 1.0}]
    assert meta["clips"][0]["name"] == "world" and len(meta["clips"][0]["sha256"]) == 64


def test_a_zoom_video_enlarges_each_frame_and_optimises_it_again():
    r = guide("a red circle", seed=2, zoom_frames=2, zoom=1.5, zoom_steps=3, **FAST)
    frames = r.frames[0]
    assert len(frames) == 3 and np.array_equal(np.asarray(frames[0]), np.asarray(r.images[0]))
    assert r.metadata[0]["settings"]["zoom_frames"] == 2
    # each frame starts from the last one enlarged 1.5 times and moves on from there by a few steps
    from promptism.guide.parametrize import zoomed
    from promptism.pipelines.images import to_tensor

    for before, after in zip(frames, frames[1:]):
        x, y = to_tensor([before]), to_tensor([after])
        assert (y - zoomed(x, 1.5)).abs().mean() < (y - x).abs().mean()
        assert not torch.equal(y, zoomed(x, 1.5))
    with pytest.raises(PromptismError, match="zoom must be a number from 1 to 2"):
        guide("a red circle", zoom_frames=1, zoom=3.0, **FAST)


def test_a_negative_prompt_pushes_the_picture_away():
    from promptism.clip import load

    clip = load("world")
    red = clip.encode_text(["a red circle"])[0]
    plain = guide("a circle", seed=1, **FAST).images[0]
    pushed = guide("a circle | a red circle:-1", seed=1, **FAST).images[0]
    assert float(clip.encode_image(pushed)[0] @ red) < float(clip.encode_image(plain)[0] @ red)


def test_pixels_image_prompts_keep_best_and_256_px(red_square):
    kw = dict(generator="pixels", image_prompts=(f"{red_square}:2",), size=256, keep_best=True)
    fast = {k: v for k, v in FAST.items() if k != "generator"}
    r = guide("", **kw, **fast)
    barely = guide("", **kw, **{**fast, "steps": 1})
    assert r.images[0].size == (256, 256) and r.images[0].mode == "RGB"
    assert r.metadata[0]["image_prompts"] == [{"picture": str(red_square), "weight": 2.0}]
    assert r.metadata[0]["clip_score"] > barely.metadata[0]["clip_score"] + 0.05


@pytest.mark.parametrize(
    "kw,msg",
    [
        (dict(generator="vqgan", size=50), "with the VQGAN, size must be a multiple of 4"),
        (dict(generator="vqgan", vqgan="/no/such"), "no vqgan at '/no/such'"),
        (dict(prompts="a star:-1"), "give at least one positive weight"),
        (dict(generator="gan"), "unknown generator 'gan'; generators are vqgan, pixels, fft"),
        (dict(prompts=""), "give a prompt"),
        (dict(size=16), "size must be a whole number of pixels from 32 to 256"),
        (dict(size=512), "size must be a whole number of pixels from 32 to 256"),
        (dict(init="/no/such.png"), "init picture '/no/such.png' is not a file"),
        (dict(image_prompts=("/no/such.png",)), "image prompt '/no/such.png' is not a file"),
        (dict(augment=("sharpen",)), "unknown augmentation sharpen"),
        (dict(optimizer="lbfgs"), "unknown optimizer"),
        (dict(steps=0), "steps must be"),
    ],
)
def test_bad_guide_requests_get_clear_errors(kw, msg):
    args = {"prompts": "a red star", **FAST, **kw}
    with pytest.raises(PromptismError, match=msg):
        guide(**args)


@pytest.mark.slow
def test_the_vqgan_generator_draws_from_the_shipped_vqgan_at_any_multiple_of_its_factor():
    prompt = "a red circle above a blue square"
    fast = {**FAST, "generator": "vqgan", "canvas": "gray"}  # from the gray canvas: what the steps draw
    a, b = guide(prompt, seed=2, **fast), guide(prompt, seed=2, **fast)
    assert np.array_equal(np.asarray(a.images[0]), np.asarray(b.images[0]))
    barely = guide(prompt, seed=2, **{**fast, "steps": 1})
    assert a.metadata[0]["clip_score"] > barely.metadata[0]["clip_score"] + 0.1
    assert a.metadata[0]["settings"]["vqgan"]["name"] == "world"
    big = guide(prompt, seed=2, size=128, **{**fast, "steps": 2})
    assert big.images[0].size == (128, 128)


def test_dream_raises_its_layer_and_its_prompt_and_keeps_pixels_valid(red_square):
    layered = dream(red_square, layer="body.2", steps=8)
    assert layered.metadata["goal_after"] > 2 * layered.metadata["goal_before"]
    arr = np.asarray(layered.image)
    assert layered.image.size == (64, 64) and arr.dtype == np.uint8
    assert not np.array_equal(arr, np.asarray(Image.open(red_square).convert("RGB")))
    prompted = dream(red_square, prompt="two yellow stars")
    assert prompted.metadata["goal_after"] > prompted.metadata["goal_before"] + 0.1
    zoomed = dream(red_square, steps=2, octaves=1, zoom_frames=3)
    assert len(zoomed.frames) == 4
    from promptism.clip import load

    assert "body.2" in list_layers(load("world"))
    with pytest.raises(PromptismError, match="no layer 'body.9'"):
        dream(red_square, layer="body.9")
    with pytest.raises(PromptismError, match="octaves must be"):
        dream(red_square, octaves=0)


def test_the_cli_writes_pictures_frames_and_a_gif_and_nothing_on_bad_input(red_square, tmp_path, capsys):
    out = tmp_path / "g"
    args = ["guide", "a red circle | a blue square:-0.5", "--out", str(out), "--steps", "6", "--cutn", "2", "-n", "2"]
    args += ["--keep-canvas", "0"]  # every step taken, so that there are frames to save
    assert main([*args, "--save-every", "3", "--video", str(out / "v.gif"), "--quiet"]) == 0
    assert {p.name for p in out.iterdir()} >= {"0.png", "0.json", "1.png", "grid-0-2.png", "frames", "v.gif"}
    assert Image.open(out / "v.gif").n_frames == 2
    zoom = tmp_path / "z"
    assert main(["guide", "a red circle", "--out", str(zoom), "--steps", "4", "--cutn", "2", "--quiet",
                 "--zoom", "2", "--zoom-steps", "2", "--video", str(zoom / "z.webp")]) == 0  # fmt: skip
    assert Image.open(zoom / "z.webp").n_frames == 3 and len(list((zoom / "frames").glob("*.png"))) == 3
    dreamt = tmp_path / "d"
    video = dreamt / "zoom.mp4"
    dream_args = ["dream", str(red_square), "--out", str(dreamt), "--steps", "2", "--zoom", "2", "--quiet"]
    assert main([*dream_args, "--video", str(video)]) == 0
    assert (dreamt / "dream-0.png").exists() and len(list((dreamt / "frames").glob("*.png"))) == 3
    import imageio_ffmpeg

    assert imageio_ffmpeg.count_frames_and_secs(str(video))[0] == 3  # an H.264 MP4 of the three frames
    assert json.loads(video.with_suffix(".json").read_text())["frames"] == 3
    assert not list(dreamt.glob("*.tmp*"))
    capsys.readouterr()
    for bad, msg in [
        (["guide", "x", "--out", str(tmp_path / "b1"), "--video", "v.avi", "--save-every", "2"], "a video is .gif"),
        (["guide", "x:heavy", "--out", str(tmp_path / "b2")], "is not a number"),
        (["guide", "x", "--out", str(tmp_path / "b3"), "--generator", "gan"], "unknown generator"),
        (["dream", str(red_square), "--out", str(tmp_path / "b4"), "--layer", "nope"], "no layer 'nope'"),
        (["dream", str(tmp_path / "none.png"), "--out", str(tmp_path / "b5")], "is not a file"),
        (["guide", "x", "--out", str(tmp_path / "b6"), "--keep-cosine", "1.5"], "keep_cosine must be a cosine"),
    ]:
        assert main(bad) == 2
        err = capsys.readouterr().err
        assert msg in err and "Traceback" not in err, (bad, err)
    assert not any((tmp_path / f"b{i}").exists() for i in range(1, 7)), "a refused request wrote something"


def test_the_cli_offers_the_augmentations_the_library_has():
    # the CLI keeps its own copy of the names so that building it imports no torch
    from promptism.cli.guide import AUGMENTATIONS as CLI
    from promptism.cli.guide import EXTRA_AUGMENTATIONS as CLI_EXTRA
    from promptism.guide.parametrize import AUGMENTATIONS, EXTRA_AUGMENTATIONS

    assert CLI == AUGMENTATIONS and CLI_EXTRA == EXTRA_AUGMENTATIONS


def test_mp4_without_imageio_ffmpeg_says_what_to_install(monkeypatch):
    import sys

    from promptism.pipelines.provenance import check_video_path

    monkeypatch.setitem(sys.modules, "imageio_ffmpeg", None)  # as if it were not installed
    with pytest.raises(PromptismError, match=r"pip install 'promptism\[video\]'"):
        check_video_path("v.mp4")
    check_video_path("v.gif")  # GIF and WebP need nothing more
    with pytest.raises(PromptismError, match="a video is .gif, .webp, .mp4"):
        check_video_path("v.avi")
