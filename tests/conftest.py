"""Test set-up: one thread per process (other processes share this machine's 2 cores)."""

import os

os.environ.setdefault("PROMPTISM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
