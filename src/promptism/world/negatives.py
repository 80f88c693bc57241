"""Composition-aware hard negatives: a caption edited so it no longer fits its picture.

Each edit changes one binding and nothing else (Yuksekgonul et al. 2023, NegCLIP):
``swap_colors`` swaps the colours of two objects of different shapes ("a red circle above a
blue square" -> "a blue circle above a red square"); ``relation`` reverses the relation;
``count`` changes a number by one; ``shape`` names a shape the picture does not hold;
``color`` recolours a lone object. An edit is offered
only where it really makes the caption false of the picture.
"""

from __future__ import annotations

import re

import numpy as np

from . import vocab
from .captions import NOUNS, RELATION_PHRASES, parse
from .constraints import Constraints

OPPOSITE = {"above": "below", "below": "above", "left of": "right of", "right of": "left of"}
KINDS = ("swap_colors", "relation", "count", "shape", "color")
_COLOR_RE = re.compile(r"\b(" + "|".join(vocab.COLORS) + r")\b(?! sky)")  # "a blue sky" is a background
_PHRASE_TO_REL = {p: rel for rel, ps in RELATION_PHRASES.items() for p in ps}
_REL_RE = re.compile(r"\b(" + "|".join(sorted(map(re.escape, _PHRASE_TO_REL), key=len, reverse=True)) + r")\b(?! the (?:picture|image|canvas))")
_NUM_RE = re.compile(r"\b(two|three|four)\b")
_NOUN_RE = re.compile(r"\b(" + "|".join(sorted(NOUNS, key=len, reverse=True)) + r")\b")


def negatives(caption: str, stated: Constraints) -> dict[str, str]:
    """Every applicable hard negative of a caption, by kind."""
    out: dict[str, str] = {}
    colored = [o for o in stated.objects if o.color]
    pairs = [(a, b) for i, a in enumerate(colored) for b in colored[i + 1:] if a.color != b.color and a.shape != b.shape]
    if pairs:
        a, b = pairs[0]
        out["swap_colors"] = _COLOR_RE.sub(lambda m: {a.color: b.color, b.color: a.color}.get(m.group(1), m.group(1)), caption)
    if stated.relations:
        m = _REL_RE.search(caption)
        if m:
            flipped = RELATION_PHRASES[OPPOSITE[_PHRASE_TO_REL[m.group(1)]]][0]
            out["relation"] = caption[: m.start()] + flipped + caption[m.end():]
    m = _NUM_RE.search(caption)
    if m and any(o.exact and o.count >= 2 for o in stated.objects):
        n = vocab.NUMBER_WORDS[m.group(1)]
        new = n + 1 if n < vocab.MAX_COUNT else n - 1
        out["count"] = caption[: m.start()] + vocab.NUMBER_NAMES[new] + caption[m.end():]
    m = _NOUN_RE.search(caption)
    if m:  # the first shape noun becomes a shape the caption does not name at all
        shape, plural = NOUNS[m.group(1)]
        spec = next((o for o in stated.objects if o.shape == shape), None)
        named = {o.shape for o in stated.objects}
        options = [s for s in vocab.SHAPES if s not in named and not vocab.is_held_out(spec.color if spec else None, s)]
        if options:
            new_shape = options[(sum(map(ord, caption)) + 3) % len(options)]
            out["shape"] = caption[: m.start()] + vocab.noun_for(new_shape, plural) + caption[m.end():]
    if len(colored) == 1 and len({o.shape for o in stated.objects}) == len(stated.objects):
        old, shape = colored[0].color, colored[0].shape
        others = [c for c in vocab.COLORS if c != old and not vocab.is_held_out(c, shape)]
        new = others[(sum(map(ord, caption)) + len(caption)) % len(others)]
        out["color"] = _COLOR_RE.sub(lambda m: new if m.group(1) == old else m.group(1), caption)
    # a negative is training text too: it must never bring in a held-out composition (a probe
    # caption that already names one, from the held-out suite, keeps it)
    allowed = {p for p in stated.pairs() if vocab.is_held_out(*p)}
    return {k: v for k, v in out.items()
            if v != caption and not {p for p in parse(v).pairs() if vocab.is_held_out(*p)} - allowed}


def pick_negative(caption: str, stated: Constraints, rng: np.random.Generator) -> str | None:
    """One hard negative of a caption, its kind drawn at random among those that apply."""
    options = negatives(caption, stated)
    if not options:
        return None
    kinds = sorted(options)
    return options[kinds[int(rng.integers(len(kinds)))]]
