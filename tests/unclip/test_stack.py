"""`promptism train unclip`: a whole stack from a folder of your own pictures or img2dataset shards
in one command, resumed after a kill, loaded with --models RUN at any size it was trained to, and
every combination of stages that does not fit refused with a message naming both (tiny recipes)."""

import io
import json
import os
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from promptism.cli import main

COLOURS = {"red": (220, 40, 40), "blue": (40, 60, 220), "green": (40, 180, 60), "yellow": (230, 210, 40)}
ASPECTS = [(80, 60), (50, 90), (96, 96), (200, 120)]


def _picture(i: int, scale: int = 1) -> tuple[Image.Image, str]:
    """A coloured shape on gray, of one of several sizes and aspects, and its caption."""
    w, h = ASPECTS[i % len(ASPECTS)]
    w, h = w * scale, h * scale
    colour, shape = list(COLOURS)[i % 4], ["circle", "square"][(i // 4) % 2]
    img = Image.new("RGB", (w, h), (128, 128, 128))
    x, y, r = w // 2, h // 2, min(w, h) // 4
    draw = ImageDraw.Draw(img)
    (draw.ellipse if shape == "circle" else draw.rectangle)([x - r, y - r, x + r, y + r], fill=COLOURS[colour])
    return img, f"a {colour} {shape} on a gray background"


@pytest.fixture(scope="module")
def own_pictures(tmp_path_factory) -> Path:
    """40 JPEGs with .txt captions in three subfolders, plus one unreadable picture and one with an
    empty caption (to be skipped and counted)."""
    root = tmp_path_factory.mktemp("own")
    for i in range(40):
        img, caption = _picture(i)
        sub = root / str(i % 3)
        sub.mkdir(exist_ok=True)
        img.save(sub / f"{i:03d}.jpg", quality=90)
        (sub / f"{i:03d}.txt").write_text(caption)
    (root / "0" / "broken.jpg").write_bytes(b"not a jpeg at all")
    (root / "0" / "broken.txt").write_text("a broken picture")
    Image.new("RGB", (40, 40)).save(root / "1" / "empty.jpg")
    (root / "1" / "empty.txt").write_text("   ")
    return root


def _img2dataset_shards(root: Path, n: int, scale: int) -> Path:
    """Shards in img2dataset's webdataset layout: 00000.tar ... with KEY.jpg, KEY.txt, KEY.json,
    and its _stats.json beside each shard."""
    root.mkdir(parents=True, exist_ok=True)
    per_shard = 16
    for s in range(0, n, per_shard):
        shard = s // per_shard
        with tarfile.open(root / f"{shard:05d}.tar", "w") as tar:
            for i in range(s, min(n, s + per_shard)):
                img, caption = _picture(i, scale)
                key = f"{shard:05d}{i % per_shard:04d}"
                buf = io.BytesIO()
                img.save(buf, format="JPEG", quality=90)
                meta = {"url": f"https://example.com/{i}.jpg", "key": key, "status": "success", "caption": caption}
                meta.update(width=img.width, height=img.height, original_width=img.width, original_height=img.height)
                for ext, data in (
                    ("jpg", buf.getvalue()),
                    ("txt", caption.encode()),
                    ("json", json.dumps(meta).encode()),
                ):
                    info = tarfile.TarInfo(f"{key}.{ext}")
                    info.size = len(data)
                    tar.addfile(info, io.BytesIO(data))
        (root / f"{shard:05d}_stats.json").write_text(json.dumps({"count": per_shard, "successes": per_shard}))
    return root


def _env() -> dict:
    return {**os.environ, "PROMPTISM_THREADS": "1", "OMP_NUM_THREADS": "1"}


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "promptism.cli", *args]


def test_a_folder_of_your_pictures_trains_a_whole_stack_that_generate_and_serve_load(own_pictures, tmp_path, capsys):
    run = tmp_path / "run"
    with pytest.warns(UserWarning, match=r"2 samples skipped \(empty caption 1, unreadable picture 1\)"):
        assert (
            main(["train", "unclip", "--data", str(own_pictures), "--out", str(run), "--preset", "tiny", "--quiet"])
            == 0
        )
    said = capsys.readouterr()
    assert "[5/5] upsampler-32" in said.out and "generate with: promptism generate" in said.out
    manifest = json.loads((run / "stack.json").read_text())
    assert manifest["size"] == 32 and list(manifest["stages"]) == [
        "clip",
        "embeddings",
        "prior",
        "decoder",
        "upsampler-32",
    ]
    assert all(s["done"] for s in manifest["stages"].values())
    decoder = json.loads((run / "decoder" / "model" / "config.json").read_text())
    assert decoder["examples"] == 40 and decoder["skipped"] == {"empty caption": 1, "unreadable picture": 1}
    # the run's models generate at the run's size, and at the decoder's
    out = tmp_path / "out"
    common = ["--models", str(run), "--quiet", "-n", "2", "--steps", "3", "--prior-steps", "2"]
    assert main(["generate", "a red circle on a gray background", "--out", str(out), *common]) == 0
    assert [Image.open(out / f"{i}.png").size for i in range(2)] == [(32, 32), (32, 32)]
    assert main(["generate", "a red circle", "--out", str(tmp_path / "o16"), "--size", "16", *common]) == 0
    assert Image.open(tmp_path / "o16" / "0.png").size == (16, 16)
    # rerunning the finished command skips every stage
    capsys.readouterr()
    assert main(["train", "unclip", "--data", str(own_pictures), "--out", str(run), "--preset", "tiny", "--quiet"]) == 0
    assert capsys.readouterr().out.count("done before, skipped") == 5
    # the server loads the same run (serve --models RUN)
    from fastapi.testclient import TestClient

    from promptism.cli import build_parser
    from promptism.cli.common import model_spec
    from promptism.server.app import create_app
    from promptism.server.config import ServerConfig

    args = build_parser().parse_args(["serve", "--models", str(run)])
    config = ServerConfig(
        data_dir=str(tmp_path / "data"),
        allowed_hosts=("testserver",),
        defaults={"steps": 2, "prior_steps": 2, "upsampler_steps": 2},
        **model_spec(args),
    )
    with TestClient(create_app(config)) as http:
        assert http.get("/api/info").json()["sizes"] == [32, 256, 512, 1024]
        r = http.post("/v1/images/generations", json={"prompt": "a red circle", "size": "32x32"})
        assert r.status_code == 200, r.text


def test_mismatched_stages_are_refused_naming_both_models(own_pictures, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "unclip", "--data", str(own_pictures), "--out", str(run), "--preset", "tiny", "--quiet"]) == 0
    capsys.readouterr()
    dec, prior, up = run / "decoder" / "model", run / "prior" / "model", run / "upsampler-32" / "model"
    cases = [
        # the issue's: the shipped 32->64 upsampler after a 16 px decoder
        (
            ["--prior", str(prior), "--decoder", str(dec), "--upsamplers", "world-64"],
            "the upsampler 'world-64' (shipped) takes 32 px pictures, but the decoder at",
        ),
        # an upsampler twice in a row: the second takes 16 px, the first makes 32
        (
            ["--prior", str(prior), "--decoder", str(dec), "--upsamplers", str(up), str(up)],
            "takes 16 px pictures, but the upsampler at",
        ),
        # a prior trained on another CLIP than the decoder
        (
            ["--decoder", str(dec), "--upsamplers"],
            "the prior 'world' (shipped) was trained on CLIP 'world-v1' and the decoder at",
        ),
        # a CLIP whose embeddings are another width than the stages'
        (["--models", str(run), "--clip", "world"], "--models names every model"),
        (
            ["--prior", str(prior), "--decoder", str(dec), "--clip", "world", "--upsamplers"],
            "takes CLIP embeddings of width 32, but CLIP 'world' makes them 256 wide",
        ),
        # sizes the models do not make
        (
            ["--models", str(run), "--size", "64"],
            "no upsampler reaches 64 px with these models: these models make 16 or 32 px",
        ),
        (["--models", str(run), "--size", "24"], "24 px is not a size these models make: 16 or 32 px"),
        (["--models", str(tmp_path / "nowhere")], "no unCLIP run at"),
    ]
    for extra, message in cases:
        code = main(["generate", "a red circle", "--out", str(tmp_path / "o"), "--quiet", *extra])
        err = capsys.readouterr().err
        assert code == 2 and message in err and "Traceback" not in err, (extra, err)
    # an unfinished run says what is left and how to finish it
    manifest = json.loads((run / "stack.json").read_text())
    del manifest["stages"]["upsampler-32"]
    (run / "stack.json").write_text(json.dumps(manifest))
    assert main(["generate", "x", "--models", str(run), "--quiet"]) == 2
    assert "not finished (upsampler-32 left): rerun `promptism train unclip`" in capsys.readouterr().err
    # the same run folder with other settings is refused, not mixed
    assert (
        main(["train", "unclip", "--data", str(own_pictures), "--out", str(run), "--preset", "tiny", "--size", "64"])
        == 2
    )
    assert "holds a run started with other settings (size differ)" in capsys.readouterr().err
    assert (
        main(
            ["train", "unclip", "--data", str(own_pictures), "--out", str(run), "--preset", "tiny", "--crop", "random"]
        )
        == 2
    )
    assert "other settings (crop differ)" in capsys.readouterr().err
    # a --clip to reuse that is not there is refused before any work
    nowhere = tmp_path / "no-clip"
    args = ["train", "unclip", "--data", str(own_pictures), "--out", str(tmp_path / "r3"), "--preset", "tiny"]
    assert main([*args, "--clip", str(nowhere)]) == 2
    assert f"no CLIP at {str(nowhere)!r}" in capsys.readouterr().err and not (tmp_path / "r3").exists()
    # sizes a stack cannot be trained to
    assert (
        main(
            [
                "train",
                "unclip",
                "--data",
                str(own_pictures),
                "--out",
                str(tmp_path / "r2"),
                "--preset",
                "tiny",
                "--size",
                "48",
            ]
        )
        == 2
    )
    assert "--size must be the decoder's 16 px doubled a whole number of times: 16, 32, 64" in capsys.readouterr().err


