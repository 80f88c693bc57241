"""The StyleGAN-style GAN: modulation and demodulation, truncation and style mixing, the
differentiable augmentations, training (with an exact resume after a kill), shipping a stopped run,
sampling by seed, latent files, and the commands' errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from clip_helpers import assert_a_killed_run_resumes_exactly, cli
from PIL import Image

from promptism.cli import main
from promptism.errors import PromptismError
from promptism.gan import load, ship
from promptism.gan.augment import augment, cutout, parse_augment, translation
from promptism.gan.model import GANConfig, Generator, ModConv, mix
from promptism.gan.pipeline import load_latent, parse_range, sample, save_latent, style_mix, walk
from promptism.pipelines.provenance import read_provenance

TINY = GANConfig(image_size=16, z_dim=16, w_dim=16, mapping_layers=2, channels=(16, 16, 8), disc_channels=(8, 16, 16))


@pytest.fixture
def trained(tiny_gan):
    """(data folder, run folder) of the session's tiny GAN."""
    return tiny_gan / "data", tiny_gan / "run"


def test_demodulation_keeps_a_unit_variance_input_at_unit_variance_whatever_the_style():
    torch.manual_seed(0)
    conv = ModConv(64, 64, 8, 3, noise_res=None)
    x = torch.randn(16, 64, 16, 16)
    for scale in (0.1, 1.0, 10.0):
        w = torch.randn(16, 8) * scale
        y = conv(x, w) - conv.bias[None, :, None, None]
        assert 0.8 < float(y.std()) < 1.2, scale  # the style changes the mix of channels, not the scale
    conv.demod = False
    y = conv(x, torch.randn(16, 8) * 10) - conv.bias[None, :, None, None]
    assert float(y.std()) > 2  # without demodulation the style's scale passes through


def test_truncation_zero_draws_the_mean_style_for_every_seed_and_one_keeps_them_apart():
    torch.manual_seed(0)
    gen = Generator(TINY).eval()
    gen.w_avg.normal_()
    z = torch.randn(3, TINY.z_dim)
    with torch.no_grad():
        mean = gen(z, truncation=0.0, noise_mode="const")
        assert torch.allclose(mean[0], mean[1], atol=1e-6) and torch.allclose(mean[0], mean[2], atol=1e-6)
        free = gen(z, truncation=1.0, noise_mode="const")
        assert not torch.allclose(free[0], free[1], atol=1e-3)
        ws = gen.ws(z)
        assert ws.shape == (3, TINY.num_ws, TINY.w_dim)


def test_mixing_takes_exactly_the_named_style_rows_and_only_they_change_the_picture():
    torch.manual_seed(0)
    gen = Generator(TINY).eval()
    with torch.no_grad():
        a, b = gen.ws(torch.randn(1, 16)), gen.ws(torch.randn(1, 16))
        m = mix(a, b, [4, 5])
        assert torch.equal(m[:, 4:], b[:, 4:]) and torch.equal(m[:, :4], a[:, :4])
        pa, pm = gen.synthesis(a, "none"), gen.synthesis(m, "none")
        assert not torch.allclose(pa, pm)
        # the last resolution's rows move only fine detail: the 8 px average of the picture stays put
        small = torch.nn.functional.avg_pool2d
        assert (small(pa, 8) - small(pm, 8)).abs().mean() < (pa - pm).abs().mean()


def test_the_generator_learns_its_mean_style_in_training_mode_only():
    gen = Generator(TINY)
    before = gen.w_avg.clone()
    gen.eval()(torch.randn(4, 16))
    assert torch.equal(gen.w_avg, before)
    gen.train()(torch.randn(4, 16))
    assert not torch.equal(gen.w_avg, before)


