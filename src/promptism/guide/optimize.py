"""CLIP-guided optimisation (VQGAN+CLIP's loop, Crowson et al. 2022, with the generator swapped):
a parametrised picture is changed, step by step, to bring CLIP's embeddings of its cutouts nearer
the prompts' (and farther from those with negative weights), by the spherical distance loss.

Picture i is optimised on its own, from a generator seeded with seed + i: the same seed gives the
same picture, whatever n is.
"""

from __future__ import annotations

import inspect
import math
import time
from dataclasses import dataclass, field
from typing import NamedTuple

import torch
import torch.nn.functional as F
from PIL import Image

from .. import __version__
from ..errors import PromptismError
from ..pipelines.common import check_count, check_seed, progress_bar, to_images
from ..responsible.energy import footprinted
from ..responsible.policy import active_policy
from .parametrize import AUGMENTATIONS, Codes, Cutouts, Pixels, Spectrum, Styles, frozen, zoomed
from .prompts import Prompt, check_weights, parse_image_prompt, parse_prompts

GENERATORS = {"vqgan": Codes, "pixels": Pixels, "fft": Spectrum, "stylegan": Styles}
OPTIMIZERS = ("adam", "adamw", "sgd")
# what guide's arguments left as None mean, generator by generator (the vqgan generator's are the
# recipes experiments/guide/canvas-v1-gentle.toml, pick-contrast-keep.toml, recolour.toml and
# canvas-prompt-cosine-fresh1.toml; docs/experiments/guide.md has each measurement)
_GRAY = dict(canvas="gray", canvas_pick="cosine", keep_canvas=0.0, keep_cosine=0.0, recolour=0)
DEFAULTS = {
    "vqgan": dict(
        steps=100,
        lr=0.05,
        clips=("world-v1",),
        canvas="prompt",
        canvas_pick="cosine",
        keep_canvas=0.9,
        keep_cosine=0.0,
        recolour=4,
    ),
    "pixels": dict(steps=200, lr=0.05, clips=("world",), **_GRAY),
    "fft": dict(steps=200, lr=0.2, clips=("world",), **_GRAY),
    "stylegan": dict(steps=200, lr=0.03, clips=("world",), **_GRAY),
}
CANVASES = ("gray", "prior", "prompt")  # where the vqgan generator starts without --init
DRAWN = ("prior", "prompt")  # the canvases mini's transformer draws
CANVAS_PICKS = ("cosine", "contrast")  # how CLIP picks among the drawn canvases
RECOLOUR_RATINGS = ("all", "colours")  # which contrast captions rate a recolouring
MIN_SIZE, MAX_SIZE, MAX_STEPS = 32, 256, 5000
MAX_CANDIDATES = 256  # drawn canvases


@dataclass
class GuideResult:
    images: list[Image.Image]
    seeds: list[int]
    metadata: list[dict]
    frames: list[list[Image.Image]] = field(default_factory=list)  # per picture, when asked for


class _Canvas(NamedTuple):
    """Where the vqgan generator starts without ``init`` (canvas "prior" or "prompt"): ``mini``'s
    transformer draws ``candidates`` pictures reading ``caption`` (with ``negative`` in the empty
    caption's place; "" for canvas "prior"), CLIP keeps its favourite by ``pick``, returned with no
    step when CLIP finds the prompts ``keep`` likely on it and its cosine score with them reaches
    ``keep_cosine`` (``_keeps``); if not, the ``recolour`` best are recoloured, rated by the
    ``rating`` targets (``_recoloured``)."""

    mini: object
    candidates: int
    pick: str
    keep: float
    keep_cosine: float
    recolour: int
    rating: list
    caption: str = ""
    negative: str = ""


