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

import contextvars
import time
import warnings
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from typing import NamedTuple

import torch
from PIL import Image

from .. import __version__
from ..clip.tokenizer import words
from ..diffusion import classifier_free, classifier_free_two, dynamic_threshold, noise, run, spaced_timesteps
from ..diffusion.samplers import SPACING
from ..errors import PromptismError
from ..unclip.folders import Stage, load_stage
from .settings import CANDIDATE_STRIDE, IMG2IMG_STRENGTH, MAX_PICTURES, MAX_PROMPT_CHARS, SEED_LIMIT, SIZES, Settings


@dataclass
class Models:
    clip: object
    prior: Stage
    decoder: Stage
    upsamplers: list[Stage] = field(default_factory=list)
    names: dict = field(default_factory=dict)

    def describe(self) -> dict:
        """Names and weight hashes of every model, for provenance."""
        out = {"clip": {"name": self.names.get("clip", "clip")}}
        if self.names.get("clip_sha256"):  # two CLIPs ship now: the hash says which one drew
            out["clip"]["sha256"] = self.names["clip_sha256"]
        for key, st in [("prior", self.prior), ("decoder", self.decoder)] + [
            (f"upsampler_{u.model.config.image_size}", u) for u in self.upsamplers
        ]:
            out[key] = {"name": st.name, "sha256": st.weights_sha256}
        return out


def sha256s(described: dict) -> dict:
    """{model: weight sha256} out of ``Models.describe()`` (or a report that stored it)."""
    return {k: v["sha256"] for k, v in described.items() if "sha256" in v}


@lru_cache(maxsize=4)
def load_models(
    clip: str | None = None, prior: str = "world", decoder: str = "world", upsamplers: tuple[str, ...] = ("world-64",)
) -> Models:
    """Load (once per process) the CLIP and the three stages; names are shipped models or folders.

    The prior and decoder learned one CLIP's embedding space, and their config.json names it
    ("clip"); without ``clip`` that CLIP is loaded. Another one is loaded when asked for, with a
    warning: its embeddings mean nothing to stages trained on another's."""
    from ..clip import load as load_clip
    from ..clip import resolve as clip_folder
    from ..unclip.folders import weights_sha256

    p, d = load_stage(prior, "prior"), load_stage(decoder, "decoder")
    trained = p.meta.get("clip")
    if trained and d.meta.get("clip") and d.meta["clip"] != trained:
        warnings.warn(
            f"the prior was trained on CLIP {trained!r} and the decoder on {d.meta['clip']!r}: "
            "its image embeddings will not be the decoder's",
            stacklevel=2,
        )
    if clip is None:
        clip = trained or "world"
    elif trained and clip != trained:
        warnings.warn(f"CLIP {clip!r} asked for, but the prior and decoder were trained on {trained!r}", stacklevel=2)
    ups = [load_stage(u, "upsampler") for u in upsamplers]
    clip_sha = None if clip.startswith("hf:") else weights_sha256(clip_folder(clip))
    return Models(load_clip(clip), p, d, ups, {"clip": clip, "clip_sha256": clip_sha})


@dataclass
class Result:
    images: list[Image.Image]
    seeds: list[int]
    metadata: list[dict]


def unknown_words(stage: Stage, text: str) -> list[str]:
    vocab = stage.meta.get("vocabulary")
    if not vocab:
        return []
    known = set(vocab)
    return sorted({w for w in words(text) if w not in known})


def _check_prompt(prompt: str, what: str = "prompt") -> str:
    if not isinstance(prompt, str):
        raise PromptismError(f"the {what} must be text, got {type(prompt).__name__}")
    if what == "prompt" and not prompt.strip():
        raise PromptismError('the prompt is empty: say what to draw, e.g. "a red circle above a blue square"')
    if len(prompt) > MAX_PROMPT_CHARS:
        raise PromptismError(f"the {what} has {len(prompt)} characters; at most {MAX_PROMPT_CHARS} are accepted")
    return prompt.strip()


# a function called after every sampling step of every stage as hook(stage, done, total): the
# server's live progress, and its way to stop a job (the hook raises). Set with step_hook().
_STEP_HOOK: contextvars.ContextVar[Callable[[str, int, int], None] | None] = contextvars.ContextVar(
    "promptism_step_hook", default=None
)


