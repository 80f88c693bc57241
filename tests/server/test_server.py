"""`promptism serve`: OpenAI's Images API driven by the official `openai` client, errors in OpenAI's
shape for 30+ kinds of malformed request, API keys, the prompt policy, the job queue (429 when
full, cancellation when the client leaves, a time limit) and a history that survives a killed
server (tiny random models; a real uvicorn server on a free loopback port)."""

import base64
import io
import json
import os
import signal
import struct
import subprocess
import sys
import threading
import time
import zlib

import httpx
import numpy as np
import openai
import pytest
from PIL import Image
from server_helpers import Running, _config, _free_port, assert_clean_4xx, finished_job

from promptism.errors import PromptismError
from promptism.pipelines.provenance import read_provenance
from promptism.responsible import Policy, watermark

KEY = "sk-test-key-123"


@pytest.fixture(scope="module")
def server(tiny, tmp_path_factory):
    policy = tmp_path_factory.mktemp("policy") / "policy.txt"
    policy.write_text("# test policy\nJane Example\nre:\\bforbidden\\w*\n")
    s = Running(_config(tiny, tmp_path_factory.mktemp("srv"), policy=str(policy)))
    yield s
    s.stop()


def _png(size=(32, 32), alpha=None, color=(250, 250, 250)) -> bytes:
    im = Image.new("RGBA" if alpha is not None else "RGB", size, color + ((255,) if alpha is not None else ()))
    if alpha is not None:
        a = np.full(size[::-1], 255, np.uint8)
        a[alpha] = 0
        im.putalpha(Image.fromarray(a))
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


def _png_claiming(width: int, height: int) -> bytes:
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(b"\0" * 4))
        + chunk(b"IEND", b"")
    )


def _decode(item) -> Image.Image:
    return Image.open(io.BytesIO(base64.b64decode(item.b64_json)))


# --- the official client -------------------------------------------------------------------------
def test_openai_client_generates_edits_and_varies(server):
    client = openai.OpenAI(base_url=server.url + "/v1", api_key=KEY, max_retries=0)
    r = client.images.generate(prompt="a red circle", n=2, size="32x32", response_format="b64_json", user="tester")
    pics = [_decode(d) for d in r.data]
    assert [p.size for p in pics] == [(32, 32)] * 2
    meta = {k[len("promptism:") :]: v for k, v in pics[0].text.items() if k.startswith("promptism:")}
    assert json.loads(meta["models"])["decoder"]["sha256"] and meta["prompt"] == "a red circle"
    assert pics[0].text["Software"].startswith("promptism")

    big = client.images.generate(prompt="a blue square", size="256x256", response_format="b64_json")
    pic = _decode(big.data[0])
    assert pic.size == (256, 256) and json.loads(pic.text["promptism:upscaled_from"]) == [32, 32]

    url = client.images.generate(prompt="a green star", model="dall-e-2").data[0].url
    got = httpx.get(url)
    assert got.status_code == 200 and Image.open(io.BytesIO(got.content)).size == (32, 32)

    hole = (slice(0, 12), slice(0, 12))  # transparent = repaint, as OpenAI documents
    image = _png(alpha=None)
    mask = _png(alpha=hole)
    e = client.images.edit(
        image=("in.png", image, "image/png"),
        mask=("mask.png", mask, "image/png"),
        prompt="a yellow star",
        n=1,
        size="32x32",
        response_format="b64_json",
    )
    out = np.asarray(_decode(e.data[0]).convert("RGB"), np.int16)
    keep = np.ones((32, 32), bool)
    keep[hole] = False
    # the kept pixels are the upload's, with the watermark every written picture carries (a mark
    # that depends on each pixel alone, so it is the upload's own pixels marked)
    kept = np.asarray(watermark.embed(Image.open(io.BytesIO(image)).convert("RGB")), np.int16)
    assert np.array_equal(out[keep], kept[keep])
    assert (out[~keep] != 250).any()

    v = client.images.create_variation(
        image=("in.png", image, "image/png"), n=2, size="32x32", response_format="b64_json"
    )
    assert len(v.data) == 2 and _decode(v.data[1]).size == (32, 32)

    jobs = httpx.get(server.url + "/api/jobs").json()["jobs"]
    kinds = {j["kind"] for j in jobs if j["status"] == "done"}
    assert {"generate", "edit", "variation"} <= kinds
    done = [j for j in jobs if j["kind"] == "generate" and j["user"] == "tester"][0]
    assert len(done["seeds"]) == 2 and all((server.service.history.images / f).exists() for f in done["files"])
    # the job's energy, summed over its pictures' provenance
    energy = httpx.get(server.url + "/api/jobs/" + done["id"]).json()["energy"]
    assert energy["wh"] > 0 and [p["file"] for p in energy["pictures"]] == done["files"]
    assert energy["wh"] == pytest.approx(sum(p["wh"] for p in energy["pictures"]), rel=1e-3)


