"""The history: every job with its parameters, seeds, status, progress and pictures, and the
studio's way to queue one."""

from __future__ import annotations

import base64

from fastapi import APIRouter, Request

from ...errors import PromptismError
from ..config import GAN_ID, GUIDED_ID, SAFE_FILE
from ..errors import APIError
from ..jobs import QueueFull, StorageError
from ..service import (
    STUDIO_SETTINGS,
    caller,
    common,
    dream_work,
    edit_work,
    generate_work,
    job_json,
    json_body,
    owned_job,
    picture_visible,
    service,
    str_field,
    studio_settings,
    vary_work,
)

router = APIRouter()


@router.get("/api/jobs")
async def jobs(request: Request, limit: int = 50, before: float | None = None, q: str = ""):
    """The caller's jobs, newest first: ``q`` keeps those whose prompt (or a variation's source's
    prompt) holds it; ``before`` (a job's ``created``) pages back, and ``next_before`` says where
    the next page starts (null at the end)."""
    svc = service(request)
    user, admin = caller(request)
    q = str_field(q, "q", most=200) or None
    limit = max(1, min(limit, 500))
    records = svc.history.list(limit, before=before, owner=None if admin else user, text=q)
    more = len(records) == limit
    return {"jobs": [job_json(svc, r) for r in records], "next_before": records[-1].created if more else None}


@router.post("/api/jobs", status_code=202)
async def new_job(request: Request):
    """The studio's way in: queue a job and answer at once with its id; poll GET /api/jobs/<id>
    for progress. kind: generate | variation | edit | dream; a variation, edit or dream names a
    picture of the history (source), an edit sends its mask as a base64 PNG, white = repaint, and a
    dream may name a prompt to dream towards (else it excites the CLIP's default layer)."""
    from ...pipelines.images import open_image, open_mask

    svc = service(request)
    body = await json_body(request)
    kind = body.get("kind")
    if kind not in ("generate", "variation", "edit", "dream"):
        raise APIError(400, "'kind' must be generate, variation, edit or dream", "kind")
    p = {**common(svc, {**body, "response_format": "url"}, guided_ok=kind == "generate"), "kind": kind}
    settings = studio_settings(body, service(request).config.defaults)
    if kind == "edit":  # generations and variations rerank candidates, inpainting does not
        settings.pop("rerank", None)
    p["settings"] = {k: v for k, v in settings.items() if k in STUDIO_SETTINGS}
    src = None
    if kind != "generate":
        name = str_field(body.get("source"), "source", required=True, most=64)
        path = svc.history.images / name
        if not SAFE_FILE.match(name) or not path.is_file() or not picture_visible(request, name):
            raise APIError(404, f"no picture named {name!r} in the history", "source", "not_found")
        src = open_image(path, "source")
        p["source"] = name
        made_by = svc.history.get(name.split("-", 1)[0])  # what the source was drawn from, for titles and search
        if made_by is not None:
            p["source_prompt"] = made_by.params.get("prompt") or made_by.params.get("source_prompt") or ""
    if kind == "generate":
        p["prompt"] = str_field(body.get("prompt"), "prompt", required=True)
        p["negative_prompt"] = str_field(body.get("negative_prompt"), "negative_prompt") or ""
        svc.check_policy(kind, p, p["user"], p["prompt"], p["negative_prompt"])
        if p.get("model") in (GUIDED_ID, GAN_ID) and body.get("steps") not in (None, ""):
            p["guide_steps"] = settings["steps"]  # asked for in the studio: the optimisation's steps
        work = generate_work(svc, p, settings)
    elif kind == "variation":
        work = vary_work(svc, p, src.image, settings)
    elif kind == "dream":
        p["prompt"] = str_field(body.get("prompt"), "prompt") or ""
        svc.check_policy(kind, p, p["user"], p["prompt"])
        p["n"], p["settings"] = 1, {}
        work = dream_work(svc, p, src.image)
    else:
        p["prompt"] = str_field(body.get("prompt"), "prompt") or ""
        svc.check_policy(kind, p, p["user"], p["prompt"])
        try:
            raw = base64.b64decode(str_field(body.get("mask"), "mask", required=True, most=8 * 2**20), validate=True)
        except ValueError:
            raise APIError(400, "'mask' must be a base64 PNG", "mask") from None
        try:
            mask, p["mask_sha256"] = open_mask(raw, src.image.size, "white")
        except PromptismError as e:
            raise APIError(400, str(e), "mask") from None
        work = edit_work(svc, p, src.image, mask, settings)
    try:
        job = svc.queue.submit(kind, p, work, p["user"], caller(request)[0])
    except QueueFull as e:
        raise APIError(429, f"the server is busy: {e}", code="rate_limit_exceeded") from None
    except StorageError as e:
        raise APIError(500, str(e), code="storage_error") from None
    job.future.add_done_callback(lambda f: f.exception())  # the history has the outcome
    return {"id": job.id}


@router.post("/api/jobs/{job_id}/cancel", status_code=202)
async def cancel_job(job_id: str, request: Request):
    """Stop a queued or running job at its next step: it ends as cancelled, with no pictures."""
    svc = service(request)
    record = owned_job(request, job_id)
    if not svc.queue.cancel(job_id):
        raise APIError(409, f"job {job_id!r} has already ended ({record.status})", code="job_ended")
    return {"id": job_id, "status": "cancelling"}


@router.delete("/api/pictures/{name}")
async def delete_picture(name: str, request: Request):
    """Delete one picture of a finished job (its owner's, or an admin's call) and its sidecar."""
    svc = service(request)
    record = owned_job(request, name.split("-", 1)[0]) if SAFE_FILE.match(name) else None
    if record is None or name not in record.files:
        raise APIError(404, f"no picture named {name!r} in the history", "name", "not_found")
    svc.history.remove_picture(record.id, name)
    return {"deleted": name}


@router.get("/api/jobs/{job_id}/zip")
async def job_zip(job_id: str, request: Request):
    """A finished job's pictures and their provenance sidecars, as one zip."""
    import io
    import zipfile

    from fastapi.responses import Response

    record = owned_job(request, job_id)
    if record.status != "done":
        raise APIError(409, f"job {job_id!r} has no pictures to download ({record.status})", code="job_not_done")
    images = service(request).history.images
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:  # PNGs are compressed already
        for name in record.files:
            for path in (images / name, (images / name).with_suffix(".json")):
                if path.is_file():
                    z.write(path, path.name)
    headers = {"content-disposition": f'attachment; filename="promptism-{job_id}.zip"'}
    return Response(buf.getvalue(), media_type="application/zip", headers=headers)


@router.get("/api/jobs/{job_id}")
async def job(job_id: str, request: Request):
    return job_json(service(request), owned_job(request, job_id))
