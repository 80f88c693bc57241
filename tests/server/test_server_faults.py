"""`promptism serve` against what an outside audit broke it with: lone surrogates, huge integers and
deep nesting in JSON, a failing history write, an unexpected error on a keep-alive connection, a
body that never arrives, too many headers, and a full disk. Each gets a clean answer in OpenAI's
error shape and leaves the queue empty (tiny random models; a real uvicorn server in a thread)."""

import errno
import http.client
import json
import socket
import sqlite3

import pytest
from server_helpers import Running, _config

U = "/v1/images/generations"


@pytest.fixture
def server(tiny, tmp_path):
    s = Running(_config(tiny, tmp_path, body_timeout_s=1.0))
    yield s
    s.stop()


def _post(server, body: bytes, headers: dict | None = None) -> tuple[int, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    conn.request("POST", U, body=body, headers={"Content-Type": "application/json", **(headers or {})})
    r = conn.getresponse()
    data = r.read()
    conn.close()
    return r.status, json.loads(data)


def _health(server) -> dict:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.request("GET", "/healthz")
    out = json.loads(conn.getresponse().read())
    conn.close()
    return out


def _assert_openai_error(status: int, body: dict, want: int) -> None:
    assert status == want, body
    assert set(body["error"]) == {"message", "type", "param", "code"} and body["error"]["message"]


def test_lone_surrogates_huge_integers_and_deep_nesting_get_a_400_and_leave_the_queue_empty(server):
    # nine of these used to leak nine queue slots, and every request after them got 429
    for _ in range(9):
        status, body = _post(server, b'{"prompt":"x","size":"32x32","user":"\\udc80"}')
        _assert_openai_error(status, body, 400)
        assert body["error"]["param"] == "user"
    cases = [
        (b'{"prompt":"a red \\udc80 circle","size":"32x32"}', "prompt"),
        (b'{"prompt":"x","negative_prompt":"\\ud800","size":"32x32"}', "negative_prompt"),
        (b'{"prompt":"x","n":' + b"9" * 5000 + b"}", None),  # past Python's int digit limit
        (b"[" * 200_000 + b"]" * 200_000, None),  # past the parser's recursion limit
    ]
    for raw, param in cases:
        status, body = _post(server, raw)
        _assert_openai_error(status, body, 400)
        assert body["error"]["param"] == param
    health = _health(server)
    assert health["waiting"] == 0 and health["running"] == 0 and health["ok"] is True
    status, body = _post(server, b'{"prompt":"a red circle","size":"32x32","response_format":"b64_json"}')
    assert status == 200 and len(body["data"]) == 1


def test_a_failing_history_write_gives_the_queue_slot_back_and_shows_in_healthz(server, monkeypatch):
    history = server.service.history

    def broken(*a, **kw):
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(history, "add", broken)
    for _ in range(server.service.config.max_queue + 2):  # more than the queue holds: no 429
        status, body = _post(server, b'{"prompt":"x","size":"32x32"}')
        _assert_openai_error(status, body, 500)
        assert body["error"]["code"] == "storage_error"
    health = _health(server)
    assert health["waiting"] == 0 and health["ok"] is False and "disk I/O error" in health["storage"]["error"]
    monkeypatch.undo()
    status, _ = _post(server, b'{"prompt":"a red circle","size":"32x32"}')
    assert status == 200 and _health(server)["storage"]["ok"] is True


def test_an_unexpected_error_is_openais_500_and_keeps_the_connection(server, monkeypatch):
    from promptism.server.service import Service

    def crash(self, v):
        raise RuntimeError("a bug")

    monkeypatch.setattr(Service, "check_model", crash)
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.request("POST", U, body=b'{"prompt":"x"}', headers={"Content-Type": "application/json"})
    r = conn.getresponse()
    _assert_openai_error(r.status, json.loads(r.read()), 500)
    monkeypatch.undo()
    conn.request("GET", "/healthz")  # the same keep-alive connection: it used to be reset here
    r = conn.getresponse()
    assert r.status == 200 and json.loads(r.read())["waiting"] == 0
    conn.close()


def test_a_body_that_stops_arriving_gets_a_408(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=15) as sock:
        sock.sendall(
            b"POST " + U.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100\r\n\r\n" + b'{"prompt":'
        )
        data = b""
        while b"\r\n\r\n" not in data or not data.rstrip().endswith(b"}"):
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408"), head
    _assert_openai_error(408, json.loads(body), 408)
    assert _health(server)["waiting"] == 0


def _raw(server, request: bytes) -> tuple[bytes, bytes]:
    with socket.create_connection(("127.0.0.1", server.port), timeout=15) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(4096):  # the server closes the connection after its answer
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return head, body


@pytest.mark.parametrize(
    "request_",
    [
        b"POST /v1/images/generations HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: -5\r\n\r\n",
        b"POST /v1/images/generations HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: ten\r\n\r\n",
        b"POST /v1/images/generations HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        b"GARBAGE\r\n\r\n",
        b"GET / HTTP/1.1\r\nno colon here\r\n\r\n",
    ],
    ids=["negative-length", "word-length", "two-lengths", "no-request-line", "header-without-colon"],
)
def test_a_request_that_is_not_valid_http_gets_openais_400(server, request_):
    # uvicorn used to answer these in plain text, below the app
    head, body = _raw(server, request_)
    assert head.startswith(b"HTTP/1.1 400"), head
    assert b"content-type: application/json" in head.lower()
    err = json.loads(body)["error"]
    assert err["code"] == "invalid_http" and err["message"].startswith("the request is not valid HTTP/1.1")
    assert _health(server)["waiting"] == 0


@pytest.mark.parametrize("headers", [{f"X-H{i}": "1" for i in range(1000)}, {"X-Big": "a" * 100_000}])
def test_too_many_or_too_large_headers_get_a_431(server, headers):
    status, body = _post(server, b'{"prompt":"x"}', headers)
    _assert_openai_error(status, body, 431)


def test_a_full_disk_fails_the_job_cleanly_and_leaves_no_pictures(server, monkeypatch):
    import promptism.pipelines.provenance as provenance

    real, calls = provenance.save_png, []

    def filling(img, path, meta):
        calls.append(path)
        if len(calls) > 1:  # the first picture is written, the second finds the disk full
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(img, path, meta)

    monkeypatch.setattr(provenance, "save_png", filling)
    status, body = _post(server, b'{"prompt":"a red circle","size":"32x32","n":3}')
    _assert_openai_error(status, body, 500)
    assert body["error"]["code"] == "storage_error" and "No space left" in body["error"]["message"]
    job = server.service.history.list(1)[0]
    assert job.status == "failed" and "could not be written" in job.error
    assert not list(server.service.history.images.glob(f"{job.id}-*")), "a failed job left pictures behind"
    health = _health(server)
    assert health["waiting"] == 0 and health["running"] == 0
    assert health["ok"] is False and "No space left" in health["storage"]["error"]


def test_a_job_is_cancelled_on_request_and_leaves_no_pictures(tiny, tmp_path):
    import time

    # enough steps that the job is still running when the cancel arrives
    s = Running(_config(tiny, tmp_path, defaults={"steps": 1000, "prior_steps": 1000, "upsampler_steps": 1000}))
    try:
        conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=30)
        json_ct = {"Content-Type": "application/json"}

        def call(method, path, body=b"{}"):
            conn.request(method, path, body=body if method == "POST" else None, headers=json_ct)
            r = conn.getresponse()
            return r.status, json.loads(r.read())

        status, body = call("POST", "/api/jobs", b'{"kind":"generate","prompt":"a red circle","size":"32x32","n":4}')
        assert status == 202
        job = body["id"]
        deadline = time.time() + 60
        while call("GET", f"/api/jobs/{job}")[1]["status"] != "running":
            assert time.time() < deadline
            time.sleep(0.05)
        assert call("POST", f"/api/jobs/{job}/cancel") == (202, {"id": job, "status": "cancelling"})
        while (record := call("GET", f"/api/jobs/{job}")[1])["status"] == "running":
            assert time.time() < deadline
            time.sleep(0.05)
        assert record["status"] == "cancelled" and record["error"] == "cancelled on request" and not record["files"]
        assert not list(s.service.history.images.glob(f"{job}-*"))
        status, body = call("POST", f"/api/jobs/{job}/cancel")
        _assert_openai_error(status, body, 409)
        status, body = call("POST", "/api/jobs/nope/cancel")
        _assert_openai_error(status, body, 404)
        assert s.service.queue.waiting == 0 and s.service.queue.running == 0
        conn.close()
    finally:
        s.stop()


