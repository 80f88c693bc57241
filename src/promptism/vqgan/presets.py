"""The VQGAN's presets: tiny (tests) and world-f4, the shipped vqgan-world's (16×16 codes of a 64
px picture). The 8×8 recipe it was compared with is experiments/vqgan/world-f8.toml."""

from __future__ import annotations

_LOOP = dict(steps=5000, batch_size=64, lr=3e-4, warmup=200, checkpoint_every=500, log_every=50, ema=0.999)
_TASK = dict(perceptual=1.0, commit=0.25, gan=0.1, gan_start=2500, perceptual_clip="world")

PRESETS: dict[str, dict] = {
    "tiny": {
        "model": dict(image_size=16, channels=(8, 16), embed_dim=8, codebook_size=32, disc_channels=8),
        "loop": dict(steps=6, batch_size=8, lr=1e-3, warmup=2, checkpoint_every=3, log_every=2),
        "task": dict(perceptual=0.0, commit=0.25, gan=0.1, gan_start=3, perceptual_clip=""),
    },
    "world-f4": {
        "model": dict(image_size=64, channels=(48, 96, 192), embed_dim=32, codebook_size=512),
        "loop": _LOOP,
        "task": _TASK,
    },
}