def test_translation_shifts_the_picture_and_fills_with_grey():
    x = torch.arange(2 * 3 * 8 * 8, dtype=torch.float32).view(2, 3, 8, 8) + 1
    y = translation(x, torch.Generator().manual_seed(3), ratio=0.25)
    for i in range(2):
        # find the shift: the kept part equals the original moved by (dy, dx)
        found = [
            (dy, dx)
            for dy in range(-2, 3)
            for dx in range(-2, 3)
            if torch.equal(
                y[i, :, max(dy, 0) : 8 + min(dy, 0), max(dx, 0) : 8 + min(dx, 0)],
                x[i, :, max(-dy, 0) : 8 + min(-dy, 0), max(-dx, 0) : 8 + min(-dx, 0)],
            )
        ]
        assert len(found) == 1
        dy, dx = found[0]
        assert int((y[i] == 0).sum()) == 3 * (64 - (8 - abs(dy)) * (8 - abs(dx)))


def test_cutout_zeroes_one_square_and_the_augmentations_pass_gradients():
    x = torch.ones(64, 3, 16, 16)
    y = cutout(x, torch.Generator().manual_seed(0))
    zeros = (y[:, 0] == 0).float().sum((1, 2))
    assert zeros.max() == 64 and zeros.min() >= 1  # an 8 px square, sometimes partly outside
    x = torch.randn(4, 3, 16, 16, requires_grad=True)
    augment(x, parse_augment("color,translation,cutout"), torch.Generator().manual_seed(1)).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    with pytest.raises(PromptismError, match="unknown augmentation 'flip'"):
        parse_augment("translation,flip")


def test_training_writes_the_generator_samples_and_a_card(trained):
    _, run = trained
    meta = json.loads((run / "model" / "config.json").read_text())
    assert meta["kind"] == "gan" and meta["steps"] == 6 and meta["task"]["augment"]
    assert sorted(p.name for p in (run / "samples").iterdir()) == ["000003.png", "000006.png"]
    assert Image.open(run / "samples" / "000006.png").size[0] > 4 * 16
    gan = load(run / "model")
    assert not any(k.startswith("d.") for k in gan.generator.state_dict())


def test_a_seed_draws_the_same_picture_whatever_the_other_seeds(trained):
    model = str(trained[1] / "model")
    one = sample([5], model=model)
    many = sample("3-6", model=model)
    assert many.seeds == [3, 4, 5, 6]
    assert np.array_equal(np.asarray(one.images[0]), np.asarray(many.images[2]))
    assert torch.allclose(one.ws[0], many.ws[2])
    meta = one.metadata[0]
    assert meta["generator"] == "stylegan" and meta["seed"] == 5 and meta["truncation"] == 0.7
    assert meta["models"]["gan"]["sha256"]


def test_a_latent_file_redraws_its_picture_and_a_wrong_shape_is_refused(trained, tmp_path):
    model = str(trained[1] / "model")
    r = sample([2], model=model)
    path = save_latent(tmp_path / "two.npz", r.ws[0], {"seed": 2})
    again = sample(model=model, latent=path)
    assert np.array_equal(np.asarray(again.images[0]), np.asarray(r.images[0]))
    cfg = load(model).generator.config
    np.savez(tmp_path / "bad.npz", ws=np.zeros((3, 7), np.float32))
    with pytest.raises(PromptismError, match=r"shape \(3, 7\); this model reads \(6, 16\)"):
        load_latent(tmp_path / "bad.npz", cfg)
    (tmp_path / "junk.npz").write_text("not numpy")
    with pytest.raises(PromptismError, match="not a latent file"):
        load_latent(tmp_path / "junk.npz", cfg)
    assert load_latent(path, cfg).shape == (6, 16)


def test_mix_and_walk_draw_their_figures(trained):
    model = str(trained[1] / "model")
    figure, meta = style_mix("0,1", "2,3,4", "0-1", model=model)
    assert figure.size == (4 * 16 + 5 * 2, 3 * 16 + 4 * 2) and meta["styles"] == [0, 1]
    frames, meta = walk("0,1", frames=6, model=model)
    assert len(frames) == 6 and meta["seeds"] == [0, 1]
    first = sample([0], model=model).images[0]
    assert np.array_equal(np.asarray(frames[0]), np.asarray(first))  # the loop starts at the first seed


