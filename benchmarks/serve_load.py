"""Load and fault benchmark of `promptism serve` on loopback (issue #6).

    .venv/bin/python benchmarks/serve_load.py [--clients 4] [--seconds 60] [--max-queue 2]

1. Starts `promptism serve` (the shipped models) as its own process.
2. Load: N clients post /v1/images/generations (n = 1, 64 px, b64_json) back to back for a bounded
   time; the server runs one job at a time with a short queue, so some requests get 429 (clients
   wait a second and go on). Reports throughput, p50/p95 latency of the successful requests, the
   count of 429s and of every other error (which must be zero), and the server's peak memory
   (VmHWM from /proc).
3. Fault: sends a long job, kills the server (SIGKILL) while it runs, restarts it on the same data
   folder, and checks the history: every job that was done is still done with its files, the
   killed one is marked failed, and no picture of it is left.

Writes benchmarks/reports/serve_load.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import httpx

REPORTS = Path(__file__).resolve().parent / "reports"


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(data: Path, port: int, *extra: str) -> subprocess.Popen:
    cmd = [
        sys.executable,
        "-m",
        "promptism.cli",
        "--threads",
        "1",
        "serve",
        "--data-dir",
        str(data),
        "--port",
        str(port),
        *extra,
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.time() > deadline:
            raise RuntimeError("the server did not start")
        time.sleep(0.2)


@contextmanager
def serving(data: Path, *extra: str):
    """`promptism serve` on a free port over ``data`` for the block: (its URL, its process)."""
    port = _port()
    proc = start(data, port, *extra)
    try:
        yield f"http://127.0.0.1:{port}", proc
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)


def traffic_options(doc: str, clients: int, seconds: float, max_queue: int) -> argparse.Namespace:
    """The command line of a traffic benchmark: clients, seconds, the server's queue length."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clients", type=int, default=clients, help=f"concurrent clients (default: {clients})")
    ap.add_argument("--seconds", type=float, default=seconds, help=f"how long the traffic runs (default: {seconds:g})")
    ap.add_argument(
        "--max-queue", type=int, default=max_queue, help=f"the server's queue length (default: {max_queue})"
    )
    return ap.parse_args()


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} CPUs"


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def load(url: str, clients: int, seconds: float) -> dict:
    latencies, statuses, lock = [], [], threading.Lock()
    stop = time.time() + seconds

    def client(i: int) -> None:
        with httpx.Client(base_url=url, timeout=300) as c:
            k = 0
            while time.time() < stop:
                t0 = time.perf_counter()
                try:
                    r = c.post(
                        "/v1/images/generations",
                        json={
                            "prompt": "two yellow stars and a blue box",
                            "n": 1,
                            "size": "64x64",
                            "response_format": "b64_json",
                            "seed": 1000 * i + k,
                        },
                    )
                    status = r.status_code
                    ok = status == 200 and len(r.json()["data"]) == 1
                except httpx.HTTPError as e:
                    status, ok = type(e).__name__, False
                dt = time.perf_counter() - t0
                with lock:
                    statuses.append(status)
                    if ok:
                        latencies.append(dt)
                k += 1
                if status == 429:
                    time.sleep(1.0)

    t0 = time.time()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.time() - t0
    ok = len(latencies)
    q = statistics.quantiles(latencies, n=20) if ok >= 2 else [float("nan")] * 19
    return {
        "clients": clients,
        "seconds": round(wall, 1),
        "requests": len(statuses),
        "ok": ok,
        "throughput_per_min": round(60 * ok / wall, 2),
        "p50_s": round(statistics.median(latencies), 3) if ok else None,
        "p95_s": round(q[18], 3) if ok >= 2 else None,
        "429s": statuses.count(429),
        "errors": len([s for s in statuses if s not in (200, 429)]),
        "error_kinds": sorted({str(s) for s in statuses if s not in (200, 429)}),
    }


