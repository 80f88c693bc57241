"""The layout stage's presets: tiny (tests) and world, the one that ships (layout-world).

world: width 64, 5 layers, 6,000 steps (experiments/unclip/layout-world-small2.toml), within the
shipped set's size budget; the first stage decoder-world-boxes was measured with had width 128,
4 layers and 3,000 steps (layout-world-small.toml and layout-world-small2.toml say what each
measured)."""

from __future__ import annotations

PRESETS: dict[str, dict] = {
    "tiny": {
        "model": dict(context=28, width=32, layers=1, heads=2, bins=8),
        "loop": dict(steps=6, batch_size=8, lr=1e-3, warmup=2, checkpoint_every=3, log_every=2),
        "task": dict(text_vocab=512),
    },
    "world": {
        "model": dict(context=28, width=64, layers=5, heads=4, bins=16),
        "loop": dict(steps=6000, batch_size=128, lr=1e-3, warmup=100, checkpoint_every=500, log_every=50, ema=0.999),
        "task": dict(text_vocab=512),
    },
}
