"""Captions of the Scene World: templates that describe a scene, and the parser that reads
a caption back into the constraints it states.

The two share one phrase table, so every phrase a template can write is one the parser
reads; the round-trip (plan -> caption -> parse == what the caption states) is tested over
thousands of random scenes. The parser also reads free-form prompts built from the same
words ("a photo of a purple star", "three squares on a grey background") and names every
word it does not understand.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

import numpy as np

from ..errors import PromptismError
from . import vocab
from .constraints import Constraints, ObjectSpec, Relation


class ParseError(PromptismError):
    """A caption the world cannot read. ``unknown`` lists the words it does not know."""

    def __init__(self, message: str, unknown: list[str] | None = None):
        super().__init__(message)
        self.unknown = unknown or []


# --------------------------------------------------------------------------------------------
# the phrase table: every multi-word phrase, as a token tuple -> (kind, value)
# --------------------------------------------------------------------------------------------
RELATION_PHRASES: dict[str, tuple[str, ...]] = {
    "above": ("above", "over", "on top of"),
    "below": ("below", "under", "beneath", "underneath"),
    "left of": ("to the left of", "left of", "on the left of"),
    "right of": ("to the right of", "right of", "on the right of"),
}
POSITION_WORDS: dict[str, tuple[str, ...]] = {
    "left": ("left", "left side"),
    "right": ("right", "right side"),
    "top": ("top",),
    "bottom": ("bottom",),
    "center": ("center", "centre", "middle"),
    "top left": ("top left", "upper left", "top left corner", "upper left corner"),
    "top right": ("top right", "upper right", "top right corner", "upper right corner"),
    "bottom left": ("bottom left", "lower left", "bottom left corner", "lower left corner"),
    "bottom right": ("bottom right", "lower right", "bottom right corner", "lower right corner"),
}
POSITION_PREPS = ("on the", "at the", "in the")
POSITION_TAILS = ("", "of the picture", "of the image", "of the canvas")
STYLE_PHRASES: dict[str, tuple[str, ...]] = {
    "flat": ("flat",),
    "outline": ("outline", "outlined", "line drawing", "sketch"),
    "pixel": ("pixel art",),
    "neon": ("neon", "glowing"),
}
SKY_PHRASES = (
    "under a blue sky",
    "under a clear sky",
    "under the sky",
    "in the sky",
    "against the sky",
    "against a blue sky",
)
FILLERS = frozenset(
    "picture photo photograph image illustration drawing sign of there is are drawn in with style".split()
)
CONJUNCTIONS = frozenset({"and", "with"})
ARTICLES = frozenset({"a", "an", "the"})
TOO_MANY = {"five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10, "many": 0, "several": 0}


def _background_phrases() -> dict[tuple[str, ...], str]:
    out: dict[tuple[str, ...], str] = {}
    for word, bg in vocab.BACKGROUND_WORDS.items():
        for prep in ("on", "against", "with", "over", "in front of"):
            for det in ("", "a", "an", "the"):
                for noun in ("background", "backdrop"):
                    out[tuple(f"{prep} {det} {word} {noun}".split())] = bg
        out[(word, "background")] = bg
        if bg != "sky":
            out[("on", word)] = bg  # "three stars on black"
    for phrase in SKY_PHRASES:
        out[tuple(phrase.split())] = "sky"
    return out


def _phrase_table() -> dict[tuple[str, ...], tuple[str, object]]:
    table: dict[tuple[str, ...], tuple[str, object]] = {}
    for rel, phrases in RELATION_PHRASES.items():
        for p in phrases:
            table[tuple(p.split())] = ("rel", rel)
    for pos, words in POSITION_WORDS.items():
        for w in words:
            for prep in POSITION_PREPS:
                for tail in POSITION_TAILS:
                    table[tuple(f"{prep} {w} {tail}".split())] = ("pos", pos)
            if w.endswith("corner"):
                table[tuple(w.split())] = ("pos", pos)  # "a red star, upper left corner"
    for style, phrases in STYLE_PHRASES.items():
        for p in phrases:
            table[tuple(p.split())] = ("style", style)
    for phrase, bg in _background_phrases().items():
        table[phrase] = ("bg", bg)
    table[("medium", "sized")] = ("size", "medium")
    return table


PHRASES = _phrase_table()
MAX_PHRASE = max(len(k) for k in PHRASES)
NOUNS: dict[str, tuple[str, bool]] = {}  # word -> (shape, plural)
for _shape, _words in vocab.SHAPE_SYNONYMS.items():
    for _w in _words:
        NOUNS[_w] = (_shape, False)
        NOUNS[vocab.PLURALS[_w]] = (_shape, True)
NOUNS["rhombi"] = ("diamond", True)


@dataclass
class _Token:
    kind: str  # det num size color shape rel pos bg style and filler bgword unknown
    value: object
    text: str


def tokenize(caption: str) -> list[_Token]:
    """Lower-case, split and match the phrase table (longest phrase first)."""
    words = re.sub(r"[-_/]", " ", caption.lower())
    words = re.sub(r"[,.;:!?\"()]", " ", words).split()
    tokens: list[_Token] = []
    i = 0
    while i < len(words):
        for n in range(min(MAX_PHRASE, len(words) - i), 1, -1):
            hit = PHRASES.get(tuple(words[i : i + n]))
            if hit:
                tokens.append(_Token(hit[0], hit[1], " ".join(words[i : i + n])))
                i += n
                break
        else:
            tokens.append(_word_token(words[i]))
            i += 1
    return tokens


def _word_token(w: str) -> _Token:
    if (w,) in PHRASES:
        kind, value = PHRASES[(w,)]
        return _Token(kind, value, w)
    if w in ARTICLES:
        return _Token("det", w, w)
    if w in vocab.NUMBER_WORDS:
        return _Token("num", vocab.NUMBER_WORDS[w], w)
    if w.isdigit():
        return _Token("num", int(w), w)
    if w in TOO_MANY:
        return _Token("num", TOO_MANY[w], w)
    if w in vocab.SIZE_WORDS:
        return _Token("size", vocab.SIZE_WORDS[w], w)
    if w in vocab.COLORS:
        return _Token("color", w, w)
    if w in NOUNS:
        return _Token("shape", NOUNS[w], w)
    if w in vocab.BACKGROUND_WORDS:
        return _Token("bgword", vocab.BACKGROUND_WORDS[w], w)
    if w in CONJUNCTIONS:
        return _Token("and", w, w)
    if w in FILLERS:
        return _Token("filler", w, w)
    return _Token("unknown", w, w)


def parse(caption: str) -> Constraints:
    """Read a caption into the constraints it states. Raises ParseError with a clear message."""
    if not isinstance(caption, str) or not caption.strip():
        raise ParseError("the caption is empty")
    tokens = tokenize(caption)
    unknown = [t.text for t in tokens if t.kind == "unknown"]
    if unknown:
        raise ParseError(
            f"unknown word{'s' if len(unknown) > 1 else ''}: {', '.join(repr(u) for u in unknown)}. "
            f"The Scene World knows the shapes {', '.join(vocab.SHAPES)}, the colours "
            f"{', '.join(vocab.COLORS)}, sizes, counts up to {vocab.MAX_COUNT}, positions, relations, "
            "backgrounds and styles (see `promptism world vocab`).",
            unknown,
        )
    return _Parser(caption).run(tokens)


class _Parser:
    def __init__(self, caption: str):
        self.caption = caption
        self.objects: list[ObjectSpec] = []
        self.relations: list[Relation] = []
        self.background: str | None = None
        self.style: str | None = None
        self.pending: dict = {}
        self.pending_rel: str | None = None

    def fail(self, msg: str) -> None:
        raise ParseError(f"{msg} (in {self.caption!r})")

    def run(self, tokens: list[_Token]) -> Constraints:
        for t in tokens:
            getattr(self, f"on_{t.kind}")(t)
        if self.pending:
            words = " ".join(self.pending.get("words", []))
            self.fail(f"expected a shape after {words!r}")
        if self.pending_rel:
            self.fail(f"expected an object after {self.pending_rel!r}")
        if not self.objects:
            self.fail("the caption names no shape")
        if self.style == "neon" and self.background not in (None, "black"):
            self.fail("neon pictures always have a black background")
        return Constraints(tuple(self.objects), tuple(self.relations), self.background, self.style)

    # --- noun phrases ------------------------------------------------------------------------
    def _adj(self, key: str, t: _Token) -> None:
        if key in self.pending and self.pending[key] != t.value:
            self.fail(f"one object cannot be both {self.pending[key]} and {t.value}")
        self.pending[key] = t.value
        self.pending.setdefault("words", []).append(t.text)

    def on_det(self, t: _Token) -> None:
        if self.pending:
            self.fail(f"expected a shape before {t.text!r}")
        self.pending = {"det": t.text, "words": [t.text]}

    def on_num(self, t: _Token) -> None:
        if not 1 <= t.value <= vocab.MAX_COUNT:
            self.fail(f"the Scene World draws 1 to {vocab.MAX_COUNT} copies of a shape, not {t.text!r}")
        if "num" in self.pending:
            self.fail(f"two numbers for one object: {t.text!r}")
        self.pending.pop("det", None)
        self._adj("num", t)

    def on_size(self, t: _Token) -> None:
        self._adj("size", t)

    def on_color(self, t: _Token) -> None:
        self._adj("color", t)

    def on_bgword(self, t: _Token) -> None:
        self.fail(
            f"{t.text!r} is a background colour; say e.g. 'on a {t.text} background'. "
            f"Objects are {', '.join(vocab.COLORS)}"
        )

    def on_shape(self, t: _Token) -> None:
        shape, plural = t.value
        p = self.pending
        count = p.get("num", 2 if plural else 1)
        exact = "num" in p
        spec = ObjectSpec(shape=shape, color=p.get("color"), size=p.get("size"), count=count, exact=exact)
        self.objects.append(spec)
        self.pending = {}
        if self.pending_rel:
            self.relations.append(Relation(len(self.objects) - 2, self.pending_rel, len(self.objects) - 1))
            self.pending_rel = None

    def on_pos(self, t: _Token) -> None:
        if self.pending or not self.objects:
            self.fail(f"{t.text!r} must follow the object it places")
        last = self.objects[-1]
        if last.position and last.position != t.value:
            self.fail(f"two positions for one object: {last.position} and {t.value}")
        self.objects[-1] = replace(last, position=t.value)

    def on_rel(self, t: _Token) -> None:
        if self.pending or not self.objects:
            self.fail(f"{t.text!r} must stand between two objects")
        if self.pending_rel:
            self.fail(f"two relations in a row: {self.pending_rel!r} and {t.text!r}")
        self.pending_rel = t.value

    # --- words that apply to the whole picture ------------------------------------------------
    def _drop_lone_article(self, t: _Token) -> None:
        # "a photo of ...", "a pixel art picture of ...": the article belongs to the picture
        if self.pending and set(self.pending) <= {"det", "words"}:
            self.pending = {}
        elif self.pending and t.kind not in ("style",):
            words = " ".join(self.pending.get("words", []))
            self.fail(f"expected a shape after {words!r}, found {t.text!r}")

    def on_style(self, t: _Token) -> None:
        if self.style and self.style != t.value:
            self.fail(f"two styles: {self.style} and {t.value}")
        self.style = t.value
        self._drop_lone_article(t)

    def on_bg(self, t: _Token) -> None:
        if self.background and self.background != t.value:
            self.fail(f"two backgrounds: {self.background} and {t.value}")
        self.background = t.value
        self._drop_lone_article(t)

    def on_filler(self, t: _Token) -> None:
        self._drop_lone_article(t)

    def on_and(self, t: _Token) -> None:
        if self.pending:
            self.fail(f"expected a shape before {t.text!r}")
        if self.pending_rel:
            self.fail(f"expected an object after {self.pending_rel!r}")


# --------------------------------------------------------------------------------------------
# templates: describe a plan (the full constraints a scene was laid out from)
# --------------------------------------------------------------------------------------------
POSITION_TEXTS: dict[str, tuple[str, ...]] = {
    "left": ("on the left", "at the left", "on the left side"),
    "right": ("on the right", "at the right", "on the right side"),
    "top": ("at the top", "at the top of the picture"),
    "bottom": ("at the bottom", "at the bottom of the image"),
    "center": ("in the center", "in the middle", "in the centre"),
}
for _pos in ("top left", "top right", "bottom left", "bottom right"):
    _v, _h = _pos.split()
    _up = {"top": "upper", "bottom": "lower"}[_v]
    POSITION_TEXTS[_pos] = (f"in the {_pos} corner", f"at the {_pos}", f"in the {_up} {_h} corner")
STYLE_PREFIX = {
    "flat": ("", "", "", "a picture of ", "a photo of ", "an image of ", "a flat picture of "),
    "outline": ("an outline of ", "a line drawing of ", "a sketch of ", "an outlined "),
    "pixel": ("a pixel art picture of ", "pixel art of ", "a pixel art image of "),
    "neon": ("a neon picture of ", "a glowing ", "a neon sign of "),
}
STYLE_SUFFIX = {
    "outline": (", line drawing", " in outline", ", sketch"),
    "pixel": (", pixel art", " in pixel art style"),
    "neon": (", neon", " glowing in neon"),
}
BACKGROUND_TEXTS = {
    "white": ("on a white background", "on white"),
    "black": ("on a black background", "on black", "against a black background"),
    "gray": ("on a gray background", "on a grey background", "on gray"),
    "sky": ("under a blue sky", "on a sky background", "against the sky"),
}
SIZE_TEXTS = {"small": ("small", "little", "tiny"), "medium": ("medium", "medium-sized"), "large": ("large", "big")}


def _pick(rng: np.random.Generator, options):
    return options[int(rng.integers(len(options)))]


def _article(next_word: str) -> str:
    return "an" if next_word[0] in "aeiou" else "a"


def describe(plan: Constraints, rng: np.random.Generator) -> tuple[str, Constraints]:
    """Write a caption for a plan; return it with exactly the constraints it states.

    The plan gives every attribute; the caption may leave some out (a colour, a size, the
    background), so what it states is a subset of the plan and always true of the scene.
    A group's colour is always stated when another group has the same shape, so that an
    exact count never covers another group's objects.
    """
    shapes = [o.shape for o in plan.objects]
    stated: list[ObjectSpec] = []
    phrases: list[str] = []
    for spec in plan.objects:
        shared = shapes.count(spec.shape) > 1
        color = spec.color if (shared or rng.random() < 0.92) else None
        p_size = 0.15 if spec.size == vocab.DEFAULT_SIZE else 0.6
        size = spec.size if (spec.size and rng.random() < p_size) else None
        exact = spec.count > 1 or rng.random() < 0.12
        words = [_pick(rng, SIZE_TEXTS[size])] if size else []
        if color:
            words.append(color)
        words.append(vocab.noun_for(spec.shape, plural=spec.count > 1, synonym=int(rng.integers(3))))
        det = vocab.NUMBER_NAMES[spec.count] if exact else _article(words[0])
        text = f"{det} {' '.join(words)}"
        if spec.position:
            text += " " + _pick(rng, POSITION_TEXTS[spec.position])
        phrases.append(text)
        stated.append(ObjectSpec(spec.shape, color, size, spec.count, exact, spec.position))
    if plan.relations:
        (rel,) = plan.relations
        body = f"{phrases[rel.a]} {_pick(rng, RELATION_PHRASES[rel.relation])} {phrases[rel.b]}"
        order = [rel.a, rel.b]
        stated = [stated[i] for i in order]
        relations = (Relation(0, rel.relation, 1),)
    elif len(phrases) == 1:
        body = phrases[0]
        relations = ()
    else:
        joiner = _pick(rng, (" and ", " and ", " with "))
        body = ", ".join(phrases[:-1]) + joiner + phrases[-1]
        relations = ()

    style = plan.style or "flat"
    stated_style = None
    if style != "flat" and rng.random() < 0.92:
        stated_style = style
        if rng.random() < 0.7:
            prefix = _pick(rng, STYLE_PREFIX[style])
            body = prefix + (_strip_article(body) if prefix.endswith(("glowing ", "outlined ")) else body)
        else:
            body += _pick(rng, STYLE_SUFFIX[style])
    elif style == "flat":
        body = _pick(rng, STYLE_PREFIX["flat"]) + body
        stated_style = "flat" if body.startswith("a flat ") else None

    background = plan.background or "white"
    p_bg = 0.2 if background == "white" else (0.3 if style == "neon" else 0.85)
    stated_bg = None
    if rng.random() < p_bg:
        bg_text = _pick(rng, BACKGROUND_TEXTS[background])
        stated_bg = background
        if stated_style and not body.startswith(tuple(p for p in STYLE_PREFIX[style] if p)):
            # a style suffix came last: put the background before it
            for suffix in STYLE_SUFFIX.get(style, ()):
                if body.endswith(suffix):
                    body = body[: -len(suffix)] + " " + bg_text + suffix
                    break
        else:
            body += " " + bg_text
    return body, Constraints(tuple(stated), relations, stated_bg, stated_style)


def _strip_article(body: str) -> str:
    """'a red circle and ...' -> 'red circle and ...' (after 'a glowing ')."""
    first, _, rest = body.partition(" ")
    return rest if first in ("a", "an") else body


__all__ = ["ParseError", "describe", "parse", "tokenize"]
