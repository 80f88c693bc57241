"""Inpainting and outpainting with unCLIP (GLIDE §4, DALL·E 2 §3): repaint the part of a picture a
mask marks, or extend it beyond its edges, keeping every pixel outside the mask as it was.

    from promptism.pipelines.inpaint import inpaint, outpaint
    inpaint("scene.png", "mask.png", "a yellow star").images     # white in the mask = repaint
    outpaint("scene.png", {"left": 16}, "").images
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import torch
from PIL import Image

from ..diffusion import noise, repaint, spaced_timesteps
from ..errors import PromptismError
from ..responsible.energy import footprinted
from ..unclip.upsampler import back_project
from .common import (
    Result,
    check_count,
    check_prompt,
    check_seed,
    picture_metadata,
    progress_bar,
    sample,
    sampling_path,
    seeded,
    settings_with,
    to_images,
)
from .images import ImageSource, Source, mask_at, open_image, open_mask, to_tensor
from .settings import (
    INPAINT_CONTEXT,
    INPAINT_METHOD,
    INPAINT_METHODS,
    INPAINT_RESAMPLE,
    INPAINT_STEPS,
    MAX_PAD,
    Settings,
    edit_defaults,
)
from .unclip import (
    Models,
    decoder_denoise,
    embed_picture,
    load_models,
    pick_size,
    sample_prior,
    upsampler_denoise,
    upsampler_steps,
    upsamplers_to,
    warn_unknown,
)


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
    with progress_bar(desc, len(steps), progress) as tick:
        return repaint(
            denoise, noise(shape, gens), abar, steps, gens, known, 1.0 - repaint_mask, resample=resample, callback=tick
        )


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
    edit_defaults(overrides, INPAINT_STEPS)
    s = settings_with(settings, overrides, reranks=False)
    prompt = check_prompt(prompt, what) if prompt else ""
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


def _decoder_stage(models, method, prompt, emb, known, hole, gens, s: Settings, resample, progress) -> torch.Tensor:
    """The decoder's pictures of the square: through its inpainting channels (the known pixels and
    the mask as input, sampled as usual) or with RePaint."""
    dec, n = models.decoder, len(gens)
    side = dec.model.config.image_size
    if method == "decoder":
        f = decoder_denoise(models, prompt, "", emb, n, s, known=known, keep=1.0 - hole)
        steps = sampling_path(dec.denoiser, s.steps, s.sampler)
        x = noise((n, 3, side, side), gens)
        return sample("inpaint", s.sampler, f, x, dec.denoiser.abar, steps, gens, s.eta, progress).clamp(-1, 1)
    f = decoder_denoise(models, prompt, "", emb, n, s)
    steps = spaced_timesteps(dec.denoiser.T, s.steps, "trailing")
    return _repaint_stage(
        f, (n, 3, side, side), dec.denoiser.abar, steps, gens, known, hole, resample, "inpaint", progress
    ).clamp(-1, 1)


def _upsampler_stage(up, x, crop, crop_mask, gens, s: Settings, resample, progress) -> torch.Tensor:
    """One upsampler's pictures of the square, RePaint in the space its diffusion runs in."""
    n, u = len(gens), up.model.config.image_size
    call = upsampler_denoise(up, x, gens, s)
    known = call.encode(to_tensor([crop.resize((u, u), Image.BICUBIC)]).expand(n, -1, -1, -1))
    steps = sampling_path(up.denoiser, upsampler_steps(up, s), s.sampler)
    painted = _repaint_stage(
        call.denoise,
        (n, 3, u, u),
        up.denoiser.abar,
        steps,
        gens,
        known,
        mask_at(crop_mask, u),
        resample,
        f"inpaint {u}",
        progress,
    )
    return back_project(call.decode(painted), x, s.upsampler_back_projection)


def _inpaint(
    source: Source,
    canvas: Image.Image,
    mask: np.ndarray,
    prompt: str,
    n: int,
    seed: int,
    size: int | None,
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
    size = pick_size(models, size)
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
            emb = embed_picture(models, canvas).expand(n, -1)
        known = to_tensor([crop.resize((side, side), Image.BICUBIC)])
        hole = mask_at(crop_mask, side)
        x = _decoder_stage(models, method, prompt, emb, known, hole, gens, s, resample, progress)
        for up in upsamplers_to(models, size):
            x = _upsampler_stage(up, x, crop, crop_mask, gens, s, resample, progress)
    images = []
    paint = Image.fromarray(crop_mask.astype(np.uint8) * 255)
    for im in to_images(x):
        out = canvas.copy()
        # only the masked pixels change: everything else is the picture as it was
        out.paste(im.resize(crop.size, Image.BICUBIC) if im.size != crop.size else im, box[:2], paint)
        images.append(out)
    base = picture_metadata(
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


@footprinted
def inpaint(
    image: ImageSource,
    mask: ImageSource | np.ndarray,
    prompt: str = "",
    n: int = 4,
    seed: int = 0,
    size: int | None = None,
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


@footprinted
def outpaint(
    image: ImageSource,
    pad: dict[str, int],
    prompt: str = "",
    n: int = 4,
    seed: int = 0,
    size: int | None = None,
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
