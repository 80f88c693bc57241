"""``promptism serve``: one ASGI app (FastAPI) with OpenAI's Images API, a job queue and a durable
history under one data folder.

    POST /v1/images/generations   JSON: prompt, n, size, response_format, model, user (+ seed, negative_prompt)
    POST /v1/images/edits         multipart: image, mask (transparent = repaint), prompt, n, size, …
    POST /v1/images/variations    multipart: image, n, size, response_format, model, user
    GET  /v1/models               the one model this server runs
    GET  /images/<file>           pictures, for response_format=url
    GET  /api/jobs, /api/jobs/<id>   the history, with live progress of running jobs
    GET  /healthz

Errors come in OpenAI's shape, {"error": {"message", "type", "param", "code"}}, with the status
codes its client expects. Sizes: the models make 32x32 and 64x64 themselves; 256x256, 512x512 and
1024x1024 (OpenAI's dall-e-2 sizes) are the 64 px picture upscaled (Lanczos), and the picture's
metadata says so (``upscaled_from``).
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import io
import ipaddress
import json
import logging
import os
import re
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import Request

from ..errors import PromptismError
from ..pipelines.settings import SEED_LIMIT
from .history import History
from .jobs import JobCancelled, JobQueue, JobTimeout, QueueFull
from .policy import Policy

log = logging.getLogger("promptism.server")

MODEL_ID = "promptism-unclip-world"
MODEL_ALIASES = (MODEL_ID, "dall-e-2", "unclip")
UPSCALED_SIZES = (256, 512, 1024)
MAX_N = 10  # as OpenAI's dall-e-2
MAX_JSON_BYTES = 2**20  # a studio edit carries its mask as base64 PNG
SAFE_FILE = re.compile(r"^[0-9a-f]{16}-\d{1,2}\.png$")


@dataclass
class ServerConfig:
    data_dir: str
    host: str = "127.0.0.1"
    port: int = 8000
    api_keys: tuple[str, ...] = ()
    policy: str | None = None
    max_queue: int = 8
    concurrency: int = 1
    job_timeout_s: float = 300.0
    max_upload_bytes: int = 4 * 2**20  # OpenAI: images under 4 MB
    max_upload_pixels: int = 4096 * 4096
    clip: str | None = None  # None: the CLIP the prior was trained on
    prior: str = "world"
    decoder: str = "world"
    upsamplers: tuple[str, ...] = ("world-64",)
    defaults: dict = field(default_factory=dict)  # Settings fields every job uses (steps=…)

    def check(self) -> None:
        if not is_loopback(self.host) and not self.api_keys:
            raise PromptismError(
                f"the server would listen on {self.host}, beyond this machine, without API keys: "
                "give --api-key KEY (or PROMPTISM_API_KEYS), or bind to 127.0.0.1"
            )
        if self.concurrency < 1 or self.max_queue < 0 or self.job_timeout_s <= 0:
            raise PromptismError("--concurrency must be ≥ 1, --max-queue ≥ 0 and --job-timeout > 0")
        if any(len(k) < 8 for k in self.api_keys):
            raise PromptismError("API keys must be at least 8 characters long")
        from ..pipelines.settings import Settings

        bad = set(self.defaults) - set(Settings.__dataclass_fields__)
        if bad:
            raise PromptismError(f"unknown settings: {', '.join(sorted(bad))}")
        Settings(**self.defaults).check()


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# --- errors in OpenAI's shape ------------------------------------------------------------------
class APIError(Exception):
    TYPES = {
        400: "invalid_request_error",
        401: "invalid_request_error",
        404: "invalid_request_error",
        413: "invalid_request_error",
        429: "requests",
        500: "server_error",
    }

    def __init__(
        self, status: int, message: str, param: str | None = None, code: str | None = None, type_: str | None = None
    ):
        super().__init__(message)
        self.status, self.message, self.param, self.code = status, message, param, code
        self.type = type_ or self.TYPES.get(status, "invalid_request_error")

    def response(self):
        from fastapi.responses import JSONResponse

        body = {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}
        headers = {"Retry-After": "5"} if self.status == 429 else None
        return JSONResponse(body, status_code=self.status, headers=headers)


class BodyTooLarge(Exception):
    pass


class BodyLimit:
    """ASGI middleware: refuse request bodies over a byte limit, by Content-Length when given and
    by counting otherwise (a chunked upload is cut off when it passes the limit)."""

    def __init__(self, app, json_bytes: int, upload_bytes: int):
        self.app, self.json_bytes, self.upload_bytes = app, json_bytes, upload_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        ctype = headers.get(b"content-type", b"").decode("latin-1")
        limit = self.upload_bytes + 64 * 1024 if ctype.startswith("multipart/") else self.json_bytes
        length = headers.get(b"content-length")
        if length is not None:
            try:
                too_big = int(length) > limit
            except ValueError:
                too_big = False
            if too_big:
                return await _send_error(
                    send,
                    APIError(
                        413,
                        f"the request body is {int(length):,} bytes; at most {limit:,} are accepted",
                        code="request_too_large",
                    ),
                )
        seen = 0

        async def counted():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(f"the request body passed {limit:,} bytes")
            return message

        return await self.app(scope, counted, send)


class BearerKeys:
    """ASGI middleware: the API, the history and the pictures need 'Authorization: Bearer KEY'.
    (Pure ASGI rather than an "http" middleware, so that routes still see a client leave.)"""

    PROTECTED = ("/v1/", "/api/", "/images/")

    def __init__(self, app, keys: tuple[str, ...]):
        self.app, self.keys = app, {k.encode() for k in keys}

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["path"].startswith(self.PROTECTED):
            header = dict(scope.get("headers") or []).get(b"authorization", b"")
            token = header[7:].strip() if header[:7].lower() == b"bearer " else b""
            if not any(hmac.compare_digest(token, k) for k in self.keys):
                return await _send_error(
                    send,
                    APIError(
                        401,
                        "Incorrect API key provided: give it as 'Authorization: Bearer KEY'.",
                        code="invalid_api_key",
                    ),
                )
        return await self.app(scope, receive, send)


async def _send_error(send, err: APIError) -> None:
    body = json.dumps(
        {"error": {"message": err.message, "type": err.type, "param": err.param, "code": err.code}}
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": err.status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


# --- request parsing ---------------------------------------------------------------------------
def _int(v, name: str, lo: int, hi: int, default: int | None = None) -> int:
    if v is None or v == "":
        if default is None:
            raise APIError(400, f"'{name}' is required", name)
        return default
    if isinstance(v, bool):
        raise APIError(400, f"'{name}' must be a whole number, got {v!r}", name)
    if isinstance(v, str):
        try:
            v = int(v.strip())
        except ValueError:
            raise APIError(400, f"'{name}' must be a whole number, got {v!r}", name) from None
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    if not isinstance(v, int):
        raise APIError(400, f"'{name}' must be a whole number, got {v!r}", name)
    if not lo <= v <= hi:
        raise APIError(400, f"'{name}' must be from {lo} to {hi}, got {v}", name)
    return v


def _str(v, name: str, required: bool = False, most: int = 2000) -> str | None:
    if v is None:
        if required:
            raise APIError(400, f"'{name}' is required", name)
        return None
    if not isinstance(v, str):
        raise APIError(400, f"'{name}' must be a string, got {type(v).__name__}", name)
    if len(v) > most:
        raise APIError(400, f"'{name}' has {len(v)} characters; at most {most} are accepted", name)
    if required and not v.strip():
        raise APIError(400, f"'{name}' is empty", name)
    return v


class Service:
    """What the routes share: configuration, models, history, queue, policy."""

    def __init__(self, config: ServerConfig):
        self.config = config
        self.history = History(config.data_dir)
        self.policy = Policy.load(config.policy)
        self.queue = JobQueue(self.history, config.concurrency, config.max_queue, config.job_timeout_s)
        self._models = None
        self.started = time.time()

    @property
    def models(self):
        if self._models is None:
            from ..pipelines.unclip import load_models

            self._models = load_models(
                self.config.clip, self.config.prior, self.config.decoder, tuple(self.config.upsamplers)
            )
        return self._models

    def native_sizes(self) -> list[int]:
        m = self.models
        return [m.decoder.model.config.image_size] + [u.model.config.image_size for u in m.upsamplers]

    def size(self, v) -> tuple[int, int]:
        """(side the models make, side returned) of a size parameter like '64x64'."""
        native = self.native_sizes()
        biggest = max(s for s in native if s >= 32) if any(s >= 32 for s in native) else native[-1]
        allowed = [s for s in native if s >= 32] + [s for s in UPSCALED_SIZES if s > biggest]
        default = biggest
        if v is None or v == "":
            return biggest, default
        if not isinstance(v, str) or not re.fullmatch(r"\d{1,5}x\d{1,5}", v):
            raise APIError(
                400, f"'size' must be like '64x64'; sizes are {', '.join(f'{s}x{s}' for s in allowed)}", "size"
            )
        w, h = (int(p) for p in v.split("x"))
        if w != h or w not in allowed:
            raise APIError(
                400,
                f"size {v} is not available; sizes are {', '.join(f'{s}x{s}' for s in allowed)} "
                f"({', '.join(str(s) for s in UPSCALED_SIZES if s > biggest)} are {biggest} px "
                "pictures upscaled)",
                "size",
            )
        return (w, w) if w in native else (biggest, w)

    def check_model(self, v) -> None:
        if v is not None and v not in MODEL_ALIASES:
            raise APIError(
                404, f"the model '{v}' does not exist here; this server runs '{MODEL_ID}'", "model", "model_not_found"
            )

    def check_policy(self, job_kind: str, params: dict, user: str | None, *texts: str) -> None:
        entry = self.policy.violation(*texts)
        if entry is not None:
            log.warning("refused a %s request (user %r): the prompt matches policy entry %r", job_kind, user, entry)
            self.history.add(job_kind, params, user, status="refused", error=f"policy entry {entry!r}")
            raise APIError(
                400,
                "Your request was rejected as a result of our safety system: the prompt is not "
                "allowed by this server's content policy.",
                "prompt",
                "content_policy_violation",
            )


def _finish_pictures(service: Service, job_id: str, result, side: int) -> list[str]:
    """Write a job's pictures as images/<job>-<i>.png with provenance, at side × side: a picture
    of another size (the models' 64 px, an edit at its upload's size) is resized, and its
    metadata says from what."""
    from PIL import Image

    from ..pipelines.provenance import save_png

    names = []
    for i, (img, meta) in enumerate(zip(result.images, result.metadata)):
        meta = {**meta, "job": job_id}
        if img.size != (side, side):
            meta["upscaled_from" if img.width < side else "resized_from"] = [img.width, img.height]
            img = img.resize((side, side), Image.LANCZOS)
        name = f"{job_id}-{i}.png"
        save_png(img, service.history.images / name, meta)
        names.append(name)
    return names


def generate_work(svc: Service, p: dict, settings: dict):
    def work(job):
        from ..pipelines.unclip import generate

        r = generate(
            p["prompt"],
            n=p["n"],
            seed=p["seed"],
            size=p["native"],
            negative=p.get("negative_prompt") or None,
            models=svc.models,
            **settings,
        )
        return r.seeds, _finish_pictures(svc, job.id, r, p["out"])

    return work


def edit_work(svc: Service, p: dict, image, mask, settings: dict):
    settings = {k: v for k, v in settings.items() if k != "rerank"}  # inpainting draws one picture per seed

    def work(job):
        from ..pipelines.edit import inpaint

        r = inpaint(image, mask, p["prompt"], n=p["n"], seed=p["seed"], size=p["native"], models=svc.models, **settings)
        return r.seeds, _finish_pictures(svc, job.id, r, p["out"])

    return work


def vary_work(svc: Service, p: dict, image, settings: dict):
    def work(job):
        from ..pipelines.edit import vary

        r = vary(image, n=p["n"], seed=p["seed"], size=p["native"], models=svc.models, **settings)
        return r.seeds, _finish_pictures(svc, job.id, r, p["out"])

    return work


STUDIO_SETTINGS = {
    "sampler": str,
    "steps": int,
    "prior_steps": int,
    "guidance_prior": float,
    "guidance_decoder": float,
    "guidance_text": float,
    "rerank": int,
}


def studio_settings(body: dict, defaults: dict) -> dict:
    """The sampling settings a studio request may set, checked; the server's defaults under them."""
    from ..pipelines.settings import Settings

    out = dict(defaults)
    for name, kind in STUDIO_SETTINGS.items():
        v = body.get(name)
        if v is None or v == "":
            continue
        if kind is str:
            out[name] = _str(v, name, most=32)
        elif kind is int:
            out[name] = _int(v, name, 1, 1000)
        else:
            if isinstance(v, bool) or not isinstance(v, (int, float, str)):
                raise APIError(400, f"'{name}' must be a number, got {v!r}", name)
            try:
                out[name] = float(v)
            except ValueError:
                raise APIError(400, f"'{name}' must be a number, got {v!r}", name) from None
    try:
        Settings(**out).check()
    except PromptismError as e:
        raise APIError(400, str(e)) from None
    return out


