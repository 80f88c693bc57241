"""Test set-up: one thread per process (other processes share this machine's 2 cores)."""

import os
import tempfile

os.environ.setdefault("PROMPTISM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
# the local C2PA test identity is made here, not in the home folder of whoever runs the tests
os.environ.setdefault("PROMPTISM_C2PA_DIR", os.path.join(tempfile.mkdtemp(prefix="promptism-c2pa-"), "c2pa"))

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from promptism.clip.model import CLIP, CLIPConfig  # noqa: E402
from promptism.clip.native import NativeClip  # noqa: E402
from promptism.clip.presets import PRESETS as CLIP_PRESETS  # noqa: E402
from promptism.clip.train import build_tokenizer  # noqa: E402
from promptism.pipelines.unclip import load_models  # noqa: E402
from promptism.unclip.folders import Stage  # noqa: E402
from promptism.unclip.training import build  # noqa: E402
from promptism.unclip.upsampler import Upsampler, UpsamplerConfig  # noqa: E402
from promptism.world.sampling import sample_example  # noqa: E402


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


# --- tiny random unCLIP models, shared by the unCLIP and editing tests ----------------------------
TINY_CLIP = dict(CLIP_PRESETS["tiny"]["model"])


def _wake(model: torch.nn.Module, seed: int) -> None:
    """Random weights in the zero-initialised output layers, so outputs depend on the inputs."""
    g = torch.Generator().manual_seed(seed)
    for name, p in model.named_parameters():
        if p.abs().sum() == 0 and ("out" in name or "conv2" in name):
            with torch.no_grad():
                p.copy_(torch.randn(p.shape, generator=g) * 0.05)


@pytest.fixture(scope="session")
def tok():
    caps = [sample_example(np.random.default_rng([3, i])).caption for i in range(300)]
    return build_tokenizer(caps, 512, 28), caps


@pytest.fixture(scope="session")
def tiny(tmp_path_factory, tok):
    """Random tiny models saved as folders: CLIP, prior, a 16 px decoder and a 16->32 upsampler."""
    tokenizer, caps = tok
    root = tmp_path_factory.mktemp("unclip")
    torch.manual_seed(0)
    NativeClip(CLIP(CLIPConfig(vocab_size=tokenizer.vocab_size, **TINY_CLIP)), tokenizer).save(root / "clip")
    _, pcfg, pdiff, _ = build("prior", "tiny", clip_dim=32, token_width=32, context=28)
    from promptism.unclip.prior import Prior

    prior = Prior(pcfg)
    _wake(prior, 1)
    Stage("prior", prior, pdiff, {}).save(root / "prior", extra={"clip": str(root / "clip")})
    _, dcfg, ddiff, _ = build("decoder", "tiny", clip_dim=32, vocab_size=tokenizer.vocab_size)
    from promptism.unclip.decoder import Decoder

    dec = Decoder(dcfg)
    _wake(dec, 2)
    vocabulary = sorted({w for c in caps for w in c.lower().replace(",", " ").split()})
    Stage("decoder", dec, ddiff, {}, tokenizer).save(
        root / "decoder", extra={"vocabulary": vocabulary, "clip": str(root / "clip")}
    )
    ucfg = UpsamplerConfig(
        low_size=16,
        image_size=32,
        aug_dim=8,
        unet=dict(in_channels=6, channels=(8, 16), res_blocks=1, attention=(False, False), cond_dim=8, unshuffle=2),
    )
    up = Upsampler(ucfg)
    _wake(up, 3)
    Stage("upsampler", up, ddiff, {}).save(root / "up32")
    res = Upsampler(UpsamplerConfig(**{**ucfg.to_dict(), "residual": 4.0}))  # the same, diffusing the residual
    _wake(res, 3)
    Stage("upsampler", res, ddiff, {}).save(root / "up32-res")
    return root


@pytest.fixture
def models(tiny):
    return load_models(str(tiny / "clip"), str(tiny / "prior"), str(tiny / "decoder"), (str(tiny / "up32"),))


@pytest.fixture
def residual_models(tiny):
    """The tiny models with the residual upsampler."""
    return load_models(str(tiny / "clip"), str(tiny / "prior"), str(tiny / "decoder"), (str(tiny / "up32-res"),))


@pytest.fixture(scope="session")
def tiny_mini(tmp_path_factory):
    """A Scene World dataset of 16 px pictures, a tiny VQGAN trained on it (vq/model) and a tiny DALL·E
    mini model over its codes (mini/model), for the mini and server tests."""
    from promptism.cli import main
    from promptism.vqgan.training import train_vqgan
    from promptism.world.shards import make_dataset

    root = tmp_path_factory.mktemp("mini")
    make_dataset(root / "data", n=48, size=32, seed=0, shard_size=48, progress=False)
    vq = train_vqgan(str(root / "data"), str(root / "vq"), "tiny", progress=False)
    code = main(
        ["train", "mini", "--data", str(root / "data"), "--out", str(root / "mini"), "--preset", "tiny"]
        + ["--vqgan", str(vq), "--quiet"]
    )
    assert code == 0
    return root


@pytest.fixture(scope="session")
def tiny_gan(tmp_path_factory):
    """A tiny GAN trained for a few steps on Scene World pictures (32 px, read at 16): the folder
    holds data/ and run/ (run/model the generator), for the GAN and server tests."""
    from promptism.cli import main
    from promptism.world.shards import make_dataset

    root = tmp_path_factory.mktemp("gan")
    make_dataset(root / "data", n=32, size=32, seed=0, shard_size=32, progress=False)
    code = main(
        ["train", "gan", "--data", str(root / "data"), "--out", str(root / "run"), "--preset", "tiny", "--quiet"]
    )
    assert code == 0
    return root
