"""Over 150 kinds of malformed request against `promptism serve`: every field of the Images API and
of the studio's job endpoint with values of the wrong type, out of range or not text, broken JSON,
wrong content types, methods, origins and hosts, bad uploads. Each must get a clean 4xx in OpenAI's
error shape, and the queue must be empty afterwards (tiny random models; a real server)."""

import io
import json

import httpx
import pytest
from PIL import Image
from server_helpers import Running, _config, assert_clean_4xx

GEN, EDITS, VARIATIONS, JOBS = "/v1/images/generations", "/v1/images/edits", "/v1/images/variations", "/api/jobs"
JSON = {"content-type": "application/json"}
WRONG_TYPES = [[], {}, True, 4.5]


def _png(mode="RGB", size=(32, 32)) -> bytes:
    buf = io.BytesIO()
    Image.new(mode, size, (200, 10, 10, 255)[: len(mode)]).save(buf, format="PNG")
    return buf.getvalue()


def _field_cases(path: str, base: dict, bad: dict) -> list:
    """One case per (field, bad value): the valid ``base`` body with that field replaced."""
    return [
        (f"{path} {field}={value!r:.40}", "POST", path, _json({**base, field: value}))
        for field, values in bad.items()
        for value in values
    ]


def _json(body: dict) -> dict:
    # json.dumps writes a lone surrogate as its \\u escape, as a client could send it
    return {"content": json.dumps(body).encode(), "headers": JSON}


def _raw(name: str, body: bytes, path: str = GEN, headers: dict | None = None) -> tuple:
    return (name, "POST", path, {"content": body, "headers": {**JSON, **(headers or {})}})