def test_ranges_and_settings_are_checked(trained):
    model = str(trained[1] / "model")
    assert parse_range("0-2,7", "seeds", 0, 10) == [0, 1, 2, 7]
    for text, message in [("3-1", "runs backwards"), ("a", "expected numbers"), ("0-20", "from 0 to 9"),
                          ("-1", "expected numbers")]:  # fmt: skip
        with pytest.raises(PromptismError, match=message):
            parse_range(text, "seeds", 0, 10)
    with pytest.raises(PromptismError, match="truncation must be a number from 0.0 to 1.5"):
        sample([0], truncation=2.0, model=model)
    with pytest.raises(PromptismError, match="noise mode must be one of"):
        sample([0], noise_mode="loud", model=model)
    with pytest.raises(PromptismError, match="styles '0-9': each must be from 0 to 5"):
        style_mix("0", "1", "0-9", model=model)
    with pytest.raises(PromptismError, match="at least two seeds"):
        walk("3", model=model)


def test_the_commands_write_pictures_with_provenance_and_refuse_bad_input(trained, tmp_path, capsys):
    model = str(trained[1] / "model")
    out = tmp_path / "out"
    assert main(["gan", "sample", "--seeds", "0-2", "--model", model, "--out", str(out)]) == 0
    assert sorted(p.name for p in out.glob("*.png")) == ["0.png", "1.png", "2.png", "grid.png"]
    assert read_provenance(out / "1.png")["seed"] == 1
    bad = tmp_path / "bad"
    for args, message in [
        (["sample", "--seeds", "5-2"], "runs backwards"),
        (["mix", "--rows", "0", "--cols", "1", "--styles", "0-99"], "each must be from 0 to 5"),
        (["walk", "--seeds", "0,1", "--frames", "1"], "frames must be a whole number from 2"),
    ]:
        assert main(["gan", *args, "--model", model, "--out", str(bad)]) == 2, args
        assert message in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["gan", "sample", "--truncation", "1.6", "--model", model])
    assert "truncation is from 0.0 to 1.5" in capsys.readouterr().err
    assert not bad.exists()


def test_a_stopped_run_ships_its_last_checkpoint(trained, tmp_path):
    _, run = trained
    stopped = tmp_path / "stopped"
    stopped.mkdir()
    for part in ("checkpoint", "model_config.json"):
        src = run / part
        dst = stopped / part
        if src.is_dir():
            dst.mkdir()
            for f in src.iterdir():
                (dst / f.name).write_bytes(f.read_bytes())
        else:
            dst.write_bytes(src.read_bytes())
    folder = ship(stopped, tmp_path / "shipped")
    meta = json.loads((folder / "config.json").read_text())
    assert meta["stopped_early"] and meta["stored_dtype"] == "float16" and meta["steps"] == 6
    a, b = sample([1], model=str(folder)), sample([1], model=str(run / "model"))
    assert np.abs(np.asarray(a.images[0], np.int16) - np.asarray(b.images[0], np.int16)).max() <= 3


@pytest.mark.slow
def test_a_killed_training_run_resumes_exactly(trained, tmp_path):
    data = str(trained[0])

    def args(out):
        return cli("train", "gan", "--data", data, "--out", str(out), "--preset", "tiny", "--quiet",
                   "--steps", "40", "--checkpoint-every", "5")  # fmt: skip

    assert_a_killed_run_resumes_exactly(args, tmp_path)


def _projected(clip_folder) -> dict:
    from promptism.gan.presets import PRESETS
    from promptism.recipes import merge

    extra = {"discriminator": "projected", "features": str(clip_folder), "width": 8, "r1_every": 0}
    return merge(PRESETS["tiny"], {"task": extra})


