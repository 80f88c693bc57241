"""CLIP's model folders, the transformers backend, shipping, and `promptism clip`."""

import json
import subprocess

import numpy as np
import pytest
import torch
from clip_helpers import TINY, cli, env1

from promptism import clip
from promptism.clip.model import CLIP, CLIPConfig
from promptism.clip.native import NativeClip, load_folder
from promptism.errors import PromptismError
from promptism.world import render_array
from promptism.world.sampling import sample_example


def test_model_folders_load_strictly(tok, tmp_path):
    m = NativeClip(CLIP(CLIPConfig(vocab_size=tok.vocab_size, **TINY)), tok)
    m.save(tmp_path / "m")
    again = load_folder(tmp_path / "m")
    x = [render_array(sample_example(np.random.default_rng(1)).scene, 32)]
    assert torch.allclose(again.encode_image(x), m.encode_image(x))
    meta = json.loads((tmp_path / "m" / "config.json").read_text())
    meta["config"]["wings"] = 2
    (tmp_path / "m" / "config.json").write_text(json.dumps(meta))
    with pytest.raises(PromptismError, match="wings"):
        load_folder(tmp_path / "m")
    meta["config"].pop("wings")
    meta["config"]["text_layers"] = 2
    (tmp_path / "m" / "config.json").write_text(json.dumps(meta))
    with pytest.raises(PromptismError, match="do not fit"):
        load_folder(tmp_path / "m")
    with pytest.raises(PromptismError, match="no CLIP"):
        clip.load(str(tmp_path / "nothing"))


@pytest.fixture(scope="module")
def hf_folder(tmp_path_factory, tok):
    from transformers import CLIPConfig as HFConfig
    from transformers import CLIPModel, PreTrainedTokenizerFast

    torch.manual_seed(0)
    cfg = HFConfig(
        text_config=dict(
            vocab_size=tok.vocab_size,
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=1,
            num_attention_heads=2,
            max_position_embeddings=28,
            eos_token_id=tok.eos_id,
            pad_token_id=tok.pad_id,
            bos_token_id=tok.tok.token_to_id("[SOS]"),
        ),
        vision_config=dict(
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=1,
            num_attention_heads=2,
            image_size=32,
            patch_size=8,
        ),
        projection_dim=16,
    )
    folder = tmp_path_factory.mktemp("hfclip")
    CLIPModel(cfg).save_pretrained(folder)
    PreTrainedTokenizerFast(
        tokenizer_object=tok.tok, pad_token="[PAD]", eos_token="[EOS]", bos_token="[SOS]", unk_token="[UNK]"
    ).save_pretrained(folder)
    return folder


def test_transformers_backend_matches_transformers(hf_folder):
    from transformers import AutoTokenizer, CLIPModel

    model = clip.load(f"hf:{hf_folder}")
    texts = ["a red circle", "two blue stars"]
    ref = CLIPModel.from_pretrained(hf_folder).eval()
    enc = AutoTokenizer.from_pretrained(hf_folder)(texts, padding="max_length", max_length=28, return_tensors="pt")
    with torch.no_grad():
        out = ref.get_text_features(**enc)
        feats = getattr(out, "pooler_output", out)  # transformers 5 returns an output object, 4 a tensor
        want = torch.nn.functional.normalize(feats, dim=-1)
    assert torch.allclose(model.encode_text(texts), want, atol=1e-5)
    tokens, mask, pooled = model.text_features(texts)
    assert tokens.shape == (2, 28, 32) and mask.shape == (2, 28) and pooled.shape == (2, 16)


def test_everything_downstream_takes_either_backend(hf_folder, tok):
    from promptism.eval.clip import retrieval_r1, single_objects, zero_shot_accuracy

    ours = NativeClip(CLIP(CLIPConfig(vocab_size=tok.vocab_size, **TINY)), tok)
    for model in (ours, clip.load(f"hf:{hf_folder}")):
        imgs, shapes, colors = single_objects(12, held_out=False, size=64)
        probs = model.zero_shot(imgs, ["circle", "square"], ["a {}", "a red {}"])
        assert probs.shape == (12, 2) and torch.allclose(probs.sum(-1), torch.ones(12), atol=1e-5)
        order, scores = model.rerank(imgs[:5], "a red circle")
        assert sorted(order) == list(range(5)) and scores[order[0]] == scores.max()
        acc = zero_shot_accuracy(model, imgs, shapes, colors)
        assert 0.0 <= acc["shape"] <= 1.0 and acc["n"] == 12
        assert 0.0 <= retrieval_r1(model, imgs, [f"a {c} {s}" for c, s in zip(colors, shapes)], n=12, draws=2) <= 1.0