def create_app(config: ServerConfig):
    from fastapi import FastAPI
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import FileResponse, JSONResponse
    from fastapi.staticfiles import StaticFiles
    from starlette.exceptions import HTTPException as StarletteHTTPException

    config.check()

    @asynccontextmanager
    async def lifespan(app):
        service = Service(config)
        recovered = service.history.recover()
        if recovered:
            log.warning("marked %d unfinished job(s) from a previous run as failed", len(recovered))
        await asyncio.get_running_loop().run_in_executor(None, lambda: service.models)  # load once, up front
        app.state.service = service
        yield
        service.queue.shutdown()
        service.history.close()

    app = FastAPI(title="Promptism", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(BodyLimit, json_bytes=MAX_JSON_BYTES, upload_bytes=config.max_upload_bytes)
    if config.api_keys:
        app.add_middleware(BearerKeys, keys=config.api_keys)

    @app.exception_handler(APIError)
    async def _api_error(request, exc: APIError):
        return exc.response()

    @app.exception_handler(BodyTooLarge)
    async def _too_large(request, exc):
        return APIError(413, str(exc), code="request_too_large").response()

    @app.exception_handler(RequestValidationError)
    async def _validation(request, exc):
        return APIError(
            400, "the request is not valid: " + "; ".join(e.get("msg", "") for e in exc.errors())
        ).response()

    @app.exception_handler(StarletteHTTPException)
    async def _http(request, exc):
        status = exc.status_code if exc.status_code in (400, 401, 404, 405, 413, 429) else 500
        return APIError(
            status, str(exc.detail), code={404: "not_found", 405: "method_not_allowed"}.get(status)
        ).response()

    @app.exception_handler(Exception)
    async def _crash(request, exc):
        log.exception("unexpected error")
        return APIError(500, "the server hit an unexpected error; it is logged").response()

    def service(request: Request) -> Service:
        return request.app.state.service

    async def json_body(request: Request) -> dict:
        raw = await request.body()
        try:
            body = json.loads(raw or b"null")
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise APIError(400, "the body must be JSON (Content-Type: application/json)") from None
        if not isinstance(body, dict):
            raise APIError(400, "the body must be a JSON object")
        return body

    async def form_body(request: Request) -> tuple[dict, dict]:
        ctype = request.headers.get("content-type", "")
        if not ctype.startswith("multipart/form-data"):
            raise APIError(400, "this endpoint takes multipart/form-data (the image as a file)")
        try:
            form = await request.form(max_files=4, max_fields=32)
        except BodyTooLarge:
            raise
        except Exception as e:
            raise APIError(400, f"the multipart body could not be read: {e}") from None
        fields, files = {}, {}
        for key, value in form.multi_items():
            if hasattr(value, "read"):
                data = await value.read(config.max_upload_bytes + 1)
                if len(data) > config.max_upload_bytes:
                    raise APIError(413, f"'{key}' is over {config.max_upload_bytes:,} bytes", key, "file_too_large")
                files[key] = data
            else:
                fields[key] = value
        return fields, files

    def picture(svc: Service, data: bytes | None, name: str):
        from ..pipelines.images import open_image

        if data is None:
            raise APIError(400, f"'{name}' is required: upload a picture file", name)
        try:
            src = open_image(data, name)
        except PromptismError as e:
            raise APIError(400, str(e), name) from None
        if src.image.width * src.image.height > config.max_upload_pixels:
            raise APIError(400, f"'{name}' has too many pixels", name)
        # uploads are kept under their content hash, never under a name the client chose
        path = svc.history.uploads / f"{src.sha256}.png"
        if not path.exists():
            tmp = path.with_suffix(".tmp")
            src.image.save(tmp, format="PNG")
            os.replace(tmp, path)
        return src

    async def run_job(request: Request, svc: Service, kind: str, params: dict, user, work):
        try:
            job = svc.queue.submit(kind, params, work, user)
        except QueueFull as e:
            raise APIError(429, f"the server is busy: {e}", code="rate_limit_exceeded") from None
        while True:
            done, _ = await asyncio.wait({job.future}, timeout=0.25)
            if done:
                break
            if await request.is_disconnected():
                job.cancel.set()
        try:
            names = job.future.result()
        except JobCancelled:
            raise APIError(400, "the request was cancelled", code="cancelled") from None
        except JobTimeout as e:
            raise APIError(500, str(e), code="timeout") from None
        except PromptismError as e:
            raise APIError(400, str(e)) from None
        fmt = params["response_format"]
        data = []
        for name in names:
            if fmt == "b64_json":
                data.append({"b64_json": base64.b64encode((svc.history.images / name).read_bytes()).decode()})
            else:
                data.append({"url": str(request.base_url) + f"images/{name}"})
        return JSONResponse({"created": int(time.time()), "data": data})

    def common(svc: Service, body: dict) -> dict:
        svc.check_model(body.get("model"))
        fmt = body.get("response_format") or "url"
        if fmt not in ("url", "b64_json"):
            raise APIError(400, f"'response_format' must be 'url' or 'b64_json', got {fmt!r}", "response_format")
        native, out = svc.size(body.get("size"))
        seed = _int(
            body.get("seed"), "seed", 0, SEED_LIMIT - 1, default=int.from_bytes(os.urandom(4), "little") % SEED_LIMIT
        )
        return {
            "n": _int(body.get("n"), "n", 1, MAX_N, default=1),
            "size": f"{out}x{out}",
            "native": native,
            "out": out,
            "response_format": fmt,
            "seed": seed,
            "user": _str(body.get("user"), "user", most=256),
        }

    @app.post("/v1/images/generations")
    async def generations(request: Request):
        svc = service(request)
        body = await json_body(request)
        prompt = _str(body.get("prompt"), "prompt", required=True)
        negative = _str(body.get("negative_prompt"), "negative_prompt") or ""
        p = {**common(svc, body), "prompt": prompt, "negative_prompt": negative}
        svc.check_policy("generate", p, p["user"], prompt, negative)
        return await run_job(request, svc, "generate", p, p["user"], generate_work(svc, p, config.defaults))

    @app.post("/v1/images/edits")
    async def edits(request: Request):
        import numpy as np

        from ..pipelines.images import open_mask

        svc = service(request)
        fields, files = await form_body(request)
        prompt = _str(fields.get("prompt"), "prompt", required=True)
        p = {**common(svc, fields), "prompt": prompt}
        image_bytes = files.get("image") or files.get("image[]")
        src = picture(svc, image_bytes, "image")
        if "mask" in files:
            try:
                mask, mask_sha = open_mask(files["mask"], src.image.size, "alpha")
            except PromptismError as e:
                raise APIError(400, str(e), "mask") from None
        else:  # OpenAI: without a mask, the image's own transparent pixels mark what to repaint
            from PIL import Image

            with Image.open(io.BytesIO(image_bytes)) as im:
                if "A" not in im.getbands():
                    raise APIError(
                        400, "give a 'mask', or an image whose transparent pixels mark what to repaint", "mask"
                    )
                mask = np.asarray(im.convert("RGBA").getchannel("A")) < 128
            if not mask.any():
                raise APIError(400, "the image has no transparent pixels to repaint; give a 'mask'", "mask")
            mask_sha = src.sha256
        p.update(source_sha256=src.sha256, mask_sha256=mask_sha)
        svc.check_policy("edit", p, p["user"], prompt)
        return await run_job(request, svc, "edit", p, p["user"], edit_work(svc, p, src.image, mask, config.defaults))

    @app.post("/v1/images/variations")
    async def variations(request: Request):
        svc = service(request)
        fields, files = await form_body(request)
        p = common(svc, fields)
        src = picture(svc, files.get("image"), "image")
        p["source_sha256"] = src.sha256
        return await run_job(request, svc, "variation", p, p["user"], vary_work(svc, p, src.image, config.defaults))

    @app.get("/v1/models")
    async def models(request: Request):
        return {"object": "list", "data": [{"id": MODEL_ID, "object": "model", "created": 0, "owned_by": "promptism"}]}

    @app.get("/images/{name}")
    async def image(name: str, request: Request):
        path = service(request).history.images / name
        if not SAFE_FILE.match(name) or not path.is_file():
            raise APIError(404, f"no picture named {name!r}", code="not_found")
        return FileResponse(path, media_type="image/png")

    @app.get("/api/jobs")
    async def jobs(request: Request, limit: int = 50):
        svc = service(request)
        return {"jobs": [_job_json(svc, r) for r in svc.history.list(max(1, min(limit, 500)))]}

    @app.post("/api/jobs", status_code=202)
    async def new_job(request: Request):
        """The studio's way in: queue a job and answer at once with its id; poll GET /api/jobs/<id>
        for progress. kind: generate | variation | edit; a variation or edit names a picture of
        the history (source) and an edit sends its mask as a base64 PNG, white = repaint."""
        from ..pipelines.images import open_image, open_mask

        svc = service(request)
        body = await json_body(request)
        kind = body.get("kind")
        if kind not in ("generate", "variation", "edit"):
            raise APIError(400, "'kind' must be generate, variation or edit", "kind")
        p = {**common(svc, {**body, "response_format": "url"}), "kind": kind}
        settings = studio_settings(body, config.defaults)
        if kind == "edit":  # generations and variations rerank candidates, inpainting does not
            settings.pop("rerank", None)
        p["settings"] = {k: v for k, v in settings.items() if k in STUDIO_SETTINGS}
        src = None
        if kind != "generate":
            name = _str(body.get("source"), "source", required=True, most=64)
            path = svc.history.images / name
            if not SAFE_FILE.match(name) or not path.is_file():
                raise APIError(404, f"no picture named {name!r} in the history", "source", "not_found")
            src = open_image(path, "source")
            p["source"] = name
        if kind == "generate":
            p["prompt"] = _str(body.get("prompt"), "prompt", required=True)
            p["negative_prompt"] = _str(body.get("negative_prompt"), "negative_prompt") or ""
            svc.check_policy(kind, p, p["user"], p["prompt"], p["negative_prompt"])
            work = generate_work(svc, p, settings)
        elif kind == "variation":
            work = vary_work(svc, p, src.image, settings)
        else:
            p["prompt"] = _str(body.get("prompt"), "prompt") or ""
            svc.check_policy(kind, p, p["user"], p["prompt"])
            try:
                raw = base64.b64decode(_str(body.get("mask"), "mask", required=True, most=8 * 2**20), validate=True)
            except ValueError:
                raise APIError(400, "'mask' must be a base64 PNG", "mask") from None
            try:
                mask, p["mask_sha256"] = open_mask(raw, src.image.size, "white")
            except PromptismError as e:
                raise APIError(400, str(e), "mask") from None
            work = edit_work(svc, p, src.image, mask, settings)
        try:
            job = svc.queue.submit(kind, p, work, p["user"])
        except QueueFull as e:
            raise APIError(429, f"the server is busy: {e}", code="rate_limit_exceeded") from None
        job.future.add_done_callback(lambda f: f.exception())  # the history has the outcome
        return {"id": job.id}

    @app.get("/api/jobs/{job_id}")
    async def job(job_id: str, request: Request):
        svc = service(request)
        record = svc.history.get(job_id)
        if record is None:
            raise APIError(404, f"no job {job_id!r}", code="not_found")
        return _job_json(svc, record)

    @app.get("/api/info")
    async def info(request: Request):
        svc = service(request)
        native = [n for n in svc.native_sizes() if n >= 32]
        biggest = max(native)
        return {
            "model": MODEL_ID,
            "sizes": native + [s for s in UPSCALED_SIZES if s > biggest],
            "default_size": biggest,
            "max_n": MAX_N,
        }

    static = Path(__file__).with_name("static")
    app.mount("/static", StaticFiles(directory=static), name="static")

    @app.get("/")
    async def studio():
        return FileResponse(static / "index.html", media_type="text/html")

    @app.get("/healthz")
    async def health(request: Request):
        svc = service(request)
        return {
            "ok": True,
            "waiting": svc.queue.waiting,
            "running": svc.queue.running,
            "uptime_s": round(time.time() - svc.started, 1),
        }

    return app


def _job_json(svc: Service, r) -> dict:
    d = r.to_dict()
    live = svc.queue.jobs.get(r.id)
    if live is not None and live.progress:
        d["progress"] = live.progress
    d["urls"] = [f"/images/{f}" for f in r.files]
    return d


def serve(config: ServerConfig) -> None:
    """Run the server until interrupted (uvicorn)."""
    import uvicorn

    config.check()
    Path(config.data_dir).mkdir(parents=True, exist_ok=True)
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        handlers=[logging.StreamHandler(), logging.FileHandler(Path(config.data_dir) / "server.log")],
    )
    uvicorn.run(create_app(config), host=config.host, port=config.port, log_level="info")