def test_the_projected_discriminator_trains_its_heads_through_frozen_clip_features(tiny, trained):
    from promptism.clip.native import load_folder
    from promptism.gan.training import GANTask, GANTrainer

    settings = _projected(tiny / "clip")
    body = load_folder(tiny / "clip").model.image.body
    torch.manual_seed(0)
    trainer = GANTrainer(TINY, settings["task"]).train()
    d = trainer.d
    assert not d.features.training and d.heads.training
    stats = {k: v.clone() for k, v in d.features.state_dict().items()}
    assert all(torch.equal(stats[k], v) for k, v in body.state_dict().items())
    images = np.random.default_rng(0).integers(0, 256, (8, 16, 16, 3), dtype=np.uint8)
    loss, logs = GANTask(images, TINY, settings["task"]).loss(trainer, np.arange(8), step=1)
    loss.backward()
    assert {"g_loss", "d_loss"} <= logs.keys() and "r1" not in logs
    assert all(p.grad is None for p in d.features.parameters())
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in d.heads.parameters())
    # the generator learns through the frozen features: its RGB outputs get gradients
    assert sum(float(p.grad.abs().sum()) for n, p in trainer.g.named_parameters() if "rgb" in n) > 0
    # BatchNorm kept its stored statistics: the features are read, never trained
    assert all(torch.equal(stats[k], v) for k, v in d.features.state_dict().items())


def test_a_run_with_the_projected_discriminator_keeps_the_clip_features_unchanged(tiny, trained, tmp_path):
    from safetensors.torch import load_file

    from promptism.clip.native import load_folder
    from promptism.gan.training import train_gan

    data = str(trained[0])
    out = train_gan(data, str(tmp_path / "run"), settings=_projected(tiny / "clip"), progress=False)
    assert sample([0], model=str(out)).images[0].size == (16, 16)
    state = load_file(str(tmp_path / "run" / "checkpoint" / "model.safetensors"))
    body = load_folder(tiny / "clip").model.image.body.state_dict()
    assert all(torch.equal(state[f"d.features.{k}"], v) for k, v in body.items())
    assert any(k.startswith("d.heads.") for k in state) and "d.ccm0" in state and "d.csm0" in state


def test_a_bad_discriminator_setting_is_refused_before_training(tiny, trained, tmp_path):
    from promptism.gan.training import train_gan
    from promptism.recipes import merge

    data = str(trained[0])
    for task, message in (
        ({"discriminator": "huge"}, "unknown discriminator 'huge'"),
        ({"discriminator": "projected", "features": "hf:openai/clip"}, "not an hf: one"),
        ({"discriminator": "projected", "features": str(tmp_path / "nowhere")}, "no CLIP at"),
    ):
        with pytest.raises(PromptismError, match=message):
            train_gan(data, str(tmp_path / "run"), settings=merge(_projected(tiny / "clip"), {"task": task}))


@pytest.mark.slow
def test_a_killed_run_with_the_projected_discriminator_resumes_exactly(tiny, trained, tmp_path):
    recipe = tmp_path / "projected.toml"
    recipe.write_text(
        f'kind = "gan"\nbase = "tiny"\n[task]\ndiscriminator = "projected"\nfeatures = "{tiny / "clip"}"\n'
        "width = 8\nr1_every = 0\n"
    )
    data = str(trained[0])

    def args(out):
        return cli("train", "gan", "--data", data, "--out", str(out), "--config", str(recipe), "--quiet",
                   "--steps", "40", "--checkpoint-every", "5")  # fmt: skip

    assert_a_killed_run_resumes_exactly(args, tmp_path)


def test_projection_finds_styles_that_redraw_the_generators_own_picture(trained, tmp_path):
    from promptism.gan.project import project

    model = str(trained[1] / "model")
    target = sample([4], model=model, truncation=1.0).images[0]
    start = sample([0], model=model, truncation=0.0).images[0]  # the mean style: the search's start
    r = project([target], model=model, steps=80, frame_every=20, perceptual_clip="world")
    err = lambda a: np.abs(np.asarray(a, np.float64) - np.asarray(target, np.float64)).mean()  # noqa: E731
    assert err(r.images[0]) < 0.7 * err(start)
    assert r.ws.shape == (1, 6, 16) and len(r.frames[0]) == 5  # steps 0, 20, 40, 60 and the last
    assert r.metadata[0]["operation"] == "project" and r.metadata[0]["target_sha256"]
    with pytest.raises(PromptismError, match="steps must be a whole number"):
        project([target], model=model, steps=0)


