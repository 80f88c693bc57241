"""World datasets: WebDataset shards that read back, resume, and never mix settings."""

import io
import json

import numpy as np
import pytest
import webdataset as wds
from PIL import Image

from promptism.world import Scene, parse, render_array, vocab
from promptism.world.shards import DatasetError, make_dataset, read_manifest, shard_urls


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("world")
    make_dataset(out, n=120, size=48, seed=3, val_fraction=0.25, shard_size=40, workers=1, progress=False)
    return out


def test_shards_read_back_with_webdataset(dataset):
    urls = shard_urls(dataset, "train")
    assert len(urls) == 3
    samples = list(wds.WebDataset(urls, shardshuffle=False, empty_check=False))
    assert len(samples) == 90
    keys = [s["__key__"] for s in samples]
    assert keys == sorted(set(keys))
    for s in samples[:30]:
        img = Image.open(io.BytesIO(s["png"]))
        assert img.size == (48, 48) and img.mode == "RGB"
        meta = json.loads(s["json"])
        caption = s["txt"].decode()
        assert meta["caption"] == caption
        scene = Scene.from_dict(meta["scene"])
        assert (render_array(scene, 48) == np.asarray(img)).all()
        assert parse(caption).to_dict() == meta["stated"]
    val = list(wds.WebDataset(shard_urls(dataset, "val"), shardshuffle=False, empty_check=False))
    assert len(val) == 30


def test_no_held_out_pair_in_any_shard(dataset):
    for split in ("train", "val"):
        for s in wds.WebDataset(shard_urls(dataset, split), shardshuffle=False, empty_check=False):
            meta = json.loads(s["json"])
            for o in meta["scene"]["objects"]:
                assert not vocab.is_held_out(o["color"], o["shape"])


def test_rerun_is_idempotent_and_resumes(dataset, tmp_path):
    manifest = read_manifest(dataset)
    first = dataset / manifest["splits"]["train"]["shards"][0]["name"]
    mtime = first.stat().st_mtime_ns
    again = make_dataset(dataset, n=120, size=48, seed=3, val_fraction=0.25, shard_size=40, progress=False)
    assert again["splits"] == manifest["splits"] and first.stat().st_mtime_ns == mtime  # nothing rewritten
    # a crash: one shard lost, one half-written temporary left behind, one shard corrupted
    second = dataset / manifest["splits"]["train"]["shards"][1]["name"]
    val = dataset / manifest["splits"]["val"]["shards"][0]["name"]
    second.unlink()
    (dataset / "train-000002.tar.tmp").write_bytes(b"partial")
    val.write_bytes(b"corrupt")
    resumed = make_dataset(dataset, n=120, size=48, seed=3, val_fraction=0.25, shard_size=40, progress=False)
    assert resumed["splits"] == manifest["splits"] and resumed["complete"]
    assert first.stat().st_mtime_ns == mtime
    assert not list(dataset.glob("*.tmp"))


def test_same_settings_give_identical_bytes(dataset, tmp_path):
    make_dataset(tmp_path, n=120, size=48, seed=3, val_fraction=0.25, shard_size=40, workers=2, progress=False)
    assert read_manifest(tmp_path)["splits"] == read_manifest(dataset)["splits"]  # sha256 of every shard


def test_other_settings_are_refused(dataset):
    with pytest.raises(DatasetError, match="other settings"):
        make_dataset(dataset, n=121, size=48, seed=3, val_fraction=0.25, shard_size=40, progress=False)


@pytest.mark.parametrize(
    "kw, message",
    [
        ({"n": 0}, "at least 1"),
        ({"size": 8}, "between 32 and 256"),
        ({"shard_size": 0}, "at least 1"),
        ({"val_fraction": 1.0}, r"\[0, 1\)"),
    ],
)
def test_bad_settings(tmp_path, kw, message):
    args = {"n": 10, "size": 32} | kw
    with pytest.raises(Exception, match=message):
        make_dataset(tmp_path, progress=False, **args)


def test_shard_urls_needs_a_dataset(tmp_path):
    with pytest.raises(DatasetError, match="not a Scene World dataset"):
        shard_urls(tmp_path)
