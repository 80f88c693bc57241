"""`promptism serve` with several API keys: each user sees only its own jobs and pictures, an
admin key sees all, and `url` results are signed, expiring links that open without the bearer
header (tiny random models; a real server in a thread)."""

import time

import httpx
import openai
import pytest
from server_helpers import Running, _config

ALICE, BOB, ROOT = "alice:sk-alice-key-1", "bob:sk-bob-key-22", "root:sk-root-key-333"


def _auth(entry: str) -> dict:
    return {"Authorization": "Bearer " + entry.split(":", 1)[1]}


@pytest.fixture
def server(tiny, tmp_path):
    s = Running(_config(tiny, tmp_path, api_keys=(ALICE, BOB), admin_keys=(ROOT,), url_ttl_s=2.0))
    yield s
    s.stop()


def test_each_user_sees_only_its_own_jobs_and_an_admin_sees_all(server):
    client = openai.OpenAI(base_url=server.url + "/v1", api_key=ALICE.split(":")[1], max_retries=0)
    url = client.images.generate(prompt="a red circle", size="32x32").data[0].url
    name = url.split("/images/")[1].split("?")[0]
    job = name.split("-")[0]
    with httpx.Client(base_url=server.url, timeout=60) as http:
        alice = http.get("/api/jobs", headers=_auth(ALICE)).json()["jobs"]
        assert [j["id"] for j in alice] == [job] and alice[0]["owner"] == "alice"
        assert http.get("/api/jobs", headers=_auth(BOB)).json()["jobs"] == []
        assert http.get(f"/api/jobs/{job}", headers=_auth(BOB)).status_code == 404
        assert http.post(f"/api/jobs/{job}/cancel", headers=_auth(BOB), json={}).status_code == 404
        assert http.get(f"/images/{name}", headers=_auth(BOB)).status_code == 404
        assert http.get(f"/images/{name}", headers=_auth(ALICE)).status_code == 200
        # bob cannot vary alice's picture through the studio either
        r = http.post("/api/jobs", headers=_auth(BOB), json={"kind": "variation", "source": name, "size": "32x32"})
        assert r.status_code == 404
        assert [j["id"] for j in http.get("/api/jobs", headers=_auth(ROOT)).json()["jobs"]] == [job]
        assert http.get(f"/api/jobs/{job}", headers=_auth(ROOT)).status_code == 200


def test_url_results_are_signed_links_that_open_without_a_key_and_expire(server):
    client = openai.OpenAI(base_url=server.url + "/v1", api_key=BOB.split(":")[1], max_retries=0)
    url = client.images.generate(prompt="a blue square", size="32x32").data[0].url
    assert "sig=" in url and "exp=" in url
    r = httpx.get(url)  # as a browser would open it: no bearer header
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    assert httpx.get(url.replace("sig=", "sig=0")).status_code == 401  # tampered
    assert httpx.get(url.split("?")[0]).status_code == 401  # unsigned, no key
    time.sleep(2.5)
    assert httpx.get(url).status_code == 401  # expired


def test_a_finished_job_downloads_as_a_zip_for_its_owner(server):
    import io
    import zipfile

    client = openai.OpenAI(base_url=server.url + "/v1", api_key=ALICE.split(":")[1], max_retries=0)
    client.images.generate(prompt="a red circle", size="32x32", n=2)
    with httpx.Client(base_url=server.url, timeout=60) as http:
        job = http.get("/api/jobs", headers=_auth(ALICE)).json()["jobs"][0]
        r = http.get(f"/api/jobs/{job['id']}/zip", headers=_auth(ALICE))
        assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
        names = sorted(zipfile.ZipFile(io.BytesIO(r.content)).namelist())
        assert names == sorted([*job["files"], *(f.replace(".png", ".json") for f in job["files"])])
        assert http.get(f"/api/jobs/{job['id']}/zip", headers=_auth(BOB)).status_code == 404
        failed = server.service.history.add("generate", {}, None, status="failed", error="x")
        assert http.get(f"/api/jobs/{failed}/zip", headers=_auth(ROOT)).status_code == 409
