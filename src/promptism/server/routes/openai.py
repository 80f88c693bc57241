"""OpenAI's Images API: generations, edits, variations, the model list and the pictures."""

from __future__ import annotations

import io

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse

from ...errors import PromptismError
from ..config import GENERATIONS_ONLY, MODEL_ID, SAFE_FILE
from ..errors import APIError
from ..service import (
    common,
    edit_work,
    form_body,
    generate_work,
    json_body,
    picture,
    picture_visible,
    run_job,
    service,
    str_field,
    vary_work,
)

router = APIRouter()


@router.post("/v1/images/generations")
async def generations(request: Request):
    svc = service(request)
    body = await json_body(request)
    prompt = str_field(body.get("prompt"), "prompt", required=True)
    negative = str_field(body.get("negative_prompt"), "negative_prompt") or ""
    p = {**common(svc, body, guided_ok=True), "prompt": prompt, "negative_prompt": negative}
    svc.check_policy("generate", p, p["user"], prompt, negative)
    return await run_job(
        request, svc, "generate", p, p["user"], generate_work(svc, p, service(request).config.defaults)
    )


@router.post("/v1/images/edits")
async def edits(request: Request):
    import numpy as np

    from ...pipelines.images import open_mask

    svc = service(request)
    fields, files = await form_body(request)
    prompt = str_field(fields.get("prompt"), "prompt", required=True)
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
                raise APIError(400, "give a 'mask', or an image whose transparent pixels mark what to repaint", "mask")
            mask = np.asarray(im.convert("RGBA").getchannel("A")) < 128
        if not mask.any():
            raise APIError(400, "the image has no transparent pixels to repaint; give a 'mask'", "mask")
        mask_sha = src.sha256
    p.update(source_sha256=src.sha256, mask_sha256=mask_sha)
    svc.check_policy("edit", p, p["user"], prompt)
    return await run_job(
        request, svc, "edit", p, p["user"], edit_work(svc, p, src.image, mask, service(request).config.defaults)
    )


@router.post("/v1/images/variations")
async def variations(request: Request):
    svc = service(request)
    fields, files = await form_body(request)
    p = common(svc, fields)
    src = picture(svc, files.get("image"), "image")
    p["source_sha256"] = src.sha256
    return await run_job(
        request, svc, "variation", p, p["user"], vary_work(svc, p, src.image, service(request).config.defaults)
    )


@router.get("/v1/models")
async def models(request: Request):
    return {
        "object": "list",
        "data": [
            {"id": m, "object": "model", "created": 0, "owned_by": "promptism"} for m in (MODEL_ID, *GENERATIONS_ONLY)
        ],
    }


@router.get("/images/{name}")
async def image(name: str, request: Request):
    path = service(request).history.images / name
    if not SAFE_FILE.match(name) or not path.is_file() or not picture_visible(request, name):
        raise APIError(404, f"no picture named {name!r}", code="not_found")
    return FileResponse(path, media_type="image/png")
