"""The VQGAN: shapes and codes, a fully convolutional decoder, a codebook kept in use, training
through the loop (the discriminator's and the VQGAN's gradients kept apart), shipping, and the
shipped model's round trip."""

import json

import numpy as np
import pytest
import torch

from promptism.cli import main
from promptism.errors import PromptismError
from promptism.vqgan import load, ship
from promptism.vqgan.model import VQGAN, VQGANConfig
from promptism.vqgan.training import VQGANTrainer

TINY = VQGANConfig(image_size=16, channels=(8, 16), embed_dim=8, codebook_size=32, disc_channels=8)


def test_codes_round_trip_shapes_and_a_larger_grid_draws_a_larger_picture():
    vq = VQGAN(TINY).eval()
    x = torch.rand(3, 3, 16, 16) * 2 - 1
    idx = vq.encode(x)
    assert idx.shape == (3, 8, 8) and idx.dtype == torch.long and 0 <= int(idx.min()) and int(idx.max()) < 32
    assert vq.decode(idx).shape == (3, 3, 16, 16)
    assert vq.decode(torch.zeros(1, 5, 12, dtype=torch.long)).shape == (1, 3, 10, 24)
    with pytest.raises(ValueError, match="not a multiple of the downsampling"):
        VQGANConfig(image_size=18, channels=(8, 16, 32))


def test_the_codebook_follows_its_vectors_and_dead_codes_restart():
    from dataclasses import replace

    # pictures of two flat colours choose few codes: the rest fall idle and are restarted
    flat = torch.tensor([[1.0, -1.0, -1.0], [-1.0, -1.0, 1.0]])[torch.arange(8) % 2][:, :, None, None]
    flat = flat.expand(8, 3, 16, 16)
    restarted = {}
    for below in (0.03, 0.0):
        torch.manual_seed(0)
        vq = VQGAN(replace(TINY, decay=0.9, restart_below=below)).train()
        before = vq.quantizer.codebook.clone()
        restarted[below] = sum(vq(flat, torch.Generator().manual_seed(s))[3]["restarted"] for s in range(60))
        assert not torch.allclose(before, vq.quantizer.codebook)
        assert torch.allclose(vq.quantizer.codebook.norm(dim=1), torch.ones(32), atol=1e-4)
    assert restarted[0.03] > 0 and restarted[0.0] == 0


def test_the_generator_and_the_discriminator_get_only_their_own_gradients():
    torch.manual_seed(0)
    model = VQGANTrainer(TINY).train()
    x = torch.rand(4, 3, 16, 16) * 2 - 1
    w = {"perceptual": 0.0, "commit": 0.25, "gan": 1.0}
    # the generator's adversarial term alone must not move the discriminator
    xhat, _, _, _ = model.vq(x)
    frozen = {k: v.detach() for k, v in model.disc.named_parameters()}
    g_adv = -torch.func.functional_call(model.disc, {**frozen, **dict(model.disc.named_buffers())}, (xhat,)).mean()
    g_adv.backward()
    assert all(p.grad is None for p in model.disc.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.vq.decoder.parameters())
    model.zero_grad(set_to_none=True)
    loss, logs = model(x, None, w, gan=True)
    loss.backward()
    assert "d_loss" in logs and all(p.grad is not None for p in model.disc.parameters())


def test_train_vqgan_writes_a_loadable_model_and_ships_it_in_float16(tmp_path, capsys):
    from PIL import Image

    data = tmp_path / "pics"
    data.mkdir()
    rng = np.random.default_rng(0)
    for i in range(16):
        Image.fromarray(rng.integers(0, 255, (20, 24, 3), dtype=np.uint8)).save(data / f"{i}.png")
        (data / f"{i}.txt").write_text("a picture")
    run = tmp_path / "run"
    assert main(["train", "vqgan", "--data", str(data), "--out", str(run), "--preset", "tiny", "--quiet"]) == 0
    meta = json.loads((run / "model" / "config.json").read_text())
    assert meta["kind"] == "vqgan" and meta["steps"] == 6 and "perplexity" in meta["final_logs"]
    vq = load(run / "model")
    assert vq.encode(torch.zeros(1, 3, 16, 16)).shape == (1, 8, 8)
    shipped = ship(run, tmp_path / "shipped")
    assert json.loads((shipped / "config.json").read_text())["stored_dtype"] == "float16"
    # a run stopped early ships from its checkpoint, given its preset
    import shutil

    shutil.rmtree(run / "model")
    early = ship(run, tmp_path / "early", "tiny")
    assert json.loads((early / "config.json").read_text())["stopped_early"] is True
    with pytest.raises(PromptismError, match="no finished model and no checkpoint"):
        ship(tmp_path / "nothing", tmp_path / "x", "tiny")


def test_the_shipped_vqgan_keeps_scene_world_pictures_through_a_round_trip():
    from promptism.world.judge import judge
    from promptism.world.render import render
    from promptism.world.sampling import sample_example

    vq = load("world")
    assert vq.config.grid == 16 and vq.config.codebook_size == 512
    examples = [sample_example(np.random.default_rng([11, i])) for i in range(12)]
    pics = np.stack([np.asarray(render(ex.scene, 64)) for ex in examples])
    x = torch.from_numpy(pics).permute(0, 3, 1, 2).float() / 127.5 - 1
    with torch.no_grad():
        out = ((vq.decode(vq.encode(x)).clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).numpy()
    mse = ((out.astype(float) - pics) ** 2).mean()
    assert 10 * np.log10(255**2 / mse) > 30
    kept = [judge(o, ex.caption).correct for o, p, ex in zip(out, pics, examples) if judge(p, ex.caption).correct]
    assert sum(kept) >= len(kept) - 1
    with pytest.raises(PromptismError, match=r"no vqgan at 'nope': give a model folder or a shipped name \(world\)"):
        load("nope")
