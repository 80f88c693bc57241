"""The mini transformer's presets: tiny (tests), world, world-more, world-third and world-fourth (the
shipped mini-world's four phases, each started from the one before with --init). The picture
vocabulary and grid come from the VQGAN the model is trained over, the caption vocabulary from the
tokenizer trained on the data's captions (at most ``text_vocab`` tokens)."""

from __future__ import annotations

PRESETS: dict[str, dict] = {
    "tiny": {
        "model": dict(context=16, width=32, layers=2, heads=2),
        "loop": dict(steps=6, batch_size=8, lr=1e-3, warmup=2, checkpoint_every=3, log_every=2, ema=0.9),
        "task": dict(text_vocab=128, drop_text=0.2),
    },
    "world": {
        "model": dict(context=28, width=192, layers=6, heads=6),
        "loop": dict(steps=1600, batch_size=64, lr=1e-3, warmup=100, checkpoint_every=100, log_every=20, ema=0.995),
        "task": dict(text_vocab=512, drop_text=0.1),
    },
}


def _phase(start: str, **loop) -> dict:
    """A later training phase of preset ``start``'s model (run with --init from a finished run of it):
    the same architecture and task, the loop's settings replaced where given."""
    of = PRESETS[start]
    return {"model": dict(of["model"]), "loop": {**of["loop"], **loop}, "task": dict(of["task"])}


# the shipped mini-world's second, third and fourth phases (scripts/train_mini_world.sh)
PRESETS["world-more"] = _phase("world", steps=1800, lr=5e-4, warmup=50)
PRESETS["world-third"] = _phase("world-more", steps=800, lr=3e-4, warmup=30)
PRESETS["world-fourth"] = _phase("world-third", steps=800, lr=2e-4, warmup=30)