def test_openai_client_sees_openai_errors(server):
    client = openai.OpenAI(base_url=server.url + "/v1", api_key=KEY, max_retries=0)
    with pytest.raises(openai.BadRequestError) as e:
        client.images.generate(prompt="a red circle", n=0)
    assert e.value.status_code == 400 and e.value.body["param"] == "n"
    with pytest.raises(openai.NotFoundError) as e:
        client.images.generate(prompt="a red circle", model="gpt-image-9")
    assert e.value.body["code"] == "model_not_found"
    with pytest.raises(openai.BadRequestError) as e:
        client.images.generate(prompt="a portrait of Jane  example")
    assert e.value.body["code"] == "content_policy_violation"
    refused = [j for j in httpx.get(server.url + "/api/jobs").json()["jobs"] if j["status"] == "refused"]
    assert refused and "Jane Example" in refused[0]["error"]  # logged with why, never told to the client
    assert "Jane" not in e.value.body["message"]
    with pytest.raises(openai.BadRequestError) as e:  # a real person, by the default rule
        client.images.generate(prompt="barack obama's dog riding a horse")
    assert e.value.body["code"] == "content_policy_violation" and "real person" in e.value.body["message"]
    with pytest.raises(openai.BadRequestError) as e:  # a blocked term written to slip past
        client.images.generate(prompt="a f.o.r.b\u0456dden thing")  # Cyrillic і, dots
    assert e.value.body["code"] == "content_policy_violation"
    with pytest.raises(openai.BadRequestError):
        client.images.create_variation(image=("x.png", b"not a picture", "image/png"))


# --- 30+ kinds of malformed request --------------------------------------------------------------
GEN = "/v1/images/generations"


