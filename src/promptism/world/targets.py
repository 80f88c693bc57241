"""What a picture of the Scene World holds, as a fixed-length target vector read off its scene
record: for every (colour, shape) pair, whether the picture holds one, and where (the mean
centre of those objects, minus 0.5).

CLIP training can ask its image embedding to predict these with a linear head (the
``compose`` weight of ``promptism train clip``; the recipe that measured it is
experiments/reports/clip_world_bind.md). Contrastive training alone gave an image embedding in
which "a red star and a green square" and its colour swap lie almost together, so that nothing a
text tower does with a dot product can tell them apart. A linearly readable "which colour is the
star, and where is it" is what a caption's embedding can bind against.

Presence alone did not make it so, since a bag of colours and shapes already gets most of that
loss down. ``swap_pairs`` names, for a scene with two objects of different colours and shapes, the
two true pairs and the two its colour swap would make, for a loss preferring the true ones
(``clip.loss.composition_loss``).

``caption_target`` reads the same targets (presence and swap, not places) off what a caption
states, for the same head on the caption embedding (the ``compose_text`` weight): a bag of words
cannot tell which named pair a swap would make, so the text tower must bind to lower it.
"""

from __future__ import annotations

import numpy as np

from . import vocab

COLORS = tuple(vocab.COLORS)
SHAPES = tuple(vocab.SHAPES)
N_PAIRS = len(COLORS) * len(SHAPES)
SIZE = 3 * N_PAIRS  # presence, then x and y, per pair
NO_SWAP = (-1, -1, -1, -1)


def pair_index(color: str, shape: str) -> int:
    return COLORS.index(color) * len(SHAPES) + SHAPES.index(shape)


def composition_target(scene: dict) -> np.ndarray:
    """A scene record (``Scene.to_dict``) -> (SIZE,) float32: N_PAIRS presences in {0, 1},
    then N_PAIRS (x, y) centres, interleaved, zero where the pair is absent."""
    out = np.zeros(SIZE, np.float32)
    pos, present = _mean_centres(scene, N_PAIRS, lambda o: (pair_index(o["color"], o["shape"]),))
    out[:N_PAIRS] = present
    out[N_PAIRS:] = pos.reshape(-1)
    return out


def _mean_centres(scene: dict, n: int, keys) -> tuple[np.ndarray, np.ndarray]:
    """(n, 2) mean centre minus 0.5 of the objects under each of n keys (``keys(object)`` names an
    object's keys), zero where a key has none, and (n,) whether it has any."""
    pos = np.zeros((n, 2), np.float64)
    count = np.zeros(n)
    for o in scene["objects"]:
        for k in keys(o):
            count[k] += 1
            pos[k] += (float(o["x"]) - 0.5, float(o["y"]) - 0.5)
    present = count > 0
    pos[present] /= count[present, None]
    return pos, present


def swap_pairs(scene: dict) -> tuple[int, int, int, int]:
    """(true a, true b, swapped a, swapped b) pair indices for the first two objects of different
    colours and shapes whose colour swap names pairs the scene does not hold; NO_SWAP if none."""
    objs = scene["objects"]
    held = {(o["color"], o["shape"]) for o in objs}
    for i, a in enumerate(objs):
        for b in objs[i + 1 :]:
            if (
                a["color"] != b["color"]
                and a["shape"] != b["shape"]
                and (b["color"], a["shape"]) not in held
                and (a["color"], b["shape"]) not in held
            ):
                return (
                    pair_index(a["color"], a["shape"]),
                    pair_index(b["color"], b["shape"]),
                    pair_index(b["color"], a["shape"]),
                    pair_index(a["color"], b["shape"]),
                )
    return NO_SWAP