@contextmanager
def step_hook(fn: Callable[[str, int, int], None]):
    """Call fn(stage, done, total) after each sampling step run in this context (this thread)."""
    token = _STEP_HOOK.set(fn)
    try:
        yield
    finally:
        _STEP_HOOK.reset(token)


class _Bar:
    """A progress bar (tqdm, when enabled) that also reports to the step hook."""

    def __init__(self, desc: str, total: int, enabled: bool):
        from tqdm.auto import tqdm

        self.desc, self.total, self.done = desc, total, 0
        self.bar = tqdm(total=total, desc=desc, disable=not enabled, leave=False, unit="step")
        self.hook = _STEP_HOOK.get()

    def update(self, k: int = 1) -> None:
        self.done += k
        self.bar.update(k)
        if self.hook is not None:
            self.hook(self.desc, self.done, self.total)

    def close(self) -> None:
        self.bar.close()


def _bar(desc: str, total: int, enabled: bool) -> _Bar:
    return _Bar(desc, total, enabled)


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

    steps = spaced_timesteps(prior.denoiser.T, s.prior_steps, SPACING[s.sampler], prior.denoiser.abar)
    row_gens = [g for g in gens for _ in range(k)]
    x = noise((rows, d), row_gens)
    bar = _bar("prior", len(steps), progress)
    x = run(
        s.sampler,
        classifier_free(pair, s.guidance_prior),
        x,
        prior.denoiser.abar,
        steps,
        row_gens,
        eta=s.eta,
        callback=lambda *a: bar.update(1),
    )
    bar.close()
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
) -> Callable[[torch.Tensor, int], torch.Tensor]:
    """The decoder as ``denoise(x_t, t) -> x̂₀`` for n pictures: classifier-free guidance on
    the image embedding and caption (and ``s.guidance_text`` more on the caption alone), then
    the x̂₀ clipping of ``s.threshold``. ``known`` (1, 3, S, S) and ``keep`` (1, 1, S, S,
    1 = known) go to an inpainting decoder's extra channels, in every part of the guidance
    batch as GLIDE has it."""
    dec = models.decoder
    extra = {} if keep is None else dict(known=known, keep=keep)
    # the batch's parts: caption + embedding, negative prompt + null embedding, and with caption
    # guidance (guidance_text; not with the null embedding, nor when the caption is the negative
    # prompt, where the term is zero) negative prompt + embedding
    two = bool(s.guidance_text) and image_embed is not None and prompt != negative
    texts, drops = ([prompt, negative, negative], [False, True, False]) if two else ([prompt, negative], [False, True])
    ids, mask = (t.repeat_interleave(n, dim=0) for t in dec.tokenizer(texts))
    drop = torch.tensor(drops).repeat_interleave(n)

    if image_embed is None:  # caption only: the null embedding in both halves
        image_embed = torch.zeros(n, dec.model.config.clip_dim)
        drop = torch.ones(2 * n, dtype=torch.bool)
    emb = torch.cat([image_embed] * len(texts))

    def batch(x, t):
        tt = torch.full((len(x),), t, dtype=torch.long)
        return dec.denoiser(dec.model, x, tt, image_embed=emb, ids=ids, mask=mask, drop_image=drop, **extra)

    guided = (
        classifier_free_two(batch, s.guidance_decoder, s.guidance_text)
        if two
        else classifier_free(batch, s.guidance_decoder)
    )
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
) -> torch.Tensor:
    """Pictures (n, 3, S, S) in [-1, 1] from image embeddings and the caption."""
    dec, n = models.decoder, len(gens)
    size = dec.model.config.image_size
    f = decoder_denoise(models, prompt, negative, image_embed, n, s)
    steps = spaced_timesteps(dec.denoiser.T, s.steps, SPACING[s.sampler], dec.denoiser.abar)
    x = noise((n, 3, size, size), gens)
    bar = _bar("decoder", len(steps), progress)
    x = run(s.sampler, f, x, dec.denoiser.abar, steps, gens, eta=s.eta, callback=lambda *a: bar.update(1))
    bar.close()
    return x.clamp(-1, 1)


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


