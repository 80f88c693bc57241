"""Training the VQGAN through the generic loop: L1 + a perceptual loss on the features of a CLIP we
ship (frozen; no downloaded network) + the commitment loss, and after ``gan_start`` steps a patch
discriminator's hinge loss. The generator's and the discriminator's losses are one sum for the
loop's one optimiser: the generator's adversarial term is computed through a detached copy of the
discriminator's weights, and the discriminator's on a detached reconstruction, so each part gets
only its own gradients."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..clip.task import to_pixels
from ..data import Pairs, load_pairs
from ..errors import PromptismError
from ..nn.perceptual import clip_features, perceptual_distance
from ..train.loop import card_fields, loop_config, model_device, to_device, train
from .model import VQGAN, PatchDiscriminator, VQGANConfig
from .presets import PRESETS


class VQGANTrainer(nn.Module):
    """The VQGAN and its discriminator, one module for the loop (and for DDP)."""

    def __init__(self, cfg: VQGANConfig):
        super().__init__()
        self.vq, self.disc = VQGAN(cfg), PatchDiscriminator(cfg.disc_channels)

    def forward(self, x, features, weights: dict, gan: bool, generator: torch.Generator | None = None):
        xhat, _, commit, logs = self.vq(x, generator)
        rec = (x - xhat).abs().mean()
        loss = rec + weights["commit"] * commit
        logs = {**logs, "l1": float(rec.detach()), "commit": float(commit.detach())}
        if features is not None and weights["perceptual"]:
            perc = perceptual_distance(features, x, xhat)
            loss = loss + weights["perceptual"] * perc
            logs["perceptual"] = float(perc.detach())
        if gan:
            frozen = {k: v.detach() for k, v in self.disc.named_parameters()}
            fake_for_g = torch.func.functional_call(self.disc, {**frozen, **dict(self.disc.named_buffers())}, (xhat,))
            g_adv = -fake_for_g.mean()
            d_loss = F.relu(1 - self.disc(x)).mean() + F.relu(1 + self.disc(xhat.detach())).mean()
            loss = loss + weights["gan"] * g_adv + d_loss
            logs.update(g_adv=float(g_adv.detach()), d_loss=float(d_loss.detach()))
        else:  # the discriminator takes part in every step's graph (DDP wants every weight used)
            loss = loss + 0.0 * sum(p.sum() for p in self.disc.parameters())
        return loss, logs


class VQGANTask:
    def __init__(self, pairs: Pairs, task: dict, seed: int = 0):
        self.pairs, self.seed = pairs, seed
        self.weights = {k: float(task[k]) for k in ("perceptual", "commit", "gan")}
        self.gan_start = int(task["gan_start"])
        self.features = clip_features(task["perceptual_clip"]) if task.get("perceptual_clip") else None

    def loss(self, model, idx: np.ndarray, step: int):
        g = torch.Generator().manual_seed(int(np.random.default_rng([self.seed, step]).integers(2**62)))
        x = to_device(to_pixels(self.pairs.images[idx]), model_device(model))
        return model(x, self.features, self.weights, step >= self.gan_start, g)


def preset(name: str) -> dict:
    if name not in PRESETS:
        raise PromptismError(f"unknown vqgan preset {name!r}; presets are {', '.join(PRESETS)}")
    return PRESETS[name]


def train_vqgan(
    data: str,
    out: str,
    preset_name: str = "world-f4",
    settings: dict | None = None,
    limit: int | None = None,
    progress: bool = True,
    crop: str = "center",
    **loop_overrides,
) -> Path:
    """Train (or resume) a VQGAN; write OUT/model (the VQGAN's EMA weights, no discriminator)."""
    from accelerate import PartialState

    from ..checkpoint import save_model

    p = preset(preset_name) if settings is None else settings
    cfg = VQGANConfig(**p["model"])
    t0 = time.time()
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    state = PartialState(cpu=not torch.cuda.is_available())
    pairs = load_pairs(data, "train", size=cfg.image_size, limit=limit, progress=progress, crop=crop)
    loop = loop_config(p["loop"], out_dir, loop_overrides)
    torch.manual_seed(loop.seed)
    model = VQGANTrainer(cfg)
    result = train(model, VQGANTask(pairs, p["task"], loop.seed), len(pairs), loop, progress=progress)
    if not state.is_main_process:
        return out_dir / "model"
    weights = result["ema"] or {k: v.cpu() for k, v in model.state_dict().items()}
    vq_state = {k[len("vq.") :]: v for k, v in weights.items() if k.startswith("vq.")}
    extra = card_fields(out_dir, preset_name, data, len(pairs), p["task"], result, loop, t0)
    if pairs.skipped:
        extra["skipped"] = pairs.skipped
    return save_model(out_dir / "model", "vqgan", VQGAN(cfg), cfg, extra, vq_state)