def _bad_requests():
    j = {"headers": {"content-type": "application/json"}}
    img = _png()
    cases = [
        ("no body", "POST", GEN, {}),
        ("not json", "POST", GEN, {"content": b"prompt=hi", **j}),
        ("json array", "POST", GEN, {"content": b"[1, 2]", **j}),
        ("json string", "POST", GEN, {"content": b'"a red circle"', **j}),
        ("broken json", "POST", GEN, {"content": b'{"prompt": "a', **j}),
        ("missing prompt", "POST", GEN, {"json": {"n": 1}}),
        ("empty prompt", "POST", GEN, {"json": {"prompt": "   "}}),
        ("prompt a number", "POST", GEN, {"json": {"prompt": 42}}),
        ("prompt a list", "POST", GEN, {"json": {"prompt": ["a", "b"]}}),
        ("huge prompt", "POST", GEN, {"json": {"prompt": "red " * 3000}}),
        ("body over 1 MB", "POST", GEN, {"json": {"prompt": "x" * 1_500_000}}),
        ("n zero", "POST", GEN, {"json": {"prompt": "a red circle", "n": 0}}),
        ("n 1000", "POST", GEN, {"json": {"prompt": "a red circle", "n": 1000}}),
        ("n negative", "POST", GEN, {"json": {"prompt": "a red circle", "n": -2}}),
        ("n a string", "POST", GEN, {"json": {"prompt": "a red circle", "n": "four"}}),
        ("n a float", "POST", GEN, {"json": {"prompt": "a red circle", "n": 1.5}}),
        ("n true", "POST", GEN, {"json": {"prompt": "a red circle", "n": True}}),
        ("size odd", "POST", GEN, {"json": {"prompt": "a red circle", "size": "100x100"}}),
        ("size not square", "POST", GEN, {"json": {"prompt": "a red circle", "size": "64x32"}}),
        ("size garbage", "POST", GEN, {"json": {"prompt": "a red circle", "size": "big"}}),
        ("size a number", "POST", GEN, {"json": {"prompt": "a red circle", "size": 64}}),
        ("bad response_format", "POST", GEN, {"json": {"prompt": "a red circle", "response_format": "jpeg"}}),
        ("unknown model", "POST", GEN, {"json": {"prompt": "a red circle", "model": "dall-e-9"}}),
        ("user a dict", "POST", GEN, {"json": {"prompt": "a red circle", "user": {"id": 1}}}),
        ("seed negative", "POST", GEN, {"json": {"prompt": "a red circle", "seed": -1}}),
        ("edit as json", "POST", "/v1/images/edits", {"json": {"prompt": "a star"}}),
        ("edit without image", "POST", "/v1/images/edits", {"data": {"prompt": "a star"}, "files": {"x": ("x", b"1")}}),
        ("edit without prompt", "POST", "/v1/images/edits", {"files": {"image": ("a.png", _png(alpha=(0, 0)))}}),
        (
            "edit non-png upload",
            "POST",
            "/v1/images/edits",
            {"data": {"prompt": "a star"}, "files": {"image": ("a.png", b"GIF89a-nope")}},
        ),
        (
            "edit png claiming 50000x50000",
            "POST",
            "/v1/images/edits",
            {"data": {"prompt": "a star"}, "files": {"image": ("a.png", _png_claiming(50_000, 50_000))}},
        ),
        (
            "edit mask of another size",
            "POST",
            "/v1/images/edits",
            {
                "data": {"prompt": "a star"},
                "files": {"image": ("a.png", img), "mask": ("m.png", _png((16, 16), (0, 0)))},
            },
        ),
        (
            "edit mask without transparency",
            "POST",
            "/v1/images/edits",
            {"data": {"prompt": "a star"}, "files": {"image": ("a.png", img), "mask": ("m.png", _png())}},
        ),
        (
            "edit opaque image, no mask",
            "POST",
            "/v1/images/edits",
            {"data": {"prompt": "a star"}, "files": {"image": ("a.png", img)}},
        ),
        (
            "path-like filename, bad bytes",
            "POST",
            "/v1/images/variations",
            {"files": {"image": ("../../etc/passwd", b"root:x:0:0")}},
        ),
        ("variation n 11", "POST", "/v1/images/variations", {"data": {"n": "11"}, "files": {"image": ("a.png", img)}}),
        ("upload over 4 MB", "POST", "/v1/images/variations", {"files": {"image": ("a.png", os.urandom(5 * 2**20))}}),
        ("unknown route", "POST", "/v1/images/nothing", {"json": {}}),
        ("wrong method", "GET", GEN, {}),
        ("picture that does not exist", "GET", "/images/0123456789abcdef-0.png", {}),
        ("picture path traversal", "GET", "/images/..%2F..%2Fhistory.sqlite3", {}),
        ("job that does not exist", "GET", "/api/jobs/nope", {}),
        ("studio job without kind", "POST", "/api/jobs", {"json": {"prompt": "a red circle"}}),
        (
            "studio variation of an unknown picture",
            "POST",
            "/api/jobs",
            {"json": {"kind": "variation", "source": "0123456789abcdef-0.png"}},
        ),
        (
            "studio variation of a path",
            "POST",
            "/api/jobs",
            {"json": {"kind": "variation", "source": "../history.sqlite3"}},
        ),
        ("studio steps 0", "POST", "/api/jobs", {"json": {"kind": "generate", "prompt": "a red circle", "steps": 0}}),
        (
            "studio unknown sampler",
            "POST",
            "/api/jobs",
            {"json": {"kind": "generate", "prompt": "a red circle", "sampler": "euler"}},
        ),
        (
            "studio guidance a word",
            "POST",
            "/api/jobs",
            {"json": {"kind": "generate", "prompt": "a red circle", "guidance_decoder": "lots"}},
        ),
        (
            "studio caption guidance out of range",
            "POST",
            "/api/jobs",
            {"json": {"kind": "generate", "prompt": "a red circle", "guidance_text": 99}},
        ),
        (
            "studio rerank out of range",
            "POST",
            "/api/jobs",
            {"json": {"kind": "generate", "prompt": "a red circle", "rerank": 9}},
        ),
    ]
    return cases


