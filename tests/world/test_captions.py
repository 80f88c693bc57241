"""Captions: templates and parser agree, over thousands of random scenes."""

import numpy as np
import pytest

from promptism.world import Constraints, ObjectSpec, ParseError, Relation, parse, vocab
from promptism.world.constraints import scene_constraints_hold
from promptism.world.sampling import KINDS, sample_example


def test_round_trip_over_thousands_of_random_scenes():
    kinds = set()
    for i in range(3000):
        ex = sample_example(np.random.default_rng([7, i]))
        kinds.add(ex.kind)
        assert parse(ex.caption) == ex.stated, ex.caption
        verdict = scene_constraints_hold(ex.stated, ex.scene)
        assert verdict.correct, (ex.caption, verdict.reasons)  # a caption never states a falsehood
        ex.scene.validate()
    assert kinds == set(KINDS)


def test_captions_vary():
    captions = {sample_example(np.random.default_rng([8, i])).caption for i in range(500)}
    assert len(captions) > 480


@pytest.mark.parametrize(
    "text, expected",
    [
        ("a red circle", Constraints((ObjectSpec("circle", "red"),))),
        (
            "one red disc on a gray background",
            Constraints((ObjectSpec("circle", "red", exact=True),), background="gray"),
        ),
        (
            "a big green cross in the top left corner",
            Constraints((ObjectSpec("cross", "green", "large", position="top left"),)),
        ),
        (
            "two yellow stars and a blue box",
            Constraints((ObjectSpec("star", "yellow", count=2, exact=True), ObjectSpec("square", "blue"))),
        ),
        (
            "a red circle above a blue square",
            Constraints((ObjectSpec("circle", "red"), ObjectSpec("square", "blue")), (Relation(0, "above", 1),)),
        ),
        (
            "a blue square below a red circle",
            Constraints((ObjectSpec("square", "blue"), ObjectSpec("circle", "red")), (Relation(0, "below", 1),)),
        ),
        (
            "a pixel art picture of three purple diamonds",
            Constraints((ObjectSpec("diamond", "purple", count=3, exact=True),), style="pixel"),
        ),
        ("a photo of a star", Constraints((ObjectSpec("star"),))),
        ("a circle and a cross", Constraints((ObjectSpec("circle"), ObjectSpec("cross")))),
        ("three squares", Constraints((ObjectSpec("square", count=3, exact=True),))),
        (
            "a red circle to the left of a blue triangle",
            Constraints((ObjectSpec("circle", "red"), ObjectSpec("triangle", "blue")), (Relation(0, "left of", 1),)),
        ),
        (
            "A Tiny Orange Rhombus, Upper-Right Corner; neon!",
            Constraints((ObjectSpec("diamond", "orange", "small", position="top right"),), style="neon"),
        ),
        (
            "4 pink pluses under a blue sky",
            Constraints((ObjectSpec("cross", "pink", count=4, exact=True),), background="sky"),
        ),
        (
            "an outline of a brown dot on the left of the picture",
            Constraints((ObjectSpec("circle", "brown", position="left"),), style="outline"),
        ),
        (
            "a green star on the left of a medium-sized box",
            Constraints(
                (ObjectSpec("star", "green"), ObjectSpec("square", size="medium")), (Relation(0, "left of", 1),)
            ),
        ),
    ],
)
def test_spec_examples_parse(text, expected):
    assert parse(text) == expected


def test_unknown_words_are_named():
    with pytest.raises(ParseError) as e:
        parse("a flamingo beside a red circle")
    assert e.value.unknown == ["flamingo", "beside"]
    assert "'flamingo'" in str(e.value) and "shapes" in str(e.value)


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "empty"),
        ("   ", "empty"),
        ("a red", "expected a shape after 'a red'"),
        ("a black circle", "background colour"),
        ("five stars", "1 to 4"),
        ("a red blue circle", "both red and blue"),
        ("a circle above", "expected an object after"),
        ("above a circle", "must stand between"),
        ("a neon circle on a white background", "black background"),
        ("a pixel art outline of a circle", "two styles"),
        ("a photo of", "names no shape"),
        ("a circle on the left on the right", "two positions"),
    ],
)
def test_bad_captions_give_clear_errors(text, message):
    with pytest.raises(ParseError, match=message):
        parse(text)


def test_every_vocabulary_word_is_understood():
    for shape, nouns in vocab.SHAPE_SYNONYMS.items():
        for noun in nouns:
            assert parse(f"a {noun}").objects[0].shape == shape
            assert parse(f"two {vocab.PLURALS[noun]}").objects[0] == ObjectSpec(shape, count=2, exact=True)
    for color in vocab.COLORS:
        assert parse(f"a {color} star").objects[0].color == color
    for word, size in vocab.SIZE_WORDS.items():
        assert parse(f"a {word} star").objects[0].size == size
    for word, bg in vocab.BACKGROUND_WORDS.items():
        assert parse(f"a star on a {word} background").background == bg
    for pos in vocab.POSITIONS:
        assert parse(f"a star in the {pos}").objects[0].position == pos
