"""Image–caption pairs from every source the training commands accept."""

import numpy as np
import pytest
from PIL import Image

from promptism.data import load_pairs
from promptism.errors import PromptismError
from promptism.world.shards import make_dataset


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    out = tmp_path_factory.mktemp("pairs")
    make_dataset(out, n=50, size=32, seed=2, val_fraction=0.2, shard_size=20, progress=False)
    return out


def test_dataset_folder_glob_and_brace_give_the_same_pairs(shards):
    by_manifest = load_pairs(shards, "train", size=32, progress=False)
    by_glob = load_pairs(str(shards / "train-*.tar"), size=32, progress=False)
    by_brace = load_pairs(str(shards / "train-{000000..000001}.tar"), size=32, progress=False)
    assert len(by_manifest) == 40 and by_manifest.images.shape == (40, 32, 32, 3)
    assert by_glob.captions == by_manifest.captions == by_brace.captions
    assert all("scene" in m and "stated" in m for m in by_manifest.metas)
    assert len(load_pairs(shards, "val", size=32, progress=False)) == 10
    resized = load_pairs(shards, "val", size=64, limit=3, progress=False)
    assert resized.images.shape == (3, 64, 64, 3)


def test_shards_read_by_worker_processes_equal_one_process(shards):
    """Three shards (20, 20 and 10 pairs with the val split's): the forked readers must keep the
    shards' order and every pair's picture, caption and record."""
    urls = str(shards / "*.tar")
    one = load_pairs(urls, size=32, progress=False, workers=1)
    many = load_pairs(urls, size=32, progress=False, workers=3)
    assert len(one) == 50
    assert one.captions == many.captions and one.metas == many.metas
    assert many.images.dtype == np.uint8 and np.array_equal(one.images, many.images)
    records = load_pairs(urls, size=32, progress=False, workers=2, images=False)
    assert records.captions == one.captions and records.images.shape == (50, 0, 0, 3)


def test_folder_of_pictures_with_captions(tmp_path):
    for i, color in enumerate(["red", "blue", "green"]):
        Image.new("RGB", (40, 40), color).save(tmp_path / f"p{i}.png")
        (tmp_path / f"p{i}.txt").write_text(f"a {color} square\n")
    Image.new("RGB", (40, 40)).save(tmp_path / "no_caption.png")  # skipped: no .txt beside it
    pairs = load_pairs(tmp_path, size=32, progress=False)
    assert pairs.captions == ["a red square", "a blue square", "a green square"]
    assert pairs.images.shape == (3, 32, 32, 3) and tuple(pairs.images[0, 0, 0]) == (255, 0, 0)


def test_bad_sources_are_clear_errors(tmp_path):
    with pytest.raises(PromptismError, match="no data"):
        load_pairs(tmp_path / "missing", progress=False)
    with pytest.raises(PromptismError, match="no image–caption pairs"):
        load_pairs(tmp_path, progress=False)
