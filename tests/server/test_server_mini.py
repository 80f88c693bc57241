"""`promptism serve` runs DALL·E mini as model "dalle-mini": through OpenAI's generations endpoint
and the studio's jobs, as a job like the others, and refused for edits (the grid's preview as it
forms: tests/mini)."""

import base64
import io

import httpx
import pytest
from PIL import Image
from server_helpers import Running, _config


@pytest.fixture
def server(tiny, tiny_mini, tmp_path):
    s = Running(_config(tiny, tmp_path, mini=str(tiny_mini / "mini" / "model")))
    yield s
    s.stop()


def test_dalle_mini_generates_reranked_pictures_and_only_generates(server):
    with httpx.Client(base_url=server.url, timeout=120) as http:
        models = [m["id"] for m in http.get("/v1/models").json()["data"]]
        assert models == ["promptism-unclip-world", "vqgan-clip", "dalle-mini", "stylegan"]
        body = {"model": "dalle-mini", "prompt": "a red circle", "n": 3, "seed": 5, "response_format": "b64_json"}
        r = http.post("/v1/images/generations", json=body)
        assert r.status_code == 200, r.text
        pics = [Image.open(io.BytesIO(base64.b64decode(d["b64_json"]))) for d in r.json()["data"]]
        assert [p.size for p in pics] == [(64, 64)] * 3
        ranks = [int(p.text["promptism:rank"]) for p in pics]
        assert ranks == [1, 2, 3], pics[0].text
        job = http.get("/api/jobs").json()["jobs"][0]
        assert job["params"]["model"] == "dalle-mini" and job["status"] == "done"
        r = http.post("/v1/images/generations", json={**body, "size": "128x128"})
        assert r.status_code == 400 and "not available for 'dalle-mini'" in r.json()["error"]["message"]
        r = http.post(
            "/v1/images/variations", data={"model": "dalle-mini"}, files={"image": ("x.png", _png(), "image/png")}
        )
        assert r.status_code == 400 and "only makes new pictures" in r.json()["error"]["message"]
        info = http.get("/api/info").json()
        mini = next(m for m in info["models"] if m["id"] == "dalle-mini")
        assert mini["sizes"][0] == 64 and mini["default_size"] == 64
        r = http.post("/api/jobs", json={"kind": "generate", "model": "dalle-mini", "prompt": "a blue square"})
        assert r.status_code == 202


def _png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (32, 32), (128, 128, 128)).save(buf, format="PNG")
    return buf.getvalue()