def test_malformed_requests_get_clean_4xx_in_openai_shape_and_the_server_stays_healthy(server):
    cases = _bad_requests()
    assert len(cases) >= 30
    with httpx.Client(base_url=server.url, timeout=60) as http:
        for name, method, path, kw in cases:
            assert_clean_4xx(http.request(method, path, **kw), name)
        assert http.get("/healthz").json()["ok"] is True
        ok = http.post(GEN, json={"prompt": "a red circle", "size": "32x32", "response_format": "b64_json"})
        assert ok.status_code == 200 and len(ok.json()["data"]) == 1
        # a valid picture under a path-like name is kept under its content hash, nowhere else
        r = http.post("/v1/images/variations", files={"image": ("../../../evil.png", _png(color=(10, 20, 30)))})
        assert r.status_code == 200
    uploads = server.service.history.uploads
    assert all(len(p.stem) == 64 for p in uploads.iterdir())
    assert not (uploads.parent.parent / "evil.png").exists()


# --- keys, policy, config -------------------------------------------------------------------------
def test_api_keys_are_required_when_set_and_beyond_loopback(tiny, tmp_path):
    with pytest.raises(PromptismError, match="without API keys"):
        _config(tiny, tmp_path, host="0.0.0.0").check()
    _config(tiny, tmp_path, host="0.0.0.0", api_keys=(KEY,)).check()
    with pytest.raises(PromptismError, match="unknown settings"):
        _config(tiny, tmp_path, defaults={"stepz": 3}).check()
    with pytest.raises(PromptismError, match="--guide-steps must be from 1 to 1000"):
        _config(tiny, tmp_path, guide_steps=0).check()
    s = Running(_config(tiny, tmp_path, api_keys=(KEY,)))
    try:
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url=s.url + "/v1", api_key="sk-wrong-key", max_retries=0).images.generate(prompt="a")
        assert httpx.get(s.url + "/api/jobs").status_code == 401
        r = openai.OpenAI(base_url=s.url + "/v1", api_key=KEY, max_retries=0).images.generate(
            prompt="a red circle", response_format="b64_json"
        )
        assert len(r.data) == 1
    finally:
        s.stop()


def test_policy_file_terms_and_patterns(tmp_path):
    p = tmp_path / "p.txt"
    p.write_text("# comment\nJane Example\nre:\\bgore\\b\n")
    pol = Policy.load(p)
    assert pol.violation("a picture of JANE   example smiling") == "Jane Example"
    assert pol.violation("gore") == "re:\\bgore\\b" and pol.violation("gorey", "a red circle") is None
    assert pol.violation("janeexample") is None
    p.write_text("re:(unclosed\n")
    with pytest.raises(PromptismError, match="line 1"):
        Policy.load(p)
    assert Policy.load().violation("a naked man")  # the shipped default policy