def test_knobs_are_orthonormal_directions_by_falling_spread_and_get_named(trained, tmp_path):
    from promptism.gan import load
    from promptism.gan.knobs import find_knobs, load_knobs, name_knobs

    gen = load(trained[1] / "model").generator
    k = find_knobs(gen, 4)
    assert torch.allclose(k.directions @ k.directions.T, torch.eye(4), atol=1e-4)
    assert all(a >= b for a, b in zip(k.spreads, k.spreads[1:]))
    named = name_knobs(gen, k, seeds=4)
    assert all(" → " in n for n in named.names)
    family = named.changes[0]
    assert set(family) == {"colour", "shape", "size", "background", "style", "count"}
    lo, hi = named.names[0].split(" → ")
    moved = next(f for f in family.values() if lo in f and hi in f)
    assert moved[hi] == max(moved.values()) and moved[lo] == min(moved.values())
    path = named.save(tmp_path / "knobs.npz", {})
    again = load_knobs(path, 16)
    assert again.names == named.names and torch.equal(again.directions, named.directions)
    with pytest.raises(PromptismError, match="knobs of a 16-wide W"):
        load_knobs(path, 32)


def test_an_edit_moves_only_the_named_layers_and_towards_lowers_the_clip_distance(trained, tmp_path):
    from promptism.gan.knobs import edit, find_knobs

    model = str(trained[1] / "model")
    gen = load(model).generator
    path = find_knobs(gen, 3).save(tmp_path / "knobs.npz", {})
    r = edit(seed=2, knob="1:+3", knobs_file=path, layers="0-1", model=model)
    base = sample([2], model=model).ws[0]
    assert torch.equal(r.ws[2:], base[2:]) and not torch.allclose(r.ws[:2], base[:2])
    assert r.metadata["layers"] == [0, 1] and r.metadata["knob"] == 1
    for kwargs, message in [
        (dict(seed=2, knob="7:+1", knobs_file=path), "has knobs 0 to 2"),
        (dict(seed=2, knob="1:+20", knobs_file=path), "from -10 to \\+10"),
        (dict(seed=2, knob="1", knobs_file=path), "INDEX:AMOUNT"),
        (dict(seed=2, knob="1:+1", knobs_file=path, layers="4-9"), "layers '4-9'"),
        (dict(seed=2), "a knob .* or a text"),
        (dict(knob="1:+1", knobs_file=path), "a seed or a latent"),
    ]:
        with pytest.raises(PromptismError, match=message):
            edit(model=model, **kwargs)
    from promptism.clip import load as load_clip

    clip = load_clip("world")
    text = clip.encode_text(["a blue circle"])
    t = edit(seed=2, towards="a blue circle", steps=30, l2=0.0, model=model)
    score = lambda im: float(clip.encode_image(im) @ text.T)  # noqa: E731
    assert score(t.after) > score(t.before)


def test_guide_optimises_a_gans_styles(trained, tmp_path):
    from promptism.guide import guide

    model = str(trained[1] / "model")
    r = guide("a red star", generator="stylegan", gan=model, steps=5, size=32)
    assert r.images[0].size == (32, 32)
    assert r.metadata[0]["settings"]["gan"]["sha256"] == load(model).models["gan"]["sha256"]


def test_the_shipped_gan_world_loads_by_name_and_draws_a_seed_the_same_way():
    a, b = sample([7, 8]), sample([8])
    assert a.images[0].size == (64, 64) and a.metadata[0]["models"]["gan"]["name"] == "world"
    assert np.array_equal(np.asarray(a.images[1]), np.asarray(b.images[0]))
