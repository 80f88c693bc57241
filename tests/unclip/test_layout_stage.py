"""The layout stage (caption -> objects and places) and decoders that draw from its layouts."""

import os
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from promptism.errors import PromptismError
from promptism.layout import layout_maps, load, quantised
from promptism.layout.model import CHANNELS, COLORS, LayoutConfig, LayoutModel, decode_objects, encode_objects
from promptism.pipelines.unclip import draw_layouts, generate, load_models
from promptism.unclip.folders import load_stage

ENV = {**os.environ, "PROMPTISM_THREADS": "1"}


def _promptism(*args):
    return subprocess.run(
        [sys.executable, "-m", "promptism.cli", *args], capture_output=True, text=True, timeout=300, env=ENV
    )


def _px(result):
    return np.stack([np.asarray(im) for im in result.images])


@pytest.fixture(scope="module")
def layout_stage(data, tmp_path_factory):
    out = tmp_path_factory.mktemp("layout") / "run"
    r = _promptism("train", "layout", "--data", str(data), "--out", str(out), "--preset", "tiny", "--quiet")
    assert r.returncode == 0, r.stderr[-2000:]
    return out / "model"


@pytest.fixture(scope="module")
def layout_decoder(tiny, data, layout_stage, tmp_path_factory):
    """The tiny decoder fine-tuned onto the tiny layout stage's maps, by the CLI."""
    out = tmp_path_factory.mktemp("boxes") / "run"
    args = ["train", "decoder", "--data", str(data), "--out", str(out), "--preset", "tiny", "--init"]
    r = _promptism(*args, str(tiny / "decoder"), "--clip", str(tiny / "clip"), "--layout", str(layout_stage), "--quiet")
    assert r.returncode == 0, r.stderr[-2000:]
    return out / "model"


def _follows_its_layout(stage, draw) -> bool:
    """Whether the pictures ``draw()`` makes with a layout decoder ``stage`` change with its layouts
    (none against one large red circle), once every input channel weighs a lot."""
    stage.model.unet.conv_in.weight.data.mul_(0).add_(0.5)
    stage.layout.draw = lambda captions, gens, temperature=1.0: [[] for _ in captions]  # no objects
    empty = draw()
    stage.layout.draw = lambda captions, gens, temperature=1.0: [
        [dict(color="red", shape="circle", size="large", x=0.5, y=0.5)] for _ in captions
    ]
    return not np.array_equal(empty, draw())


def test_a_layout_goes_to_tokens_and_back_with_centroids_at_their_bins_centres():
    cfg = LayoutConfig(bins=8)
    objects = [
        dict(color="red", shape="circle", size="small", x=0.30, y=0.70),
        dict(color="blue", shape="star", size="large", x=0.99, y=0.0),
    ]
    tokens = encode_objects(objects, cfg)
    assert len(tokens) == cfg.tokens and tokens[10] == 0 and set(tokens[11:]) == {-100}  # END, then no target
    back = decode_objects(tokens, cfg)
    assert [(o["color"], o["shape"], o["size"]) for o in back] == [
        ("red", "circle", "small"),
        ("blue", "star", "large"),
    ]
    assert [(o["x"], o["y"]) for o in back] == [(0.3125, 0.6875), (0.9375, 0.0625)]
    assert quantised(objects, cfg) == back
    with pytest.raises(ValueError, match="at most 8 objects"):
        encode_objects(objects * 5, cfg)


def test_layout_maps_paint_each_box_in_its_colour_and_shape_channels():
    maps = layout_maps([[dict(color="green", shape="square", size="medium", x=0.25, y=0.5)], []], 32)
    assert maps.shape == (2, CHANNELS, 32, 32) and maps[1].abs().sum() == 0  # no objects: all zero
    green, square = COLORS.index("green"), len(COLORS) + 1
    box = maps[0, green]
    rows, cols = torch.nonzero(box, as_tuple=True)
    # a medium square (side 0.28) centred at (0.25, 0.5): x from 3.52 to 12.48 px, y from 11.52 to 20.48 px;
    # the pixels whose centres lie inside
    assert (cols.min(), cols.max(), rows.min(), rows.max()) == (4, 11, 12, 19)
    assert torch.equal(maps[0, square], box) and maps[0].sum() == 2 * box.sum()


def test_the_layout_stage_trains_and_draws_well_formed_layouts_that_follow_their_seeds(layout_stage):
    stage = load(layout_stage)
    gens = lambda *seeds: [torch.Generator().manual_seed(s) for s in seeds]  # noqa: E731
    caption = "a red circle to the left of a blue square"
    a = stage.draw([caption] * 3, gens(1, 2, 3))
    assert a == stage.draw([caption] * 3, gens(1, 2, 3))  # the same seeds, the same layouts
    assert a[1:2] == stage.draw([caption], gens(2))  # a row's layout does not depend on the others
    for objects in a:
        assert len(objects) <= stage.model.config.max_objects
        for o in objects:
            assert 0 < o["x"] < 1 and 0 < o["y"] < 1 and o["color"] in COLORS
    greedy = stage.draw([caption] * 2, gens(4, 5), temperature=0)
    assert greedy[0] == greedy[1]  # temperature 0: the most likely tokens, whatever the seed