def test_img2dataset_shards_train_a_stack_at_256_px(tmp_path, capsys):
    shards = _img2dataset_shards(tmp_path / "laion", 40, scale=3)  # pictures of 150 to 600 px a side
    (tmp_path / "laion" / "00000.parquet").write_bytes(b"PAR1")  # img2dataset writes these too
    run = tmp_path / "run"
    code = main(
        ["train", "unclip", "--data", str(shards), "--out", str(run), "--preset", "tiny", "--size", "256", "--quiet"]
    )
    assert code == 0, capsys.readouterr().err
    manifest = json.loads((run / "stack.json").read_text())
    assert [s for s in manifest["stages"] if s.startswith("upsampler")] == [
        "upsampler-32",
        "upsampler-64",
        "upsampler-128",
        "upsampler-256",
    ]
    out = tmp_path / "out"
    args = [
        "--models",
        str(run),
        "--size",
        "256",
        "-n",
        "1",
        "--steps",
        "2",
        "--prior-steps",
        "2",
        "--upsampler-steps",
        "2",
    ]
    assert main(["generate", "a blue square on a gray background", "--out", str(out), "--quiet", *args]) == 0
    assert Image.open(out / "0.png").size == (256, 256)


@pytest.mark.slow
def test_a_killed_stack_resumes_where_it_stopped(own_pictures, tmp_path):
    # a recipe file: the tiny stack with a decoder long enough to be killed in the middle of
    recipe = tmp_path / "long-decoder.toml"
    recipe.write_text('kind = "unclip"\nbase = "tiny"\n[decoder.loop]\nsteps = 300\ncheckpoint_every = 10\n')
    run = tmp_path / "run"
    args = _cli("train", "unclip", "--data", str(own_pictures), "--out", str(run), "--config", str(recipe), "--quiet")
    proc = subprocess.Popen(args, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    state = run / "decoder" / "checkpoint" / "state.json"
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        if state.exists() and 20 <= json.loads(state.read_text())["step"] < 300:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_at = json.loads(state.read_text())["step"]
    assert killed_at < 300, "the run finished before it could be killed"
    manifest = json.loads((run / "stack.json").read_text())
    assert [k for k, v in manifest["stages"].items() if v["done"]] == ["clip", "embeddings", "prior"]
    clip_before = (run / "clip" / "model" / "model.safetensors").stat().st_mtime_ns
    r = subprocess.run(args, env=_env(), capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.count("done before, skipped") == 3  # clip, embeddings, prior
    assert (run / "clip" / "model" / "model.safetensors").stat().st_mtime_ns == clip_before
    assert json.loads(state.read_text())["step"] == 300
    assert json.loads((run / "decoder" / "model" / "config.json").read_text())["steps"] == 300
    assert all(s["done"] for s in json.loads((run / "stack.json").read_text())["stages"].values())


@pytest.mark.slow
def test_the_whole_stack_trains_in_two_processes_with_gloo(own_pictures, tmp_path):
    import shutil

    torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent)) or "torchrun"
    run = tmp_path / "ddp"
    r = subprocess.run(
        [torchrun, "--standalone", "--nproc_per_node", "2", "-m", "promptism.cli", "train", "unclip"]
        + ["--data", str(own_pictures), "--out", str(run), "--preset", "tiny", "--quiet"],
        capture_output=True,
        text=True,
        timeout=600,
        env=_env(),
    )
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.count("[3/5] prior") == 1  # one voice, the main process's
    for stage in ("clip", "prior", "decoder", "upsampler-32"):
        assert json.loads((run / stage / "checkpoint" / "state.json").read_text())["world_size"] == 2, stage
    from promptism.unclip.stack import load_run

    assert Path(load_run(run)["decoder"]) == run / "decoder" / "model"