def spherical_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Half the squared great-circle distance of unit vectors: (N, D) × (D,) -> (N,)."""
    return (a - b).norm(dim=-1).div(2).arcsin().pow(2).mul(2)


def total_variation(img: torch.Tensor) -> torch.Tensor:
    """The mean absolute difference of vertically and horizontally neighbouring pixels."""
    return (img[..., 1:, :] - img[..., :-1, :]).abs().mean() + (img[..., :, 1:] - img[..., :, :-1]).abs().mean()


def _picture_tensor(source, size: int, what: str) -> torch.Tensor:
    """A picture (path, bytes or PIL image) as (1, 3, size, size) in [-1, 1]."""
    from ..pipelines.images import open_image, square, to_tensor

    return to_tensor([square(open_image(source, what).image, size)])


def _check(
    generator: str, size, steps, lr, optimizer: str, init_weight, init_noise, tv, contrast, prior, canvas,
    canvas_candidates, canvas_pick, stop_at, keep_canvas, keep_cosine, recolour, recolour_rating,
) -> None:  # fmt: skip
    """The settings once each generator's defaults are in (guide checks the generator's name first)."""
    if isinstance(size, bool) or not isinstance(size, int) or not MIN_SIZE <= size <= MAX_SIZE:
        raise PromptismError(f"size must be a whole number of pixels from {MIN_SIZE} to {MAX_SIZE}, got {size!r}")
    if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= MAX_STEPS:
        raise PromptismError(f"steps must be a whole number from 1 to {MAX_STEPS}, got {steps!r}")
    if not (isinstance(lr, (int, float)) and 0 < lr <= 10):
        raise PromptismError(f"lr must be a number above 0 and at most 10, got {lr!r}")
    if optimizer not in OPTIMIZERS:
        raise PromptismError(f"unknown optimizer {optimizer!r}; optimizers are {', '.join(OPTIMIZERS)}")
    weights = (
        ("init_weight", init_weight),
        ("init_noise", init_noise),
        ("tv", tv),
        ("contrast", contrast),
        ("prior", prior),
    )
    for name, v in weights:
        if not (isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v <= 100):
            raise PromptismError(f"{name} must be a number from 0 to 100, got {v!r}")
    if (
        isinstance(canvas_candidates, bool)
        or not isinstance(canvas_candidates, int)
        or not 1 <= canvas_candidates <= MAX_CANDIDATES
    ):
        raise PromptismError(
            f"canvas_candidates must be a whole number from 1 to {MAX_CANDIDATES}, got {canvas_candidates!r}"
        )
    if canvas not in CANVASES:
        raise PromptismError(f"unknown canvas {canvas!r}; canvases are {', '.join(CANVASES)}")
    for name, v in (("stop_at", stop_at), ("keep_canvas", keep_canvas)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v < 1:
            raise PromptismError(f"{name} must be a probability from 0 (off) to below 1, got {v!r}")
    if isinstance(keep_cosine, bool) or not isinstance(keep_cosine, (int, float)) or not -1 <= keep_cosine < 1:
        raise PromptismError(f"keep_cosine must be a cosine from -1 to below 1 (0 or below: off), got {keep_cosine!r}")
    if keep_cosine > 0 and not keep_canvas:
        raise PromptismError("keep_cosine is a further condition for keeping a canvas: it needs keep_canvas above 0")
    if keep_canvas and canvas not in DRAWN:
        raise PromptismError(
            "keep_canvas keeps a drawn canvas: it needs --generator vqgan with --canvas prior or prompt"
        )
    if isinstance(recolour, bool) or not isinstance(recolour, int) or not 0 <= recolour <= canvas_candidates:
        raise PromptismError(
            f"recolour must be a whole number of canvases from 0 (off) to canvas_candidates "
            f"({canvas_candidates}), got {recolour!r}"
        )
    if recolour and canvas not in DRAWN:
        raise PromptismError(
            "recolour recolours drawn canvases: it needs --generator vqgan with --canvas prior or prompt"
        )
    if recolour_rating not in RECOLOUR_RATINGS:
        raise PromptismError(f"unknown recolour_rating {recolour_rating!r}; choices are {', '.join(RECOLOUR_RATINGS)}")
    if canvas_pick not in CANVAS_PICKS:
        raise PromptismError(f"unknown canvas_pick {canvas_pick!r}; choices are {', '.join(CANVAS_PICKS)}")
    if canvas != "gray" and generator != "vqgan":
        raise PromptismError(f"canvas {canvas!r} is where the vqgan generator starts: it needs --generator vqgan")
    if prior and generator != "vqgan":
        raise PromptismError(
            f"the code prior (prior > 0) weighs VQGAN codes: it needs --generator vqgan, not {generator!r}"
        )


def _contrast_targets(clip, text: list[Prompt], colours_only: bool = False) -> list[tuple[float, float, torch.Tensor]]:
    """For each prompt of positive weight that has contrast captions: (its weight, CLIP's logit
    scale, the embeddings of the prompt and then its contrasts (1 + K, D)); ``colours_only``: only
    the contrasts that change a colour or the background."""
    from .contrast import contrasts

    out = []
    for p in text:
        others = contrasts(p.text, colours_only=colours_only) if p.weight > 0 else []
        if others:
            out.append((p.weight, clip.logit_scale(), clip.encode_text([p.text, *others])))
    return out


def _optimizer(name: str, params, lr: float) -> torch.optim.Optimizer:
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=0.9)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
    return torch.optim.Adam(params, lr=lr)


def _clips(names: tuple[str, ...]) -> list:
    from ..clip import load

    if not names:
        raise PromptismError("give at least one CLIP")
    return [load(name) for name in names]


@footprinted
def guide(
    prompts: str | list[Prompt] = "",
    generator: str = "vqgan",
    n: int = 1,
    seed: int = 0,
    size: int = 64,
    steps: int | None = None,
    lr: float | None = None,
    optimizer: str = "adam",
    cutn: int = 16,
    cut_pow: float = 1.0,
    augment: tuple[str, ...] = AUGMENTATIONS,
    image_prompts: tuple[str | Prompt, ...] = (),
    init=None,
    init_weight: float = 0.0,
    init_noise: float | None = None,
    tv: float = 0.0,
    contrast: float = 0.0,
    prior: float = 0.0,
    canvas: str | None = None,
    canvas_candidates: int = 64,
    canvas_pick: str | None = None,
    stop_at: float = 0.0,
    keep_canvas: float | None = None,
    keep_cosine: float | None = None,
    recolour: int | None = None,
    recolour_rating: str = "all",
    clips: tuple[str, ...] | None = None,
    save_every: int = 0,
    keep_best: bool = False,
    progress: bool = False,
    vqgan: str = "world",
    gan: str = "world",
    mini: str = "world",
    zoom_frames: int = 0,
    zoom: float = 1.05,
    zoom_steps: int = 20,
) -> GuideResult:
    """n pictures that CLIP finds like ``prompts`` (``"a red star | a yellow star:-1"``, or Prompt
    objects). ``generator``: what is optimised (vqgan, pixels, fft or stylegan); ``steps``, ``lr``,
    ``clips``, ``canvas``, ``canvas_pick``, ``keep_canvas`` and ``recolour`` left as None take the generator's own
    defaults (``DEFAULTS``);
    ``image_prompts``: pictures (paths, with ``:weight``) whose CLIP embeddings are prompts too;
    ``init``: a starting picture, with ``init_weight`` pulling the result back towards it;
    ``init_noise``: the starting noise's scale (None: 0 on a canvas the prior drew, 1 otherwise);
    ``tv``: the weight of the picture's total variation (mean absolute difference of neighbouring
    pixels) in the loss, against noise and thin strokes; ``contrast``: the weight of a
    cross-entropy that asks CLIP to pick each prompt out of its contrast captions (the prompt with
    one colour, shape, number, relation or background changed; ``guide.contrast``); ``prior``: the
    weight of the code prior (vqgan only: the mini model ``mini``'s transformer, reading the empty
    caption, pulls each place towards the codes a world picture would hold there; ``guide.prior``);
    ``canvas``: where the vqgan generator starts without ``init``: ``prompt`` (its default: a picture
    whose codes ``mini``'s transformer draws from the seed reading the positive text prompts, joined
    by "and", with the negative ones in the empty caption's place, at ``promptism mini``'s default
    sampling settings, the empty caption where there is no positive text prompt;
    ``canvas_candidates`` of them drawn and the one CLIP likes best by ``canvas_pick`` kept),
    ``prior`` (the same, but the transformer reads the empty caption) or ``gray`` (a gray canvas's
    codes); ``canvas_pick``: CLIP's score for that choice, ``cosine`` (the vqgan generator's
    default: the weighted cosine with the prompts) or ``contrast`` (how likely CLIP finds each
    prompt among its contrast captions, as the contrast loss measures it; the cosine for prompts
    with none);
    ``stop_at``: end the steps early, before any step that would start from a picture on which
    CLIP finds the prompts at least this likely among their contrast captions (0: never; prompts
    with no contrast captions never stop); ``keep_canvas``: take no step at all from a drawn canvas
    on which CLIP finds the prompts at least this likely among their contrast captions, and return
    it as drawn (0: off; judged before any step, so on a world picture CLIP has not been optimised
    against); ``keep_cosine``: keep such a canvas only if CLIP's cosine score with the prompts (the
    weighted cosine ``canvas_pick="cosine"`` uses) is at least this too (0 or below: off), since a
    picture like none of the captions can still make one of them the likeliest among them;
    ``recolour``: when the picked canvas is not kept, this many of the canvases
    ``canvas_pick`` rates best are recoloured region by region (each region to the colour, among
    those the drawn canvases hold, on which CLIP finds the prompts likeliest among their contrast
    captions; ``guide.recolour``), and the best of them, drawn again through the VQGAN, is the start,
    kept by ``keep_canvas`` as a drawn canvas is (0: off; prompts with no contrast captions are not
    recoloured); ``recolour_rating``: which contrast captions rate a recolouring, ``all`` or
    ``colours`` (only those that change a colour or the background; a prompt with none is not
    recoloured), while every one still decides whether it is kept;
    ``clips``: one
    CLIP or an ensemble (names or folders); ``save_every``: keep a frame every N steps (``GuideResult.frames``); ``keep_best``:
    return the step CLIP scored highest; ``vqgan``: the VQGAN (a shipped name or a folder) of the
    vqgan generator, ``gan`` the GAN of the stylegan one. ``zoom_frames`` > 0 makes a zoom video after each picture (VQGAN+CLIP's habit):
    each frame is the last one enlarged by ``zoom`` about its centre and optimised again for
    ``zoom_steps`` steps; the frames (the picture first) are GuideResult.frames."""
    text = parse_prompts(prompts) if isinstance(prompts, str) else list(prompts)
    images = [p if isinstance(p, Prompt) else parse_image_prompt(p) for p in image_prompts]
    check_weights(text, images)
    active_policy().enforce(*(p.text for p in text))
    if generator not in GENERATORS:
        raise PromptismError(f"unknown generator {generator!r}; generators are {', '.join(GENERATORS)}")
    own = DEFAULTS[generator]
    steps = own["steps"] if steps is None else steps
    lr = own["lr"] if lr is None else lr
    clips = own["clips"] if clips is None else clips
    canvas = own["canvas"] if canvas is None else canvas
    canvas_pick = own["canvas_pick"] if canvas_pick is None else canvas_pick
    if keep_canvas is None:  # a gray canvas has nothing to keep
        keep_canvas = own["keep_canvas"] if canvas in DRAWN else 0.0
    if keep_cosine is None:
        keep_cosine = own["keep_cosine"] if keep_canvas else 0.0
    if recolour is None:  # nor to recolour; and no more canvases than are drawn
        recolour = own["recolour"] if canvas in DRAWN else 0
        if isinstance(canvas_candidates, int) and not isinstance(canvas_candidates, bool):
            recolour = min(recolour, max(canvas_candidates, 0))
    if init_noise is None:
        init_noise = 0.0 if canvas in DRAWN and init is None else 1.0
    _check(
        generator, size, steps, lr, optimizer, init_weight, init_noise, tv, contrast, prior, canvas, canvas_candidates,
        canvas_pick, stop_at, keep_canvas, keep_cosine, recolour, recolour_rating,
    )  # fmt: skip
    n, seed = check_count(n), check_seed(seed)
    if isinstance(save_every, bool) or not isinstance(save_every, int) or save_every < 0:
        raise PromptismError(f"save_every must be a whole number of steps (0: no frames), got {save_every!r}")
    for name, v, most in (("zoom_frames", zoom_frames, 600), ("zoom_steps", zoom_steps, MAX_STEPS)):
        if isinstance(v, bool) or not isinstance(v, int) or not (0 if name == "zoom_frames" else 1) <= v <= most:
            raise PromptismError(f"{name} must be a whole number up to {most}, got {v!r}")
    if isinstance(zoom, bool) or not isinstance(zoom, (int, float)) or not 1.0 <= zoom <= 2.0:
        raise PromptismError(f"zoom must be a number from 1 to 2, got {zoom!r}")
    lr = float(lr)
    augment = tuple(augment)
    start = _picture_tensor(init, size, "init picture") if init is not None else None
    models = _clips(tuple(clips))
    net = None  # the model a generator draws through, where it has one
    code_prior = mini_model = None
    if generator == "vqgan":
        from ..vqgan import load as load_vqgan

        net = load_vqgan(vqgan)
        if prior or (canvas in DRAWN and init is None):
            from ..mini import load as load_mini

            mini_model = load_mini(mini)
        if prior:
            from .prior import CodePrior

            code_prior = CodePrior(mini_model, net, prior)
            code_prior.check_size(size)
    elif generator == "stylegan":
        from ..gan import loaded

        net = loaded(str(gan)).generator
    from ..pipelines.images import open_image

    pictures = [open_image(p.text, "image prompt").image for p in images]
    targets = []  # per CLIP: (embeddings (P, D), weights (P,), contrasts, the contrast loss's weight)
    drawing = canvas in DRAWN and init is None
    caption, negative = _canvas_captions(text, canvas)
    # the contrast captions serve the loss, the contrast pick, the kept canvas and the stop alike
    scoring = (drawing and (canvas_pick == "contrast" or keep_canvas > 0 or recolour > 0)) or stop_at > 0
    with torch.no_grad():
        for clip in models:
            embs, weights = [], []
            if text:
                embs.append(clip.encode_text([p.text for p in text]))
                weights += [p.weight for p in text]
            for p, picture in zip(images, pictures):
                embs.append(clip.encode_image(picture))
                weights.append(p.weight)
            against = _contrast_targets(clip, text) if contrast or scoring else []
            targets.append((torch.cat(embs), torch.tensor(weights), against, float(contrast)))
    rating = targets  # what rates a recolouring
    if drawing and recolour and recolour_rating == "colours":
        with torch.no_grad():
            rating = [
                (e, w, _contrast_targets(clip, text, colours_only=True), c)
                for clip, (e, w, _, c) in zip(models, targets)
            ]
    from ..clip import sha256

    described = [{"name": str(name), "sha256": sha256(str(name))} for name in clips]
    settings = dict(
        generator=generator,
        size=size,
        steps=steps,
        lr=lr,
        optimizer=optimizer,
        cutn=cutn,
        cut_pow=cut_pow,
        augment=list(augment),
        init_weight=init_weight,
        init_noise=init_noise,
        tv=tv,
        contrast=contrast,
        keep_best=keep_best,
        stop_at=stop_at,
    )
    if zoom_frames:
        settings.update(zoom_frames=zoom_frames, zoom=zoom, zoom_steps=zoom_steps)
    if generator == "vqgan":
        from ..checkpoint import weights_sha256

        settings["vqgan"] = {"name": str(vqgan), "sha256": weights_sha256(net.folder)}
        settings.update(prior=prior, canvas=canvas if init is None else "init")
        if drawing:
            settings.update(
                canvas_candidates=canvas_candidates,
                canvas_pick=canvas_pick,
                keep_canvas=keep_canvas,
                keep_cosine=keep_cosine,
                recolour=recolour,
                recolour_rating=recolour_rating,
            )
            if canvas == "prompt":
                settings.update(canvas_caption=caption, canvas_negative=negative)
        if mini_model is not None:
            settings["mini"] = {"name": str(mini), "sha256": weights_sha256(mini_model.folder)}
    elif generator == "stylegan":
        from ..gan import loaded

        settings["gan"] = loaded(str(gan)).models["gan"]
    out, all_frames, meta = [], [], []
    with frozen(*(c.model for c in models), *([net] if net is not None else [])):
        for i in range(n):
            t0 = time.time()
            picture, frames, info = _one(
                models, targets, generator, seed + i, size, steps, lr, optimizer, cutn, cut_pow, augment,
                start, init_weight, init_noise, tv, save_every, keep_best, progress, net, code_prior,
                _Canvas(
                    mini_model, canvas_candidates, canvas_pick, keep_canvas, keep_cosine, recolour, rating, caption,
                    negative,
                )
                if mini_model is not None and drawing
                else None,
                stop_at,
            )  # fmt: skip
            if zoom_frames:
                frames = frames + _zoom_video(
                    picture, zoom_frames, zoom, zoom_steps, models, targets, generator, seed + i, size, lr,
                    optimizer, cutn, cut_pow, augment, tv, progress, net, code_prior,
                )  # fmt: skip
            out.append(picture)
            all_frames.append(frames)
            meta.append(
                {
                    "generator": "clip-guided",
                    "version": __version__,
                    "operation": "guide",
                    "prompts": [{"text": p.text, "weight": p.weight} for p in text],
                    "image_prompts": [{"picture": str(p.text), "weight": p.weight} for p in images],
                    "init": None if init is None else str(init) if isinstance(init, str) else "a picture",
                    "settings": settings,
                    "clips": described,
                    "seed": seed + i,
                    "index": i,
                    "size": size,
                    **info,
                    "seconds": round(time.time() - t0, 3),
                }
            )
    return GuideResult(out, [seed + i for i in range(n)], meta, all_frames if save_every or zoom_frames else [])


def _zoom_video(
    picture, frames, zoom, steps, models, targets, generator, seed, size, lr, optimizer, cutn, cut_pow, augment,
    tv, progress, net, code_prior=None,
):  # fmt: skip
    """The zoom video's frames after ``picture``: each the last enlarged, then optimised ``steps`` steps."""
    from ..pipelines.images import to_tensor

    out, x = [picture], to_tensor([picture])
    for k in range(frames):
        start = zoomed(x, zoom)
        frame, _, _ = _one(
            models, targets, generator, seed + 1 + k, size, steps, lr, optimizer, cutn, cut_pow, augment,
            start, 0.0, 0.0, tv, 0, False, progress, net, code_prior,
        )  # fmt: skip
        out.append(frame)
        x = to_tensor([frame])
    return out


def presets() -> dict[str, dict]:
    """guide's recipes: ``defaults``, its settings as the signature has them, in a ``guide`` table
    (experiments/guide/*.toml override them)."""
    skip = {
        "prompts",
        "image_prompts",
        "init",
        "n",
        "seed",
        "progress",
        "save_every",
        "zoom_frames",
        "zoom",
        "zoom_steps",
    }
    params = inspect.signature(guide).parameters.values()
    return {"defaults": {"guide": {p.name: p.default for p in params if p.name not in skip}}}


def _score(models, targets, img: torch.Tensor) -> float:
    """CLIP's weighted cosine of the whole picture with the prompts, averaged over the ensemble."""
    return float(_scores(models, targets, img)[0])


def _scores(models, targets, imgs: torch.Tensor) -> torch.Tensor:
    """``_score`` of each picture of a batch (B, 3, S, S) -> (B,), in float64."""
    total = 0.0
    for clip, (emb, w, *_) in zip(models, targets):
        e = clip._encode_pixels(_sized(imgs, clip))
        total = total + ((e @ emb.T) @ w).double() / float(w.abs().sum())
    return total / len(models)


def _sized(img: torch.Tensor, clip) -> torch.Tensor:
    return F.interpolate(img, size=clip.image_size, mode="area") if img.shape[-1] != clip.image_size else img


def _contrast_score(models, targets, img: torch.Tensor) -> float:
    """CLIP's weighted log-probability of the prompts among their contrast captions (the contrast
    loss's measure), averaged over the ensemble; the cosine score (``_score``) where no prompt has
    contrast captions."""
    return float(_contrast_scores(models, targets, img)[0])


def _contrast_scores(models, targets, imgs: torch.Tensor) -> torch.Tensor:
    """``_contrast_score`` of each picture of a batch (B, 3, S, S) -> (B,), in float64."""
    if not any(t[2] for t in targets):
        return _scores(models, targets, imgs)
    total = 0.0
    for clip, (_, _, against, _) in zip(models, targets):
        e = clip._encode_pixels(_sized(imgs, clip))
        logp = sum(pw * (scale * e @ captions.T).log_softmax(-1)[:, 0].double() for pw, scale, captions in against)
        total = total + logp / sum(pw for pw, _, _ in against)
    return total / len(models)


def _one(
    models, targets, generator, seed, size, steps, lr, optimizer, cutn, cut_pow, augment,
    start, init_weight, init_noise, tv, save_every, keep_best, progress, net=None, code_prior=None, canvas=None,
    stop_at=0.0,
):  # fmt: skip
    """One picture from ``seed``; ``canvas`` (a ``_Canvas``): how to start when there is no
    ``start``: from a drawn canvas, kept as it is or recoloured;
    ``stop_at``: the prompts' likelihood among their contrasts that ends the steps."""
    g = torch.Generator().manual_seed(seed)
    contrasted = any(t[2] for t in targets)  # some prompt has contrast captions to be likely among
    kept = False  # a drawn canvas returned with no step
    anchor = start  # what init_weight holds the picture to: the init picture, never a drawn canvas
    picked = recoloured = None
    if start is None and canvas is not None:
        from .prior import drawn_canvases

        drawn = drawn_canvases(canvas.mini, size, g, canvas.candidates, canvas.caption, canvas.negative)
        rate = _contrast_score if canvas.pick == "contrast" else _score
        with torch.no_grad():
            scores = [rate(models, targets, x[None]) for x in drawn]
        picked = max(range(len(drawn)), key=scores.__getitem__)
        start = drawn[picked : picked + 1]
        if canvas.keep and contrasted:
            with torch.no_grad():
                likely = scores[picked] if rate is _contrast_score else _contrast_score(models, targets, start)
                kept = _keeps(models, targets, start, likely, canvas.keep, canvas.keep_cosine)
        # the rating's contrasts are the prompts' or a part of them: none there, nothing to recolour by
        if canvas.recolour and not kept and any(t[2] for t in canvas.rating):
            start, picked, kept, recoloured = _recoloured(
                models, targets, canvas.rating, drawn, scores, canvas.recolour, canvas.keep, canvas.keep_cosine,
                size, net,
            )  # fmt: skip
    param = GENERATORS[generator](size, start, init_noise, g, *([net] if net is not None else []))
    opt = _optimizer(optimizer, param.parameters(), lr)
    cutters = [Cutouts(clip.image_size, cutn, cut_pow, augment, g) for clip in models]
    frames, best, best_score, loss = [], None, float("-inf"), torch.tensor(0.0)
    stops = stop_at > 0 and contrasted
    taken = 0
    with progress_bar("guide", steps, progress) as tick:
        for step in range(1, 0 if kept else steps + 1):
            img = param()
            if stops:
                with torch.no_grad():
                    if math.exp(_contrast_score(models, targets, img)) >= stop_at:
                        break
            taken = step
            loss = img.new_zeros(())
            for clip, cut, (emb, w, against, contrast) in zip(models, cutters, targets):
                e = clip._encode_pixels(cut(img))
                dists = torch.stack([spherical_distance(e, t).mean() for t in emb])
                loss = loss + (dists * w).sum()
                for weight, scale, captions in against if contrast else ():  # the prompt is caption 0
                    first = torch.zeros(len(e), dtype=torch.long)
                    loss = loss + contrast * weight * F.cross_entropy(scale * e @ captions.T, first)
            if anchor is not None and init_weight:
                loss = loss + init_weight * F.mse_loss(img, anchor)
            if tv:
                loss = loss + tv * total_variation(img)
            if code_prior is not None:
                loss = loss + code_prior.weight * code_prior.loss(param.param)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            with torch.no_grad():
                now = param()
                if keep_best:
                    s = _score(models, targets, now)
                    if s > best_score:
                        best_score, best = s, now.clone()
                if save_every and (step % save_every == 0 or step == steps):
                    frames.append(to_images(now)[0])
            tick(step - 1, steps, now)
    with torch.no_grad():
        final = start if kept else best if best is not None else param()
        if kept and save_every:  # the one frame there is
            frames.append(to_images(final)[0])
        info = {"final_loss": round(float(loss), 5), "clip_score": round(_score(models, targets, final), 5)}
        if picked is not None:
            info["canvas_picked"] = picked
        if stop_at:
            info["steps_taken"] = taken
        if canvas is not None and canvas.keep:
            info["canvas_kept"] = kept
        if canvas is not None and canvas.recolour:
            info["canvas_recoloured"] = bool(recoloured)
    return to_images(final)[0], frames, info


def _canvas_captions(text: list[Prompt], canvas: str) -> tuple[str, str]:
    """What mini's transformer reads when it draws a canvas: for canvas "prompt", the positive text
    prompts, and the negative ones in the empty caption's place, each joined by "and" (heaviest
    first); for any other canvas, the empty caption alone."""
    if canvas != "prompt":
        return "", ""

    def joined(ps):
        return " and ".join(p.text for p in sorted(ps, key=lambda p: -abs(p.weight)))

    return joined([p for p in text if p.weight > 0]), joined([p for p in text if p.weight < 0])


def _keeps(models, targets, img: torch.Tensor, likely: float, keep: float, cosine: float) -> bool:
    """Whether a drawn (or recoloured) canvas is returned with no step: CLIP finds the prompts at least
    ``keep`` likely among their contrast captions (``likely``: the log of that, already computed), and,
    where ``cosine`` > 0, its cosine score with them (``_score``) is at least ``cosine``."""
    return math.exp(likely) >= keep and (cosine <= 0 or _score(models, targets, img) >= cosine)


@torch.no_grad()
def _recoloured(
    models, targets, rating, drawn, scores, most, keep, keep_cosine, size, net
) -> tuple[torch.Tensor, int, bool, bool]:
    """guide's recolouring of the drawn canvases (``guide.recolour``): the ``most`` canvases best by
    ``scores`` recoloured, the best of them by the contrast score of the ``rating`` targets, the
    index of the canvas it was, whether it is kept (``keep`` and ``keep_cosine`` as ``_keeps``
    judges them by all the prompts' contrasts, ``targets``', on it as the VQGAN draws it), and
    whether any region of it changed colour (if none did, it is that canvas as drawn).
    The start returned is the picture the VQGAN's codes then draw when kept, and the recoloured
    picture otherwise (whose codes the steps start from)."""
    from .recolour import palettes, recolour

    palette, backgrounds = palettes(drawn)
    order = sorted(range(len(drawn)), key=scores.__getitem__, reverse=True)[:most]
    tries = [
        (*recolour(drawn[i], palette, backgrounds, lambda x: _contrast_scores(models, rating, x)), i) for i in order
    ]
    picture, _, picked = max(tries, key=lambda t: t[1])
    # the VQGAN's picture of it, as the steps would start (noise 0; a generator of its own, so that
    # the seed's draws for the steps stay as they are)
    drawn_again = Codes(size, picture[None], 0.0, torch.Generator(), net)()
    kept = bool(keep) and _keeps(
        models, targets, drawn_again, _contrast_score(models, targets, drawn_again), keep, keep_cosine
    )
    return (drawn_again if kept else picture[None]), picked, kept, not torch.equal(picture, drawn[picked])