def test_the_layout_stage_learns_from_the_scenes():
    """A few hundred steps on one caption's scenes teach the tiny model that caption's colours and
    shapes; random weights write them at about chance."""
    torch.manual_seed(0)
    cfg = LayoutConfig(text_vocab=8, context=4, width=32, layers=1, heads=2, bins=4)
    model = LayoutModel(cfg)
    text = torch.tensor([[1, 2, 3, 0]] * 8)
    objects = [dict(color="pink", shape="diamond", size="large", x=0.2, y=0.8)]
    targets = torch.tensor([encode_objects(objects, cfg)] * 8)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    first = float(model.loss(text, targets))
    for _ in range(150):
        opt.zero_grad()
        loss = model.loss(text, targets)
        loss.backward()
        opt.step()
    assert float(loss) < first / 5
    (drawn,) = [decode_objects(r, cfg) for r in model.sample(text[:1], [torch.Generator().manual_seed(0)], 0)]
    assert drawn == quantised(objects, cfg)


def test_a_layout_stage_needs_scene_records(tmp_path):
    from PIL import Image

    folder = tmp_path / "pics"
    folder.mkdir()
    for i in range(3):
        Image.new("RGB", (16, 16), (i * 50, 0, 0)).save(folder / f"{i}.png")
        (folder / f"{i}.txt").write_text("a red picture")
    r = _promptism("train", "layout", "--data", str(folder), "--out", str(tmp_path / "out"), "--preset", "tiny")
    assert r.returncode != 0 and "has no scene" in r.stderr


def test_a_layout_decoder_starts_as_the_decoder_it_widens(tiny):
    from promptism.unclip.decoder import Decoder, widen, widens

    plain = load_stage(str(tiny / "decoder"), "decoder").model
    c = plain.config
    wide_cfg = replace(c, layout=True, unet=replace(c.unet, in_channels=3 + CHANNELS))
    assert widens(c, wide_cfg) and not widens(wide_cfg, c)
    inpaint = replace(c, inpaint=True, unet=replace(c.unet, in_channels=7))
    both = replace(inpaint, layout=True, unet=replace(c.unet, in_channels=7 + CHANNELS))
    assert widens(inpaint, both) and widens(c, both) and not widens(wide_cfg, both)  # layout channels come last
    wide = widen(Decoder(wide_cfg).eval(), plain.state_dict())
    torch.manual_seed(2)
    b, s = 2, c.image_size
    x, t = torch.randn(b, 3, s, s), torch.tensor([30, 900])
    emb = F.normalize(torch.randn(b, c.clip_dim), dim=-1)
    ids = torch.randint(1, c.vocab_size, (b, c.context))
    mask = torch.ones_like(ids, dtype=torch.bool)
    maps = layout_maps([[dict(color="red", shape="circle", size="large", x=0.5, y=0.5)]] * b, s)
    with torch.no_grad():
        base = plain(x, t, emb, ids, mask)
        assert torch.allclose(wide(x, t, emb, ids, mask, layout=maps), base, atol=1e-6)
        assert torch.equal(wide(x, t, emb, ids, mask), wide(x, t, emb, ids, mask, layout=maps * 0))  # none = zeros
        torch.nn.init.normal_(wide.unet.conv_in.weight, std=0.1)  # once trained, the layout counts
        assert not torch.allclose(wide(x, t, emb, ids, mask, layout=maps), wide(x, t, emb, ids, mask))
    with pytest.raises(ValueError, match="reads no layout"):
        plain(x, t, emb, ids, mask, layout=maps)


def test_a_decoder_fine_tunes_onto_layouts_and_generate_draws_them(tiny, layout_stage, layout_decoder):
    st = load_stage(str(layout_decoder), "decoder")
    assert st.model.config.layout and st.meta["layout"] == str(layout_stage) and st.layout is not None
    assert st.meta["layout_drop"] == 0.2
    models = load_models(str(tiny / "clip"), str(tiny / "prior"), str(layout_decoder), (str(tiny / "up32"),))
    gens = [torch.Generator().manual_seed(s) for s in (7, 8)]
    maps = draw_layouts(models.decoder, "a red circle", gens)
    assert maps.shape == (2, CHANNELS, 16, 16)
    assert draw_layouts(models.decoder, "", gens) is None  # a variation's empty prompt: no layout
    kw = dict(n=2, seed=3, size=32, models=models, steps=3, prior_steps=3, upsampler_steps=2)
    a = _px(generate("a red circle", **kw))
    result = generate("a red circle", **kw)
    assert np.array_equal(a, _px(result))
    assert result.metadata[0]["models"]["layout"]["name"] == str(layout_stage)  # provenance names the layout stage
    assert len(result.metadata[0]["models"]["layout"]["sha256"]) == 64
    assert _follows_its_layout(models.decoder, lambda: _px(generate("a red circle", **kw)))


