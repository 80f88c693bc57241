"""The unCLIP tests' data: 48 Scene World pictures at 32 px, made once per session."""

import pytest

from promptism.world.shards import make_dataset


@pytest.fixture(scope="session")
def data(tmp_path_factory):
    out = tmp_path_factory.mktemp("unclipdata")
    make_dataset(out, n=48, size=32, seed=2, val_fraction=0.0, shard_size=48, progress=False)
    return out
