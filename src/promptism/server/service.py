"""What the routes share: the service (configuration, models, history, queue, policy), the
jobs that run the pipelines, and the parsing and checking of requests."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import time

from fastapi import Request
from fastapi.responses import JSONResponse

from ..errors import PromptismError
from ..pipelines.settings import SEED_LIMIT
from ..responsible.energy import figures
from ..responsible.policy import Policy, using_policy
from .config import (
    GAN_ID,
    GENERATIONS_ONLY,
    GUIDED_ID,
    MAX_N,
    MINI_ID,
    MODEL_ALIASES,
    MODEL_ID,
    UPSCALED_SIZES,
    ServerConfig,
    log,
)
from .errors import APIError, BodyTooLarge
from .history import History
from .jobs import JobCancelled, JobQueue, JobTimeout, QueueFull, StorageError


def int_field(v, name: str, lo: int, hi: int, default: int | None = None) -> int:
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


def str_field(v, name: str, required: bool = False, most: int = 2000) -> str | None:
    if v is None:
        if required:
            raise APIError(400, f"'{name}' is required", name)
        return None
    if not isinstance(v, str):
        raise APIError(400, f"'{name}' must be a string, got {type(v).__name__}", name)
    if len(v) > most:
        raise APIError(400, f"'{name}' has {len(v)} characters; at most {most} are accepted", name)
    try:  # a lone surrogate (JSON allows "\udc80") is not text: no database or tokenizer takes it
        v.encode("utf-8")
    except UnicodeEncodeError as e:
        raise APIError(400, f"'{name}' is not valid Unicode text (a lone surrogate at {e.start})", name) from None
    if required and not v.strip():
        raise APIError(400, f"'{name}' is empty", name)
    return v


class Service:
    """What the routes share: configuration, models, history, queue, policy."""

    def __init__(self, config: ServerConfig):
        self.config = config
        self.history = History(config.data_dir)
        self.policy = Policy.load(config.policy, config.real_people)
        self.queue = JobQueue(
            self.history,
            config.concurrency,
            config.max_queue,
            config.job_timeout_s,
            around=lambda: using_policy(self.policy),
        )
        self._models = None
        self._secret = None
        self.energy_cache: dict[str, dict | None] = {}  # a finished job's energy (job_energy), read once
        self.keys = config.keys()  # read once: each request looks its key's user up here
        self.started = time.time()

    @property
    def models(self):
        if self._models is None:
            from ..pipelines.unclip import load_models

            self._models = load_models(
                self.config.clip,
                self.config.prior,
                self.config.decoder,
                tuple(self.config.upsamplers),
                self.config.fast,
            )
        return self._models

    def native_sizes(self) -> list[int]:
        from ..pipelines.unclip import reachable_sizes

        return reachable_sizes(self.models)

    def sizes(self, model: str = MODEL_ID) -> tuple[list[int], list[int], int]:
        """(the sides a request for ``model`` may ask for, the sides it draws, its default side):
        sides beyond the largest drawn are that picture upscaled."""
        if model in GENERATIONS_ONLY:
            drawn = list(GENERATIONS_ONLY[model][1])
            default = drawn[0]
        else:
            drawn = [n for n in self.native_sizes() if n >= 32] or self.native_sizes()[-1:]
            side = self.models.default_size()
            default = side if side in drawn else max(drawn)
        return drawn + [s for s in UPSCALED_SIZES if s > max(drawn)], drawn, default

    def size(self, v, model: str = MODEL_ID) -> tuple[int, int]:
        """(side drawn, side returned) of a size parameter like '64x64' for ``model``."""
        allowed, drawn, default = self.sizes(model)
        if v is None or v == "":
            return default, default
        listed = ", ".join(f"{s}x{s}" for s in allowed)
        if not isinstance(v, str) or not re.fullmatch(r"\d{1,5}x\d{1,5}", v):
            raise APIError(400, f"'size' must be like '64x64'; sizes are {listed}", "size")
        w, h = (int(p) for p in v.split("x"))
        if w != h or w not in allowed:
            upscaled = [str(s) for s in allowed if s not in drawn]
            note = f" ({', '.join(upscaled)} are {max(drawn)} px pictures upscaled)" if upscaled else ""
            which = f" for '{model}'" if model in GENERATIONS_ONLY else ""
            raise APIError(400, f"size {v} is not available{which}; sizes are {listed}{note}", "size")
        return (w, w) if w in drawn else (max(drawn), w)

    def picture_path(self, name: str) -> str:
        """'images/NAME', with a signed, expiring query when keys guard the pictures (links.py)."""
        if not self.keys:
            return f"images/{name}"
        from .links import signed_query, url_secret

        if self._secret is None:
            self._secret = url_secret(self.config.data_dir)
        return f"images/{name}" + signed_query(self._secret, name, self.config.url_ttl_s)

    def check_model(self, v) -> None:
        if v is not None and v not in (*MODEL_ALIASES, *GENERATIONS_ONLY):
            runs = ", ".join(f"'{m}'" for m in (MODEL_ID, *GENERATIONS_ONLY))
            raise APIError(
                404,
                f"the model '{v}' does not exist here; this server runs {runs}",
                "model",
                "model_not_found",
            )

    def check_policy(self, job_kind: str, params: dict, user: str | None, *texts: str) -> None:
        refusal = self.policy.check(*texts)
        if refusal is not None:
            log.warning(
                "refused a %s request (user %r): %s, policy entry %r", job_kind, user, refusal.rule, refusal.entry
            )
            self.history.add(
                job_kind, params, user, status="refused", error=f"policy: {refusal.rule} {refusal.entry!r}"
            )
            raise APIError(400, refusal.message, "prompt", "content_policy_violation")


def _finish_pictures(service: Service, job_id: str, result, side: int) -> list[str]:
    """Write a job's pictures as images/<job>-<i>.png with provenance, at side × side: a picture
    of another size (the models' 64 px, an edit at its upload's size) is resized, and its
    metadata says from what."""
    from PIL import Image

    from ..pipelines.provenance import save_png

    names = []
    try:
        for i, (img, meta) in enumerate(zip(result.images, result.metadata)):
            meta = {**meta, "job": job_id}
            if img.size != (side, side):
                meta["upscaled_from" if img.width < side else "resized_from"] = [img.width, img.height]
                img = img.resize((side, side), Image.LANCZOS)
            name = f"{job_id}-{i}.png"
            names.append(name)
            save_png(img, service.history.images / name, meta)
    except OSError as e:  # a full or read-only disk (the queue deletes what was written)
        raise StorageError(f"the pictures could not be written: {e.strerror or e}") from e
    return names


def generate_work(svc: Service, p: dict, settings: dict):
    if p.get("model") == GUIDED_ID:
        return guided_work(svc, p)
    if p.get("model") == MINI_ID:
        return mini_work(svc, p)
    if p.get("model") == GAN_ID:
        return guided_work(svc, p, generator="stylegan")

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


def guided_work(svc: Service, p: dict, generator: str = "vqgan"):
    """CLIP-guided generation (promptism guide) through the shipped VQGAN, or the server's GAN
    (``generator="stylegan"``: the seed draws the starting styles); the negative prompt pushes
    away with weight -1. Its optimisation steps are the studio request's steps where it gave
    some (``p["guide_steps"]``), else the server's ``guide_steps``, else guide's own default: never
    the server's sampling steps, which are unCLIP's decoder's."""

    def work(job):
        from ..guide import Prompt, guide

        prompts = [Prompt(p["prompt"], 1.0)] + (
            [Prompt(p["negative_prompt"], -1.0)] if p.get("negative_prompt") else []
        )
        steps = p.get("guide_steps") or svc.config.guide_steps
        kw = {"steps": steps} if steps else {}
        if generator == "stylegan":
            kw["gan"] = svc.config.gan
        r = guide(prompts, generator=generator, n=p["n"], seed=p["seed"], size=p["native"], **kw)
        return r.seeds, _finish_pictures(svc, job.id, r, p["out"])

    return work


