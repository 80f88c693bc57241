"""`promptism serve` runs CLIP-guided generation with the shipped VQGAN as model "vqgan-clip":
through OpenAI's generations endpoint and the studio's jobs, at its own sizes, as a job like the
others (queue, history, provenance), and refused for edits and variations."""

import base64
import io
import json

import httpx
import pytest
from PIL import Image
from server_helpers import Running, _config, finished_job


@pytest.fixture
def server(tiny, tmp_path):
    s = Running(_config(tiny, tmp_path, guide_steps=2))  # unCLIP's decoder steps are 3
    yield s
    s.stop()


def test_vqgan_clip_generates_at_its_own_sizes_and_only_generates(server):
    with httpx.Client(base_url=server.url, timeout=120) as http:
        models = [m["id"] for m in http.get("/v1/models").json()["data"]]
        assert models == ["promptism-unclip-world", "vqgan-clip", "dalle-mini", "stylegan"]
        body = {
            "model": "vqgan-clip",
            "prompt": "a red circle",
            "size": "128x128",
            "n": 2,
            "response_format": "b64_json",
        }
        r = http.post("/v1/images/generations", json=body)
        assert r.status_code == 200, r.text
        pics = [Image.open(io.BytesIO(base64.b64decode(d["b64_json"]))) for d in r.json()["data"]]
        assert [p.size for p in pics] == [(128, 128), (128, 128)]
        assert any(k.endswith("operation") and "guide" in v for k, v in pics[0].text.items()), pics[0].text
        assert json.loads(pics[0].text["promptism:settings"])["steps"] == 2  # --guide-steps, not --steps
        job = http.get("/api/jobs").json()["jobs"][0]
        assert job["params"]["model"] == "vqgan-clip" and job["status"] == "done"
        r = http.post("/v1/images/generations", json={**body, "size": "32x32"})
        assert r.status_code == 400 and "not available for 'vqgan-clip'" in r.json()["error"]["message"]
        r = http.post(
            "/v1/images/variations", data={"model": "vqgan-clip"}, files={"image": ("x.png", _png(), "image/png")}
        )
        assert r.status_code == 400 and "only makes new pictures" in r.json()["error"]["message"]
        info = http.get("/api/info").json()
        guided = next(m for m in info["models"] if m["id"] == "vqgan-clip")
        assert guided["sizes"][:3] == [64, 128, 256]
        r = http.post("/api/jobs", json={"kind": "generate", "model": "vqgan-clip", "prompt": "a blue square"})
        assert r.status_code == 202
        assert server.service.queue.waiting + server.service.queue.running <= 1
        job = {"kind": "generate", "model": "vqgan-clip", "prompt": "a blue square", "n": 1, "steps": 4}
        done = finished_job(http, http.post("/api/jobs", json=job).json()["id"])
        pic = Image.open(io.BytesIO(http.get("/images/" + done["files"][0]).content))
        assert json.loads(pic.text["promptism:settings"])["steps"] == 4  # the studio's steps are guide's


def _png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (32, 32), (128, 128, 128)).save(buf, format="PNG")
    return buf.getvalue()


def test_a_dream_job_dreams_on_a_picture_of_the_history(server):
    with httpx.Client(base_url=server.url, timeout=120) as http:
        r = http.post("/api/jobs", json={"kind": "generate", "prompt": "a red circle", "n": 1})
        made = finished_job(http, r.json()["id"])
        source = made["files"][0]
        r = http.post("/api/jobs", json={"kind": "dream", "source": source, "prompt": "a blue square"})
        assert r.status_code == 202, r.text
        dreamt = finished_job(http, r.json()["id"])
        assert dreamt["status"] == "done" and dreamt["kind"] == "dream", dreamt
        assert dreamt["params"]["source"] == source and dreamt["params"]["source_prompt"] == "a red circle"
        pic = Image.open(io.BytesIO(http.get("/images/" + dreamt["files"][0]).content))
        assert (
            pic.size == Image.open(io.BytesIO(http.get("/images/" + source).content)).size
            and pic.text["promptism:operation"] == "dream"
        )
        assert float(pic.text["promptism:goal_after"]) > float(pic.text["promptism:goal_before"])
        r = http.post("/api/jobs", json={"kind": "dream", "source": "0123456789abcdef-0.png"})
        assert r.status_code == 404