# --- the queue -------------------------------------------------------------------------------------
@pytest.mark.slow
def test_queue_refuses_when_full_cancels_when_the_client_leaves_and_limits_time(tiny, tmp_path):
    slow = {
        "steps": 1000,
        "prior_steps": 1000,
        "upsampler_steps": 2,
    }  # ~1.8 s a job on an idle machine: 400 (0.7 s) let the first end before the third came
    s = Running(_config(tiny, tmp_path, max_queue=1, concurrency=1, defaults=slow))
    try:
        results = {}

        def call(i):
            with httpx.Client(base_url=s.url, timeout=120) as c:
                results[i] = c.post(GEN, json={"prompt": "a red circle", "response_format": "b64_json"}).status_code

        threads = [threading.Thread(target=call, args=(i,)) for i in range(3)]
        for t in threads:
            t.start()
            time.sleep(0.4)
        for t in threads:
            t.join()
        assert sorted(results.values()) == [200, 200, 429]

        # a client that gives up: its job is cancelled at the next step, not run to the end
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(s.url + GEN, json={"prompt": "a blue square"}, timeout=0.6)
        deadline = time.time() + 30
        while True:
            job = [
                j for j in httpx.get(s.url + "/api/jobs").json()["jobs"] if j["params"].get("prompt") == "a blue square"
            ]
            if job and job[0]["status"] in ("cancelled", "done", "failed"):
                break
            assert time.time() < deadline
            time.sleep(0.2)
        assert job[0]["status"] == "cancelled" and not job[0]["files"]
    finally:
        s.stop()
    t = Running(_config(tiny, tmp_path, job_timeout_s=0.3, defaults=slow))
    try:
        r = httpx.post(t.url + GEN, json={"prompt": "a red circle"}, timeout=60)
        assert r.status_code == 500 and r.json()["error"]["code"] == "timeout"
        assert httpx.get(t.url + "/api/jobs").json()["jobs"][0]["status"] == "failed"
    finally:
        t.stop()


@pytest.mark.slow
def test_a_killed_server_leaves_no_half_written_job_and_restarts_with_its_history(tiny, tmp_path):
    data = tmp_path / "data"
    port = _free_port()
    cmd = [
        sys.executable,
        "-m",
        "promptism.cli",
        "serve",
        "--data-dir",
        str(data),
        "--port",
        str(port),
        "--clip",
        str(tiny / "clip"),
        "--prior",
        str(tiny / "prior"),
        "--decoder",
        str(tiny / "decoder"),
        "--upsamplers",
        str(tiny / "up32"),
    ]
    url = f"http://127.0.0.1:{port}"

    def start(*extra):
        proc = subprocess.Popen(cmd + list(extra), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 90
        while True:
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    return proc
            except httpx.HTTPError:
                pass
            assert proc.poll() is None and time.time() < deadline, "the server did not start"
            time.sleep(0.2)

    proc = start("--steps", "3", "--prior-steps", "2", "--upsampler-steps", "2")
    try:
        first = httpx.post(url + GEN, json={"prompt": "a red circle", "n": 2}, timeout=60).json()
        assert len(first["data"]) == 2
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    proc = start("--steps", "1000", "--prior-steps", "1000")
    try:

        def slow_request():
            try:
                httpx.post(url + GEN, json={"prompt": "a blue square"}, timeout=120)
            except httpx.HTTPError:
                pass  # the server is killed under it

        threading.Thread(target=slow_request, daemon=True).start()
        deadline = time.time() + 60
        while not any(j["status"] == "running" for j in httpx.get(url + "/api/jobs").json()["jobs"]):
            assert time.time() < deadline
            time.sleep(0.1)
    finally:
        proc.kill()  # mid-job, no chance to clean up
        proc.wait(30)
    proc = start("--steps", "3", "--prior-steps", "2", "--upsampler-steps", "2")
    try:
        jobs = httpx.get(url + "/api/jobs").json()["jobs"]
        killed = [j for j in jobs if j["params"]["prompt"] == "a blue square"][0]
        kept = [j for j in jobs if j["params"]["prompt"] == "a red circle"][0]
        assert killed["status"] == "failed" and "stopped" in killed["error"]
        assert not list((data / "images").glob(f"{killed['id']}-*"))
        assert kept["status"] == "done" and all((data / "images" / f).exists() for f in kept["files"])
        assert httpx.get(url + "/" + kept["urls"][0].lstrip("/")).status_code == 200
        assert httpx.post(url + GEN, json={"prompt": "a green star"}, timeout=60).status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)


