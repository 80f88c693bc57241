"""The studio (a page and its static files), what it asks of the server, and the health check."""

from __future__ import annotations

import time
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse

from ..config import GUIDED_ID, GUIDED_SIZES, MAX_N, MODEL_ID, UPSCALED_SIZES
from ..service import service

router = APIRouter()
STATIC = Path(__file__).resolve().parent.parent / "static"


@router.get("/api/info")
async def info(request: Request):
    svc = service(request)
    native = [n for n in svc.native_sizes() if n >= 32] or svc.native_sizes()[-1:]
    biggest = max(native)
    return {
        "model": MODEL_ID,
        "models": [
            {
                "id": MODEL_ID,
                "name": "unCLIP (prior → decoder → upsamplers)",
                "sizes": native + [s for s in UPSCALED_SIZES if s > biggest],
                "default_size": biggest,
            },
            {
                "id": GUIDED_ID,
                "name": "VQGAN+CLIP (guided, 64 to 256 px)",
                "sizes": [*GUIDED_SIZES, 512, 1024],
                "default_size": GUIDED_SIZES[0],
            },
        ],
        "sizes": native + [s for s in UPSCALED_SIZES if s > biggest],
        "default_size": biggest,
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