@pytest.fixture
def small_disk(tmp_path):
    """A real 2 MiB tmpfs for the data folder, where the machine lets the tests mount one (root on
    Linux); skipped otherwise. Unmounted afterwards."""
    import os
    import shutil
    import subprocess
    import sys

    if sys.platform != "linux" or os.geteuid() != 0 or not shutil.which("mount"):
        pytest.skip("mounting a tmpfs needs root on Linux")
    disk = tmp_path / "disk"
    disk.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(disk)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"this machine does not allow mounting a tmpfs: {r.stderr.strip()}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def _fill(folder, leave: int) -> None:
    import os

    free = os.statvfs(folder).f_bavail * os.statvfs(folder).f_frsize
    with open(folder / "filler", "wb") as f:
        f.write(b"\0" * max(0, free - leave))


def _assert_failed_cleanly(s, status, body) -> None:
    _assert_openai_error(status, body, 500)
    assert body["error"]["code"] == "storage_error", body
    health = _health(s)
    assert health["waiting"] == 0 and health["running"] == 0 and health["ok"] is False
    jobs = s.service.history.list(10)
    assert all(j.status != "running" for j in jobs), [(j.id, j.status) for j in jobs]
    for j in jobs:
        if j.status != "done":
            assert not list(s.service.history.images.glob(f"{j.id}-*")), "a failed job left pictures behind"


def test_a_real_full_disk_and_a_read_only_disk_fail_jobs_cleanly(tiny, small_disk):
    import subprocess

    s = Running(_config(tiny, small_disk, body_timeout_s=1.0))
    try:
        status, _ = _post(s, b'{"prompt":"a red circle","size":"32x32"}')
        assert status == 200
        _fill(small_disk, leave=8 * 1024)  # room for part of a job, not all of it
        for _ in range(3):
            status, body = _post(s, b'{"prompt":"a red circle","size":"32x32","n":8}')
            _assert_failed_cleanly(s, status, body)
        (small_disk / "filler").unlink()
        status, _ = _post(s, b'{"prompt":"a red circle","size":"32x32"}')
        assert status == 200 and _health(s)["ok"] is True, "the server did not recover when space came back"
        # a read-only file system over the pictures folder (the open database keeps the disk itself
        # from being remounted read-only)
        images = s.service.history.images
        subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(images)], check=True)
        try:
            status, body = _post(s, b'{"prompt":"a red circle","size":"32x32"}')
            _assert_failed_cleanly(s, status, body)
            assert "Read-only" in _health(s)["storage"]["error"]
        finally:
            subprocess.run(["umount", "-l", str(images)], check=False)
    finally:
        s.stop()
