"""What the studio's gallery asks of the server: search the history by prompt, page through it,
delete one picture, see a waiting job's place in the queue and a running job's step previews,
and a variation's source prompt (tiny random models; a real server in a thread)."""

import base64
import io
import time

import httpx
import pytest
from PIL import Image
from server_helpers import Running, _config


@pytest.fixture
def server(tiny, tmp_path):
    s = Running(_config(tiny, tmp_path))
    yield s
    s.stop()


def _wait(http, job_id: str) -> dict:
    deadline = time.time() + 120
    while (job := http.get(f"/api/jobs/{job_id}").json())["status"] in ("queued", "running"):
        assert time.time() < deadline, job
        time.sleep(0.05)
    return job


def _job(http, **body) -> dict:
    r = http.post("/api/jobs", json={"size": "32x32", **body})
    assert r.status_code == 202, r.text
    return _wait(http, r.json()["id"])


def test_the_history_is_searched_by_prompt_and_paged(server):
    with httpx.Client(base_url=server.url, timeout=60) as http:
        red = _job(http, kind="generate", prompt="a red circle")
        _job(http, kind="generate", prompt="a Blue square")
        vary = _job(http, kind="variation", source=red["files"][0])
        assert vary["params"]["source_prompt"] == "a red circle"  # the studio titles it by this
        found = http.get("/api/jobs", params={"q": "RED"}).json()
        assert [j["id"] for j in found["jobs"]] == [vary["id"], red["id"]] and found["next_before"] is None
        assert [j["params"]["prompt"] for j in http.get("/api/jobs", params={"q": "blue"}).json()["jobs"]] == [
            "a Blue square"
        ]
        assert http.get("/api/jobs", params={"q": "green"}).json()["jobs"] == []
        # two to a page: three jobs take two pages, newest first, each job once
        first = http.get("/api/jobs", params={"limit": 2}).json()
        assert len(first["jobs"]) == 2 and first["next_before"] == first["jobs"][-1]["created"]
        second = http.get("/api/jobs", params={"limit": 2, "before": first["next_before"]}).json()
        assert [j["id"] for j in second["jobs"]] == [red["id"]]
        assert http.get("/api/jobs", params={"q": "x" * 201}).status_code == 400
        assert http.get("/api/jobs", params={"before": "soon"}).status_code == 400


def test_one_picture_is_deleted_with_its_sidecar_and_leaves_the_rest(server):
    with httpx.Client(base_url=server.url, timeout=60) as http:
        job = _job(http, kind="generate", prompt="a red circle", n=3)
        gone, kept = job["files"][1], [job["files"][0], job["files"][2]]
        json_ct = {"Content-Type": "application/json"}
        r = http.request("DELETE", f"/api/pictures/{gone}", headers=json_ct, content=b"{}")
        assert r.status_code == 200 and r.json() == {"deleted": gone}
        after = http.get(f"/api/jobs/{job['id']}").json()
        assert after["files"] == kept and after["seeds"] == [job["seeds"][0], job["seeds"][2]]
        images = server.service.history.images
        assert not (images / gone).exists() and not (images / gone).with_suffix(".json").exists()
        assert all((images / k).exists() for k in kept)
        assert http.get(f"/images/{gone}").status_code == 404
        for name in (gone, "nope-0.png", "../history.sqlite3"):
            r = http.request("DELETE", f"/api/pictures/{name}", headers=json_ct, content=b"{}")
            assert r.status_code == 404, name
        # a page from another site cannot delete (the browser guard)
        r = http.request(
            "DELETE", f"/api/pictures/{kept[0]}", headers={**json_ct, "Origin": "http://evil.example"}, content=b"{}"
        )
        assert r.status_code == 403 and (images / kept[0]).exists()


def test_a_waiting_job_has_its_place_in_line_and_a_running_one_shows_previews(tiny, tmp_path):
    slow = {"steps": 400, "prior_steps": 2, "upsampler_steps": 2}
    s = Running(_config(tiny, tmp_path, defaults=slow))
    try:
        with httpx.Client(base_url=s.url, timeout=60) as http:
            ids = [
                http.post("/api/jobs", json={"kind": "generate", "prompt": "a red circle", "size": "32x32"}).json()[
                    "id"
                ]
                for _ in range(3)
            ]
            seen_positions, previews = set(), []
            deadline = time.time() + 120
            while (first := http.get(f"/api/jobs/{ids[0]}").json())["status"] in ("queued", "running"):
                assert time.time() < deadline
                third = http.get(f"/api/jobs/{ids[2]}").json()
                if third["status"] == "queued":
                    seen_positions.add(third["queue_position"])
                p = first.get("progress") or {}
                if p.get("stage") == "decoder" and p.get("preview"):
                    previews.append(p["preview"])
                time.sleep(0.02)
            assert 2 in seen_positions  # behind the second job while the first runs
            assert "queue_position" not in first
            assert previews and previews[0].startswith("data:image/png;base64,")
            picture = Image.open(io.BytesIO(base64.b64decode(previews[-1].split(",", 1)[1])))
            assert picture.size == (16, 16)  # the tiny decoder draws at 16 px (an upsampler takes it to 32)
            assert len(set(previews)) > 1, "the preview did not change as the picture formed"
            for job_id in ids[1:]:
                s.service.queue.cancel(job_id)
    finally:
        s.stop()
