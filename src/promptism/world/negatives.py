"""Composition-aware hard negatives: a caption edited so it no longer fits its picture.

Each edit changes one binding and nothing else (Yuksekgonul et al. 2023, NegCLIP):
``swap_colors`` swaps the colours of two objects of different shapes ("a red circle above a
blue square" -> "a blue circle above a red square"); ``relation`` reverses the relation;
``count`` changes a number by one; ``shape`` names a shape the picture does not hold;
``color`` recolours a lone object. An edit is offered
only where it really makes the caption false of the picture.

``counterfactual`` goes one step further where the world's scene record allows: it edits the
scene the same way (recolours the two objects, exchanges the two related objects, adds a copy
of a counted object or takes one away) and returns the edited picture's scene with the edited
caption, a true pair that differs from the original only in the binding: side by side, the two
pairs can be told apart only by binding colour to shape, object to place and number to noun.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import replace

import numpy as np

from . import vocab
from .captions import NOUNS, RELATION_PHRASES, ParseError, parse
from .constraints import LAYOUT_GAP, Constraints, matches, random_spots, scene_constraints_hold
from .scene import Obj, Scene, SceneError, apart

OPPOSITE = {"above": "below", "below": "above", "left of": "right of", "right of": "left of"}
KINDS = ("swap_colors", "relation", "count", "shape", "color")
_COLOR_RE = re.compile(r"\b(" + "|".join(vocab.COLORS) + r")\b(?! sky)")  # "a blue sky" is a background
_PHRASE_TO_REL = {p: rel for rel, ps in RELATION_PHRASES.items() for p in ps}
_REL_RE = re.compile(
    r"\b("
    + "|".join(sorted(map(re.escape, _PHRASE_TO_REL), key=len, reverse=True))
    + r")\b(?! the (?:picture|image|canvas))"
)
_NUM_RE = re.compile(r"\b(two|three|four)\b")
_NOUNS_ALT = "|".join(sorted(NOUNS, key=len, reverse=True))
_NOUN_RE = re.compile(r"\b(" + _NOUNS_ALT + r")\b")
# a colour word and the shape noun it qualifies, with up to two words between ("red stars",
# "red big star", "blue medium sized square")
_COLORED_NOUN_RE = re.compile(
    r"\b("
    + "|".join(vocab.COLORS)
    + r")\b((?:\s+(?!(?:"
    + "|".join(vocab.COLORS)
    + "|"
    + _NOUNS_ALT
    + r")\b)[a-z]+){0,2})\s+("
    + _NOUNS_ALT
    + r")\b"
)
_ARTICLE_RE = re.compile(r"\b([Aa])(n?)(\s+)([A-Za-z])")


def fix_articles(text: str) -> str:
    """ "a"/"an" as the next word asks ("an blue circle" -> "a blue circle"): an edit must not
    leave a grammatical slip that gives the negative away."""
    return _ARTICLE_RE.sub(
        lambda m: m.group(1) + ("n" if m.group(4).lower() in "aeiou" else "") + m.group(3) + m.group(4), text
    )


def swap_colors(caption: str, a: tuple[str, str], b: tuple[str, str]) -> str:
    """Swap the colours of the (colour, shape) pairs a and b wherever the caption names them,
    leaving every other mention of those colours alone."""
    swap = {a: b[0], b: a[0]}

    def edit(m: re.Match) -> str:
        new = swap.get((m.group(1), NOUNS[m.group(3)][0]))
        return m.group(0) if new is None else new + m.group(2) + " " + m.group(3)

    return _COLORED_NOUN_RE.sub(edit, caption)


def drop_colors(caption: str, stated: Constraints) -> tuple[str, Constraints] | None:
    """The caption with its objects' colour words left out ("a red circle above a blue square"
    -> "a circle above a square"), with what it then states; None where that would not be a
    true caption of the same picture said less precisely: no object's colour is stated, or two
    stated groups share a shape (the colour is what tells them apart, and an exact count would
    then cover both), or the edit does not parse back to the same objects uncoloured.

    Unlike the negatives below this is a true edit: the shortened caption still fits its picture.
    Background words ("under a blue sky", "on a gray background") are kept."""
    shapes = [o.shape for o in stated.objects]
    if not any(o.color for o in stated.objects) or len(set(shapes)) != len(shapes):
        return None

    def edit(m: re.Match) -> str:
        between = m.group(2).strip()
        return (between + " " if between else "") + m.group(3)

    text = fix_articles(_COLORED_NOUN_RE.sub(edit, caption))
    try:
        said = parse(text)
    except ParseError:
        return None
    want = tuple(replace(o, color=None) for o in stated.objects)
    same = (
        said.objects == want
        and said.relations == stated.relations
        and said.background == stated.background
        and said.style == stated.style
    )
    return (text, said) if same else None


def _swap_pair(stated: Constraints):
    """The two stated objects a colour swap exchanges: the first two of different colours and shapes."""
    colored = [o for o in stated.objects if o.color]
    return next(
        ((a, b) for i, a in enumerate(colored) for b in colored[i + 1 :] if a.color != b.color and a.shape != b.shape),
        None,
    )


def negatives(caption: str, stated: Constraints, kinds: tuple[str, ...] = KINDS) -> dict[str, str]:
    """Every applicable hard negative of a caption, by kind (only those among ``kinds``: each
    kind is made and checked on its own, and checking parses the negative)."""
    out: dict[str, str] = {}
    colored = [o for o in stated.objects if o.color]
    pair = _swap_pair(stated) if "swap_colors" in kinds else None
    if pair:
        a, b = pair
        out["swap_colors"] = swap_colors(caption, (a.color, a.shape), (b.color, b.shape))
    if stated.relations and "relation" in kinds:
        m = _REL_RE.search(caption)
        if m:
            flipped = RELATION_PHRASES[OPPOSITE[_PHRASE_TO_REL[m.group(1)]]][0]
            out["relation"] = caption[: m.start()] + flipped + caption[m.end() :]
    m = _NUM_RE.search(caption) if "count" in kinds else None
    if m and any(o.exact and o.count >= 2 for o in stated.objects):
        n = vocab.NUMBER_WORDS[m.group(1)]
        new = n + 1 if n < vocab.MAX_COUNT else n - 1
        out["count"] = caption[: m.start()] + vocab.NUMBER_NAMES[new] + caption[m.end() :]
    m = _NOUN_RE.search(caption) if "shape" in kinds else None
    if m:  # the first shape noun becomes a shape the caption does not name at all
        shape, plural = NOUNS[m.group(1)]
        spec = next((o for o in stated.objects if o.shape == shape), None)
        named = {o.shape for o in stated.objects}
        options = [s for s in vocab.SHAPES if s not in named and not vocab.is_held_out(spec.color if spec else None, s)]
        if options:
            new_shape = options[(sum(map(ord, caption)) + 3) % len(options)]
            out["shape"] = caption[: m.start()] + vocab.noun_for(new_shape, plural) + caption[m.end() :]
    if "color" in kinds and len(colored) == 1 and len({o.shape for o in stated.objects}) == len(stated.objects):
        old, shape = colored[0].color, colored[0].shape
        others = [c for c in vocab.COLORS if c != old and not vocab.is_held_out(c, shape)]
        new = others[(sum(map(ord, caption)) + len(caption)) % len(others)]
        out["color"] = _COLOR_RE.sub(lambda m: new if m.group(1) == old else m.group(1), caption)
    # a negative is training text too: it must never bring in a held-out composition (a probe
    # caption that already names one, from the held-out suite, keeps it)
    allowed = {p for p in stated.pairs() if vocab.is_held_out(*p)}
    out = {k: fix_articles(v) for k, v in out.items()}
    return {
        k: v
        for k, v in out.items()
        if v != caption and not {p for p in parse(v).pairs() if vocab.is_held_out(*p)} - allowed
    }


def pick_negative(
    caption: str, stated: Constraints, rng: np.random.Generator, weights: dict[str, float] | None = None
) -> str | None:
    """One hard negative of a caption, its kind drawn at random among those that apply, in
    proportion to ``weights`` (kind -> weight, 1 where not named; uniform without it)."""
    options = negatives(caption, stated)
    if not options:
        return None
    kinds = sorted(options)
    w = np.array([weights.get(k, 1.0) for k in kinds], dtype=np.float64) if weights else None
    if w is None or w.sum() <= 0:  # uniform (the draw unweighted runs have always made)
        return options[kinds[int(rng.integers(len(kinds)))]]
    return options[kinds[int(rng.choice(len(kinds), p=w / w.sum()))]]


COUNTERFACTUAL_KINDS = ("swap_colors", "relation", "count")


def _recount(
    objects: list[Obj], stated: Constraints, new_stated: Constraints, rng: np.random.Generator
) -> list[Obj] | None:
    """``objects`` with one copy of the counted group added or taken away, as the count negative
    changed its number; None where no copy fits on the canvas."""
    changed = [g for g, (a, b) in enumerate(zip(stated.objects, new_stated.objects)) if a.count != b.count]
    if len(stated.objects) != len(new_stated.objects) or len(changed) != 1:
        return None
    g = changed[0]
    group = [i for i, o in enumerate(objects) if matches(stated.objects[g], o)]
    if not group:
        return None
    if new_stated.objects[g].count < stated.objects[g].count:  # take one copy away
        drop = group[int(rng.integers(len(group)))]
        return [o for i, o in enumerate(objects) if i != drop]
    model = objects[group[int(rng.integers(len(group)))]]  # add a copy of one, somewhere free
    for x, y in random_spots(model.shape, model.size, rng):
        new = model.moved(x, y)
        if all(apart(new, o, LAYOUT_GAP) for o in objects):
            return objects + [new]
    return None


def counterfactual(
    scene: Scene, caption: str, stated: Constraints, kind: str, rng: np.random.Generator | None = None
) -> tuple[Scene, str] | None:
    """The scene edited as the ``kind`` negative edits its caption, with that caption; None
    where the edit does not apply or its result is not a clean counterfactual: the new scene
    must be valid, satisfy the new caption and not the old one, the old scene must not
    satisfy the new caption, and no held-out composition may appear that was not there.
    ``rng`` draws which copy a count edit adds or takes away and where an added one goes (by
    default seeded from the caption, so the same call gives the same scene)."""
    if kind not in COUNTERFACTUAL_KINDS:
        raise ValueError(f"unknown counterfactual kind {kind!r}; kinds are {', '.join(COUNTERFACTUAL_KINDS)}")
    new_caption = negatives(caption, stated, (kind,)).get(kind)
    if new_caption is None:
        return None
    try:
        new_stated = parse(new_caption)
    except ValueError:
        return None
    objects = list(scene.objects)
    if kind == "count":
        if rng is None:
            rng = np.random.default_rng(zlib.crc32(caption.encode()))
        recounted = _recount(objects, stated, new_stated, rng)
        if recounted is None:
            return None
        objects = recounted
    elif kind == "swap_colors":
        a, b = _swap_pair(stated)
        recolor = {(a.color, a.shape): b.color, (b.color, b.shape): a.color}
        objects = [o.recolored(recolor[(o.color, o.shape)]) if (o.color, o.shape) in recolor else o for o in objects]
    else:  # exchange the places of the two related objects (one of each)
        rel = stated.relations[0]
        ia = [i for i, o in enumerate(objects) if matches(stated.objects[rel.a], o)]
        ib = [i for i, o in enumerate(objects) if matches(stated.objects[rel.b], o)]
        if len(ia) != 1 or len(ib) != 1 or ia == ib:
            return None
        oa, ob = objects[ia[0]], objects[ib[0]]
        objects[ia[0]], objects[ib[0]] = oa.moved(ob.x, ob.y), ob.moved(oa.x, oa.y)
    try:
        new = Scene(tuple(objects), scene.background, scene.style)
        new.validate()
    except SceneError:
        return None
    before = {(o.color, o.shape) for o in scene.objects if vocab.is_held_out(o.color, o.shape)}
    if any(vocab.is_held_out(o.color, o.shape) and (o.color, o.shape) not in before for o in new.objects):
        return None
    if not (
        scene_constraints_hold(new_stated, new).correct
        and not scene_constraints_hold(stated, new).correct
        and not scene_constraints_hold(new_stated, scene).correct
    ):
        return None
    return new, new_caption
