"""Training the GAN through the generic loop.

The loop has one optimiser and takes one loss, so the generator's and the discriminator's losses
are one sum whose parts reach only their own weights (the VQGAN's discriminator is trained the same
way): the generator's non-saturating loss is computed through a copy of the discriminator whose
weights are detached, and the discriminator's on detached fakes. Both take a step on every batch
(simultaneous updates, where StyleGAN2 alternates).

- Style mixing regularisation: with probability ``mixing`` the batch's styles switch to a second
  noise's from a random layer on (Karras et al. 2019, §3.1).
- Lazy R1: every ``r1_every`` steps the discriminator's squared gradient on real pictures, scaled
  by ``r1_gamma / 2 · r1_every`` (Mescheder et al. 2018; Karras et al. 2020, §3.1).
- Differentiable augmentation of real and fake pictures alike (augment.py).
- A sample grid of the EMA generator (fixed noise) at OUT/samples/<step>.png every ``sample_every``
  steps, at a checkpoint.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..clip.task import to_pixels
from ..errors import PromptismError
from ..train.loop import card_fields, loop_config, model_device, to_device, train
from .augment import augment, parse_augment
from .model import Discriminator, GANConfig, Generator
from .presets import PRESETS

SAMPLE_SEEDS = range(16)  # the noise of the training-time sample grids


DISCRIMINATORS = ("residual", "projected")


def check_discriminator(task: dict) -> str:
    """The task's discriminator kind, or an error naming what is wrong with its settings."""
    kind = task.get("discriminator", "residual")
    if kind not in DISCRIMINATORS:
        raise PromptismError(f"unknown discriminator {kind!r}; choose from {', '.join(DISCRIMINATORS)}")
    if kind == "projected":
        from ..clip import find

        features = task.get("features", "world")
        if features.startswith("hf:"):
            raise PromptismError("the projected discriminator reads one of promptism's CLIPs, not an hf: one")
        find(features)
    return kind


def discriminator(cfg: GANConfig, task: dict) -> nn.Module:
    """The task's discriminator: ``residual`` (StyleGAN2's, the default) or ``projected`` (small
    discriminators over the frozen features of the CLIP named by ``features``, projected.py, each
    ``width`` channels wide)."""
    if check_discriminator(task) == "residual":
        return Discriminator(cfg)
    from .projected import ProjectedDiscriminator, feature_stages

    return ProjectedDiscriminator(feature_stages(task.get("features", "world")), cfg.image_size, task.get("width", 64))


class GANTrainer(nn.Module):
    """The generator and the discriminator, one module for the loop (and for DDP)."""

    def __init__(self, cfg: GANConfig, task: dict | None = None):
        super().__init__()
        self.g, self.d = Generator(cfg), discriminator(cfg, task or {})

    def forward(self, real, z, z_mix, cutoff: int, task: dict, r1: bool, g: torch.Generator):
        ws = self.g.ws(z)
        if cutoff < ws.shape[1]:
            ws = torch.cat([ws[:, :cutoff], self.g.ws(z_mix)[:, cutoff:]], 1)
        names = task["augment"]
        fake = augment(self.g.synthesis(ws, "random", g), names, g)
        frozen = {k: v.detach() for k, v in self.d.named_parameters()}
        g_loss = F.softplus(-torch.func.functional_call(self.d, frozen, (fake,))).mean()
        real = real.detach().requires_grad_(r1)
        real_logits = self.d(augment(real, names, g))
        fake_logits = self.d(fake.detach())
        d_loss = F.softplus(fake_logits).mean() + F.softplus(-real_logits).mean()
        loss = g_loss + d_loss
        logs = {
            "g_loss": float(g_loss.detach()),
            "d_loss": float(d_loss.detach()),
            "real_score": float(real_logits.detach().mean()),
            "fake_score": float(fake_logits.detach().mean()),
        }
        if r1:
            (grad,) = torch.autograd.grad(real_logits.sum(), real, create_graph=True)
            penalty = grad.square().sum((1, 2, 3)).mean()
            loss = loss + penalty * (task["r1_gamma"] / 2 * task["r1_every"])
            logs["r1"] = float(penalty.detach())
        return loss, logs


