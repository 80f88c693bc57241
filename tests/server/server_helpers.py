"""A Promptism server on a free loopback port, in a thread, for the server and studio tests."""

import socket
import threading
import time

from promptism.server.app import ServerConfig, create_app, uvicorn_config

FAST = {"steps": 3, "prior_steps": 2, "upsampler_steps": 2}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Running:
    """A uvicorn server in a thread."""

    def __init__(self, config: ServerConfig):
        import uvicorn

        self.port = config.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn_config(create_app(config), "127.0.0.1", self.port, "warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.time() + 60
        while not self.server.started:
            assert time.time() < deadline and self.thread.is_alive(), "the server did not start"
            time.sleep(0.05)

    @property
    def service(self):
        return self.server.config.app.state.service

    def stop(self):
        self.server.should_exit = True
        self.thread.join(timeout=30)


def _config(tiny, tmp_path, **kw) -> ServerConfig:
    base = dict(
        data_dir=str(tmp_path / "data"),
        clip=str(tiny / "clip"),
        prior=str(tiny / "prior"),
        decoder=str(tiny / "decoder"),
        upsamplers=(str(tiny / "up32"),),
        defaults=dict(FAST),
    )
    return ServerConfig(**{**base, **kw})


def finished_job(http, job_id: str, timeout: float = 120) -> dict:
    """A studio job once it is no longer queued or running, polled through ``http`` (an
    httpx.Client on the server's address)."""
    deadline = time.time() + timeout
    while True:
        job = http.get(f"/api/jobs/{job_id}").json()
        if job["status"] not in ("queued", "running"):
            return job
        assert time.time() < deadline, f"job {job_id} did not finish in {timeout} s"
        time.sleep(0.1)


def assert_clean_4xx(r, name: str) -> None:
    """A 4xx answer with an error in OpenAI's shape: message, type, param, code."""
    assert 400 <= r.status_code < 500, (name, r.status_code, r.text[:300])
    err = r.json().get("error")
    assert err and set(err) == {"message", "type", "param", "code"} and err["message"], (name, r.text[:300])