def caption_target(stated: dict) -> tuple[np.ndarray, np.ndarray, tuple[int, int, int, int]]:
    """What a caption states, in the picture target's terms, for the head on caption embeddings.

    ``stated`` is a parsed caption (``Constraints.to_dict``). Returns the (N_PAIRS,) presence of
    each (colour, shape) pair the caption names; a (N_PAIRS,) mask of the pairs it says anything
    about (an uncoloured "a circle" leaves every colour of circle open); and ``swap_pairs`` over
    its coloured objects."""
    presence = np.zeros(N_PAIRS, np.float32)
    mask = np.ones(N_PAIRS, np.float32)
    objects = stated["objects"]
    for o in objects:
        if o["color"]:
            presence[pair_index(o["color"], o["shape"])] = 1.0
        else:
            for c in COLORS:
                mask[pair_index(c, o["shape"])] = 0.0
    mask[presence > 0] = 1.0  # "a red circle and a circle": the red one is stated all the same
    return presence, mask, swap_pairs({"objects": [o for o in objects if o["color"]]})


# --- where each colour and each shape is, and which side of a relation a caption puts them -------
# Per colour and per shape rather than per pair: a held-out pair ("a purple star") is a colour
# and a shape every training picture has taught apart, so its place can be read all the same.
PLACE_KEYS = COLORS + SHAPES  # colour and shape names differ, so a name is its own key
N_PLACES = len(PLACE_KEYS)
NO_RELATION = (-1, -1, -1, 0)
RELATION_ROWS = 2  # a relation between two objects: one row by their colours, one by their shapes


def place_target(scene: dict) -> tuple[np.ndarray, np.ndarray]:
    """A scene record -> ((N_PLACES, 2) mean centre minus 0.5 of the objects of each colour, then
    of each shape; (N_PLACES,) whether the picture has any), float32."""
    pos, present = _mean_centres(
        scene, N_PLACES, lambda o: (PLACE_KEYS.index(o["color"]), PLACE_KEYS.index(o["shape"]))
    )
    return pos.astype(np.float32), present.astype(np.float32)


# --- which colours and which shapes there are, each apart from the other ------------------------
# The pair presences above are joint: a held-out pair ("a yellow cross") is never present in
# training, so nothing asks the embedding for a "cross" that holds in every colour. These are
# read off the same records, per colour and per shape (PLACE_KEYS order).


def attribute_target(scene: dict) -> np.ndarray:
    """A scene record -> (N_PLACES,) float32: whether the picture holds any object of each colour,
    then of each shape."""
    return place_target(scene)[1]


def caption_attributes(stated: dict) -> tuple[np.ndarray, np.ndarray]:
    """What a caption states of each colour and each shape, as ``caption_target`` for pairs:
    (N_PLACES,) presence of the colours and shapes it names, and a (N_PLACES,) mask of those it
    says anything about. Captions name every object, so an unnamed shape is absent; an
    uncoloured object ("a circle") leaves every colour it does not name open."""
    presence = np.zeros(N_PLACES, np.float32)
    mask = np.ones(N_PLACES, np.float32)
    uncoloured = False
    for o in stated["objects"]:
        presence[PLACE_KEYS.index(o["shape"])] = 1.0
        if o["color"]:
            presence[PLACE_KEYS.index(o["color"])] = 1.0
        else:
            uncoloured = True
    if uncoloured:
        mask[: len(COLORS)] = presence[: len(COLORS)]
    return presence, mask


def relation_rows(stated: dict) -> np.ndarray:
    """What a caption's relation says about places, as (RELATION_ROWS, 4) int rows (key a, key b,
    axis 0 = x or 1 = y, sign of a's coordinate minus b's): "a red circle above a blue square" ->
    (red, blue, y, -1) and (circle, square, y, -1). A row is NO_RELATION where the caption has no
    relation, or the two objects share the colour (or the shape) the row would compare, or one
    is uncoloured."""
    out = np.array([NO_RELATION] * RELATION_ROWS, np.int64)
    if not stated.get("relations"):
        return out
    rel = stated["relations"][0]
    a, b = stated["objects"][rel["a"]], stated["objects"][rel["b"]]
    axis, sign = vocab.RELATION_AXES[rel["relation"]]
    if a["color"] and b["color"] and a["color"] != b["color"]:
        out[0] = (PLACE_KEYS.index(a["color"]), PLACE_KEYS.index(b["color"]), axis, sign)
    if a["shape"] != b["shape"]:
        out[1] = (PLACE_KEYS.index(a["shape"]), PLACE_KEYS.index(b["shape"]), axis, sign)
    return out
