"""What every pipeline shares: results, argument checks, seeded generators, progress bars that
also report to the server's step hook, and sampling a diffusion stage with one.

Each picture gets its own seeded generator (``seeded``), so a picture is the same whatever the
batch; ``sample`` runs a sampler over spaced timesteps with a progress bar."""

from __future__ import annotations

import contextvars
import time
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from PIL import Image

from ..diffusion import run, spaced_timesteps
from ..diffusion.samplers import SPACING
from ..errors import PromptismError
from ..responsible.policy import active_policy
from .settings import CANDIDATE_STRIDE, MAX_PICTURES, MAX_PROMPT_CHARS, SEED_LIMIT, Settings


@dataclass
class Result:
    images: list[Image.Image]
    seeds: list[int]
    metadata: list[dict]


def check_prompt(prompt: str, what: str = "prompt") -> str:
    if not isinstance(prompt, str):
        raise PromptismError(f"the {what} must be text, got {type(prompt).__name__}")
    if what == "prompt" and not prompt.strip():
        raise PromptismError('the prompt is empty: say what to draw, e.g. "a red circle above a blue square"')
    if len(prompt) > MAX_PROMPT_CHARS:
        raise PromptismError(f"the {what} has {len(prompt)} characters; at most {MAX_PROMPT_CHARS} are accepted")
    active_policy().enforce(prompt)
    return prompt.strip()


# a function called after every sampling step of every stage as hook(stage, done, total, x0): the
# server's live progress and step previews (x0: the stage's current estimate of its clean result,
# or None), and its way to stop a job (the hook raises). Set with step_hook().
StepHook = Callable[[str, int, int, "torch.Tensor | None"], None]
_STEP_HOOK: contextvars.ContextVar[StepHook | None] = contextvars.ContextVar("promptism_step_hook", default=None)


@contextmanager
def step_hook(fn: StepHook):
    """Call fn(stage, done, total, x0) after each sampling step run in this context (this thread)."""
    token = _STEP_HOOK.set(fn)
    try:
        yield
    finally:
        _STEP_HOOK.reset(token)


class Bar:
    """A progress bar (tqdm, when enabled) that also reports to the step hook."""

    def __init__(self, desc: str, total: int, enabled: bool):
        from tqdm.auto import tqdm

        self.desc, self.total, self.done = desc, total, 0
        self.bar = tqdm(total=total, desc=desc, disable=not enabled, leave=False, unit="step")
        self.hook = _STEP_HOOK.get()

    def update(self, k: int = 1, x0: torch.Tensor | None = None) -> None:
        self.done += k
        self.bar.update(k)
        if self.hook is not None:
            self.hook(self.desc, self.done, self.total, x0)

    def close(self) -> None:
        self.bar.close()


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


def truncated(timesteps: list[int], strength: float, T: int) -> list[int]:
    """The part of a sampling path at or below strength × T (SDEdit's start; at least the last step)."""
    kept = [t for t in timesteps if t <= strength * (T - 1)]
    return kept or timesteps[-1:]


def sampling_path(denoiser, steps: int, sampler: str) -> list[int]:
    """A stage's sampling path: ``steps`` timesteps spaced as ``sampler`` wants them."""
    return spaced_timesteps(denoiser.T, steps, SPACING[sampler], denoiser.abar)


@contextmanager
def progress_bar(desc: str, total: int, enabled: bool):
    """A progress bar over a stage's steps, closed however the stage ends; yields the callback a
    sampler calls after each step."""
    bar = Bar(desc, total, enabled)
    try:
        yield lambda i, n, x0=None: bar.update(1, x0)
    finally:
        bar.close()


def sample(
    desc: str,
    sampler: str,
    denoise,
    x: torch.Tensor,
    abar: torch.Tensor,
    steps: list[int],
    gens: Sequence[torch.Generator],
    eta: float,
    progress: bool,
    select=None,
    watch=None,
) -> torch.Tensor:
    """``x`` sampled along ``steps`` with a progress bar named ``desc`` (``select``: the samplers'
    hook that narrows the batch mid-way; ``watch(i, x, x̂₀)``: called after every step, as the bar)."""
    with progress_bar(desc, len(steps), progress) as tick:

        def both(i, x, x0):
            tick(i, x, x0)
            watch(i, x, x0)

        callback = tick if watch is None else both
        return run(sampler, denoise, x, abar, steps, gens, eta=eta, callback=callback, select=select)


def picture_metadata(
    operation: str, models, s: Settings, size: int, t0: float, generator: str = "unclip", **fields
) -> dict:
    """The provenance every picture of an operation carries: the generator and operation, its
    fields, the size, the settings, the models and the seconds it took."""
    from dataclasses import asdict

    from .. import __version__

    return {
        "generator": generator,
        "version": __version__,
        "operation": operation,
        **fields,
        "size": size,
        "settings": asdict(s),
        "models": models.describe(),
        "seconds": round(time.time() - t0, 3),
    }
