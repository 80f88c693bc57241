"""What the CLIP tests share: a tiny model's settings and running the command line."""

import os
import sys

TINY = dict(
    context=28,
    text_width=32,
    text_layers=1,
    text_heads=2,
    image_size=32,
    image_channels=(8, 16),
    image_blocks=1,
    embed_dim=32,
)


def env1():
    return {**os.environ, "PROMPTISM_THREADS": "1", "OMP_NUM_THREADS": "1"}


def cli(*args):
    return [sys.executable, "-m", "promptism.cli", *args]
