"""Soak benchmark of `promptism serve` (issue #36): a long run of mixed traffic on loopback.

    .venv/bin/python benchmarks/serve_soak.py [--clients 8] [--seconds 600] [--max-queue 4]

Starts `promptism serve` (the shipped models, one job at a time, one thread) as its own process,
then N clients each loop over a mix of requests for a bounded time: generations, edits (inpainting
an upload's transparent corner), variations, studio jobs that are cancelled while they wait or run,
and malformed requests. A client that gets 429 waits a second. Reports pictures a minute, p50/p95
latency per kind, answers by kind and status (every status other than 200, 202, 429 and a
malformed request's intended 4xx counts as an error), the server's resident memory after its
first jobs and at the end, and /healthz at the end (the queue must be empty).

Writes benchmarks/reports/serve_soak.{json,md}.
"""

from __future__ import annotations

import io
import json
import random
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
from PIL import Image
from serve_load import machine, serving, traffic_options

REPORTS = Path(__file__).resolve().parent / "reports"
MALFORMED = [  # each must get a 4xx
    {"json": {"prompt": "x", "n": 0}},
    {"json": {"prompt": "", "size": "64x64"}},
    {"json": {"prompt": "x", "size": "big"}},
    {"content": b'{"prompt": "x", "user": "\\udc80"}', "headers": {"content-type": "application/json"}},
    {"content": b"[" * 50_000 + b"]" * 50_000, "headers": {"content-type": "application/json"}},
    {"content": b'{"prompt": "hi"}', "headers": {"content-type": "text/plain"}},
    {"json": {"prompt": "x", "response_format": []}},
]


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _upload(alpha: bool) -> bytes:
    im = Image.new("RGBA" if alpha else "RGB", (64, 64), (120, 120, 120, 255)[: 4 if alpha else 3])
    if alpha:
        im.paste((0, 0, 0, 0), (0, 0, 24, 24))  # the corner to repaint
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


def _request(c: httpx.Client, kind: str, rng: random.Random) -> tuple[int | str, bool]:
    """One request of a kind: (status, whether the answer is what that kind intends)."""
    if kind == "generate":
        body = {"prompt": "two yellow stars and a blue box", "size": "64x64", "response_format": "b64_json"}
        r = c.post("/v1/images/generations", json={**body, "seed": rng.randrange(2**31)})
        return r.status_code, r.status_code in (200, 429)
    if kind == "edit":
        files = {"image": ("a.png", _upload(True))}
        r = c.post("/v1/images/edits", data={"prompt": "a yellow star", "response_format": "b64_json"}, files=files)
        return r.status_code, r.status_code in (200, 429)
    if kind == "variation":
        r = c.post(
            "/v1/images/variations", data={"response_format": "b64_json"}, files={"image": ("a.png", _upload(False))}
        )
        return r.status_code, r.status_code in (200, 429)
    if kind == "cancel":
        r = c.post("/api/jobs", json={"kind": "generate", "prompt": "a red circle", "size": "64x64"})
        if r.status_code != 202:
            return r.status_code, r.status_code == 429
        time.sleep(rng.uniform(0.0, 2.0))
        cancel = c.post(f"/api/jobs/{r.json()['id']}/cancel", json={})
        return cancel.status_code, cancel.status_code in (202, 409)  # 409: it had already ended
    r = c.request("POST", "/v1/images/generations", **rng.choice(MALFORMED))
    return r.status_code, 400 <= r.status_code < 500 and "error" in r.json()


