"""unCLIP text-to-image (Ramesh et al. 2022): prompt -> CLIP text embedding -> diffusion prior
-> CLIP image embedding -> decoder (32 px) -> upsamplers (64, 128 px).

    from promptism.pipelines.unclip import generate
    result = generate("a red circle above a blue square", n=4, seed=7)
    result.images, result.seeds, result.metadata

Picture i is made by its own generator seeded with seed + i, so it is the same whatever n is; with
reranking (Settings.rerank = k) it is the best of k candidates by a CLIP's score, candidate j drawn
by a generator seeded with seed + i + j × CANDIDATE_STRIDE (mod 2**32).
This module never imports training code.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import NamedTuple

import torch
from PIL import Image

from ..clip.tokenizer import words
from ..diffusion import classifier_free, classifier_free_two, dynamic_threshold, noise
from ..errors import PromptismError
from ..responsible.energy import footprinted
from ..unclip.folders import Stage, load_stage
from .common import (
    Result,
    check_count,
    check_fraction,
    check_prompt,
    check_seed,
    picture_metadata,
    sample,
    sampling_path,
    seeded_candidates,
    settings_with,
    to_images,
    truncated,
)
from .settings import IMG2IMG_STEPS, IMG2IMG_STRENGTH, SHIPPED_UPSAMPLERS, Settings, default_size, edit_defaults


@dataclass
class Models:
    clip: object
    prior: Stage
    decoder: Stage
    upsamplers: list[Stage] = field(default_factory=list)
    names: dict = field(default_factory=dict)
    fast: Stage | None = None  # a distilled student of the decoder (promptism.unclip.distill)

    @property
    def stop_at(self) -> int | None:
        """The largest side drawn when none is asked: the side before the first upsampler drawn only
        when asked (its config's ``when_asked``); None when every one runs unasked."""
        sizes = reachable_sizes(self)
        return next((sizes[i] for i, u in enumerate(self.upsamplers) if u.model.config.when_asked), None)

    def default_size(self) -> int:
        """The side drawn when none is asked (settings.default_size)."""
        return default_size(reachable_sizes(self), self.stop_at)

    def describe(self) -> dict:
        """Names and weight hashes of every model, for provenance."""
        out = {"clip": {"name": self.names.get("clip", "clip")}}
        if self.names.get("clip_sha256"):  # two CLIPs ship now: the hash says which one drew
            out["clip"]["sha256"] = self.names["clip_sha256"]
        for key, st in [("prior", self.prior), ("decoder", self.decoder)]:
            out[key] = {"name": st.name, "sha256": st.weights_sha256}
        for u in self.upsamplers:  # with the steps it samples in when the settings name none
            cfg = u.model.config
            out[f"upsampler_{cfg.image_size}"] = {
                "name": u.name,
                "sha256": u.weights_sha256,
                "sample_steps": cfg.sample_steps,
            }
        if self.fast is not None:
            out["fast_decoder"] = {"name": self.fast.name, "sha256": self.fast.weights_sha256}
        if self.decoder.layout is not None:  # the stage that drew the decoder's layouts
            out["layout"] = {"name": str(self.decoder.meta.get("layout")), "sha256": self.decoder.layout.weights_sha256}
        return out


def sha256s(described: dict) -> dict:
    """{model: weight sha256} out of ``Models.describe()`` (or a report that stored it)."""
    return {k: v["sha256"] for k, v in described.items() if "sha256" in v}


@lru_cache(maxsize=4)
def load_models(
    clip: str | None = None,
    prior: str = "world",
    decoder: str = "world",
    upsamplers: tuple[str, ...] = SHIPPED_UPSAMPLERS,
    fast: str | None = None,
) -> Models:
    """Load (once per process) the CLIP and the three stages; names are shipped models or folders.
    ``fast`` names a distilled student of the decoder, which then draws generate's pictures.

    The prior and decoder learned one CLIP's embedding space, and their config.json names it
    ("clip"); without ``clip`` that CLIP is loaded. Another one is loaded when asked for, with a
    warning: its embeddings mean nothing to stages trained on another's."""
    from ..clip import load as load_clip
    from ..clip import sha256 as clip_sha256

    p, d = load_stage(prior, "prior"), load_stage(decoder, "decoder")
    trained = p.meta.get("clip")
    if trained and d.meta.get("clip") and not _same_clip(d.meta["clip"], trained):
        raise PromptismError(
            f"{_label(p)} was trained on CLIP {trained!r} and {_label(d)} on {d.meta['clip']!r}: the prior's "
            "image embeddings would mean nothing to the decoder; give a prior and a decoder trained on one CLIP"
        )
    if clip is None:
        clip = trained or "world"
    elif trained and not _same_clip(clip, trained):
        warnings.warn(f"CLIP {clip!r} asked for, but the prior and decoder were trained on {trained!r}", stacklevel=2)
    ups = [load_stage(u, "upsampler") for u in upsamplers]
    models = Models(load_clip(clip), p, d, ups, {"clip": clip, "clip_sha256": clip_sha256(clip)})
    if fast is not None:
        models.fast = check_fast(load_stage(fast, "decoder"), d)
    check_stack(models)
    return models


def check_fast(student: Stage, decoder: Stage) -> Stage:
    """A distilled student that can stand in for ``decoder``: one round or more of distillation, of
    the same size and CLIP embedding space."""
    if not student.meta.get("distilled"):
        raise PromptismError(f"{_label(student)} is not a distilled decoder: make one with `promptism train distill`")
    size, want = student.model.config.image_size, decoder.model.config.image_size
    if size != want:
        raise PromptismError(f"{_label(student)} draws {size} px pictures, {_label(decoder)} {want} px ones")
    if student.model.config.clip_dim != decoder.model.config.clip_dim or not _same_clip(
        student.meta.get("clip", "world"), decoder.meta.get("clip", "world")
    ):
        raise PromptismError(f"{_label(student)} learnt another CLIP's embeddings than {_label(decoder)}")
    return student


def uses_fast(models: Models, negative: str, image_embed, s: Settings) -> bool:
    """Whether the fast decoder draws: it folds in guidance on the image embedding and caption
    against neither, so it stands in only where the decoder would sample exactly that."""
    return models.fast is not None and image_embed is not None and not negative and not s.guidance_text


def _same_clip(a: str, b: str) -> bool:
    """Whether two CLIP names (shipped names, folders, hf: ids) name one model."""
    if a == b:
        return True
    from ..clip import resolve as clip_folder

    return clip_folder(a).resolve() == clip_folder(b).resolve()


def _label(stage: Stage) -> str:
    """How an error names a stage: the shipped name, or its folder."""
    from ..unclip.folders import MODELS_DIR

    folder = stage.folder
    if folder is not None and folder.parent.resolve() == MODELS_DIR.resolve():
        return f"the {stage.kind} {folder.name[len(stage.kind) + 1 :]!r} (shipped)"
    return f"the {stage.kind} at {str(folder) if folder else stage.name}"


def check_chain(models: Models) -> None:
    """Each upsampler must take the pictures the stage before it makes."""
    before, size = _label(models.decoder), models.decoder.model.config.image_size
    for up in models.upsamplers:
        cfg = up.model.config
        if cfg.low_size != size:
            raise PromptismError(
                f"{_label(up)} takes {cfg.low_size} px pictures, but {before} makes {size} px ones: give upsamplers "
                f"that start at {size} px (--upsamplers), or none"
            )
        before, size = _label(up), cfg.image_size


def check_stack(models: Models) -> None:
    """Refuse, before any work, stages that do not fit together: an upsampler chain that does not
    start at the decoder's size, or a prior or decoder made for embeddings of another width than
    the CLIP's. The message names both models and what differs."""
    check_chain(models)
    with torch.no_grad():
        width = models.clip.encode_text([""]).shape[-1]
    for stage in (models.prior, models.decoder):
        if stage.model.config.clip_dim != width:
            raise PromptismError(
                f"{_label(stage)} takes CLIP embeddings of width {stage.model.config.clip_dim}, but CLIP "
                f"{models.names.get('clip', 'clip')!r} makes them {width} wide: give the CLIP it was trained on"
            )


def reachable_sizes(models: Models) -> list[int]:
    """The picture sides the models make: the decoder's, then each upsampler's."""
    return [models.decoder.model.config.image_size] + [u.model.config.image_size for u in models.upsamplers]


def pick_size(models: Models, size: int | None) -> int:
    """``size`` checked against what the models reach; None: ``models.default_size()``. The
    upsamplers must fit together first (check_chain), or what they reach means nothing."""
    check_chain(models)
    sizes = reachable_sizes(models)
    if size is None:
        return default_size(sizes, models.stop_at)
    made = f"these models make {' or '.join(map(str, sizes))} px pictures"
    if isinstance(size, bool) or not isinstance(size, int):
        raise PromptismError(f"size must be a whole number of pixels per side ({made}), got {size!r}")
    if size > sizes[-1]:
        raise PromptismError(f"no upsampler reaches {size} px with these models: {made}")
    if size not in sizes:
        raise PromptismError(f"{size} px is not a size these models make: {' or '.join(map(str, sizes))} px")
    return size


def unknown_words(stage: Stage, text: str) -> list[str]:
    vocab = stage.meta.get("vocabulary")
    if not vocab:
        return []
    known = set(vocab)
    return sorted({w for w in words(text) if w not in known})


@torch.no_grad()
def sample_prior(
    models: Models, prompt: str, negative: str, gens: Sequence[torch.Generator], s: Settings, progress: bool = False
) -> torch.Tensor:
    """Unit CLIP image embeddings (n, D): for each picture draw ``prior_candidates`` and keep
    the one with the highest dot product with the text embedding (paper §2.1)."""
    prior, n, k = models.prior, len(gens), s.prior_candidates
    tokens, mask, text = models.clip.text_features([prompt])
    neg_tokens, neg_mask, neg_text = models.clip.text_features([negative]) if negative else (tokens, mask, text)
    d = prior.model.config.clip_dim
    rows = n * k
    rep = lambda z: z.expand(rows, *z.shape[1:])  # noqa: E731
    drop = torch.tensor([False] * rows + [not negative] * rows)

    def pair(x, t):
        tt = torch.full((len(x),), t, dtype=torch.long)
        return prior.denoiser(
            prior.model,
            x,
            tt,
            tokens=torch.cat([rep(tokens), rep(neg_tokens)]),
            mask=torch.cat([rep(mask), rep(neg_mask)]),
            text_embed=torch.cat([rep(text), rep(neg_text)]),
            drop_text=drop,
        )

    steps = sampling_path(prior.denoiser, s.prior_steps, s.sampler)
    row_gens = [g for g in gens for _ in range(k)]
    x = noise((rows, d), row_gens)
    x = sample(
        "prior",
        s.sampler,
        classifier_free(pair, s.guidance_prior),
        x,
        prior.denoiser.abar,
        steps,
        row_gens,
        s.eta,
        progress,
    )
    emb = torch.nn.functional.normalize(x.view(n, k, d), dim=-1)
    best = (emb @ text[0]).argmax(dim=1)
    return emb[torch.arange(n), best]


def decoder_denoise(
    models: Models,
    prompt: str,
    negative: str,
    image_embed: torch.Tensor | None,
    n: int,
    s: Settings,
    known: torch.Tensor | None = None,
    keep: torch.Tensor | None = None,
    layout: torch.Tensor | None = None,
) -> Callable[[torch.Tensor, int], torch.Tensor]:
    """The decoder as ``denoise(x_t, t) -> x̂₀`` for n pictures: classifier-free guidance on
    the image embedding and caption (and ``s.guidance_text`` more on the caption alone), then
    the x̂₀ clipping of ``s.threshold``. ``known`` (1, 3, S, S) and ``keep`` (1, 1, S, S,
    1 = known) go to an inpainting decoder's extra channels, in every part of the guidance
    batch as GLIDE has it; so do a layout decoder's maps ``layout`` (n, C, S, S; draw_layouts)."""
    dec = models.decoder
    extra = {} if keep is None else dict(known=known, keep=keep)
    # the batch's parts: caption + embedding, negative prompt + null embedding, and with caption
    # guidance (guidance_text; not with the null embedding, nor when the caption is the negative
    # prompt, where the term is zero) negative prompt + embedding
    two = bool(s.guidance_text) and image_embed is not None and prompt != negative
    texts, drops = ([prompt, negative, negative], [False, True, False]) if two else ([prompt, negative], [False, True])
    captions = {k: v.repeat_interleave(n, dim=0) for k, v in dec.read_captions(texts).items()}
    drop = torch.tensor(drops).repeat_interleave(n)

    if image_embed is None:  # caption only: the null embedding in both halves
        image_embed = torch.zeros(n, dec.model.config.clip_dim)
        drop = torch.ones(2 * n, dtype=torch.bool)
    emb = torch.cat([image_embed] * len(texts))
    rows = {} if layout is None else {"layout": torch.cat([layout] * len(texts))}

    def batch(x, t):
        tt = torch.full((len(x),), t, dtype=torch.long)
        return dec.denoiser(dec.model, x, tt, image_embed=emb, drop_image=drop, **captions, **extra, **rows)

    guided = (
        classifier_free_two(batch, s.guidance_decoder, s.guidance_text)
        if two
        else classifier_free(batch, s.guidance_decoder)
    )
    if s.guidance_interval is not None:  # outside it, one evaluation: the first part of the batch
        lo, hi, inside = *s.guidance_interval, guided
        firsts = {k: v[:n] for k, v in {**captions, **rows}.items()}
        part = dict(image_embed=emb[:n], drop_image=drop[:n], **firsts, **extra)

        def guided(x, t):
            if lo <= t <= hi:
                return inside(x, t)
            return dec.denoiser(dec.model, x, torch.full((len(x),), t, dtype=torch.long), **part)

    if s.threshold:
        return dynamic_threshold(guided, s.threshold)

    def clipped(x, t):  # static clipping of x̂₀ to the data range (ADM's clip_denoised)
        return guided(x, t).clamp(-1, 1)

    return clipped


@torch.no_grad()
def sample_decoder(
    models: Models,
    prompt: str,
    negative: str,
    image_embed: torch.Tensor | None,
    gens: Sequence[torch.Generator],
    s: Settings,
    progress: bool = False,
    keep: Callable[[torch.Tensor], list[int]] | None = None,
    watch: Callable[[int, torch.Tensor, torch.Tensor], None] | None = None,
) -> torch.Tensor:
    """Pictures (n, 3, S, S) in [-1, 1] from image embeddings and the caption. With ``keep`` and
    ``s.rerank_step``, after that many steps (or the last) ``keep(x̂₀)`` names the rows to carry on
    with, and only those pictures are returned. ``watch(i, x_t, x̂₀)`` sees every step (benchmarks
    that score pictures mid-way)."""
    dec, n = models.decoder, len(gens)
    size = dec.model.config.image_size
    if uses_fast(models, negative, image_embed, s):
        return sample_fast(models.fast, prompt, image_embed, gens, progress)
    layout = draw_layouts(dec, prompt, gens)
    f = decoder_denoise(models, prompt, negative, image_embed, n, s, layout=layout)
    steps = sampling_path(dec.denoiser, s.steps, s.sampler)
    select = None
    if keep is not None and s.rerank_step is not None:
        at = min(s.rerank_step, len(steps)) - 1

        def select(i, x0):
            if i != at:
                return None
            rows = keep(x0)
            emb = None if image_embed is None else image_embed[rows]
            maps = None if layout is None else layout[rows]
            return rows, decoder_denoise(models, prompt, negative, emb, len(rows), s, layout=maps)

    x = noise((n, 3, size, size), gens)
    x = sample("decoder", s.sampler, f, x, dec.denoiser.abar, steps, gens, s.eta, progress, select, watch)
    return x.clamp(-1, 1)


def draw_layouts(dec: Stage, prompt: str, gens: Sequence[torch.Generator]) -> torch.Tensor | None:
    """A layout decoder's maps (n, C, S, S) for n pictures of ``prompt``, each picture's layout drawn
    by the decoder's layout stage from a generator its own generator seeds (one draw of it), so that
    a picture's layout depends on its seed alone; None for a decoder (or distilled decoder) that
    reads no layout, or an empty prompt (a variation's: the picture's embedding says where things
    are)."""
    from ..layout import layout_maps

    if dec.layout is None or not prompt.strip():
        return None
    own = [torch.Generator().manual_seed(int(torch.randint(2**62, (1,), generator=g))) for g in gens]
    return layout_maps(dec.layout.draw([prompt] * len(gens), own), dec.model.config.image_size)


def sample_fast(
    student: Stage, prompt: str, image_embed: torch.Tensor, gens: Sequence[torch.Generator], progress: bool = False
) -> torch.Tensor:
    """Pictures (n, 3, S, S) in [-1, 1] from a distilled decoder: deterministic DDIM along the path
    it was distilled for, one unguided evaluation a step, x̂₀ clipped as the teacher's was. A student
    of a layout decoder draws its layouts as the decoder does (draw_layouts), so a seed gives both
    the same layout."""
    from ..unclip.distill import conditioned_x0

    n, size = len(gens), student.model.config.image_size
    ids, mask = (t.expand(n, -1) for t in student.tokenizer([prompt]))
    layout = draw_layouts(student, prompt, gens)

    def denoise(x, t):
        return conditioned_x0(student, x, torch.full((n,), t, dtype=torch.long), image_embed, ids, mask, layout)

    path = student.meta["distilled"]["path"]
    x = noise((n, 3, size, size), gens)
    return sample("fast decoder", "ddim", denoise, x, student.denoiser.abar, path, gens, 0.0, progress).clamp(-1, 1)


class UpsamplerCall(NamedTuple):
    """An upsampler ready to sample: ``denoise(x_t, t) -> x̂₀`` in the space its diffusion runs on
    (the picture, or the residual over a bicubic upscaling), and the maps between that space and
    pictures (``encode``: picture -> space, ``decode``: space -> picture in [-1, 1])."""

    denoise: Callable[[torch.Tensor, int], torch.Tensor]
    encode: Callable[[torch.Tensor], torch.Tensor]
    decode: Callable[[torch.Tensor], torch.Tensor]


def upsampler_denoise(stage: Stage, low: torch.Tensor, gens: Sequence[torch.Generator], s: Settings) -> UpsamplerCall:
    """An upsampler conditioned on the low-res pictures after the blur and noise augmentation it
    saw in training. Its x̂₀ is clamped to [-1, 1] as a picture, whatever space it runs in."""
    from ..unclip.upsampler import gaussian_blur

    n, model = len(low), stage.model
    aug_t = torch.full((n,), s.upsampler_aug_t, dtype=torch.long)
    low = gaussian_blur(low, torch.full((n,), 0.5))  # the blur the upsampler saw in training (0.4–0.6)
    low = stage.denoiser.add_noise(low, aug_t, noise(low.shape, gens))
    ref = model.reference(low)

    def decode(r):
        return model.decode(r, ref).clamp(-1, 1)

    def encode(x):
        return model.encode(x, ref)

    def f(x, t):
        tt = torch.full((len(x),), t, dtype=torch.long)
        return encode(decode(stage.denoiser(model, x, tt, low=low, aug_t=aug_t)))

    return UpsamplerCall(f, encode, decode)


def upsampler_steps(stage: Stage, s: Settings) -> int:
    """The steps ``stage`` samples in: the settings' count, or when they name none the upsampler's
    own (its config's ``sample_steps``)."""
    return stage.model.config.sample_steps if s.upsampler_steps is None else s.upsampler_steps


@torch.no_grad()
def upsample(
    stage: Stage, low: torch.Tensor, gens: Sequence[torch.Generator], s: Settings, progress: bool = False
) -> torch.Tensor:
    """The upsampler's picture of each low-res one, back-projected onto it
    (``s.upsampler_back_projection`` rounds): shrunk again, it is the picture it was given."""
    from ..unclip.upsampler import back_project

    n, size = len(low), stage.model.config.image_size
    call = upsampler_denoise(stage, low, gens, s)
    steps = sampling_path(stage.denoiser, upsampler_steps(stage, s), s.sampler)
    x = noise((n, 3, size, size), gens)
    x = sample(f"upsample {size}", s.sampler, call.denoise, x, stage.denoiser.abar, steps, gens, s.eta, progress)
    return back_project(call.decode(x), low, s.upsampler_back_projection)


@lru_cache(maxsize=4)
def load_reranker(name: str):
    """The CLIP that reranks candidates (a shipped name, a folder or "hf:...") and its weights'
    sha256 (None for hf:), loaded once: room for mini's three default CLIPs, which it asks for in
    turn on every call (a smaller cache would evict each before it came round again)."""
    from ..clip import load as load_clip
    from ..clip import sha256

    return load_clip(name), sha256(name)


@torch.no_grad()
def pick_candidates(
    reranker,
    x: torch.Tensor,
    gens: Sequence[torch.Generator],
    n: int,
    want: torch.Tensor,
    avoid: torch.Tensor | None = None,
) -> tuple[torch.Tensor, list[torch.Generator], tuple[list[int], list[list[float]]]]:
    """Keep, for each of n pictures, the candidate (rows candidate-major) that ``reranker`` scores
    highest: the cosine of its picture (as 8-bit pixels, the picture a user gets) with ``want``
    (a unit embedding (1, D): the prompt's, or the source picture's for variations), less the
    cosine with ``avoid`` (the negative prompt's) when given. Returns the kept pictures, their
    generators (the stages after carry on with the kept candidate's) and, per picture, the index
    of the kept candidate and every candidate's score."""
    rows, chosen = rank_candidates(reranker, x, n, want, avoid)
    return x[rows], [gens[r] for r in rows], chosen


@torch.no_grad()
def rank_candidates(
    reranker, x: torch.Tensor, n: int, want: torch.Tensor, avoid: torch.Tensor | None = None
) -> tuple[list[int], tuple[list[int], list[list[float]]]]:
    """``pick_candidates``' choice: the rows kept and, per picture, the kept candidate's index and
    every candidate's score. Pictures of another side than the reranker's are resized to it as
    8-bit pictures (bicubic), as any picture given to it is."""
    emb = reranker.encode_image(to_images(x))
    score = (emb @ want[0] - (emb @ avoid[0] if avoid is not None else 0.0)).view(-1, n)  # (k, n)
    best = score.argmax(dim=0)  # the first on a tie
    return (best * n + torch.arange(n)).tolist(), (best.tolist(), score.T.tolist())


def note_reranking(
    meta: list[dict], name: str, sha256: str | None, chosen: tuple[list[int], list[list[float]]], rows: list[int]
) -> None:
    """Add to each picture's provenance its reranking: the CLIP, the kept candidate (candidate j is
    what rerank 1 draws from seed + j × CANDIDATE_STRIDE), its seed, and every candidate's score."""
    picked, scores = chosen
    n = len(picked)
    for i, md in enumerate(meta):
        md["rerank"] = {
            "clip": {"name": name, "sha256": sha256},
            "candidate": picked[i],
            "candidate_seed": rows[picked[i] * n + i],
            "scores": scores[i],
        }


def upsamplers_to(models: Models, size: int | None) -> list[Stage]:
    """The upsamplers that take the decoder's pictures to ``size`` (None: as far as they go); an
    error naming the sizes the models make if ``size`` is not one of them."""
    size = pick_size(models, size)
    return [u for u in models.upsamplers if u.model.config.image_size <= size]


def warn_unknown(models: Models, text: str) -> None:
    unknown = unknown_words(models.decoder, text)
    if unknown:
        warnings.warn(
            f"the models never saw these words in training, expect them to be ignored: {', '.join(unknown)}",
            stacklevel=3,
        )


def _img2img_decoder(models, prompt, negative, emb, source, strength, gens, s: Settings, progress) -> torch.Tensor:
    """The decoder's pictures started from ``source`` noised to ``strength`` × the schedule (SDEdit,
    Meng et al. 2022) instead of from pure noise."""
    from .images import square, to_tensor

    dec, m = models.decoder, len(gens)
    x0 = to_tensor([square(source.image, dec.model.config.image_size)]).expand(m, -1, -1, -1)
    steps = truncated(sampling_path(dec.denoiser, s.steps, s.sampler), strength, dec.denoiser.T)
    x = dec.denoiser.add_noise(x0, torch.full((m,), steps[0]), noise(x0.shape, gens))
    f = decoder_denoise(models, prompt, negative, emb, m, s)
    return sample("decoder", s.sampler, f, x, dec.denoiser.abar, steps, gens, s.eta, progress).clamp(-1, 1)


@footprinted
def generate(
    prompt: str,
    n: int = 4,
    seed: int = 0,
    size: int | None = None,
    negative: str | None = None,
    settings: Settings | None = None,
    models: Models | None = None,
    progress: bool = False,
    callback: Callable[[str, float], None] | None = None,
    init=None,
    strength: float = IMG2IMG_STRENGTH,
    **overrides,
) -> Result:
    """n pictures of a prompt, ``size`` px a side (one the models make; None: ``models.default_size()``, 64 px for the shipped models).
    ``overrides`` set Settings fields (steps=25, sampler="ddim", …).
    ``callback(stage, fraction)`` reports progress. Unknown words give a warning naming them.

    ``init`` (a picture: path, bytes or PIL image) starts the decoder from that picture noised to
    ``strength`` × the schedule instead of from pure noise (SDEdit, Meng et al. 2022): 1 keeps
    nothing of it, small values little else; about strength × steps steps run, with the edits'
    sampler and guidance interval and IMG2IMG_STEPS unless asked (edit_defaults)."""
    if init is not None:
        edit_defaults(overrides, IMG2IMG_STEPS)
    settings = settings_with(settings, overrides)
    prompt = check_prompt(prompt)
    negative = check_prompt(negative or "", "negative prompt")
    n, seed = check_count(n), check_seed(seed)
    source = None
    if init is not None:
        from .images import open_image

        strength = check_fraction(strength, "strength")
        source = open_image(init, "init image")
    models = models or load_models()
    size = pick_size(models, size)
    stages_needed = upsamplers_to(models, size)
    warn_unknown(models, prompt + " " + negative)
    reranker, reranker_sha = load_reranker(settings.rerank_clip) if settings.rerank > 1 else (None, None)
    t0 = time.time()
    seeds, rows, row_gens = seeded_candidates(seed, n, settings.rerank)
    m = len(rows)  # n pictures × rerank candidates, candidate-major
    chosen = None
    report = callback or (lambda stage, frac: None)
    report("prior", 0.0)
    with torch.no_grad():
        if settings.embedding == "prior":
            emb = sample_prior(models, prompt, negative, row_gens, settings, progress)
        elif settings.embedding == "text":
            emb = models.clip.encode_text([prompt]).expand(m, -1)
        else:
            emb = None
        report("decoder", 0.0)
        if reranker is not None:
            want = reranker.encode_text([prompt])
            avoid = reranker.encode_text([negative]) if negative else None
        if source is None:
            early: dict = {}

            def keep(x0):  # settings.rerank_step: the candidates ranked by their x̂₀ mid-way
                early["rows"], early["chosen"] = rank_candidates(reranker, x0, n, want, avoid)
                return early["rows"]

            x = sample_decoder(
                models, prompt, negative, emb, row_gens, settings, progress, keep if reranker is not None else None
            )
            if early:
                row_gens, chosen = [row_gens[r] for r in early["rows"]], early["chosen"]
        else:
            x = _img2img_decoder(models, prompt, negative, emb, source, strength, row_gens, settings, progress)
        for up in stages_needed:
            if reranker is not None and chosen is None and x.shape[-1] >= reranker.image_size:
                x, row_gens, chosen = pick_candidates(reranker, x, row_gens, n, want, avoid)
            report(f"upsample {up.model.config.image_size}", 0.0)
            x = upsample(up, x, row_gens, settings, progress)
        if reranker is not None and chosen is None:
            x, row_gens, chosen = pick_candidates(reranker, x, row_gens, n, want, avoid)
    report("done", 1.0)
    base = picture_metadata("generate", models, settings, size, t0, prompt=prompt, negative_prompt=negative)
    if source is None and uses_fast(models, negative, emb, settings):
        record = models.fast.meta["distilled"]
        base["fast_decoder"] = {"steps": len(record["path"]), "guidance": record["guidance"]}
    if source is not None:
        base.update(operation="img2img", source=source.describe(), strength=strength)
    meta = [{**base, "seed": sd, "index": i} for i, sd in enumerate(seeds)]
    if chosen is not None:
        note_reranking(meta, settings.rerank_clip, reranker_sha, chosen, rows)
    return Result(to_images(x), seeds, meta)


def embed_picture(models: Models, picture: Image.Image) -> torch.Tensor:
    """A picture's CLIP image embedding (1, D) under the models' CLIP."""
    size = models.clip.image_size
    return models.clip.encode_image(
        [picture.resize((size, size), Image.BICUBIC) if picture.size != (size, size) else picture]
    )
