"""Artists' opt-out: noai markers and exclude lists drop samples before training, and the model's
card records how many by which rule."""

import hashlib
import io
import json
import tarfile

import numpy as np
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from promptism.data.consent import Consent, using_consent
from promptism.data.pairs import load_pairs


def _png(seed: int, text: dict | None = None) -> bytes:
    arr = np.random.default_rng(seed).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    info = PngInfo()
    for k, v in (text or {}).items():
        info.add_text(k, v)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "PNG", pnginfo=info)
    return buf.getvalue()


def _shard(path, samples):
    """A WebDataset shard of (key, png bytes, caption, json record) samples, as img2dataset writes."""
    with tarfile.open(path, "w") as tar:
        for key, png, caption, meta in samples:
            for ext, data in (("png", png), ("txt", caption.encode()), ("json", json.dumps(meta).encode())):
                info = tarfile.TarInfo(f"{key}.{ext}")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))


def _data(tmp_path):
    hashed = _png(5)
    samples = [
        ("000", _png(0), "a red circle", {"url": "https://ok.example/a.png"}),
        ("001", _png(1), "a blue square", {"robots": "index, NoAI"}),  # the art-site meta tag
        ("002", _png(2), "a green star", {"x_robots_tag": "noimageai"}),
        ("003", _png(3, {"XML:com.adobe.xmp": "<plus:DataMining>DMI-PROHIBITED</plus:DataMining>"}), "a star", {}),
        ("004", _png(4), "a yellow heart", {"creator": "Jane Doe"}),
        ("005", hashed, "a purple cross", {}),
        ("006", _png(6), "an orange disc", {"url": "http://www.Gallery.example/jane/work-6"}),
        ("007", _png(7, {"Comment": "noai"}), "a grey star", {}),
        ("008", _png(8), "a white disc", {"tags": ["cute", "noainoai"]}),  # not a marker: part of a word
    ]
    _shard(tmp_path / "000000.tar", samples)
    exclude = tmp_path / "exclude.txt"
    exclude.write_text(
        "# creators, URLs and hashes who said no\njane doe\nhttps://gallery.example/jane/\n"
        f"sha256:{hashlib.sha256(hashed).hexdigest()}\n"
    )
    return tmp_path, exclude


def test_markers_and_the_exclude_list_drop_samples_and_say_why(tmp_path):
    data, exclude = _data(tmp_path)
    markers_only = load_pairs(data, size=16, progress=False, workers=1)
    assert sorted(markers_only.captions) == sorted(
        ["a red circle", "a yellow heart", "a purple cross", "an orange disc", "a white disc"]
    )
    assert markers_only.skipped == {
        "opted out: noai marker in its metadata": 2,
        "opted out: noai marker in the picture": 2,
    }
    with using_consent(Consent.load(exclude)):
        pairs = load_pairs(data, size=16, progress=False, workers=1)
    assert sorted(pairs.captions) == ["a red circle", "a white disc"]
    assert pairs.skipped == {
        "opted out: noai marker in its metadata": 2,
        "opted out: noai marker in the picture": 2,
        "excluded: creator": 1,
        "excluded: url": 1,
        "excluded: content hash": 1,
    }


def test_a_folder_of_pictures_reads_its_sidecar_records(tmp_path):
    (tmp_path / "a.png").write_bytes(_png(0))
    (tmp_path / "a.txt").write_text("a red circle")
    (tmp_path / "b.png").write_bytes(_png(1))
    (tmp_path / "b.txt").write_text("a blue square")
    (tmp_path / "b.json").write_text(json.dumps({"robots": "noai"}))
    pairs = load_pairs(tmp_path, size=16, progress=False)
    assert pairs.captions == ["a red circle"] and sum(pairs.skipped.values()) == 1


def test_training_with_exclude_records_the_rules_and_counts_in_the_card(tmp_path):
    from promptism.cli import main

    (tmp_path / "d").mkdir()
    data, exclude = _data(tmp_path / "d")
    for i in range(8):  # enough usable samples for a batch
        _shard(data / f"00000{i + 1}.tar", [(f"1{i}0", _png(100 + i), "a red circle", {})])
    code = main(
        ["train", "gan", "--data", str(data), "--out", str(tmp_path / "run"), "--preset", "tiny", "--quiet"]
        + ["--steps", "2", "--exclude", str(exclude)]
    )
    assert code == 0
    card = json.loads((tmp_path / "run" / "model" / "config.json").read_text())
    assert card["consent"]["exclude_list"] == str(exclude)
    assert card["consent"]["excluded"] == {
        "opted out: noai marker in its metadata": 2,
        "opted out: noai marker in the picture": 2,
        "excluded: creator": 1,
        "excluded: url": 1,
        "excluded: content hash": 1,
    }
    assert card["training_energy"]["kwh"] > 0 and card["training_energy"]["method"].startswith("codecarbon")
