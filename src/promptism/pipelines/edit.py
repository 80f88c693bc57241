"""Editing with unCLIP (Ramesh et al. 2022, §3): variations of a picture, interpolations between
two pictures or prompts, text-diff edits, inpainting and outpainting.

    from promptism.pipelines.edit import vary, interpolate, text_diff, inpaint, outpaint
    vary("cat.png", n=4).images
    interpolate("a.png", "a blue square", frames=8).images
    text_diff("red.png", "a red circle", "a blue circle").images
    inpaint("scene.png", "mask.png", "a yellow star").images     # white in the mask = repaint
    outpaint("scene.png", {"left": 16}, "").images

Every result's metadata names the operation and the source pictures' sha256. The decoder works
at its own size (32 px for the shipped models) and the upsamplers take the result to ``size``.
How each method works is written in its docstring.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict

import numpy as np
import torch
from PIL import Image

from .. import __version__
from ..diffusion import ddim_invert, noise, repaint, run, spaced_timesteps
from ..diffusion.samplers import SPACING
from ..errors import PromptismError
from ..unclip.upsampler import back_project
from .images import (
    ImageSource,
    Source,
    mask_at,
    open_image,
    open_mask,
    square,
    to_tensor,
)
from .settings import (
    INPAINT_CONTEXT,
    INPAINT_METHOD,
    INPAINT_METHODS,
    INPAINT_RESAMPLE,
    INPAINT_STEPS,
    INVERSION_STEPS,
    MAX_FRAMES,
    MAX_PAD,
    MAX_PICTURES,
    TEXT_DIFF_AMOUNT,
    VARY_ETA,
    Settings,
)
from .unclip import (
    Models,
    Result,
    _bar,
    _check_prompt,
    check_count,
    check_fraction,
    check_seed,
    decoder_denoise,
    load_models,
    load_reranker,
    note_reranking,
    pick_candidates,
    sample_prior,
    seeded,
    seeded_candidates,
    settings_with,
    to_images,
    truncated,
    upsample,
    upsampler_denoise,
    upsamplers_to,
    warn_unknown,
)


def slerp(a: torch.Tensor, b: torch.Tensor, theta: float) -> torch.Tensor:
    """Spherical interpolation along the great circle from a (theta = 0) to b (theta = 1), taken
    on the directions and with the norm interpolated linearly (rows of a and b)."""
    na, nb = a.norm(dim=-1, keepdim=True), b.norm(dim=-1, keepdim=True)
    ua, ub = a / na, b / nb
    omega = torch.arccos((ua * ub).sum(-1, keepdim=True).clamp(-1 + 1e-7, 1 - 1e-7))
    so = torch.sin(omega)
    u = (torch.sin((1 - theta) * omega) * ua + torch.sin(theta * omega) * ub) / so
    return u * ((1 - theta) * na + theta * nb)


def _embed(models: Models, picture: Image.Image) -> torch.Tensor:
    size = models.clip.image_size
    return models.clip.encode_image(
        [picture.resize((size, size), Image.BICUBIC) if picture.size != (size, size) else picture]
    )


def _invert(
    models: Models, picture: torch.Tensor, emb: torch.Tensor, s: Settings, steps: list[int], progress: bool
) -> torch.Tensor:
    """DDIM inversion of decoder-size pictures (B, 3, S, S) under their own embeddings (B, D),
    with the caption left empty and the same guidance as sampling."""
    dec = models.decoder
    f = decoder_denoise(models, "", "", emb, len(picture), s)
    bar = _bar("invert", len(steps), progress)
    x = ddim_invert(f, picture, dec.denoiser.abar, steps, callback=lambda *a: bar.update(1))
    bar.close()
    return x


def _decode_ddim(
    models: Models,
    x: torch.Tensor,
    emb: torch.Tensor,
    gens,
    s: Settings,
    steps: list[int],
    eta: float,
    progress: bool,
    caption: str = "",
) -> torch.Tensor:
    dec = models.decoder
    f = decoder_denoise(models, caption, "", emb, len(x), s)
    bar = _bar("decoder", len(steps), progress)
    x = run("ddim", f, x, dec.denoiser.abar, steps, gens, eta=eta, callback=lambda *a: bar.update(1))
    bar.close()
    return x.clamp(-1, 1)


def _upsample_all(models: Models, x: torch.Tensor, size: int, gens, s: Settings, progress: bool) -> torch.Tensor:
    for up in upsamplers_to(models, size):
        x = upsample(up, x, gens, s, progress)
    return x


def _meta(operation: str, models: Models, s: Settings, size: int, t0: float, **fields) -> dict:
    return {
        "generator": "unclip",
        "version": __version__,
        "operation": operation,
        **fields,
        "size": size,
        "settings": asdict(s),
        "models": models.describe(),
        "seconds": round(time.time() - t0, 3),
    }


def _ddim_path(models: Models, s: Settings) -> list[int]:
    return spaced_timesteps(models.decoder.denoiser.T, s.steps, "trailing")


# --------------------------------------------------------------------------------------------
# variations
# --------------------------------------------------------------------------------------------
def vary(
    image: ImageSource,
    n: int = 4,
    seed: int = 0,
    size: int = 64,
    invert: bool = True,
    strength: float = 1.0,
    settings: Settings | None = None,
    models: Models | None = None,
    progress: bool = False,
    **overrides,
) -> Result:
    """n variations of a picture: its CLIP image embedding, decoded.

    With ``invert`` (the paper's way, §3.1) the decoder starts from the DDIM inversion of the
    picture up to ``strength`` × the schedule (1 = all the way to noise) and samples back with
    DDIM at ``eta`` (default 0.5): η = 0 gives the picture back, η = 1 keeps least of its layout.
    Without it, each variation starts from fresh noise with the settings' sampler."""
    if invert:
        overrides.setdefault("eta", VARY_ETA)
    overrides.setdefault("steps", INVERSION_STEPS)
    s = settings_with(settings, overrides)
    n, seed = check_count(n), check_seed(seed)
    strength = check_fraction(strength, "strength")
    source = open_image(image)
    models = models or load_models()
    upsamplers_to(models, size)
    reranker, reranker_sha = load_reranker(s.rerank_clip) if s.rerank > 1 else (None, None)
    t0 = time.time()
    dec = models.decoder
    side = dec.model.config.image_size
    seeds, rows, gens = seeded_candidates(seed, n, s.rerank)
    m = len(rows)  # n variations × rerank candidates, candidate-major
    with torch.no_grad():
        emb = _embed(models, square(source.image, models.clip.image_size))
        if invert:
            steps = truncated(_ddim_path(models, s), strength, dec.denoiser.T)
            xt = _invert(models, to_tensor([square(source.image, side)]), emb, s, steps, progress)
            x = _decode_ddim(
                models, xt.expand(m, -1, -1, -1).clone(), emb.expand(m, -1), gens, s, steps, s.eta, progress
            )
        else:
            from .unclip import sample_decoder

            x = sample_decoder(models, "", "", emb.expand(m, -1), gens, s, progress)
        x = _upsample_all(models, x, size, gens, s, progress)
        if reranker is not None:  # keep the candidate closest to the source in the reranking CLIP's eyes
            want = reranker.encode_image([square(source.image, reranker.image_size)])
            x, _, chosen = pick_candidates(reranker, x, gens, n, want)
    base = _meta(
        "vary",
        models,
        s,
        size,
        t0,
        source=source.describe(),
        invert=invert,
        strength=strength if invert else None,
        decoder_sampler="ddim" if invert else s.sampler,
    )
    meta = [{**base, "seed": sd, "index": i} for i, sd in enumerate(seeds)]
    if reranker is not None:
        note_reranking(meta, s.rerank_clip, reranker_sha, chosen, rows)
    return Result(to_images(x), seeds, meta)


# --------------------------------------------------------------------------------------------
# interpolation
# --------------------------------------------------------------------------------------------
def _end(models: Models, end, seed: int, s: Settings, progress: bool) -> tuple[torch.Tensor, torch.Tensor, dict]:
    """(embedding (1, D), decoder latent (1, 3, S, S), description) of one end: a prompt (str)
    goes through the prior and gets seeded noise; a picture gets its CLIP embedding and its
    DDIM inversion."""
    side = models.decoder.model.config.image_size
    g = torch.Generator().manual_seed(seed)
    if isinstance(end, str):
        prompt = _check_prompt(end)
        warn_unknown(models, prompt)
        emb = sample_prior(models, prompt, "", [g], s, progress)
        return emb, noise((1, 3, side, side), [torch.Generator().manual_seed(seed)]), {"prompt": prompt}
    src = open_image(end)
    emb = _embed(models, square(src.image, models.clip.image_size))
    xt = _invert(models, to_tensor([square(src.image, side)]), emb, s, _ddim_path(models, s), progress)
    return emb, xt, src.describe()


def interpolate(
    a,
    b,
    frames: int = 8,
    seed: int = 0,
    size: int = 64,
    settings: Settings | None = None,
    models: Models | None = None,
    progress: bool = False,
    **overrides,
) -> Result:
    """Frames from ``a`` to ``b``; each end is a picture (a path as pathlib.Path, bytes or a PIL
    image) or a prompt (a str). The CLIP image embeddings of the ends are interpolated
    spherically (paper §3.2) and so are the decoder's starting latents: a picture's is its DDIM
    inversion, a prompt's is seeded noise (the same for both ends when both are prompts, so
    the latent stays fixed). Frames are decoded with DDIM η = 0 and the same upsampler noise,
    so neighbouring frames differ only as much as their embeddings do."""
    overrides.setdefault("steps", INVERSION_STEPS)
    s = settings_with(settings, overrides, reranks=False)
    frames = check_count(frames, "frames", MAX_FRAMES)
    if frames < 2:
        raise PromptismError("an interpolation needs at least 2 frames")
    seed = check_seed(seed)
    models = models or load_models()
    upsamplers_to(models, size)
    t0 = time.time()
    with torch.no_grad():
        ea, xa, da = _end(models, a, seed, s, progress)
        eb, xb, db = _end(models, b, seed, s, progress)
        thetas = [i / (frames - 1) for i in range(frames)]
        emb = torch.cat([slerp(ea, eb, th) for th in thetas])
        emb = torch.nn.functional.normalize(emb, dim=-1)
        flat_a, flat_b = xa.flatten(1), xb.flatten(1)
        xt = torch.cat([slerp(flat_a, flat_b, th) for th in thetas]).view(frames, *xa.shape[1:])
        gens = [torch.Generator().manual_seed(seed) for _ in thetas]
        x = _decode_ddim(models, xt, emb, gens, s, _ddim_path(models, s), 0.0, progress)
        x = _upsample_all(models, x, size, [torch.Generator().manual_seed(seed) for _ in thetas], s, progress)
    base = _meta("interpolate", models, s, size, t0, start=da, end=db, frames=frames)
    return Result(
        to_images(x),
        [seed] * frames,
        [{**base, "seed": seed, "index": i, "theta": round(th, 4)} for i, th in enumerate(thetas)],
    )


# --------------------------------------------------------------------------------------------
# text-diff edits
# --------------------------------------------------------------------------------------------
def text_diff(
    image: ImageSource,
    source_text: str,
    target_text: str,
    amount: float = TEXT_DIFF_AMOUNT,
    frames: int = 4,
    seed: int = 0,
    size: int = 64,
    settings: Settings | None = None,
    models: Models | None = None,
    progress: bool = False,
    **overrides,
) -> Result:
    """Edit a picture towards a change of description (paper §3.3): with z_i its CLIP image
    embedding and z_d = normalise(text(target) − text(source)), frame k decodes
    slerp(z_i, z_d, θ_k) for θ evenly spaced up to ``amount``, all from the picture's DDIM
    inversion (η = 0), so that what the texts do not mention stays where it is."""
    overrides.setdefault("steps", INVERSION_STEPS)
    s = settings_with(settings, overrides, reranks=False)
    source_text = _check_prompt(source_text, "source text") if source_text else ""
    target_text = _check_prompt(target_text, "target text")
    if source_text == target_text:
        raise PromptismError("the source and target texts are the same: there is no change to make")
    amount = check_fraction(amount, "amount")
    frames = check_count(frames, "frames", MAX_FRAMES)
    seed = check_seed(seed)
    src = open_image(image)
    models = models or load_models()
    upsamplers_to(models, size)
    warn_unknown(models, source_text + " " + target_text)
    t0 = time.time()
    side = models.decoder.model.config.image_size
    with torch.no_grad():
        zi = _embed(models, square(src.image, models.clip.image_size))
        zt = models.clip.encode_text([target_text, source_text])
        zd = torch.nn.functional.normalize(zt[:1] - zt[1:], dim=-1)
        thetas = [amount * (k + 1) / frames for k in range(frames)]
        emb = torch.nn.functional.normalize(torch.cat([slerp(zi, zd, th) for th in thetas]), dim=-1)
        steps = _ddim_path(models, s)
        xt = _invert(models, to_tensor([square(src.image, side)]), zi, s, steps, progress)
        gens = [torch.Generator().manual_seed(seed) for _ in thetas]
        x = _decode_ddim(models, xt.expand(frames, -1, -1, -1).clone(), emb, gens, s, steps, 0.0, progress)
        x = _upsample_all(models, x, size, [torch.Generator().manual_seed(seed) for _ in thetas], s, progress)
    base = _meta(
        "text_diff",
        models,
        s,
        size,
        t0,
        source=src.describe(),
        source_text=source_text,
        target_text=target_text,
        amount=amount,
    )
    return Result(
        to_images(x),
        [seed] * frames,
        [{**base, "seed": seed, "index": i, "theta": round(th, 4)} for i, th in enumerate(thetas)],
    )


# --------------------------------------------------------------------------------------------
# inpainting and outpainting
# --------------------------------------------------------------------------------------------
def _repaint_stage(
    denoise: Callable,
    shape,
    abar: torch.Tensor,
    steps: list[int],
    gens,
    known: torch.Tensor,
    repaint_mask: torch.Tensor,
    resample: int,
    desc: str,
    progress: bool,
) -> torch.Tensor:
    """The stage's result in the space its diffusion runs in (not clamped: that may be a residual)."""
    bar = _bar(desc, len(steps), progress)
    x = repaint(
        denoise,
        noise(shape, gens),
        abar,
        steps,
        gens,
        known,
        1.0 - repaint_mask,
        resample=resample,
        callback=lambda *a: bar.update(1),
    )
    bar.close()
    return x


def context_box(mask: np.ndarray, context: float = INPAINT_CONTEXT) -> tuple[int, int, int, int]:
    """The square of the picture that is inpainted: centred on the mask's bounding box, ``context``
    times its longer side (at least half the picture's shorter side, at most all of it), moved
    to lie inside the picture. (left, top, right, bottom)."""
    H, W = mask.shape
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    top, bottom, left, right = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    side = int(min(min(H, W), max(np.ceil(context * max(bottom - top, right - left)), min(H, W) // 2)))
    cx, cy = (left + right) / 2, (top + bottom) / 2
    x0 = int(min(max(round(cx - side / 2), 0), W - side))
    y0 = int(min(max(round(cy - side / 2), 0), H - side))
    return x0, y0, x0 + side, y0 + side


def _paint_request(settings: Settings | None, overrides: dict, prompt: str, what: str, n, seed, resample):
    """The checked settings, prompt, n, seed and resample of an inpainting or outpainting request."""
    overrides.setdefault("steps", INPAINT_STEPS)
    s = settings_with(settings, overrides, reranks=False)
    prompt = _check_prompt(prompt, what) if prompt else ""
    return s, prompt, check_count(n), check_seed(seed), check_count(resample, "resample", 20)


def _paint_method(decoder, method: str) -> str:
    """ "decoder" (its inpainting channels) or "repaint"; "auto" takes the channels if it has them."""
    if method not in INPAINT_METHODS:
        raise PromptismError(f"unknown inpainting method {method!r}; methods are {', '.join(INPAINT_METHODS)}")
    has = bool(getattr(decoder.model.config, "inpaint", False))
    if method == "decoder" and not has:
        raise PromptismError(
            f"decoder {decoder.name} has no inpainting channels: use method 'repaint' "
            "or a decoder trained with the world-inpaint preset"
        )
    return "decoder" if method == "decoder" or (method == "auto" and has) else "repaint"


def _inpaint(
    source: Source,
    canvas: Image.Image,
    mask: np.ndarray,
    prompt: str,
    n: int,
    seed: int,
    size: int,
    resample: int,
    s: Settings,
    models: Models | None,
    progress: bool,
    operation: str,
    extra: dict,
    method: str,
) -> Result:
    """On the square around the mask, the decoder stage inpaints with the decoder's own
    inpainting channels (GLIDE-style) or with RePaint, the upsamplers with RePaint; then the
    result is pasted back into the picture with the picture's own pixels kept outside the mask."""
    models = models or load_models()
    upsamplers_to(models, size)
    warn_unknown(models, prompt)
    t0 = time.time()
    dec = models.decoder
    method = _paint_method(dec, method)
    side = dec.model.config.image_size
    seeds, gens = seeded(seed, n)
    box = context_box(mask)
    crop, crop_mask = canvas.crop(box), mask[box[1] : box[3], box[0] : box[2]]
    with torch.no_grad():
        if prompt:  # the prompt's image embeddings, and the prompt as the decoder's caption
            emb = sample_prior(models, prompt, "", gens, s, progress)
        else:  # the picture's own embedding: fill the hole with more of the same
            emb = _embed(models, canvas).expand(n, -1)
        known = to_tensor([crop.resize((side, side), Image.BICUBIC)])
        hole = mask_at(crop_mask, side)
        if method == "decoder":  # the decoder sees the known pixels and the mask, and samples as usual
            f = decoder_denoise(models, prompt, "", emb, n, s, known=known, keep=1.0 - hole)
            steps = spaced_timesteps(dec.denoiser.T, s.steps, SPACING[s.sampler], dec.denoiser.abar)
            bar = _bar("inpaint", len(steps), progress)
            x = run(
                s.sampler,
                f,
                noise((n, 3, side, side), gens),
                dec.denoiser.abar,
                steps,
                gens,
                eta=s.eta,
                callback=lambda *a: bar.update(1),
            ).clamp(-1, 1)
            bar.close()
        else:
            f = decoder_denoise(models, prompt, "", emb, n, s)
            steps = spaced_timesteps(dec.denoiser.T, s.steps, "trailing")
            x = _repaint_stage(
                f, (n, 3, side, side), dec.denoiser.abar, steps, gens, known, hole, resample, "inpaint", progress
            ).clamp(-1, 1)
        for up in upsamplers_to(models, size):
            u = up.model.config.image_size
            call = upsampler_denoise(up, x, gens, s)  # RePaint in the space the upsampler's diffusion runs in
            known = call.encode(to_tensor([crop.resize((u, u), Image.BICUBIC)]).expand(n, -1, -1, -1))
            ups = spaced_timesteps(up.denoiser.T, s.upsampler_steps, SPACING[s.sampler], up.denoiser.abar)
            x = back_project(
                call.decode(
                    _repaint_stage(
                        call.denoise,
                        (n, 3, u, u),
                        up.denoiser.abar,
                        ups,
                        gens,
                        known,
                        mask_at(crop_mask, u),
                        resample,
                        f"inpaint {u}",
                        progress,
                    )
                ),
                x,
                s.upsampler_back_projection,
            )
    images = []
    paint = Image.fromarray(crop_mask.astype(np.uint8) * 255)
    for im in to_images(x):
        out = canvas.copy()
        # only the masked pixels change: everything else is the picture as it was
        out.paste(im.resize(crop.size, Image.BICUBIC) if im.size != crop.size else im, box[:2], paint)
        images.append(out)
    base = _meta(
        operation,
        models,
        s,
        size,
        t0,
        prompt=prompt,
        source=source.describe(),
        method=method,
        resample=resample,
        repainted_fraction=round(float(mask.mean()), 4),
        context_box=list(box),
        **extra,
    )
    return Result(images, seeds, [{**base, "seed": sd, "index": i} for i, sd in enumerate(seeds)])


def inpaint(
    image: ImageSource,
    mask: ImageSource | np.ndarray,
    prompt: str = "",
    n: int = 4,
    seed: int = 0,
    size: int = 64,
    resample: int = INPAINT_RESAMPLE,
    mask_convention: str = "white",
    method: str = INPAINT_METHOD,
    settings: Settings | None = None,
    models: Models | None = None,
    progress: bool = False,
    **overrides,
) -> Result:
    """Repaint the part of a picture the mask marks (white = repaint, black = keep; or
    ``mask_convention="alpha"``: transparent = repaint, as OpenAI's API has it), with what
    ``prompt`` says or, with no prompt, with more of the picture itself.

    It works on the square around the mask that ``context_box`` picks, brought to the models'
    sizes. ``method``: "decoder" samples with a decoder that has inpainting channels (the known
    pixels and the mask as input, GLIDE-style); "repaint" is training-free RePaint (Lugmayr et
    al. 2022) with any decoder, ``resample`` rounds per step (the default, ``INPAINT_METHOD``:
    the shipped decoder's channels often paint a white square on another background); "auto"
    takes the channels where the decoder has them. The upsamplers always use RePaint. The repainted square is scaled back and only its
    masked pixels are pasted into the picture: every other pixel stays exactly as it was, and
    the result has the picture's own size."""
    s, prompt, n, seed, resample = _paint_request(settings, overrides, prompt, "inpainting prompt", n, seed, resample)
    source = open_image(image)
    if isinstance(mask, np.ndarray):
        if mask.shape != (source.image.height, source.image.width):
            raise PromptismError(
                f"the mask is {mask.shape[1]}×{mask.shape[0]} pixels but the picture is "
                f"{source.image.width}×{source.image.height}: they must be the same size"
            )
        mask = mask.astype(bool)
        if not mask.any():
            raise PromptismError("the mask marks nothing to repaint")
        mask_sha = None
    else:
        mask, mask_sha = open_mask(mask, source.image.size, mask_convention)
    return _inpaint(
        source,
        source.image,
        mask,
        prompt,
        n,
        seed,
        size,
        resample,
        s,
        models,
        progress,
        "inpaint",
        {"mask_sha256": mask_sha},
        method,
    )


PAD_SIDES = ("left", "right", "top", "bottom")


def parse_pad(text: str) -> dict[str, int]:
    """ "left=16,top=8" -> {"left": 16, "top": 8, ...} (pixels of the input picture)."""
    out = dict.fromkeys(PAD_SIDES, 0)
    for part in filter(None, (p.strip() for p in text.split(","))):
        side, eq, value = part.partition("=")
        side = side.strip()
        if not eq or side not in PAD_SIDES:
            raise PromptismError(f"padding is written side=pixels with sides {', '.join(PAD_SIDES)}, got {part!r}")
        try:
            out[side] = int(value)
        except ValueError:
            raise PromptismError(f"padding {side} must be a whole number of pixels, got {value.strip()!r}") from None
    return out


def outpaint(
    image: ImageSource,
    pad: dict[str, int],
    prompt: str = "",
    n: int = 4,
    seed: int = 0,
    size: int = 64,
    resample: int = INPAINT_RESAMPLE,
    method: str = INPAINT_METHOD,
    settings: Settings | None = None,
    models: Models | None = None,
    progress: bool = False,
    **overrides,
) -> Result:
    """Extend a picture beyond its edges: ``pad`` gives pixels to add on each side (left, right,
    top, bottom). The new border starts as the picture's mean edge colour and is inpainted
    (see ``inpaint``, also for ``method``); the result has the padded size."""
    bad = set(pad) - set(PAD_SIDES)
    if bad:
        raise PromptismError(f"unknown padding sides {', '.join(sorted(bad))}; sides are {', '.join(PAD_SIDES)}")
    pad = {k: pad.get(k, 0) for k in PAD_SIDES}
    for k, v in pad.items():
        if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v <= MAX_PAD:
            raise PromptismError(f"padding {k} must be a whole number of pixels from 0 to {MAX_PAD}, got {v!r}")
    if not any(pad.values()):
        raise PromptismError("outpainting needs some padding, e.g. left=16")
    s, prompt, n, seed, resample = _paint_request(settings, overrides, prompt, "outpainting prompt", n, seed, resample)
    source = open_image(image)
    w, h = source.image.size
    W, H = w + pad["left"] + pad["right"], h + pad["top"] + pad["bottom"]
    from .images import MAX_INPUT_PIXELS

    if W * H > MAX_INPUT_PIXELS:
        raise PromptismError(f"the padded picture would be {W}×{H} pixels; at most {MAX_INPUT_PIXELS:,} are made")
    arr = np.asarray(source.image)
    edge = np.concatenate([arr[0], arr[-1], arr[:, 0], arr[:, -1]]).mean(0).round().astype(int)
    canvas = Image.new("RGB", (W, H), tuple(int(c) for c in edge))
    canvas.paste(source.image, (pad["left"], pad["top"]))
    mask = np.ones((H, W), bool)
    mask[pad["top"] : pad["top"] + h, pad["left"] : pad["left"] + w] = False
    return _inpaint(
        source, canvas, mask, prompt, n, seed, size, resample, s, models, progress, "outpaint", {"pad": pad}, method
    )


__all__ = ["vary", "interpolate", "text_diff", "inpaint", "outpaint", "parse_pad", "slerp", "MAX_PICTURES"]