def test_studio_jobs_are_queued_polled_and_checked(server):
    import base64 as b64

    def wait(job_id):
        with httpx.Client(base_url=server.url) as http:
            return finished_job(http, job_id, timeout=60)

    r = httpx.post(
        server.url + "/api/jobs",
        json={
            "kind": "generate",
            "prompt": "a red circle",
            "n": 1,
            "seed": 5,
            "sampler": "ddim",
            "guidance_decoder": 2.5,
            "guidance_text": 1.5,
            "rerank": 2,
        },
    )
    assert r.status_code == 202
    job = wait(r.json()["id"])
    assert job["status"] == "done" and job["seeds"] == [5] and job["params"]["settings"]["sampler"] == "ddim"
    assert job["params"]["settings"]["guidance_text"] == 1.5 and job["params"]["settings"]["rerank"] == 2
    meta = read_provenance(server.service.history.images / job["files"][0])
    assert meta["rerank"]["candidate"] in (0, 1) and len(meta["rerank"]["scores"]) == 2
    source = job["files"][0]
    bad = [
        ({"mask": "%%%"}, "base64"),
        ({"mask": b64.b64encode(_png((8, 8))).decode()}, "same size"),
        ({"mask": b64.b64encode(_png(color=(0, 0, 0))).decode()}, "marks nothing"),
    ]
    for extra, msg in bad:
        r = httpx.post(server.url + "/api/jobs", json={"kind": "edit", "source": source, **extra})
        assert r.status_code == 400 and msg in r.json()["error"]["message"], r.text
    m = np.zeros((32, 32), np.uint8)
    m[:10, :10] = 255
    buf = io.BytesIO()
    Image.fromarray(m).save(buf, format="PNG")
    r = httpx.post(
        server.url + "/api/jobs",
        json={
            "kind": "edit",
            "source": source,
            "prompt": "a yellow star",
            "mask": b64.b64encode(buf.getvalue()).decode(),
            "rerank": 3,
        },
    )  # edits do not rerank: dropped, not refused
    job = wait(r.json()["id"])
    assert job["status"] == "done" and job["params"]["source"] == source and len(job["params"]["mask_sha256"]) == 64
    before = np.asarray(Image.open(server.service.history.images / source).convert("RGB"))
    after = np.asarray(Image.open(server.service.history.images / job["files"][0]).convert("RGB"))
    # below the hole the source's pixels, marked again when the mark was not read in them
    remarked = np.asarray(watermark.add(Image.fromarray(before)))
    assert np.array_equal(before[10:], after[10:]) or np.array_equal(remarked[10:], after[10:])
    assert not np.array_equal(before[:10, :10], after[:10, :10])


def test_one_server_per_data_folder_and_jobs_end_once(tmp_path):
    from promptism.server.history import History

    h = History(tmp_path)
    with pytest.raises(PromptismError, match="another promptism server"):
        History(tmp_path)
    job = h.add("generate", {"prompt": "a red circle"})
    h.start(job)
    with pytest.raises(ValueError):
        h.finish(job, "running")
    h.close()
    again = History(tmp_path)  # the lock goes with the first one
    assert again.recover() == [job] and again.get(job).status == "failed"
    again.close()


def test_a_server_that_reranks_by_default_still_inpaints(tiny, tmp_path):
    from server_helpers import FAST

    s = Running(_config(tiny, tmp_path, defaults={**FAST, "rerank": 2}))
    try:
        client = openai.OpenAI(base_url=s.url + "/v1", api_key=KEY, max_retries=0)
        g = client.images.generate(prompt="a red circle", n=1, size="32x32", response_format="b64_json")
        info = json.loads(_decode(g.data[0]).text["promptism:rerank"])
        assert len(info["scores"]) == 2  # the server's default reached the generation
        image, mask = _png(alpha=None), _png(alpha=(slice(0, 12), slice(0, 12)))
        e = client.images.edit(
            image=("in.png", image, "image/png"),
            mask=("mask.png", mask, "image/png"),
            prompt="a yellow star",
            n=1,
            size="32x32",
            response_format="b64_json",
        )
        pic = _decode(e.data[0])  # inpainting ignores the rerank default instead of refusing the job
        assert json.loads(pic.text["promptism:settings"])["rerank"] == 1 and "promptism:rerank" not in pic.text
        v = client.images.create_variation(
            image=("in.png", image, "image/png"), n=1, size="32x32", response_format="b64_json"
        )
        assert len(json.loads(_decode(v.data[0]).text["promptism:rerank"])["scores"]) == 2
    finally:
        s.stop()
