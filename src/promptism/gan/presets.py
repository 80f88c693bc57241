"""The GAN's presets: tiny (tests) and world (the shipped gan-world's, 64 px Scene World pictures).
One optimiser steps the generator and the discriminator together (see training.py), with Adam's
first moment off as StyleGAN2 trains, no weight decay (equalised learning rate) and no clipping."""

from __future__ import annotations

_LOOP = dict(betas=(0.0, 0.99), weight_decay=0.0, grad_clip=0.0, ema_warmup=True)

PRESETS: dict[str, dict] = {
    "tiny": {
        "model": dict(
            image_size=16, z_dim=16, w_dim=16, mapping_layers=2, channels=(16, 16, 8), disc_channels=(8, 16, 16)
        ),
        "loop": dict(**_LOOP, steps=6, batch_size=8, lr=2e-3, warmup=2, checkpoint_every=3, log_every=2, ema=0.9),
        "task": dict(r1_gamma=0.1, r1_every=2, mixing=0.9, augment="color,translation,cutout", sample_every=3),
    },
    "world": {
        "model": dict(image_size=64, channels=(128, 128, 64, 32, 16), disc_channels=(16, 32, 64, 128, 128)),
        "loop": dict(
            **_LOOP, steps=6000, batch_size=32, lr=2e-3, warmup=100, checkpoint_every=250, log_every=25, ema=0.999
        ),
        "task": dict(r1_gamma=0.2, r1_every=16, mixing=0.9, augment="color,translation,cutout", sample_every=250),
    },
}
