"""The watermark and the C2PA manifest every written picture carries, and `promptism verify`."""

import io
import json

import numpy as np
import pytest
from PIL import Image

from promptism.pipelines.provenance import read_provenance, save_png
from promptism.responsible import credentials, watermark


def _renders(n, seed=3):
    from promptism.world.render import render
    from promptism.world.sampling import example_rng, sample_example

    return [render(sample_example(example_rng(seed, "val", i)).scene, 64) for i in range(n)]


def _jpeg(im, q):
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=q)
    buf.seek(0)
    return Image.open(buf).convert("RGB")


def test_the_mark_is_found_after_jpeg_and_resizing_and_not_in_unmarked_pictures():
    pictures = _renders(8)
    marked = [watermark.embed(p) for p in pictures]
    assert sum(watermark.detect(m).found for m in marked) >= 7
    assert sum(watermark.detect(_jpeg(m, 75)).found for m in marked) >= 7
    half = [m.resize((32, 32), Image.BICUBIC).resize((64, 64), Image.BICUBIC) for m in marked]
    assert sum(watermark.detect(h).found for h in half) >= 7
    assert not any(watermark.detect(p).found for p in pictures)
    noise = Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8))
    assert not watermark.detect(noise).found
    a, b = np.asarray(pictures[0], float), np.asarray(marked[0], float)
    assert 0 < np.abs(a - b).mean() < 4  # faint, but there
    found = next(m for m in marked if watermark.detect(m).found)
    assert watermark.embed(found) is found  # never marked twice
    tiny = Image.new("RGB", (16, 16))
    assert watermark.embed(tiny) is tiny and not watermark.detect(tiny).found


def test_an_uncropped_picture_is_read_where_its_tiling_lies_and_a_crop_by_the_peak_over_every_shift():
    marked = [watermark.embed(p) for p in _renders(8)]
    aligned = [watermark.detect(_jpeg(m, 75)) for m in marked]
    # JPEG keeps the frame: the correlation at no shift finds the mark, below the peak's higher bar
    assert sum(d.aligned >= watermark.ALIGNED_THRESHOLD for d in aligned) >= 7
    assert watermark.ALIGNED_THRESHOLD < watermark.THRESHOLD
    crops = [watermark.detect(m.crop((5, 3, 63, 61))) for m in marked]  # the tiling moves by (5, 3)
    assert all(d.aligned < watermark.ALIGNED_THRESHOLD for d in crops)
    assert sum(d.found and d.score >= watermark.THRESHOLD for d in crops) >= 7
    report = crops[0].to_json()
    assert report["aligned_threshold"] == watermark.ALIGNED_THRESHOLD and "aligned_score" in report


def test_a_written_picture_carries_the_mark_a_valid_manifest_and_its_provenance(tmp_path):
    from promptism.cli.responsible import verify_picture

    path = save_png(_renders(1)[0], tmp_path / "0.png", {"prompt": "a red circle", "seed": 0})
    report = verify_picture(path)
    assert (
        report["provenance"]["prompt"] == "a red circle" and report["provenance"]["watermark"] == watermark.IDENTIFIER
    )
    assert report["watermark"]["found"]
    c2pa = report["c2pa"]
    assert c2pa["state"] in ("Valid", "Trusted") and c2pa["trusted"] and c2pa["problems"] == []
    assert c2pa["signer"] == "Promptism local signer"
    actions = next(a for a in c2pa["manifest"]["assertions"] if a["label"].startswith("c2pa.actions"))
    assert actions["data"]["actions"][0]["digitalSourceType"] == credentials.SOURCE_TYPE
    ours = next(a for a in c2pa["manifest"]["assertions"] if a["label"] == credentials.ASSERTION)
    assert ours["data"]["prompt"] == "a red circle"
    assert json.loads((tmp_path / "0.json").read_text())["content_credentials"] == "c2pa"
    # a changed pixel breaks the manifest's hash
    with Image.open(path) as im:
        tampered = im.copy()
    tampered.putpixel((5, 5), (0, 0, 0) if tampered.getpixel((5, 5)) != (0, 0, 0) else (255, 255, 255))
    raw = path.read_bytes()
    buf = io.BytesIO()
    tampered.save(buf, "PNG")
    assert b"caBX" in raw and b"caBX" not in buf.getvalue()  # the manifest lives in its own chunk


def test_a_changed_byte_invalidates_the_manifest(tmp_path):
    path = save_png(_renders(1)[0], tmp_path / "0.png", {"prompt": "x"})
    data = bytearray(path.read_bytes())
    idat = data.index(b"IDAT") + 8
    data[idat] ^= 0xFF
    bad = tmp_path / "bad.png"
    bad.write_bytes(bytes(data))
    report = credentials.read_manifest(bad)
    assert report is not None and report["state"] == "Invalid" and not report["trusted"]


def test_marks_can_be_turned_off_and_a_configured_key_signs(tmp_path, monkeypatch):
    monkeypatch.setenv("PROMPTISM_WATERMARK", "off")
    monkeypatch.setenv("PROMPTISM_C2PA", "off")
    img = _renders(1)[0]
    path = save_png(img, tmp_path / "plain.png", {"prompt": "x"})
    with Image.open(path) as im:
        assert np.array_equal(np.asarray(im.convert("RGB")), np.asarray(img))
    assert credentials.read_manifest(path) is None
    assert read_provenance(path)["watermark"] == "off"
    monkeypatch.setenv("PROMPTISM_C2PA", "on")
    credentials._make_local(tmp_path / "mine")
    monkeypatch.setenv("PROMPTISM_C2PA_CERT", str(tmp_path / "mine" / "chain.pem"))
    monkeypatch.setenv("PROMPTISM_C2PA_KEY", str(tmp_path / "mine" / "signer.key"))
    report = credentials.read_manifest(save_png(img, tmp_path / "signed.png", {"prompt": "x"}))
    assert report["state"] == "Valid" and not report["trusted"]  # a root no one told the reader to trust
    assert "signingCredential.untrusted" in report["problems"]
    monkeypatch.setenv("PROMPTISM_C2PA_KEY", "")
    from promptism.errors import PromptismError

    with pytest.raises(PromptismError, match="both"):
        credentials.identity()


def test_verify_prints_what_a_picture_says_and_refuses_what_is_not_one(tmp_path, capsys):
    from promptism.cli import main

    path = save_png(_renders(1)[0], tmp_path / "0.png", {"generator": "unclip", "prompt": "a red circle"})
    _renders(1, seed=9)[0].save(tmp_path / "other.png")
    assert main(["verify", str(path), str(tmp_path / "other.png")]) == 0
    out = capsys.readouterr().out
    assert "watermark: found" in out and "C2PA manifest: Trusted (trusted;" in out
    assert out.count("watermark: not found") == 1 and "C2PA manifest: none" in out
    assert main(["verify", "--json", str(path)]) == 0
    assert json.loads(capsys.readouterr().out)["watermark"]["found"] is True
    (tmp_path / "x.png").write_text("not a picture")
    assert main(["verify", str(tmp_path / "x.png")]) == 2
    assert main(["verify", str(tmp_path / "missing.png")]) == 2
