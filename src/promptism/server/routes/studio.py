"""The studio (a page and its static files), what it asks of the server, and the health check."""

from __future__ import annotations

import time
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse

from ..config import GENERATIONS_ONLY, MAX_N, MODEL_ID
from ..service import service

router = APIRouter()
STATIC = Path(__file__).resolve().parent.parent / "static"


@router.get("/api/info")
async def info(request: Request):
    svc = service(request)
    models = []
    names = {MODEL_ID: "unCLIP (prior → decoder → upsamplers)", **{k: v[0] for k, v in GENERATIONS_ONLY.items()}}
    for model, name in names.items():
        sizes, _, default = svc.sizes(model)
        models.append({"id": model, "name": name, "sizes": sizes, "default_size": default})
    return {
        "model": MODEL_ID,
        "models": models,
        "sizes": models[0]["sizes"],
        "default_size": models[0]["default_size"],
        "max_n": MAX_N,
    }


@router.get("/")
async def studio():
    return FileResponse(STATIC / "index.html", media_type="text/html")


@router.get("/healthz")
async def health(request: Request):
    svc = service(request)
    import shutil

    try:
        free = shutil.disk_usage(svc.history.dir).free
    except OSError:
        free = None
    storage = {"ok": svc.queue.storage_error is None, "error": svc.queue.storage_error, "free_bytes": free}
    return {
        "ok": storage["ok"],
        "waiting": svc.queue.waiting,
        "running": svc.queue.running,
        "storage": storage,
        "uptime_s": round(time.time() - svc.started, 1),
    }
