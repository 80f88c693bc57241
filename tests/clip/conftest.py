"""Fixtures of the CLIP tests: a small Scene World dataset and a tokenizer of its captions."""

import numpy as np
import pytest

from promptism.clip.train import build_tokenizer
from promptism.world.sampling import sample_example
from promptism.world.shards import make_dataset


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    out = tmp_path_factory.mktemp("clipdata")
    make_dataset(out, n=240, size=32, seed=1, val_fraction=0.0, shard_size=120, progress=False)
    return out


@pytest.fixture(scope="module")
def tok():
    caps = [sample_example(np.random.default_rng([2, i])).caption for i in range(300)]
    return build_tokenizer(caps, 512, 28)  # the world preset's cap: BPE runs out of merges first
