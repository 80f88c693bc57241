"""Weighted prompts, as VQGAN+CLIP's users write them: ``"a red star | a yellow star:-1"`` is two
prompts, the second pushed away; a picture may be a prompt too (``star.png:0.5``)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import PromptismError


@dataclass(frozen=True)
class Prompt:
    text: str  # a caption, or a picture's path for an image prompt
    weight: float = 1.0


def _weighted(item: str, what: str) -> Prompt:
    """``text[:weight]``: a weight is what follows the last colon, when there is one."""
    item = item.strip()
    text, weight = item, 1.0
    if ":" in item:
        head, tail = item.rsplit(":", 1)
        try:
            weight = float(tail)
        except ValueError:
            raise PromptismError(f"the weight of {what} {head.strip()!r} is not a number: {tail.strip()!r}") from None
        text = head.strip()
        if not math.isfinite(weight):
            raise PromptismError(f"the weight of {what} {text!r} must be a finite number, got {tail.strip()!r}")
    if not text:
        raise PromptismError(f"{what} {item!r} has no text before its weight")
    return Prompt(text, weight)


def parse_prompts(spec: str) -> list[Prompt]:
    """``"a | b:0.5 | c:-1"`` -> three weighted prompts (an empty spec: none)."""
    if not isinstance(spec, str):
        raise PromptismError(f"prompts must be text, got {type(spec).__name__}")
    if not spec.strip():
        return []
    parts = spec.split("|")
    if any(not p.strip() for p in parts):
        raise PromptismError(f"an empty prompt between '|' in {spec!r}")
    return [_weighted(p, "prompt") for p in parts]


def parse_image_prompt(spec: str) -> Prompt:
    """``PICTURE[:weight]`` -> a weighted image prompt (the path is checked when it is read)."""
    return _weighted(spec, "image prompt")


def check_weights(prompts: list[Prompt], images: list[Prompt]) -> None:
    """At least one prompt to move towards: negative weights alone only push away."""
    if not prompts and not images:
        raise PromptismError("give a prompt (or an image prompt) to guide the picture towards")
    if not any(p.weight > 0 for p in [*prompts, *images]):
        raise PromptismError("every prompt has a weight of 0 or less: give at least one positive weight")