def mini_work(svc: Service, p: dict):
    """DALL·E mini (promptism mini): the best n of its default candidates (at least n), as ranked by
    its default reranking CLIPs; the negative prompt stands in for the empty caption of guidance."""

    def work(job):
        import math

        from ..mini.pipeline import DEFAULTS, mini

        grid = math.isqrt(p["n"] - 1) + 1  # the smallest grid that holds n pictures
        candidates = max(DEFAULTS["candidates"], grid * grid)
        r = mini(
            p["prompt"],
            candidates=candidates,
            grid=grid,
            seed=p["seed"],
            negative=p.get("negative_prompt") or None,
            model=svc.config.mini,
        )
        r.images, r.metadata, r.seeds = r.images[: p["n"]], r.metadata[: p["n"]], r.seeds[: p["n"]]
        return r.seeds, _finish_pictures(svc, job.id, r, p["out"])

    return work


def dream_work(svc: Service, p: dict, image):
    """DeepDream (promptism dream) on a picture of the history at its own size: on the shipped
    CLIP's default layer, or towards p["prompt"] when one is given."""

    def work(job):
        from types import SimpleNamespace

        from ..guide import dream

        r = dream(image, prompt=p.get("prompt") or None, seed=p["seed"])
        result = SimpleNamespace(images=[r.image], metadata=[r.metadata])
        return [p["seed"]], _finish_pictures(svc, job.id, result, r.image.width)

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
            out[name] = str_field(v, name, most=32)
        elif kind is int:
            out[name] = int_field(v, name, 1, 1000)
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


def job_json(svc: Service, r) -> dict:
    d = r.to_dict()
    live = svc.queue.jobs.get(r.id)
    if live is not None and live.progress:
        d["progress"] = live.progress
    if r.status == "queued":
        d["queue_position"] = svc.queue.position(r.id)
    d["urls"] = ["/" + svc.picture_path(f) for f in r.files]
    if r.status == "done":
        d["energy"] = job_energy(svc, r.id, tuple(r.files))
    return d


