"""Fixtures of the evaluation tests: a small Scene World dataset."""

import pytest

from promptism.world.shards import make_dataset


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    out = tmp_path_factory.mktemp("clipdata")
    make_dataset(out, n=240, size=32, seed=1, val_fraction=0.0, shard_size=120, progress=False)
    return out