def test_random_crops_are_the_same_however_the_pictures_are_read(tmp_path):
    from promptism.data import load_pairs

    wide = Image.new("RGB", (96, 32))
    for k, c in enumerate([(255, 0, 0), (0, 255, 0), (0, 0, 255)]):
        wide.paste(c, (32 * k, 0, 32 * k + 32, 32))
    folder = tmp_path / "pics"
    folder.mkdir()
    for i in range(12):
        wide.save(folder / f"{i:02d}.png")
        (folder / f"{i:02d}.txt").write_text("a wide picture")
    centre = load_pairs(folder, size=32, progress=False).images
    assert (centre[:, 16, 16] == [0, 255, 0]).all()  # the middle third
    random = load_pairs(folder, size=32, progress=False, crop="random").images
    again = load_pairs(folder, size=32, progress=False, crop="random").images
    assert (random == again).all() and len(
        {random[i, 0, 0].tobytes() + random[i, 0, 31].tobytes() for i in range(12)}
    ) > 1
    # shards read by one process or by several give each picture the same crop
    shards = tmp_path / "shards"
    shards.mkdir()
    for s in range(3):
        with tarfile.open(shards / f"{s:05d}.tar", "w") as tar:
            for i in range(4):
                for ext, data in (("png", (folder / f"{i:02d}.png").read_bytes()), ("txt", b"a wide picture")):
                    info = tarfile.TarInfo(f"{s:05d}{i:04d}.{ext}")
                    info.size = len(data)
                    tar.addfile(info, io.BytesIO(data))
    one = load_pairs(shards, size=32, progress=False, crop="random", workers=1).images
    three = load_pairs(shards, size=32, progress=False, crop="random", workers=3).images
    assert one.shape == (12, 32, 32, 3) and (one == three).all()
    assert not (np.diff(one.reshape(12, -1), axis=0) == 0).all()
