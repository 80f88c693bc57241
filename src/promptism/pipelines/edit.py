"""Editing with unCLIP (Ramesh et al. 2022, §3): variations of a picture, interpolations between
two pictures or prompts, text-diff edits, inpainting and outpainting.

    from promptism.pipelines.edit import vary, interpolate, text_diff, inpaint, outpaint
    vary("cat.png", n=4).images
    interpolate("a.png", "a blue square", frames=8).images
    text_diff("red.png", "a red circle", "a blue circle").images
    inpaint("scene.png", "mask.png", "a yellow star").images     # white in the mask = repaint
    outpaint("scene.png", {"left": 16}, "").images

Inpainting and outpainting live in pipelines/inpaint.py; this module offers them too.

Every result's metadata names the operation and the source pictures' sha256. The decoder works
at its own size (32 px for the shipped models) and the upsamplers take the result to ``size``.
How each method works is written in its docstring.
"""

from __future__ import annotations

import time

import torch

from ..diffusion import ddim_invert, noise, spaced_timesteps
from ..errors import PromptismError
from ..responsible.energy import footprinted
from .common import (
    Result,
    check_count,
    check_fraction,
    check_prompt,
    check_seed,
    picture_metadata,
    progress_bar,
    sample,
    seeded_candidates,
    settings_with,
    to_images,
    truncated,
)
from .images import (
    ImageSource,
    open_image,
    square,
    to_tensor,
)
from .settings import (
    INVERSION_STEPS,
    MAX_FRAMES,
    TEXT_DIFF_AMOUNT,
    VARY_ETA,
    VARY_RERANK,
    Settings,
    edit_defaults,
)
from .unclip import (
    Models,
    decoder_denoise,
    embed_picture,
    load_models,
    load_reranker,
    note_reranking,
    pick_candidates,
    pick_size,
    sample_prior,
    upsample,
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


def _invert(
    models: Models, picture: torch.Tensor, emb: torch.Tensor, s: Settings, steps: list[int], progress: bool
) -> torch.Tensor:
    """DDIM inversion of decoder-size pictures (B, 3, S, S) under their own embeddings (B, D),
    with the caption left empty and the same guidance as sampling."""
    dec = models.decoder
    f = decoder_denoise(models, "", "", emb, len(picture), s)
    with progress_bar("invert", len(steps), progress) as tick:
        return ddim_invert(f, picture, dec.denoiser.abar, steps, callback=tick)


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
    return sample("decoder", "ddim", f, x, dec.denoiser.abar, steps, gens, eta, progress).clamp(-1, 1)


def _upsample_all(models: Models, x: torch.Tensor, size: int, gens, s: Settings, progress: bool) -> torch.Tensor:
    for up in upsamplers_to(models, size):
        x = upsample(up, x, gens, s, progress)
    return x


def _ddim_path(models: Models, s: Settings) -> list[int]:
    return spaced_timesteps(models.decoder.denoiser.T, s.steps, "trailing")


# --------------------------------------------------------------------------------------------
# variations
# --------------------------------------------------------------------------------------------
@footprinted
def vary(
    image: ImageSource,
    n: int = 4,
    seed: int = 0,
    size: int | None = None,
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
    Without it, each variation starts from fresh noise with the settings' sampler (the edits'
    unless asked). Each variation
    is the best of ``rerank`` candidates (default 5) by the reranking CLIP's cosine with the source."""
    if invert:
        overrides.setdefault("eta", VARY_ETA)
    edit_defaults(overrides, INVERSION_STEPS)
    overrides.setdefault("rerank", VARY_RERANK)
    s = settings_with(settings, overrides)
    n, seed = check_count(n), check_seed(seed)
    strength = check_fraction(strength, "strength")
    source = open_image(image)
    models = models or load_models()
    size = pick_size(models, size)
    reranker, reranker_sha = load_reranker(s.rerank_clip) if s.rerank > 1 else (None, None)
    t0 = time.time()
    dec = models.decoder
    side = dec.model.config.image_size
    seeds, rows, gens = seeded_candidates(seed, n, s.rerank)
    m = len(rows)  # n variations × rerank candidates, candidate-major
    with torch.no_grad():
        emb = embed_picture(models, square(source.image, models.clip.image_size))
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
    base = picture_metadata(
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
        prompt = check_prompt(end)
        warn_unknown(models, prompt)
        emb = sample_prior(models, prompt, "", [g], s, progress)
        return emb, noise((1, 3, side, side), [torch.Generator().manual_seed(seed)]), {"prompt": prompt}
    src = open_image(end)
    emb = embed_picture(models, square(src.image, models.clip.image_size))
    xt = _invert(models, to_tensor([square(src.image, side)]), emb, s, _ddim_path(models, s), progress)
    return emb, xt, src.describe()


@footprinted
def interpolate(
    a,
    b,
    frames: int = 8,
    seed: int = 0,
    size: int | None = None,
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
    edit_defaults(overrides, INVERSION_STEPS)
    s = settings_with(settings, overrides, reranks=False)
    frames = check_count(frames, "frames", MAX_FRAMES)
    if frames < 2:
        raise PromptismError("an interpolation needs at least 2 frames")
    seed = check_seed(seed)
    models = models or load_models()
    size = pick_size(models, size)
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
    base = picture_metadata("interpolate", models, s, size, t0, start=da, end=db, frames=frames)
    return Result(
        to_images(x),
        [seed] * frames,
        [{**base, "seed": seed, "index": i, "theta": round(th, 4)} for i, th in enumerate(thetas)],
    )


# --------------------------------------------------------------------------------------------
# text-diff edits
# --------------------------------------------------------------------------------------------
@footprinted
def text_diff(
    image: ImageSource,
    source_text: str,
    target_text: str,
    amount: float = TEXT_DIFF_AMOUNT,
    frames: int = 4,
    seed: int = 0,
    size: int | None = None,
    settings: Settings | None = None,
    models: Models | None = None,
    progress: bool = False,
    **overrides,
) -> Result:
    """Edit a picture towards a change of description (paper §3.3): with z_i its CLIP image
    embedding and z_d = normalise(text(target) − text(source)), frame k decodes
    slerp(z_i, z_d, θ_k) for θ evenly spaced up to ``amount``, all from the picture's DDIM
    inversion (η = 0), so that what the texts do not mention stays where it is."""
    edit_defaults(overrides, INVERSION_STEPS)
    s = settings_with(settings, overrides, reranks=False)
    source_text = check_prompt(source_text, "source text") if source_text else ""
    target_text = check_prompt(target_text, "target text")
    if source_text == target_text:
        raise PromptismError("the source and target texts are the same: there is no change to make")
    amount = check_fraction(amount, "amount")
    frames = check_count(frames, "frames", MAX_FRAMES)
    seed = check_seed(seed)
    src = open_image(image)
    models = models or load_models()
    size = pick_size(models, size)
    warn_unknown(models, source_text + " " + target_text)
    t0 = time.time()
    side = models.decoder.model.config.image_size
    with torch.no_grad():
        zi = embed_picture(models, square(src.image, models.clip.image_size))
        zt = models.clip.encode_text([target_text, source_text])
        zd = torch.nn.functional.normalize(zt[:1] - zt[1:], dim=-1)
        thetas = [amount * (k + 1) / frames for k in range(frames)]
        emb = torch.nn.functional.normalize(torch.cat([slerp(zi, zd, th) for th in thetas]), dim=-1)
        steps = _ddim_path(models, s)
        xt = _invert(models, to_tensor([square(src.image, side)]), zi, s, steps, progress)
        gens = [torch.Generator().manual_seed(seed) for _ in thetas]
        x = _decode_ddim(models, xt.expand(frames, -1, -1, -1).clone(), emb, gens, s, steps, 0.0, progress)
        x = _upsample_all(models, x, size, [torch.Generator().manual_seed(seed) for _ in thetas], s, progress)
    base = picture_metadata(
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


from .inpaint import context_box, inpaint, outpaint, parse_pad  # noqa: E402  (re-exported: one editing API)

__all__ = ["context_box", "inpaint", "interpolate", "outpaint", "parse_pad", "slerp", "text_diff", "vary"]