def test_hf_backend_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(PromptismError, match="cannot load"):
        clip.load(f"hf:{tmp_path / 'none'}")


@pytest.mark.slow
def test_cli_score_and_zeroshot(tok, tmp_path):
    folder = NativeClip(CLIP(CLIPConfig(vocab_size=tok.vocab_size, **TINY)), tok).save(tmp_path / "m")
    subprocess.run(cli("world", "show", "a red circle", "--out", str(tmp_path / "x.png")), check=True, env=env1())
    r = subprocess.run(
        cli("clip", "score", str(tmp_path / "x.png"), "a red circle", "a blue square", "--model", str(folder)),
        capture_output=True,
        text=True,
        env=env1(),
    )
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 2 and {ln.split(None, 1)[1] for ln in lines} == {"a red circle", "a blue square"}
    r = subprocess.run(
        cli(
            "clip",
            "zeroshot",
            str(tmp_path / "x.png"),
            "--labels",
            "circle",
            "square",
            "--template",
            "a {}",
            "--model",
            str(folder),
        ),
        capture_output=True,
        text=True,
        env=env1(),
    )
    probs = [float(ln.split()[0]) for ln in r.stdout.strip().splitlines()]
    assert r.returncode == 0 and abs(sum(probs) - 1) < 1e-2
    r = subprocess.run(
        cli("clip", "score", str(tmp_path / "nope.png"), "x", "--model", str(folder)),
        capture_output=True,
        text=True,
        env=env1(),
    )
    assert r.returncode == 2 and "no picture" in r.stderr


def test_shipping_stores_half_precision_and_loads_back(tok, tmp_path):
    from promptism.clip.native import ship

    m = NativeClip(CLIP(CLIPConfig(vocab_size=tok.vocab_size, **TINY)), tok)
    m.save(tmp_path / "full", extra={"name": "t", "steps": 3})
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "model.safetensors").write_bytes(b"an older model")
    (tmp_path / "half" / "MODEL_CARD.md").write_text("# card\n\n## Limits\n\n- written by hand\n")
    ship(tmp_path / "full", tmp_path / "half")
    # the folder is replaced, its card kept for clip_quality.py to rewrite around the Limits section
    assert (tmp_path / "half" / "MODEL_CARD.md").read_text().endswith("## Limits\n\n- written by hand\n")
    full, half = tmp_path / "full" / "model.safetensors", tmp_path / "half" / "model.safetensors"
    assert half.stat().st_size < 0.6 * full.stat().st_size
    again = load_folder(tmp_path / "half")
    assert next(again.model.parameters()).dtype == torch.float32
    meta = json.loads((tmp_path / "half" / "config.json").read_text())
    assert meta["stored_dtype"] == "float16" and meta["steps"] == 3
    x = [render_array(sample_example(np.random.default_rng(4)).scene, 32)]
    assert torch.allclose(again.encode_image(x), m.encode_image(x), atol=5e-3)


def test_shipped_world_model_loads_by_name_and_reads_the_world():
    from promptism.eval.clip import single_objects, zero_shot_accuracy

    folder = clip.SHIPPED["world"]
    assert sum(f.stat().st_size for f in folder.iterdir()) <= 15 * 2**20  # issue #3: at most 15 MB
    model = clip.load("world")
    assert model.image_size == 64
    acc = zero_shot_accuracy(model, *single_objects(60, held_out=False, seed=5))
    assert acc["shape"] >= 0.9 and acc["color"] >= 0.9, acc  # the benchmark measures ~1.0 on 600
    from promptism.eval.clip import binding, heldout_probe_set

    images, captions, stated = heldout_probe_set(per_prompt=1)
    probes = binding(model, images, captions, stated)
    swaps, relations = probes["swap_colors"], probes["relation"]
    assert swaps["n"] >= 50 and swaps["accuracy"] >= 0.9, swaps  # it binds colours to shapes (benchmark: 0.994)
    assert relations["n"] >= 50 and relations["accuracy"] >= 0.9, relations  # and places them (benchmark: 0.944)