class GANTask:
    def __init__(self, images: np.ndarray, cfg: GANConfig, task: dict, seed: int = 0):
        self.images, self.cfg, self.seed = images, cfg, seed
        self.task = {**task, "augment": parse_augment(task["augment"])}

    def loss(self, model, idx: np.ndarray, step: int):
        g = torch.Generator().manual_seed(int(np.random.default_rng([self.seed, step]).integers(2**62)))
        n, num_ws = len(idx), self.cfg.num_ws
        z, z_mix = torch.randn(n, self.cfg.z_dim, generator=g), torch.randn(n, self.cfg.z_dim, generator=g)
        mixes = float(torch.rand((), generator=g)) < self.task["mixing"]
        cutoff = int(torch.randint(1, num_ws, (), generator=g)) if mixes else num_ws
        r1 = self.task["r1_every"] > 0 and step % self.task["r1_every"] == 0
        real, z, z_mix = to_device((to_pixels(self.images[idx]), z, z_mix), model_device(model))
        return model(real, z, z_mix, cutoff, self.task, r1, g)


def preset(name: str) -> dict:
    if name not in PRESETS:
        raise PromptismError(f"unknown gan preset {name!r}; presets are {', '.join(PRESETS)}")
    return PRESETS[name]


def generator_weights(trainer_state: dict) -> dict:
    """The generator's part of a trainer's (or its EMA's) state dict."""
    return {k[2:]: v for k, v in trainer_state.items() if k.startswith("g.")}


def write_samples(out: Path, cfg: GANConfig, step: int) -> Path | None:
    """A grid of the checkpoint's EMA generator on fixed noise: OUT/samples/<step>.png."""
    from safetensors.torch import load_file

    from ..pipelines.common import to_images
    from ..pipelines.provenance import grid
    from .pipeline import seeds_z

    ck = out / "checkpoint"
    weights = ck / "ema.safetensors" if (ck / "ema.safetensors").exists() else ck / "model.safetensors"
    if not weights.exists():
        return None
    gen = Generator(cfg)
    gen.load_state_dict(generator_weights(load_file(str(weights))))
    with torch.no_grad():
        pictures = to_images(gen.eval()(seeds_z(list(SAMPLE_SEEDS), cfg.z_dim), noise_mode="const"))
    path = out / "samples" / f"{step:06d}.png"
    path.parent.mkdir(exist_ok=True)
    grid(pictures, cols=4).save(path)
    return path


def train_gan(
    data: str,
    out: str,
    preset_name: str = "world",
    settings: dict | None = None,
    limit: int | None = None,
    progress: bool = True,
    crop: str = "center",
    **loop_overrides,
) -> Path:
    """Train (or resume) a GAN on a dataset's pictures (captions unused); writes OUT/model (the
    generator's EMA weights), OUT/model_config.json when it starts and sample grids as it goes."""
    from accelerate import PartialState

    from ..checkpoint import save_model
    from ..data import load_pairs

    p = preset(preset_name) if settings is None else settings
    cfg = GANConfig(**p["model"])
    parse_augment(p["task"]["augment"])  # a bad name fails before the data loads
    check_discriminator(p["task"])  # as does a bad discriminator or feature CLIP
    t0 = time.time()
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    state = PartialState(cpu=not torch.cuda.is_available())
    pairs = load_pairs(data, "train", size=cfg.image_size, limit=limit, progress=progress, crop=crop)
    loop = loop_config(p["loop"], out_dir, loop_overrides)
    if state.is_main_process:  # what a run stopped before its end ships with (promptism.gan.ship)
        started = {"config": cfg.to_dict(), "preset": preset_name, "data": str(data), "task": p["task"]}
        (out_dir / "model_config.json").write_text(json.dumps(started, indent=1))
    every = int(p["task"].get("sample_every") or 0)

    def on_checkpoint(step: int) -> None:
        if every and (step % every == 0 or step == loop.steps):
            write_samples(out_dir, cfg, step)

    torch.manual_seed(loop.seed)
    model = GANTrainer(cfg, p["task"])
    task = GANTask(pairs.images, cfg, p["task"], loop.seed)
    result = train(model, task, len(pairs), loop, on_checkpoint=on_checkpoint, progress=progress)
    if not state.is_main_process:
        return out_dir / "model"
    weights = generator_weights(result["ema"] or {k: v.cpu() for k, v in model.state_dict().items()})
    extra = card_fields(out_dir, preset_name, data, len(pairs), p["task"], result, loop, t0)
    if pairs.skipped:
        extra["skipped"] = pairs.skipped
    return save_model(out_dir / "model", "gan", Generator(cfg), cfg, extra, weights)
