"""The studio's knobs panel: the server's GAN, its knobs (found and named once per process, the
first time they are asked for) and a picture redrawn for a seed and a position of every slider.

    GET  /api/knobs          {"model", "size", "knobs": [{"index", "name", "spread"}], "range"}
    POST /api/knobs/draw     JSON {"seed", "amounts": [one per knob, in spreads], "truncation"} -> PNG

A drawing is one pass of a small generator, so it is answered at once rather than queued."""

from __future__ import annotations

import io
import threading

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from ...errors import PromptismError
from ...pipelines.settings import SEED_LIMIT
from ..errors import APIError
from ..service import json_body, service

router = APIRouter()
KNOBS = 8  # sliders in the panel
AMOUNT = 4.0  # each slider runs from -AMOUNT to +AMOUNT spreads
_lock = threading.Lock()


def _knobs(svc):
    """(GAN, Knobs) of the server's GAN, found once."""
    with _lock:
        if getattr(svc, "_gan_knobs", None) is None:
            from ...gan import loaded
            from ...gan.knobs import find_knobs, name_knobs

            gan = loaded(str(svc.config.gan))
            svc._gan_knobs = (gan, name_knobs(gan.generator, find_knobs(gan.generator, KNOBS)))
        return svc._gan_knobs


def _number(body: dict, key: str, lo: float, hi: float, default: float) -> float:
    v = body.get(key, default)
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not lo <= v <= hi:
        raise APIError(400, f"'{key}' must be a number from {lo} to {hi}", key)
    return float(v)


@router.get("/api/knobs")
async def knobs(request: Request):
    svc = service(request)
    try:
        gan, k = await run_in_threadpool(_knobs, svc)
    except PromptismError as e:
        raise APIError(404, f"no GAN for the knobs: {e}") from None
    return {
        "model": str(svc.config.gan),
        "size": gan.generator.config.image_size,
        "range": AMOUNT,
        "knobs": [
            {"index": i, "name": n, "spread": round(float(s), 4)} for i, (n, s) in enumerate(zip(k.names, k.spreads))
        ],
    }


@router.post("/api/knobs/draw")
async def draw(request: Request):
    svc = service(request)
    body = await json_body(request)
    seed = body.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < SEED_LIMIT:
        raise APIError(400, f"'seed' must be a whole number from 0 to {SEED_LIMIT - 1}", "seed")
    truncation = _number(body, "truncation", 0.0, 1.5, 0.7)
    amounts = body.get("amounts", [])
    if not isinstance(amounts, list) or len(amounts) > KNOBS:
        raise APIError(400, f"'amounts' must be a list of at most {KNOBS} numbers", "amounts")
    for a in amounts:
        if isinstance(a, bool) or not isinstance(a, (int, float)) or not -AMOUNT <= a <= AMOUNT:
            raise APIError(400, f"each amount must be a number from {-AMOUNT} to {AMOUNT} (spreads)", "amounts")

    def picture() -> bytes:
        import torch

        from ...gan.pipeline import seeds_z
        from ...pipelines.common import to_images

        gan, k = _knobs(svc)
        gen = gan.generator
        with torch.no_grad():
            w = gen.ws(seeds_z([seed], gen.config.z_dim), truncation)
            for a, d, s in zip(amounts, k.directions, k.spreads):
                w = w + float(a) * float(s) * d
            img = to_images(gen.synthesis(w, "const"))[0]
        buf = io.BytesIO()
        img.save(buf, format="PNG")
        return buf.getvalue()

    try:
        png = await run_in_threadpool(picture)
    except PromptismError as e:
        raise APIError(404, f"no GAN for the knobs: {e}") from None
    return Response(png, media_type="image/png", headers={"Cache-Control": "no-store"})