def test_a_layout_decoder_preset_without_a_layout_stage_is_refused(tiny, data, tmp_path):
    recipe = tmp_path / "boxes.toml"
    recipe.write_text('kind = "decoder"\nbase = "tiny"\nrule = "a test"\nresult = "a test"\n\n[model]\nlayout = true\n')
    args = ["train", "decoder", "--data", str(data), "--out", str(tmp_path / "run"), "--config", str(recipe)]
    r = _promptism(*args, "--clip", str(tiny / "clip"), "--quiet")
    assert r.returncode != 0 and "--layout FOLDER" in r.stderr and not (tmp_path / "run" / "model").exists()


def test_a_layout_decoder_refuses_data_without_scenes_and_a_missing_layout_stage(tiny, tmp_path):
    from promptism.unclip.decoder import Decoder

    cfg = load_stage(str(tiny / "decoder"), "decoder").model.config
    wide = replace(cfg, layout=True, unet=replace(cfg.unet, in_channels=3 + CHANNELS))
    folder = tmp_path / "dec"
    from promptism.checkpoint import save_model

    save_model(folder, "decoder", Decoder(wide), wide, {"diffusion": {}})
    (folder / "tokenizer.json").write_text((tiny / "decoder" / "tokenizer.json").read_text())
    with pytest.raises(PromptismError, match="names no layout stage"):
        load_stage(str(folder), "decoder")
    with pytest.raises(PromptismError, match="no layout at"):
        load(tmp_path / "nowhere")


def test_shipping_a_layout_decoder_names_its_shipped_layout_stage(layout_stage, layout_decoder, tmp_path, monkeypatch):
    import promptism.checkpoint as checkpoint
    import promptism.unclip.folders as folders
    from promptism.layout import ship

    monkeypatch.setattr(checkpoint, "MODELS_DIR", tmp_path / "models")
    monkeypatch.setattr(folders, "MODELS_DIR", tmp_path / "models")
    shipped = ship(layout_stage, "test")
    assert shipped == tmp_path / "models" / "layout-test"
    assert load("test").draw(["a red circle"], [torch.Generator().manual_seed(0)]) == load(layout_stage).draw(
        ["a red circle"], [torch.Generator().manual_seed(0)]
    )  # float16 weights draw the same layouts here
    with pytest.raises(PromptismError, match="name the shipped layout stage"):
        folders.ship(layout_decoder, "decoder", "test")
    dec = folders.ship(layout_decoder, "decoder", "test", layout="test")
    st = load_stage("test", "decoder")
    assert st.folder == dec and st.meta["layout"] == "test" and st.layout.folder == shipped


def test_a_layout_decoder_distils_on_its_pictures_layouts_and_its_student_draws_them(
    tiny, data, layout_stage, layout_decoder, tmp_path
):
    from promptism.data import load_pairs
    from promptism.pipelines.settings import Settings
    from promptism.pipelines.unclip import decoder_denoise
    from promptism.unclip.distill import DistillTask, teacher_plan, train_distill

    teacher = load_stage(str(layout_decoder), "decoder")
    models = load_models(str(tiny / "clip"), str(tiny / "prior"), str(layout_decoder), ())
    path, guidance, _ = teacher_plan(teacher, {"teacher_steps": 4, "guidance": 3.0})
    pairs = load_pairs(data, "train", size=16, progress=False)
    emb = F.normalize(torch.randn(1, 32, generator=torch.Generator().manual_seed(0)), dim=-1)
    maps = layout_maps([[dict(color="red", shape="circle", size="large", x=0.5, y=0.5)]], 16)
    ids, mask = teacher.tokenizer(["a red circle"], warn=False)
    z = torch.randn(1, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    task = DistillTask(pairs, emb, teacher, path, guidance)
    with torch.no_grad():  # the teacher is generate's guided decoder, the layout in every part of its batch
        mine = task.teacher_x0(z, torch.tensor([path[1]]), emb, ids, mask, maps)
        theirs = decoder_denoise(models, "a red circle", "", emb, 1, Settings(), layout=maps)(z, path[1])
        blank = task.teacher_x0(z, torch.tensor([path[1]]), emb, ids, mask)
    assert torch.allclose(mine, theirs, atol=1e-5) and not torch.equal(mine, blank)

    student = train_distill(str(data), str(tmp_path / "r1"), "tiny", teacher=str(layout_decoder), progress=False)
    st = load_stage(str(student), "decoder")
    assert st.model.config.layout and st.layout is not None
    assert (st.meta["layout"], st.meta["layout_drop"]) == (str(layout_stage), 0.2)
    fast = load_models(str(tiny / "clip"), str(tiny / "prior"), str(layout_decoder), (), fast=str(student))
    kw = dict(n=2, seed=3, rerank=1, steps=4, prior_steps=2, models=fast)
    a = generate("a red circle", **kw)
    assert a.metadata[0]["fast_decoder"]["steps"] == 2
    assert np.array_equal(_px(a), _px(generate("a red circle", **kw)))
    assert _follows_its_layout(fast.fast, lambda: _px(generate("a red circle", **kw)))
