"""The layout stage's presets: tiny (tests) and world, the one the layout decoder recipes use."""

from __future__ import annotations

PRESETS: dict[str, dict] = {
    "tiny": {
        "model": dict(context=28, width=32, layers=1, heads=2, bins=8),
        "loop": dict(steps=6, batch_size=8, lr=1e-3, warmup=2, checkpoint_every=3, log_every=2),
        "task": dict(text_vocab=512),
    },
    "world": {
        "model": dict(context=28, width=128, layers=4, heads=4, bins=16),
        "loop": dict(steps=3000, batch_size=128, lr=1e-3, warmup=100, checkpoint_every=500, log_every=50, ema=0.999),
        "task": dict(text_vocab=512),
    },
}