def _cases() -> list:
    long_text = "red " * 600
    gen = _field_cases(
        GEN,
        {"prompt": "a red circle", "size": "32x32"},
        {
            "prompt": [None, 42, "", "   ", long_text, "a \udc80", ["a"], *WRONG_TYPES],
            "n": [0, -1, 11, 10**6, 2**70, 1.5, "four", "1e3", *WRONG_TYPES],
            "size": ["100x100", "64x32", "big", 64, "0x0", "99999x99999", "64X64", "32x32x32", " 32x32", *WRONG_TYPES],
            "response_format": ["jpeg", "URL", 1, *WRONG_TYPES],
            "model": ["dall-e-9", 3, *WRONG_TYPES],
            "user": [1, "u" * 257, "\udc80", *WRONG_TYPES],
            "seed": [-1, 2**32, 2**80, "x", 1.5, *WRONG_TYPES[:3]],
            "negative_prompt": [5, long_text, "\ud800", *WRONG_TYPES],
        },
    )
    studio = _field_cases(
        JOBS,
        {"kind": "generate", "prompt": "a red circle", "size": "32x32"},
        {
            "kind": [None, "", "paint", 1, *WRONG_TYPES],
            "sampler": ["euler", 1, "x" * 40, "\udc80", *WRONG_TYPES[:2]],
            "steps": [0, -1, 1001, "lots", 1.5, *WRONG_TYPES[:3]],
            "prior_steps": [0, 1001, "x", True],
            "guidance_prior": [31, -1, "lots", True, [], {}],
            "guidance_decoder": [31, -1, "lots", True, [], {}],
            "guidance_text": [31, -1, "lots", True],
            "rerank": [0, 9, "x", True],
            "n": [0, 11, "x"],
            "prompt": [None, "", 7, "\udc80"],
        },
    )
    sources = [
        (f"{JOBS} variation source={s!r:.30}", "POST", JOBS, _json({"kind": "variation", "source": s}))
        for s in (None, "x" * 65, "../history.sqlite3", 5, "0123456789abcdef-0.png", [], "\udc80")
    ]
    raw = [
        _raw("empty body", b""),
        _raw("json null", b"null"),
        _raw("json true", b"true"),
        _raw("json number", b"5"),
        _raw("json array", b"[1, 2]"),
        _raw("json string", b'"a red circle"'),
        _raw("empty object", b"{}"),
        _raw("broken json", b'{"prompt": "a'),
        _raw("trailing garbage", b'{"prompt": "a red circle"} x'),
        _raw("single quotes", b"{'prompt': 'a red circle'}"),  # (a UTF-8 byte order mark is accepted: RFC 8259 §8.1)
        _raw("not utf-8", b'{"prompt": "\xff\xfe"}'),
        _raw("NaN", b'{"prompt": "a red circle", "n": NaN}'),
        _raw("Infinity", b'{"prompt": "a red circle", "n": Infinity}'),
        _raw("1e400 seed", b'{"prompt": "a red circle", "seed": 1e400}'),
        _raw("duplicate key, the last a number", b'{"prompt": "a red circle", "prompt": 5}'),
        _raw("5,000-digit integer", b'{"prompt": "x", "n": ' + b"7" * 5000 + b"}"),
        _raw("nested 200,000 deep", b"[" * 200_000 + b"]" * 200_000),
        _raw("lone surrogate user", b'{"prompt": "x", "user": "\\udc80"}'),
        _raw("body over 1 MB", b'{"prompt": "' + b"x" * 1_100_000 + b'"}'),
        _raw("form-encoded", b"prompt=hi", headers={"content-type": "application/x-www-form-urlencoded"}),
        _raw("text/plain json (a cross-site form)", b'{"prompt": "hi"}', headers={"content-type": "text/plain"}),
        _raw("xml", b"<prompt>hi</prompt>", headers={"content-type": "application/xml"}),
        _raw("no content type", b'{"prompt": "hi"}', headers={"content-type": ""}),
        _raw("another site's page", b'{"prompt": "hi"}', headers={"origin": "http://evil.example"}),
        _raw(
            "another site's page, studio",
            b'{"kind": "generate", "prompt": "hi"}',
            JOBS,
            {"origin": "https://evil.example"},
        ),
        _raw("JSON to the edits endpoint", b'{"prompt": "a star"}', EDITS),
        _raw("JSON to the variations endpoint", b"{}", VARIATIONS),
        _raw("a cancel with no job", b"{}", JOBS + "/nope/cancel"),
        _raw("unknown route", b"{}", "/v1/images/nothing"),
        ("1,000 headers", "GET", "/healthz", {"headers": {f"x-h{i}": "1" for i in range(1000)}}),
        ("a 100 KB header", "GET", "/healthz", {"headers": {"x-big": "a" * 100_000}}),
        ("another host name", "GET", JOBS, {"headers": {"host": "attacker.example"}}),
        ("GET on generations", "GET", GEN, {}),
        ("PUT on generations", "PUT", GEN, {"json": {"prompt": "x"}}),
        ("DELETE on generations", "DELETE", GEN, {"headers": JSON}),
        ("PATCH on a job", "PATCH", JOBS + "/nope", {"json": {}}),
        ("GET on edits", "GET", EDITS, {}),
        ("a job that does not exist", "GET", JOBS + "/nope", {}),
        ("a picture that does not exist", "GET", "/images/0123456789abcdef-0.png", {}),
        ("a picture path traversal", "GET", "/images/..%2F..%2Fhistory.sqlite3", {}),
        ("a picture of another name", "GET", "/images/history.sqlite3", {}),
    ]
    img, rgba = _png(), _png("RGBA")
    uploads = [
        (f"variations {name}", "POST", VARIATIONS, {"data": data, "files": files})
        for name, data, files in (
            ("without image", {}, {"other": ("x.png", img)}),
            ("empty image", {}, {"image": ("a.png", b"")}),
            ("text as image", {}, {"image": ("a.png", b"hello")}),
            ("truncated png", {}, {"image": ("a.png", img[:40])}),
            ("n 0", {"n": "0"}, {"image": ("a.png", img)}),
            ("n 11", {"n": "11"}, {"image": ("a.png", img)}),
            ("n abc", {"n": "abc"}, {"image": ("a.png", img)}),
            ("size big", {"size": "big"}, {"image": ("a.png", img)}),
            ("response_format jpeg", {"response_format": "jpeg"}, {"image": ("a.png", img)}),
            ("model unknown", {"model": "dall-e-9"}, {"image": ("a.png", img)}),
            ("seed negative", {"seed": "-3"}, {"image": ("a.png", img)}),
            ("user too long", {"user": "u" * 300}, {"image": ("a.png", img)}),
        )
    ] + [
        (f"edits {name}", "POST", EDITS, {"data": data, "files": files})
        for name, data, files in (
            ("without prompt", {}, {"image": ("a.png", rgba)}),
            ("empty prompt", {"prompt": "  "}, {"image": ("a.png", rgba)}),
            ("long prompt", {"prompt": long_text}, {"image": ("a.png", rgba)}),
            ("without image", {"prompt": "a star"}, {}),
            ("opaque image, no mask", {"prompt": "a star"}, {"image": ("a.png", img)}),
            ("mask of garbage", {"prompt": "a star"}, {"image": ("a.png", img), "mask": ("m.png", b"GIF89a")}),
            (
                "mask of another size",
                {"prompt": "a star"},
                {"image": ("a.png", img), "mask": ("m.png", _png("RGBA", (8, 8)))},
            ),
            ("n 0", {"prompt": "a star", "n": "0"}, {"image": ("a.png", rgba)}),
            ("size 1x1", {"prompt": "a star", "size": "1x1"}, {"image": ("a.png", rgba)}),
        )
    ]
    return gen + studio + sources + raw + uploads


@pytest.fixture(scope="module")
def server(tiny, tmp_path_factory):
    s = Running(_config(tiny, tmp_path_factory.mktemp("malformed")))
    yield s
    s.stop()


def test_over_150_kinds_of_malformed_request_get_clean_4xx_and_leave_the_queue_empty(server):
    cases = _cases()
    assert len(cases) >= 150 and len({c[0] for c in cases}) == len(cases)
    with httpx.Client(base_url=server.url, timeout=60) as http:
        for name, method, path, kw in cases:
            assert_clean_4xx(http.request(method, path, **kw), name)
        health = http.get("/healthz").json()
        assert health["waiting"] == 0 and health["running"] == 0 and health["ok"] is True
        ok = http.post(GEN, json={"prompt": "a red circle", "size": "32x32", "response_format": "b64_json"})
        assert ok.status_code == 200 and len(ok.json()["data"]) == 1
