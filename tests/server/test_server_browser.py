"""`promptism serve` against a web page in someone's browser: other host names refused (DNS
rebinding), result URLs built from the configured address, state-changing requests only as JSON or
multipart and only from this server's own pages or allowed origins (CSRF), security headers on
every response, CORS only for the origins allowed (tiny random models; a real server in a thread)."""

import http.client
import json

import pytest
from server_helpers import Running, _config

from promptism.server.config import ServerConfig
from promptism.server.errors import host_name

U = "/v1/images/generations"
BODY = b'{"prompt":"a red circle","size":"32x32"}'


@pytest.fixture
def server(tiny, tmp_path):
    s = Running(_config(tiny, tmp_path, cors_origins=("http://app.example",)))
    yield s
    s.stop()


def _call(server, method, path, body=None, **headers) -> tuple[int, dict, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    conn.request(method, path, body=body, headers=headers)
    r = conn.getresponse()
    raw = r.read()
    conn.close()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, (json.loads(raw) if raw.startswith(b"{") else {})


def test_another_host_name_is_refused(server):
    status, _, body = _call(server, "GET", "/api/jobs", Host="attacker.example")
    assert status == 400 and body["error"]["code"] == "invalid_host"  # it used to return the whole history
    for host in (f"127.0.0.1:{server.port}", f"localhost:{server.port}", f"[::1]:{server.port}"):
        assert _call(server, "GET", "/healthz", Host=host)[0] == 200


def test_result_urls_are_built_from_the_configured_address_not_the_host_header(server):
    status, _, body = _call(
        server, "POST", U, BODY, Host=f"localhost:{server.port}", **{"Content-Type": "application/json"}
    )
    assert status == 200
    assert body["data"][0]["url"].startswith(f"http://127.0.0.1:{server.port}/images/")
    cfg = ServerConfig(data_dir="x", host="0.0.0.0", port=9000, api_keys=("k" * 8,), public_url="https://pics.example/")
    assert cfg.public_base() == "https://pics.example/" and "pics.example" in cfg.hosts()
    assert (
        "0.0.0.0" not in cfg.hosts() and host_name("[::1]:80") == "::1" and host_name("Example.org:1") == "example.org"
    )


def test_state_changing_requests_need_json_or_multipart_and_a_same_site_origin(server):
    json_ct = {"Content-Type": "application/json"}
    # a cross-origin form post needs no preflight with text/plain: refused
    status, _, body = _call(
        server, "POST", "/api/jobs", b'{"kind":"generate","prompt":"x"}', **{"Content-Type": "text/plain"}
    )
    assert status == 415 and body["error"]["code"] == "unsupported_media_type"
    status, _, body = _call(server, "POST", U, BODY, Origin="http://evil.example", **json_ct)
    assert status == 403 and body["error"]["code"] == "cross_origin"
    assert _call(server, "POST", U, BODY, Origin=f"http://127.0.0.1:{server.port}", **json_ct)[0] == 200
    assert _call(server, "POST", U, BODY, Origin="http://app.example", **json_ct)[0] == 200  # allowed by --cors-origin
    assert server.service.queue.waiting == 0


def test_every_response_carries_security_headers_and_cors_only_for_allowed_origins(server):
    for method, path in (("GET", "/"), ("GET", "/healthz"), ("GET", "/api/jobs/nope")):
        _, headers, _ = _call(server, method, path)
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert "script-src 'self'" in headers["content-security-policy"]
        assert headers["x-content-type-options"] == "nosniff" and headers["x-frame-options"] == "DENY"
        assert headers["referrer-policy"] == "no-referrer" and "access-control-allow-origin" not in headers
    _, headers, _ = _call(server, "GET", "/healthz", Origin="http://app.example")
    assert headers["access-control-allow-origin"] == "http://app.example"
    status, headers, _ = _call(
        server, "OPTIONS", U, Origin="http://app.example", **{"Access-Control-Request-Method": "POST"}
    )
    assert status == 204 and "POST" in headers["access-control-allow-methods"]
    _, headers, _ = _call(server, "GET", "/healthz", Origin="http://evil.example")
    assert "access-control-allow-origin" not in headers