def fault(data: Path, port: int) -> dict:
    url = f"http://127.0.0.1:{port}"
    proc = start(data, port, "--steps", "1000", "--prior-steps", "1000")
    before = {j["id"]: j for j in httpx.get(url + "/api/jobs?limit=500").json()["jobs"]}
    threading.Thread(target=lambda: _quiet_post(url), daemon=True).start()
    deadline = time.time() + 60
    while not any(j["status"] == "running" for j in httpx.get(url + "/api/jobs").json()["jobs"]):
        if time.time() > deadline:
            raise RuntimeError("the long job never started")
        time.sleep(0.1)
    killed_at = time.time()
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc = start(data, port)
    try:
        after = {j["id"]: j for j in httpx.get(url + "/api/jobs?limit=500").json()["jobs"]}
        new = [j for i, j in after.items() if i not in before]
        images = data / "images"
        done_kept = all(
            after[i]["status"] == "done" and all((images / f).exists() for f in after[i]["files"])
            for i, j in before.items()
            if j["status"] == "done"
        )
        return {
            "jobs_before_kill": len(before),
            "done_before_kill": sum(j["status"] == "done" for j in before.values()),
            "jobs_after_restart": len(after),
            "done_jobs_intact": done_kept,
            "killed_job_status": new[0]["status"] if new else None,
            "killed_job_error": new[0]["error"] if new else None,
            "killed_job_pictures_left": len(list(images.glob(f"{new[0]['id']}-*"))) if new else None,
            "restart_seconds": round(time.time() - killed_at, 1),
        }
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)


def _quiet_post(url: str) -> None:
    try:
        httpx.post(url + "/v1/images/generations", json={"prompt": "a red circle"}, timeout=600)
    except httpx.HTTPError:
        pass


def markdown(r: dict) -> str:
    L, F = r["load"], r["fault"]
    return "\n".join(
        [
            "# `promptism serve` under load, and killed mid-job",
            "",
            f"Measured by `benchmarks/serve_load.py` on {r['machine']}: the shipped models, one job at a time, "
            f"queue of {r['max_queue']}, the server on 1 thread, {L['clients']} clients on loopback for {L['seconds']} s, "
            "each asking for one 64 px picture at a time (a client that gets 429 waits 1 s).",
            "",
            "| measure | value |",
            "|---|---|",
            f"| requests | {L['requests']} |",
            f"| pictures made (200) | {L['ok']} |",
            f"| throughput | {L['throughput_per_min']} pictures/min |",
            f"| latency p50 / p95 (200s) | {L['p50_s']} s / {L['p95_s']} s |",
            f"| 429 (queue full) | {L['429s']} |",
            f"| other errors | {L['errors']} {'(' + ', '.join(L['error_kinds']) + ')' if L['errors'] else ''} |",
            f"| server peak memory (VmHWM) | {r['peak_rss_mib']:.0f} MiB |",
            "",
            "Killed mid-job (SIGKILL) and restarted on the same data folder:",
            "",
            "| check | value |",
            "|---|---|",
            f"| jobs in the history before / after | {F['jobs_before_kill']} / {F['jobs_after_restart']} |",
            f"| every done job still done, with its pictures | {'yes' if F['done_jobs_intact'] else 'NO'} |",
            f"| the killed job | {F['killed_job_status']}: {F['killed_job_error']} |",
            f"| pictures of the killed job left behind | {F['killed_job_pictures_left']} |",
            f"| kill to serving again | {F['restart_seconds']} s |",
            "",
        ]
    )


def main() -> int:
    args = traffic_options(__doc__, clients=4, seconds=60, max_queue=2)
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        with serving(data, "--max-queue", str(args.max_queue)) as (url, proc):
            report = {
                "machine": machine(),
                "max_queue": args.max_queue,
                "load": load(url, args.clients, args.seconds),
                "peak_rss_mib": peak_rss_mib(proc.pid),
            }
        report["fault"] = fault(data, _port())
    REPORTS.mkdir(parents=True, exist_ok=True)
    (REPORTS / "serve_load.json").write_text(json.dumps(report, indent=1))
    (REPORTS / "serve_load.md").write_text(markdown(report))
    print(markdown(report))
    return 0 if report["load"]["errors"] == 0 and report["fault"]["done_jobs_intact"] else 1


if __name__ == "__main__":
    sys.exit(main())