def soak(url: str, clients: int, seconds: float, pid: int) -> dict:
    kinds = ["generate", "generate", "edit", "variation", "cancel", "malformed"]
    records, lock = [], threading.Lock()
    stop = time.time() + seconds

    def client(i: int) -> None:
        rng = random.Random(i)
        with httpx.Client(base_url=url, timeout=600) as c:
            while time.time() < stop:
                kind = rng.choice(kinds)
                t0 = time.perf_counter()
                try:
                    status, intended = _request(c, kind, rng)
                except httpx.HTTPError as e:
                    status, intended = type(e).__name__, False
                with lock:
                    records.append((kind, status, intended, time.perf_counter() - t0))
                if status == 429:
                    time.sleep(1.0)

    warm = httpx.post(url + "/v1/images/generations", json={"prompt": "a red circle"}, timeout=600)
    assert warm.status_code == 200, warm.text
    rss_start = rss_mib(pid)
    t0 = time.time()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.time() - t0
    time.sleep(1.0)
    health = httpx.get(url + "/healthz").json()
    pictures = sum(1 for k, s, _, _ in records if s == 200 and k in ("generate", "edit", "variation"))
    latency = {}
    for kind in ("generate", "edit", "variation"):
        times = [dt for k, s, _, dt in records if k == kind and s == 200]
        q = statistics.quantiles(times, n=20) if len(times) >= 2 else None
        latency[kind] = {
            "ok": len(times),
            "p50_s": round(statistics.median(times), 2) if times else None,
            "p95_s": round(q[18], 2) if q else None,
        }
    return {
        "clients": clients,
        "seconds": round(wall, 1),
        "requests": len(records),
        "pictures": pictures,
        "pictures_per_min": round(60 * pictures / wall, 2),
        "latency": latency,
        "answers": {f"{k} {s}": n for (k, s), n in sorted(Counter((k, str(s)) for k, s, _, _ in records).items())},
        "errors": sum(1 for *_, ok, _ in records if not ok),
        "error_kinds": sorted({f"{k} {s}" for k, s, ok, _ in records if not ok}),
        "rss_start_mib": round(rss_start, 1),
        "rss_end_mib": round(rss_mib(pid), 1),
        "healthz_end": health,
    }


def markdown(r: dict) -> str:
    S = r["soak"]
    lat = S["latency"]
    rows = [f"| {k} | {v} |" for k, v in S["answers"].items()]
    return "\n".join(
        [
            "# `promptism serve` soaked with mixed traffic",
            "",
            f"Measured by `benchmarks/serve_soak.py` on {r['machine']}: the shipped models with default settings, one "
            f"job at a time, queue of {r['max_queue']}, the server on 1 thread; {S['clients']} clients on loopback for "
            f"{S['seconds']} s, each looping over generations (two in six), edits, variations, studio jobs cancelled "
            "while they wait or run, and malformed requests (a client that gets 429 waits 1 s).",
            "",
            "| measure | value |",
            "|---|---|",
            f"| requests | {S['requests']} |",
            f"| pictures made | {S['pictures']} ({S['pictures_per_min']} a minute) |",
            *(f"| {k} latency p50 / p95 ({v['ok']} made) | {v['p50_s']} s / {v['p95_s']} s |" for k, v in lat.items()),
            f"| errors (anything but 200, 202, 429, 409 on a late cancel, a malformed request's 4xx) | {S['errors']} "
            f"{'(' + ', '.join(S['error_kinds']) + ')' if S['errors'] else ''} |",
            f"| server memory after its first job / at the end (VmRSS) | {S['rss_start_mib']} / {S['rss_end_mib']} MiB |",
            f"| /healthz at the end | waiting {S['healthz_end']['waiting']}, running {S['healthz_end']['running']}, "
            f"ok {S['healthz_end']['ok']} |",
            "",
            "Answers by kind and status:",
            "",
            "| kind and status | count |",
            "|---|---|",
            *rows,
            "",
        ]
    )


def main() -> int:
    args = traffic_options(__doc__, clients=8, seconds=600, max_queue=4)
    with tempfile.TemporaryDirectory() as tmp:
        with serving(Path(tmp) / "data", "--max-queue", str(args.max_queue)) as (url, proc):
            report = {
                "machine": machine(),
                "max_queue": args.max_queue,
                "soak": soak(url, args.clients, args.seconds, proc.pid),
            }
    REPORTS.mkdir(parents=True, exist_ok=True)
    (REPORTS / "serve_soak.json").write_text(json.dumps(report, indent=1))
    (REPORTS / "serve_soak.md").write_text(markdown(report))
    print(markdown(report))
    health = report["soak"]["healthz_end"]
    return 0 if report["soak"]["errors"] == 0 and health["waiting"] == health["running"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
