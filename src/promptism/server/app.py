"""``promptism serve``: one ASGI app (FastAPI) with OpenAI's Images API, a job queue and a durable
history under one data folder.

    POST /v1/images/generations   JSON: prompt, n, size, response_format, model, user (+ seed, negative_prompt)
    POST /v1/images/edits         multipart: image, mask (transparent = repaint), prompt, n, size, …
    POST /v1/images/variations    multipart: image, n, size, response_format, model, user
    GET  /v1/models               the one model this server runs
    GET  /images/<file>           pictures, for response_format=url
    GET  /api/jobs, /api/jobs/<id>   the history, with live progress of running jobs
    GET  /api/knobs, POST /api/knobs/draw   the GAN's named knobs, and a picture for slider positions
    GET  /healthz

Errors come in OpenAI's shape, {"error": {"message", "type", "param", "code"}}, with the status
codes its client expects. Sizes: the models make 32x32, 64x64 (the default) and 128x128
themselves; 256x256, 512x512 and 1024x1024 (OpenAI's dall-e-2 sizes) are the 128 px picture
upscaled (Lanczos), and the picture's metadata says so (``upscaled_from``).
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager
from pathlib import Path

from .config import MAX_JSON_BYTES, ServerConfig, log
from .errors import BearerKeys, BodyLimit, BrowserGuard, RequestGuard, install_error_handlers
from .service import Service

__all__ = ["ServerConfig", "create_app", "serve"]


def create_app(config: ServerConfig):
    """The app: the middleware, the error handlers and the routers, over one Service."""
    from fastapi import FastAPI
    from fastapi.staticfiles import StaticFiles

    from .routes import history, knobs, openai, studio

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
    app.add_middleware(RequestGuard)  # the innermost of ours: it catches what the routes raise
    app.add_middleware(
        BodyLimit,
        json_bytes=MAX_JSON_BYTES,
        upload_bytes=config.max_upload_bytes,
        read_timeout_s=config.body_timeout_s,
    )
    keys = config.keys()
    if keys:
        from .links import url_secret

        app.add_middleware(BearerKeys, keys=keys, secret=url_secret(config.data_dir))
    # outermost: a request for another host name, or from another site's page, goes no further
    app.add_middleware(BrowserGuard, allowed_hosts=config.hosts(), cors_origins=config.cors_origins)
    install_error_handlers(app)
    app.include_router(openai.router)
    app.include_router(history.router)
    app.include_router(studio.router)
    app.include_router(knobs.router)
    app.mount("/static", StaticFiles(directory=studio.STATIC), name="static")
    return app


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
    uvicorn.Server(uvicorn_config(create_app(config), config.host, config.port, "info")).run()


def uvicorn_config(app, host: str, port: int, log_level: str):
    """uvicorn's settings for the app: its h11 protocol answers unparseable requests in OpenAI's
    error shape (see errors.http_protocol)."""
    import uvicorn

    from .errors import http_protocol

    return uvicorn.Config(app, host=host, port=port, log_level=log_level, lifespan="on", http=http_protocol())
