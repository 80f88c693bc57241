"""What the CLIP tests share: a tiny model's settings and running the command line."""

import os
import sys

from promptism.clip.presets import PRESETS

TINY = dict(PRESETS["tiny"]["model"])  # the tiny preset's towers


def env1():
    return {**os.environ, "PROMPTISM_THREADS": "1", "OMP_NUM_THREADS": "1"}


def cli(*args):
    return [sys.executable, "-m", "promptism.cli", *args]