def job_energy(svc: Service, job_id: str, files: tuple[str, ...]) -> dict | None:
    """A finished job's energy and CO2 (summed over its pictures' provenance sidecars), and each
    picture's; None when none was measured. Read once per job."""
    cache = svc.energy_cache
    if job_id in cache:
        return cache[job_id]
    per = []
    for name in files:
        try:
            meta = json.loads((svc.history.images / name).with_suffix(".json").read_text())
        except (OSError, ValueError):
            continue
        e = meta.get("energy") or {}
        if e.get("wh") is not None:
            per.append({"file": name, "wh": e["wh"], "co2_g": e["co2_g"]})
    out = None
    if per:
        out = {
            "wh": figures(sum(p["wh"] for p in per), 6),
            "co2_g": figures(sum(p["co2_g"] for p in per), 6),
            "pictures": per,
        }
    if len(cache) > 10_000:
        cache.clear()
    cache[job_id] = out
    return out


def caller(request: Request) -> tuple[str | None, bool]:
    """(user, admin) of the request's API key; without keys there is one user, who sees everything."""
    if not service(request).keys:
        return None, True
    state = request.scope.get("state") or {}
    return state.get("user"), bool(state.get("admin"))


def picture_visible(request: Request, name: str) -> bool:
    """Whether the caller may see a picture of the history: a signed link, an admin, or the user
    whose job made it (uploads' sources and pictures of another user's jobs are not)."""
    user, admin = caller(request)
    if admin or (request.scope.get("state") or {}).get("signed"):
        return True
    record = service(request).history.get(name.split("-", 1)[0])
    return record is not None and record.owner == user


def owned_job(request: Request, job_id: str):
    """The job's record if the caller may see it (404 otherwise, as if it did not exist)."""
    svc = service(request)
    record = svc.history.get(job_id)
    user, admin = caller(request)
    if record is None or not (admin or record.owner == user):
        raise APIError(404, f"no job {job_id!r}", code="not_found")
    return record


# --- requests -----------------------------------------------------------------------------------
def service(request: Request) -> Service:
    return request.app.state.service


async def json_body(request: Request) -> dict:
    raw = await request.body()
    try:
        body = json.loads(raw or b"null")
    except RecursionError:
        raise APIError(400, "the JSON body is nested too deeply") from None
    except ValueError as e:  # not JSON, not UTF-8, or an integer past Python's digit limit
        reason = "" if isinstance(e, json.JSONDecodeError | UnicodeDecodeError) else f": {e}"
        raise APIError(400, f"the body must be JSON (Content-Type: application/json){reason}") from None
    if not isinstance(body, dict):
        raise APIError(400, "the body must be a JSON object")
    return body


async def form_body(request: Request) -> tuple[dict, dict]:
    limit = service(request).config.max_upload_bytes
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
            data = await value.read(limit + 1)
            if len(data) > limit:
                raise APIError(413, f"'{key}' is over {limit:,} bytes", key, "file_too_large")
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
    if src.image.width * src.image.height > svc.config.max_upload_pixels:
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
        job = svc.queue.submit(kind, params, work, user, caller(request)[0])
    except QueueFull as e:
        raise APIError(429, f"the server is busy: {e}", code="rate_limit_exceeded") from None
    except StorageError as e:
        raise APIError(500, str(e), code="storage_error") from None
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
    except StorageError as e:
        raise APIError(500, str(e), code="storage_error") from None
    fmt = params["response_format"]
    data = []
    for name in names:
        if fmt == "b64_json":
            data.append({"b64_json": base64.b64encode((svc.history.images / name).read_bytes()).decode()})
        else:
            data.append({"url": svc.config.public_base() + svc.picture_path(name)})
    return JSONResponse({"created": int(time.time()), "data": data})


def common(svc: Service, body: dict, guided_ok: bool = False) -> dict:
    """The fields every image request shares (model, size, n, seed, response format, user), checked.
    ``guided_ok``: the request may name a model that only makes new pictures (GENERATIONS_ONLY)."""
    svc.check_model(body.get("model"))
    model = body.get("model") if body.get("model") in GENERATIONS_ONLY else MODEL_ID
    if model != MODEL_ID and not guided_ok:
        raise APIError(400, f"the model '{model}' only makes new pictures (generations)", "model")
    fmt = body.get("response_format")
    fmt = "url" if fmt is None or fmt == "" else fmt  # an empty list or object is not a format
    if fmt not in ("url", "b64_json"):
        raise APIError(400, f"'response_format' must be 'url' or 'b64_json', got {fmt!r}", "response_format")
    native, out = svc.size(body.get("size"), model)
    seed = int_field(
        body.get("seed"), "seed", 0, SEED_LIMIT - 1, default=int.from_bytes(os.urandom(4), "little") % SEED_LIMIT
    )
    return {
        "n": int_field(body.get("n"), "n", 1, MAX_N, default=1),
        "size": f"{out}x{out}",
        "native": native,
        "out": out,
        "response_format": fmt,
        "seed": seed,
        "user": str_field(body.get("user"), "user", most=256),
        "model": model,
    }