@torch.no_grad()
def upsample(
    stage: Stage, low: torch.Tensor, gens: Sequence[torch.Generator], s: Settings, progress: bool = False
) -> torch.Tensor:
    """The upsampler's picture of each low-res one, back-projected onto it
    (``s.upsampler_back_projection`` rounds): shrunk again, it is the picture it was given."""
    from ..unclip.upsampler import back_project

    n, size = len(low), stage.model.config.image_size
    call = upsampler_denoise(stage, low, gens, s)
    steps = spaced_timesteps(stage.denoiser.T, s.upsampler_steps, SPACING[s.sampler], stage.denoiser.abar)
    x = noise((n, 3, size, size), gens)
    bar = _bar(f"upsample {size}", len(steps), progress)
    x = run(s.sampler, call.denoise, x, stage.denoiser.abar, steps, gens, eta=s.eta, callback=lambda *a: bar.update(1))
    bar.close()
    return back_project(call.decode(x), low, s.upsampler_back_projection)


def to_images(x: torch.Tensor) -> list[Image.Image]:
    arr = ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
    return [Image.fromarray(a) for a in arr]


def settings_with(settings: Settings | None, overrides: dict, reranks: bool = True) -> Settings:
    """Settings with some fields replaced by name, checked. An operation that does not rerank
    (``reranks=False``: the edits but variations) refuses a rerank asked for and records rerank 1."""
    from dataclasses import replace

    settings = settings or Settings()
    bad = set(overrides) - set(Settings.__dataclass_fields__)
    if bad:
        raise PromptismError(f"unknown settings: {', '.join(sorted(bad))}")
    if not reranks:
        if overrides.get("rerank", 1) != 1:
            raise PromptismError("rerank applies to generate and vary only; the other edits draw one picture per seed")
        overrides = {**overrides, "rerank": 1}
    settings = replace(settings, **overrides)
    settings.check()
    return settings


def seeded(seed: int, n: int) -> tuple[list[int], list[torch.Generator]]:
    """Picture i's seed (seed + i) and its own generator."""
    seeds, _, gens = seeded_candidates(seed, n, 1)
    return seeds, gens


def seeded_candidates(seed: int, n: int, k: int) -> tuple[list[int], list[int], list[torch.Generator]]:
    """Picture i's seed (seed + i), and candidate-major the seed and own generator of each of the k
    candidates of every picture: candidate j of the picture seeded s is seeded s + j × CANDIDATE_STRIDE
    (mod 2**32), so candidate 0 is the picture itself."""
    seeds = [seed + i for i in range(n)]
    rows = [(sd + j * CANDIDATE_STRIDE) % 2**32 for j in range(k) for sd in seeds]
    return seeds, rows, [torch.Generator().manual_seed(sd) for sd in rows]


@lru_cache(maxsize=2)
def load_reranker(name: str):
    """The CLIP that reranks candidates (a shipped name, a folder or "hf:...") and its weights'
    sha256 (None for hf:), loaded once."""
    from ..clip import load as load_clip
    from ..clip import resolve as clip_folder
    from ..unclip.folders import weights_sha256

    return load_clip(name), None if name.startswith("hf:") else weights_sha256(clip_folder(name))


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
    emb = reranker.encode_image(to_images(x))
    score = (emb @ want[0] - (emb @ avoid[0] if avoid is not None else 0.0)).view(-1, n)  # (k, n)
    best = score.argmax(dim=0)  # the first on a tie
    rows = (best * n + torch.arange(n)).tolist()
    return x[rows], [gens[r] for r in rows], (best.tolist(), score.T.tolist())


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


def check_count(n, what: str = "n", most: int = MAX_PICTURES) -> int:
    if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= most:
        raise PromptismError(f"{what} must be a whole number from 1 to {most}, got {n!r}")
    return n


def check_seed(seed) -> int:
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < SEED_LIMIT:
        raise PromptismError(f"seed must be a whole number from 0 to {SEED_LIMIT - 1}, got {seed!r}")
    return seed


def check_fraction(v, what: str) -> float:
    if not isinstance(v, (int, float)) or isinstance(v, bool) or not 0.0 < v <= 1.0:
        raise PromptismError(f"{what} must be a number above 0 and at most 1, got {v!r}")
    return float(v)


def upsamplers_to(models: Models, size: int) -> list[Stage]:
    """The upsamplers that take the decoder's pictures to ``size``; an error if none reaches it."""
    if size not in SIZES:
        raise PromptismError(f"size must be one of {', '.join(map(str, SIZES))} (pixels per side), got {size!r}")
    stages_needed = [u for u in models.upsamplers if u.model.config.image_size <= size]
    if size < models.decoder.model.config.image_size or (
        size > models.decoder.model.config.image_size
        and (not stages_needed or stages_needed[-1].model.config.image_size != size)
    ):
        raise PromptismError(f"no upsampler reaches {size} px with these models")
    return stages_needed


