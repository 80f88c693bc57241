"""Hard negatives, counterfactual scenes and colour-free captions (world/negatives.py)."""

from collections import Counter

import numpy as np

from promptism.world import vocab
from promptism.world.constraints import scene_constraints_hold
from promptism.world.negatives import negatives
from promptism.world.sampling import sample_example


def test_hard_negatives_are_false_of_their_scene_and_never_bring_held_out_pairs():
    from promptism.world.captions import parse

    kinds = set()
    for i in range(1500):
        ex = sample_example(np.random.default_rng([9, i]))
        for kind, text in negatives(ex.caption, ex.stated).items():
            kinds.add(kind)
            c = parse(text)
            assert not c.mentions_held_out(), text
            assert not scene_constraints_hold(c, ex.scene).correct, (ex.caption, text)
    assert kinds == {"swap_colors", "relation", "count", "shape", "color"}
    from promptism.world.constraints import Constraints, ObjectSpec

    sky = "a red circle and a blue square under a blue sky"
    stated = Constraints((ObjectSpec("circle", "red"), ObjectSpec("square", "blue")), background="sky")
    assert negatives(sky, stated)["swap_colors"] == "a blue circle and a red square under a blue sky"


def test_colour_swap_edits_only_the_two_named_objects_and_keeps_articles_right():
    from promptism.world.constraints import Constraints, ObjectSpec

    caption = "an orange circle, a blue rhombus and a medium blue cross"
    stated = Constraints(
        (ObjectSpec("circle", "orange"), ObjectSpec("diamond", "blue"), ObjectSpec("cross", "blue", "medium"))
    )
    assert negatives(caption, stated)["swap_colors"] == "a blue circle, an orange rhombus and a medium blue cross"


def test_counterfactual_scenes_fit_their_caption_and_not_the_original():
    from promptism.world.captions import parse
    from promptism.world.negatives import COUNTERFACTUAL_KINDS, counterfactual

    made = {k: 0 for k in COUNTERFACTUAL_KINDS}
    for i in range(600):
        ex = sample_example(np.random.default_rng([10, i]))
        for kind in COUNTERFACTUAL_KINDS:
            r = counterfactual(ex.scene, ex.caption, ex.stated, kind)
            if r is None:
                continue
            scene, caption = r
            made[kind] += 1
            scene.validate()
            assert caption == negatives(ex.caption, ex.stated)[kind]
            assert scene_constraints_hold(parse(caption), scene).correct, (ex.caption, caption)
            assert not scene_constraints_hold(ex.stated, scene).correct, (ex.caption, caption)
            assert not scene_constraints_hold(parse(caption), ex.scene).correct, (ex.caption, caption)
            assert not any(vocab.is_held_out(o.color, o.shape) for o in scene.objects)
            before = Counter((o.shape, o.color, o.size) for o in ex.scene.objects)
            after = Counter((o.shape, o.color, o.size) for o in scene.objects)
            if kind == "count":  # one copy of one object added or taken away, the others where they were
                assert sum(((after - before) + (before - after)).values()) == 1, (ex.caption, caption)
                assert len({(o.x, o.y) for o in scene.objects} ^ {(o.x, o.y) for o in ex.scene.objects}) == 1
            else:
                assert sorted((o.shape, o.size) for o in scene.objects) == sorted(
                    (o.shape, o.size) for o in ex.scene.objects
                )
    assert min(made.values()) >= 50, made


