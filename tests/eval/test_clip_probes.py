"""CLIP's Scene-World probes (eval/clip.py): binding through the heads, zero-shot, relations."""

import numpy as np
import pytest
import torch

from promptism.world import vocab


def test_image_side_binding_reads_the_composition_head(data):
    from types import SimpleNamespace

    from promptism.data import load_pairs
    from promptism.eval.clip import image_side_binding
    from promptism.world.targets import N_PAIRS, composition_target

    pairs = load_pairs(data, "train", size=32, progress=False)
    scenes = [m["scene"] for m in pairs.metas]
    targets = torch.from_numpy(np.stack([composition_target(sc) for sc in scenes]))[:, :N_PAIRS]
    by_picture = {im.tobytes(): t for im, t in zip(pairs.images, targets)}

    def fake(sign):  # an "embedding" that is the picture's true pairs; the head reads it back (or negated)
        head = torch.nn.Linear(N_PAIRS, N_PAIRS, bias=False)
        torch.nn.init.eye_(head.weight)
        head.weight.data *= sign
        return SimpleNamespace(
            model=SimpleNamespace(compose=head, composition=head),
            encode_image=lambda ims: torch.stack([by_picture[im.tobytes()] for im in ims]),
        )

    right, wrong = (
        image_side_binding(fake(1.0), pairs.images, scenes),
        image_side_binding(fake(-1.0), pairs.images, scenes),
    )
    assert right["n"] == wrong["n"] >= 10 and right["accuracy"] == 1.0 and wrong["accuracy"] == 0.0
    assert image_side_binding(SimpleNamespace(model=SimpleNamespace(compose=None)), pairs.images, scenes) is None


def test_relation_sides_reads_the_place_head_off_pictures_and_captions(data):
    from types import SimpleNamespace

    from promptism.data import load_pairs
    from promptism.eval.clip import relation_sides
    from promptism.world.constraints import Constraints
    from promptism.world.targets import place_target

    pairs = load_pairs(data, "train", size=32, progress=False)
    stated = [Constraints.from_dict(m["stated"]) for m in pairs.metas]
    by_picture = {
        im.tobytes(): torch.from_numpy(place_target(m["scene"])[0]).flatten()
        for im, m in zip(pairs.images, pairs.metas)
    }

    def fake(sign):  # a picture "embedding" that is its true places, read back by the head (or mirrored)
        net = SimpleNamespace(place=True, places=lambda e: sign * e.view(len(e), -1, 2))
        return SimpleNamespace(
            model=net,
            encode_image=lambda ims: torch.stack([by_picture[im.tobytes()] for im in ims]),
            encode_text=lambda texts: torch.zeros(len(texts), len(next(iter(by_picture.values())))),
        )

    right, wrong = (relation_sides(fake(s), pairs.images, pairs.captions, stated) for s in (1.0, -1.0))
    assert right["n"] == wrong["n"] >= 20
    assert right["picture"] >= 0.9 and wrong["picture"] <= 0.1  # a colour's other objects can pull its mean
    assert right["caption"] == 0.0  # a caption "embedding" that puts nothing anywhere states no side
    assert (
        relation_sides(SimpleNamespace(model=SimpleNamespace(place=None)), pairs.images, pairs.captions, stated) is None
    )


def test_zero_shot_reports_each_pair_and_what_it_was_taken_for():
    from promptism.eval.clip import zero_shot_accuracy

    shapes, colors = ["circle", "circle", "star", "cross"], ["red", "red", "blue", "blue"]
    images = np.zeros((4, 8, 8, 3), np.uint8)

    class Fake:  # names every circle a star, every other shape and every colour right; "a {}" alone: crosses stars
        def zero_shot(self, imgs, labels, templates):
            if labels == list(vocab.SHAPES) and list(templates) == ["a {}"]:
                want = ["star" if s == "cross" else s for s in shapes]
            elif labels == list(vocab.SHAPES):
                want = ["star" if s == "circle" else s for s in shapes]
            else:
                want = colors
            return torch.nn.functional.one_hot(torch.tensor([labels.index(w) for w in want]), len(labels)).float()

    acc = zero_shot_accuracy(Fake(), images, shapes, colors)
    assert acc["shape"] == 0.5 and acc["color"] == 1.0 and acc["shape_plain"] == 0.75
    assert acc["by_pair"] == {
        "blue cross": {"n": 1, "shape": 1.0, "color": 1.0, "taken_for": None, "shape_plain": 0.0},
        "blue star": {"n": 1, "shape": 1.0, "color": 1.0, "taken_for": None, "shape_plain": 1.0},
        "red circle": {"n": 2, "shape": 0.0, "color": 1.0, "taken_for": "star", "shape_plain": 1.0},
    }


def test_relation_probe_says_apart_two_objects_of_one_shape():
    from promptism.eval.clip import binding
    from promptism.world.captions import parse

    captions = [
        "a red triangle above a blue triangle",
        "a red circle below a blue square",
        "a red circle above a blue square",
    ]
    stated = [parse(c) for c in captions]
    images = np.zeros((3, 8, 8, 3), np.uint8)

    class Fake:  # every picture reads "above": right where the caption says so, wrong where it says "below"
        def encode_image(self, imgs):
            return torch.tensor([[1.0, 0.0]]).repeat(len(imgs), 1)

        def encode_text(self, texts):
            return torch.tensor([[1.0, 0.0] if " above " in t else [0.0, 1.0] for t in texts])

    rel = binding(Fake(), images, captions, stated)["relation"]
    assert rel["n"] == 3 and rel["accuracy"] == pytest.approx(2 / 3)
    assert rel["one_shape"] == {"accuracy": 1.0, "n": 1} and rel["two_shapes"] == {"accuracy": 0.5, "n": 2}
    none = binding(Fake(), images[1:], captions[1:], stated[1:])["relation"]
    assert none["one_shape"] == {"accuracy": None, "n": 0}
    # 9 of 10 is 0.9 and meets a 0.90 bar (a float32 mean made it 0.89999998)
    ten = captions[2:] * 9 + captions[1:2]
    assert (
        binding(Fake(), np.zeros((10, 8, 8, 3), np.uint8), ten, [parse(c) for c in ten])["relation"]["accuracy"] >= 0.90
    )