def warn_unknown(models: Models, text: str) -> None:
    unknown = unknown_words(models.decoder, text)
    if unknown:
        warnings.warn(
            f"the models never saw these words in training, expect them to be ignored: {', '.join(unknown)}",
            stacklevel=3,
        )


def truncated(timesteps: list[int], strength: float, T: int) -> list[int]:
    """The part of a sampling path at or below strength × T (SDEdit's start; at least the last step)."""
    kept = [t for t in timesteps if t <= strength * (T - 1)]
    return kept or timesteps[-1:]


def generate(
    prompt: str,
    n: int = 4,
    seed: int = 0,
    size: int = 64,
    negative: str | None = None,
    settings: Settings | None = None,
    models: Models | None = None,
    progress: bool = False,
    callback: Callable[[str, float], None] | None = None,
    init=None,
    strength: float = IMG2IMG_STRENGTH,
    **overrides,
) -> Result:
    """n pictures of a prompt. ``overrides`` set Settings fields (steps=25, sampler="ddim", …).
    ``callback(stage, fraction)`` reports progress. Unknown words give a warning naming them.

    ``init`` (a picture: path, bytes or PIL image) starts the decoder from that picture noised to
    ``strength`` × the schedule instead of from pure noise (SDEdit, Meng et al. 2022): 1 keeps
    nothing of it, small values little else; about strength × steps steps run."""
    settings = settings_with(settings, overrides)
    prompt = _check_prompt(prompt)
    negative = _check_prompt(negative or "", "negative prompt")
    n, seed = check_count(n), check_seed(seed)
    if size not in SIZES:
        raise PromptismError(f"size must be one of {', '.join(map(str, SIZES))} (pixels per side), got {size!r}")
    source = None
    if init is not None:
        from .images import open_image, square, to_tensor

        strength = check_fraction(strength, "strength")
        source = open_image(init, "init image")
    models = models or load_models()
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
        if source is None:
            x = sample_decoder(models, prompt, negative, emb, row_gens, settings, progress)
        else:
            dec = models.decoder
            side = dec.model.config.image_size
            x0 = to_tensor([square(source.image, side)]).expand(m, -1, -1, -1)
            steps = truncated(
                spaced_timesteps(dec.denoiser.T, settings.steps, SPACING[settings.sampler], dec.denoiser.abar),
                strength,
                dec.denoiser.T,
            )
            x = dec.denoiser.add_noise(x0, torch.full((m,), steps[0]), noise(x0.shape, row_gens))
            f = decoder_denoise(models, prompt, negative, emb, m, settings)
            bar = _bar("decoder", len(steps), progress)
            x = run(
                settings.sampler,
                f,
                x,
                dec.denoiser.abar,
                steps,
                row_gens,
                eta=settings.eta,
                callback=lambda *a: bar.update(1),
            ).clamp(-1, 1)
            bar.close()
        if reranker is not None:
            want = reranker.encode_text([prompt])
            avoid = reranker.encode_text([negative]) if negative else None
        for up in stages_needed:
            if reranker is not None and chosen is None and x.shape[-1] >= reranker.image_size:
                x, row_gens, chosen = pick_candidates(reranker, x, row_gens, n, want, avoid)
            report(f"upsample {up.model.config.image_size}", 0.0)
            x = upsample(up, x, row_gens, settings, progress)
        if reranker is not None and chosen is None:
            x, row_gens, chosen = pick_candidates(reranker, x, row_gens, n, want, avoid)
    report("done", 1.0)
    from dataclasses import asdict

    base = {
        "generator": "unclip",
        "version": __version__,
        "operation": "generate",
        "prompt": prompt,
        "negative_prompt": negative,
        "size": size,
        "settings": asdict(settings),
        "models": models.describe(),
        "seconds": round(time.time() - t0, 3),
    }
    if source is not None:
        base.update(operation="img2img", source=source.describe(), strength=strength)
    meta = [{**base, "seed": sd, "index": i} for i, sd in enumerate(seeds)]
    if chosen is not None:
        note_reranking(meta, settings.rerank_clip, reranker_sha, chosen, rows)
    return Result(to_images(x), seeds, meta)
