"""Contrast captions: a prompt with one word of the Scene World's vocabulary changed ("a red plus"
-> "a blue plus", "a red star", …), so that guide can ask CLIP which caption the picture fits
best instead of only how near it is to the prompt.

Why: under the plain cosine loss CLIP is as content with a blob as with the plus it was asked
for, because a wrong shape of the right colour is nearly as near the prompt as the right one. A
cross-entropy over the prompt and its contrasts (CLIP used as a classifier over captions that
differ in one binding, as NegCLIP's hard negatives do in training, Yuksekgonul et al. 2023)
rewards only what tells the prompt apart from its neighbours.
"""

from __future__ import annotations

import re

from ..world import vocab
from ..world.captions import NOUNS, ParseError, parse
from ..world.negatives import fix_articles, negatives

MOST = 48  # contrast captions per prompt at most
_WORD = re.compile(r"[A-Za-z]+")
_SKY = re.compile(r"\bunder (?:a |the )?(?:blue )?sky\b", re.IGNORECASE)
_BACKGROUND = re.compile(r"\bon (?:a |the )?(white|black|gr[ae]y) background\b", re.IGNORECASE)
# a place in the picture flips to the opposite one ("on the left side" -> "on the right side");
# the same words in a relation ("to the left of a square", "on top of") are the relation kind of
# world.negatives, which flips the whole phrase
_POSITION_OPPOSITE = {"left": "right", "right": "left", "top": "bottom", "bottom": "top"}
_RELATION_TAIL = re.compile(r"\s+of\b(?! the (?:picture|image|canvas))", re.IGNORECASE)


def _options(word: str, rest: str) -> list[str]:
    """The words that may stand in ``word``'s place, given the ``rest`` of the prompt after it
    (none when it is not a vocabulary word)."""
    w = word.lower()
    nxt = _WORD.search(rest)
    following = nxt.group(0).lower() if nxt else ""
    if w in vocab.COLORS:
        return [] if following == "sky" else [c for c in vocab.COLORS if c != w]  # "a blue sky": a background
    if w in vocab.BACKGROUND_WORDS and following == "background":
        here = vocab.BACKGROUND_WORDS[w]
        return [b for b in vocab.BACKGROUNDS if b not in (here, "sky")]
    if w in NOUNS:
        shape, plural = NOUNS[w]
        return [vocab.noun_for(s, plural) for s in vocab.SHAPES if s != shape]
    if w in vocab.NUMBER_WORDS and vocab.NUMBER_WORDS[w] >= 2:
        n = vocab.NUMBER_WORDS[w]
        return [vocab.NUMBER_NAMES[k] for k in range(2, vocab.MAX_COUNT + 1) if k != n]
    if w in _POSITION_OPPOSITE and not _RELATION_TAIL.match(rest):
        return [_POSITION_OPPOSITE[w]]
    return []


def contrasts(text: str, most: int = MOST, colours_only: bool = False) -> list[str]:
    """The prompt with one vocabulary word changed, every way (in the order of the words, at most
    ``most``); none for a prompt that names nothing of the vocabulary. ``colours_only``: only the
    captions that change a colour or the background (two objects' colours exchanged among them)."""
    out: list[str] = []

    def add(caption: str) -> None:
        caption = fix_articles(caption)
        if caption != text and caption not in out:
            out.append(caption)

    try:  # two objects' colours exchanged, and a relation reversed, where the prompt states them
        kinds = ("swap_colors",) if colours_only else ("swap_colors", "relation")
        for caption in negatives(text, parse(text), kinds=kinds).values():
            add(caption)
    except ParseError:
        pass
    for m in _SKY.finditer(text):  # the sky for a plain background, and the other way round
        for b in ("white", "black", "gray"):
            add(f"{text[: m.start()]}on a {b} background{text[m.end() :]}")
    for m in _BACKGROUND.finditer(text):
        add(f"{text[: m.start()]}under a blue sky{text[m.end() :]}")
    for m in _WORD.finditer(text):
        word = m.group(0).lower()
        if colours_only and word not in vocab.COLORS and word not in vocab.BACKGROUND_WORDS:
            continue
        for new in _options(m.group(0), text[m.end() :]):
            add(text[: m.start()] + new + text[m.end() :])
    return out[:most]