def test_count_counterfactual_adds_or_takes_away_one_copy():
    from promptism.world import Obj, Scene
    from promptism.world.captions import parse
    from promptism.world.negatives import counterfactual

    two = Scene(
        (
            Obj("star", "red", "small", 0.2, 0.3),
            Obj("star", "red", "small", 0.6, 0.3),
            Obj("square", "green", "medium", 0.7, 0.8),
        ),
        "white",
        "flat",
    )
    caption = "two red stars and a green square"
    scene, new_caption = counterfactual(two, caption, parse(caption), "count", np.random.default_rng(0))
    assert new_caption == "three red stars and a green square"
    added = [o for o in scene.objects if o not in two.objects]
    assert len(scene.objects) == 4 and len(added) == 1 and (added[0].shape, added[0].color) == ("star", "red")
    # the rng decides where the copy goes: the same draw gives the same scene, without one the caption seeds it
    assert counterfactual(two, caption, parse(caption), "count", np.random.default_rng(0))[0] == scene
    assert counterfactual(two, caption, parse(caption), "count") == counterfactual(
        two, caption, parse(caption), "count"
    )
    four = Scene(
        tuple(Obj("circle", "blue", "small", x, y) for x, y in ((0.2, 0.2), (0.8, 0.2), (0.2, 0.8), (0.8, 0.8)))
    )
    caption = "four blue circles"
    scene, new_caption = counterfactual(four, caption, parse(caption), "count", np.random.default_rng(0))
    assert new_caption == "three blue circles" and len(scene.objects) == 3 and set(scene.objects) < set(four.objects)
    # no room left for another copy: no counterfactual rather than an overlapping one
    crowded = Scene(tuple(Obj("square", "blue", "large", x, y) for x, y in ((0.25, 0.25), (0.75, 0.25), (0.5, 0.75))))
    crowded.validate()
    caption = "three blue squares"
    assert counterfactual(crowded, caption, parse(caption), "count", np.random.default_rng(0)) is None


def test_negative_kinds_are_drawn_by_weight():
    from promptism.world.negatives import pick_negative

    counts = {"swap": 0, "other": 0}
    rng = np.random.default_rng(0)
    for i in range(400):
        ex = sample_example(np.random.default_rng([11, i]))
        options = negatives(ex.caption, ex.stated)
        if "swap_colors" not in options or len(options) < 2:
            continue
        only_swaps = pick_negative(ex.caption, ex.stated, rng, {k: 0.0 for k in options if k != "swap_colors"})
        assert only_swaps == options["swap_colors"]
        got = pick_negative(ex.caption, ex.stated, rng, {"swap_colors": 20.0})
        counts["swap" if got == options["swap_colors"] else "other"] += 1
    assert counts["swap"] > 4 * counts["other"] > 0, counts  # ~20:1 against each other kind, not uniform


def test_negatives_of_some_kinds_are_those_of_the_full_set():
    from promptism.world.negatives import KINDS

    seen = Counter()
    for i in range(300):
        ex = sample_example(np.random.default_rng([4, i]))
        full = negatives(ex.caption, ex.stated)
        seen.update(full.keys())
        for kind in KINDS:
            assert negatives(ex.caption, ex.stated, (kind,)) == ({kind: full[kind]} if kind in full else {})
        assert negatives(ex.caption, ex.stated, ()) == {}
    assert set(seen) == set(KINDS)  # every kind came up


def test_drop_colors_leaves_a_true_caption_that_names_no_colour():
    from promptism.world.captions import parse
    from promptism.world.constraints import Constraints, ObjectSpec, Relation
    from promptism.world.negatives import drop_colors

    caption = "a big red circle above a blue square under a blue sky"
    stated = parse(caption)
    text, said = drop_colors(caption, stated)
    assert text == "a big circle above a square under a blue sky"  # the sky keeps its colour
    assert said == Constraints(
        (ObjectSpec("circle", size="large"), ObjectSpec("square")), (Relation(0, "above", 1),), background="sky"
    )
    assert drop_colors("an orange star", parse("an orange star"))[0] == "a star"  # the article follows
    assert (
        drop_colors("two red stars and a blue star", parse("two red stars and a blue star")) is None
    )  # colour tells them apart
    assert drop_colors("a circle", parse("a circle")) is None  # nothing to drop
    made = 0
    for i in range(600):
        ex = sample_example(np.random.default_rng([13, i]))
        out = drop_colors(ex.caption, ex.stated)
        if out is None:
            continue
        made += 1
        text, said = out
        assert parse(text) == said and not any(o.color for o in said.objects), text
        assert scene_constraints_hold(said, ex.scene).correct, (ex.caption, text)
    assert made > 400  # most captions name a colour on objects of distinct shapes
