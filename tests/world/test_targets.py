"""Training targets read off scene records and captions (world/targets.py)."""

import numpy as np

from promptism.world import vocab


def test_composition_target_reads_pairs_and_places_off_the_scene():
    from promptism.world import Obj, Scene
    from promptism.world.targets import N_PAIRS, SIZE, composition_target, pair_index

    scene = Scene(
        (
            Obj("star", "red", "small", 0.2, 0.3),
            Obj("star", "red", "small", 0.6, 0.3),
            Obj("square", "green", "large", 0.7, 0.8),
        ),
        "white",
        "flat",
    )
    t = composition_target(scene.to_dict())
    assert t.shape == (SIZE,) and t[:N_PAIRS].sum() == 2
    rs, gs = pair_index("red", "star"), pair_index("green", "square")
    assert t[rs] == 1 and t[gs] == 1 and t[pair_index("green", "star")] == 0
    pos = t[N_PAIRS:].reshape(N_PAIRS, 2)
    assert np.allclose(pos[rs], (-0.1, -0.2)) and np.allclose(pos[gs], (0.2, 0.3))  # the mean of the two stars
    assert np.count_nonzero(pos.any(1)) == 2
    # a colour swap changes the target (a bag of colours and shapes would not)
    swapped = Scene((Obj("star", "green", "small", 0.2, 0.3), Obj("square", "red", "large", 0.7, 0.8)), "white", "flat")
    plain = Scene((Obj("star", "red", "small", 0.2, 0.3), Obj("square", "green", "large", 0.7, 0.8)), "white", "flat")
    assert not np.array_equal(
        composition_target(swapped.to_dict())[:N_PAIRS], composition_target(plain.to_dict())[:N_PAIRS]
    )


def test_caption_targets_state_pairs_and_swaps():
    from promptism.world.captions import parse
    from promptism.world.targets import NO_SWAP, caption_target, pair_index

    presence, mask, swaps = caption_target(parse("a red circle above a blue square").to_dict())
    rc, bs = pair_index("red", "circle"), pair_index("blue", "square")
    assert set(np.flatnonzero(presence)) == {rc, bs} and mask.all()
    assert swaps == (rc, bs, pair_index("blue", "circle"), pair_index("red", "square"))
    presence, mask, swaps = caption_target(parse("a green star and a circle").to_dict())
    circles = [pair_index(c, "circle") for c in vocab.COLORS]
    assert mask[circles].sum() == 0 and mask.sum() == len(mask) - len(circles)  # any colour of circle is open
    assert presence[pair_index("green", "star")] == 1 and swaps == NO_SWAP


def test_place_targets_and_the_sides_a_relation_states():
    from promptism.world import Obj, Scene
    from promptism.world.captions import parse
    from promptism.world.targets import COLORS, N_PLACES, NO_RELATION, place_target, relation_rows

    scene = Scene(
        (
            Obj("star", "red", "small", 0.2, 0.3),
            Obj("circle", "red", "small", 0.6, 0.5),
            Obj("square", "green", "large", 0.7, 0.8),
        ),
        "white",
        "flat",
    )
    pos, present = place_target(scene.to_dict())
    red, green = COLORS.index("red"), COLORS.index("green")
    star, square = len(COLORS) + vocab.SHAPES.index("star"), len(COLORS) + vocab.SHAPES.index("square")
    assert pos.shape == (N_PLACES, 2) and present.sum() == 5  # red, green, star, circle, square
    assert np.allclose(pos[red], (-0.1, -0.1)) and np.allclose(pos[green], (0.2, 0.3))  # red: the mean of two
    assert np.allclose(pos[star], (-0.3, -0.2)) and not pos[~present.astype(bool)].any()
    rows = relation_rows(parse("a red star above a green square").to_dict())
    assert rows.tolist() == [[red, green, 1, -1], [star, square, 1, -1]]  # y grows downwards: above is less
    rows = relation_rows(parse("a star to the right of a red star").to_dict())
    assert rows.tolist() == [list(NO_RELATION)] * 2  # one side uncoloured, and the same shape on both
    assert relation_rows(parse("a red star").to_dict()).tolist() == [list(NO_RELATION)] * 2


def test_attribute_targets_name_each_colour_and_shape_apart():
    from promptism.world import Obj, Scene
    from promptism.world.captions import parse
    from promptism.world.targets import COLORS, PLACE_KEYS, attribute_target, caption_attributes

    def named(v):
        return {PLACE_KEYS[k] for k in np.flatnonzero(v)}

    scene = Scene(
        (
            Obj("star", "red", "small", 0.2, 0.3),
            Obj("circle", "red", "small", 0.6, 0.5),
            Obj("square", "green", "large", 0.7, 0.8),
        ),
        "white",
        "flat",
    )
    assert named(attribute_target(scene.to_dict())) == {"red", "green", "star", "circle", "square"}
    presence, mask = caption_attributes(parse("a red star above a green square").to_dict())
    assert named(presence) == {"red", "green", "star", "square"} and mask.all()  # every other one is absent
    presence, mask = caption_attributes(parse("a red star and a circle").to_dict())
    assert named(presence) == {"red", "star", "circle"}
    # the circle's colour is not said: every colour but red is open, every shape known
    assert named(mask == 0) == set(COLORS) - {"red"}
