"""Writing code grids with the mini transformer: classifier-free guidance on the logits (min-dalle's
"supercondition factor", DALL·E mini's ``cond_scale``), temperature, top-k and top-p (nucleus)
filtering, and one seeded generator per picture, so that a picture depends on its seed alone."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from ..errors import PromptismError

RowHook = Callable[[int, torch.Tensor], None]  # (rows written, codes so far (B, rows*grid))


def check_sampling(temperature, top_k, top_p, cond_scale) -> None:
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not 0 < temperature <= 10:
        raise PromptismError(f"temperature must be a number above 0 and at most 10, got {temperature!r}")
    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 0:
        raise PromptismError(f"top_k must be a whole number, 0 (no limit) or more, got {top_k!r}")
    if isinstance(top_p, bool) or not isinstance(top_p, (int, float)) or not 0 < top_p <= 1:
        raise PromptismError(f"top_p must be a number above 0 and at most 1, got {top_p!r}")
    if isinstance(cond_scale, bool) or not isinstance(cond_scale, (int, float)) or not 0 <= cond_scale <= 100:
        raise PromptismError(f"cond_scale must be a number from 0 to 100, got {cond_scale!r}")


def filtered(logits: torch.Tensor, temperature: float, top_k: int, top_p: float) -> torch.Tensor:
    """Log-probabilities (B, V) after temperature, keeping the top_k most likely codes (0: all) and
    the smallest set whose probability reaches top_p (1: all); the rest get -inf."""
    logits = logits / temperature
    if top_k and top_k < logits.shape[-1]:
        kth = logits.topk(top_k, dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p < 1:
        sorted_logits, order = logits.sort(dim=-1, descending=True)
        probs = sorted_logits.softmax(-1)
        # a code is dropped when the codes more likely than it already reach top_p (the first is always kept)
        drop = probs.cumsum(-1) - probs >= top_p
        logits = logits.masked_fill(torch.zeros_like(drop).scatter(-1, order, drop), float("-inf"))
    return logits.log_softmax(-1)


def guided(cond: torch.Tensor, uncond: torch.Tensor | None, scale: float) -> torch.Tensor:
    """Classifier-free guidance on log-probabilities: uncond + scale × (cond − uncond)."""
    cond = cond.log_softmax(-1)
    if uncond is None:
        return cond
    uncond = uncond.log_softmax(-1)
    return uncond + scale * (cond - uncond)


def _draw(logp: torch.Tensor, gens: Sequence[torch.Generator]) -> torch.Tensor:
    probs = logp.exp()
    return torch.cat([torch.multinomial(probs[i], 1, generator=g) for i, g in enumerate(gens)])


@torch.no_grad()
def sample_codes(
    model,
    text: torch.Tensor,
    null: torch.Tensor | None,
    gens: Sequence[torch.Generator],
    temperature: float = 1.0,
    top_k: int = 0,
    top_p: float = 1.0,
    cond_scale: float = 1.0,
    prefix: torch.Tensor | None = None,
    on_row: RowHook | None = None,
    cache: bool = True,
) -> torch.Tensor:
    """Codes (B, N) for captions ``text`` (B, context): B = len(gens), each picture drawn from its
    own generator. ``null``: the unconditional caption's tokens (B, context) for guidance (None:
    none); ``prefix`` (B, P): known first codes (image-prefix completion); ``on_row`` is called
    after each completed row; ``cache=False`` runs the whole sequence for every code (slow: for
    measuring what the cache saves)."""
    b, n, g = text.shape[0], model.cfg.codes, model.cfg.grid
    if len(gens) != b:
        raise ValueError(f"{len(gens)} generators for {b} captions")
    guide = null is not None and cond_scale != 1.0
    both = torch.cat([text, null]) if guide else text
    codes = prefix.clone() if prefix is not None else text.new_zeros((b, 0))
    start = codes.shape[1]
    if start >= n:
        return codes[:, :n]

    def pick(logits: torch.Tensor) -> torch.Tensor:
        logp = guided(logits[:b], logits[b:] if guide else None, cond_scale)
        return _draw(filtered(logp, temperature, top_k, top_p), gens)

    caches = None
    for pos in range(start, n):
        if not cache:
            known = torch.cat([codes, codes]) if guide else codes
            logits = model.step_uncached(both, known)
        elif caches is None:
            known = (torch.cat([codes, codes]) if guide else codes) if start else None
            logits, caches = model.start(both, known)
        else:
            last = codes[:, -1]
            logits = model.step(torch.cat([last, last]) if guide else last, pos - 1, caches)
        codes = torch.cat([codes, pick(logits)[:, None]], 1)
        if on_row is not None and (pos + 1) % g == 0:
            on_row((pos + 1) // g, codes)
    return codes
