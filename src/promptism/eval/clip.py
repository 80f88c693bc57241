"""How good is a CLIP on the Scene World? The measurements of issue #3.

- retrieval: text -> picture among 100 random val pictures, recall@1 (mean over draws);
- binding probes: a picture scores its caption above the same caption with one binding
  changed (colours swapped, relation reversed, count changed), each kind apart, on seen
  compositions (the val split) and held-out ones (suite prompts naming a held-out pair);
- zero-shot: shape and colour of single objects, by prompt ensembling over the other word.
"""

from __future__ import annotations

import numpy as np
import torch

from ..clip.api import ClipBase
from ..world import Obj, Scene, render_array, vocab
from ..world.constraints import Constraints
from ..world.negatives import negatives

BINDING_KINDS = ("swap_colors", "relation", "count")


def _share(right: torch.Tensor) -> float:
    """The share of True in a boolean tensor, as a count over a count: a float32 mean made 144 of
    160 0.89999998, below a bar of 0.90 that it meets."""
    return int(right.sum()) / right.numel()


def retrieval_r1(
    model: ClipBase, images: np.ndarray, captions: list[str], n: int = 100, draws: int = 20, seed: int = 0
) -> float:
    rng = np.random.default_rng(seed)
    img = model.encode_image(images)
    txt = model.encode_text(captions)
    hits = []
    for _ in range(draws):
        idx = rng.choice(len(captions), size=min(n, len(captions)), replace=False)
        sims = txt[idx] @ img[idx].T  # (n texts, n pictures)
        hits.append(_share(sims.argmax(dim=1) == torch.arange(len(idx))))
    return float(np.mean(hits))


def binding(model: ClipBase, images: np.ndarray, captions: list[str], stated: list[Constraints]) -> dict:
    """{kind: {"accuracy", "n"}}: share of pictures preferring their caption to its negative. The
    relation probe also reports, on their own, the pictures whose two related objects share a shape
    ("a pink triangle below an orange triangle"), which only their colours tell apart:
    ``one_shape`` and ``two_shapes``, each {"accuracy", "n"} (accuracy None where n is 0)."""
    img = model.encode_image(images)
    out = {}
    for kind in BINDING_KINDS:
        rows, pos, neg = [], [], []
        for i, (cap, c) in enumerate(zip(captions, stated)):
            negs = negatives(cap, c)
            if kind in negs:
                rows.append(i)
                pos.append(cap)
                neg.append(negs[kind])
        if not rows:
            out[kind] = {"accuracy": None, "n": 0}
            continue
        p, q = model.encode_text(pos), model.encode_text(neg)
        right = (img[rows] * p).sum(-1) > (img[rows] * q).sum(-1)
        out[kind] = {"accuracy": _share(right), "n": len(rows)}
        if kind == "relation":
            one = torch.tensor([_relates_one_shape(stated[i]) for i in rows])
            for name, mask in (("one_shape", one), ("two_shapes", ~one)):
                out[kind][name] = {"accuracy": _share(right[mask]) if mask.any() else None, "n": int(mask.sum())}
    return out


def _relates_one_shape(c: Constraints) -> bool:
    """Whether the caption's first relation relates two objects of the same shape."""
    r = c.relations[0]
    return c.objects[r.a].shape == c.objects[r.b].shape


def heldout_probe_set(per_prompt: int = 2, size: int = 64):
    """Pictures of held-out compositions with their captions: suite held-out prompts, rendered."""
    from ..world.suite import build, truth_scene

    images, captions, stated = [], [], []
    for p in build("heldout"):
        for k in range(per_prompt):
            images.append(render_array(truth_scene(p, k), size))
            captions.append(p.text)
            stated.append(p.constraints)
    return np.stack(images), captions, stated


def single_objects(n: int, held_out: bool, seed: int = 0, size: int = 64) -> tuple[np.ndarray, list[str], list[str]]:
    """n pictures of one object each: (pictures, shapes, colours), any style and background."""
    rng = np.random.default_rng([seed, held_out])
    pairs = sorted(p for p in ((c, s) for c in vocab.COLORS for s in vocab.SHAPES) if vocab.is_held_out(*p) == held_out)
    images, shapes, colors = [], [], []
    for _ in range(n):
        color, shape = pairs[int(rng.integers(len(pairs)))]
        style = vocab.STYLES[int(rng.integers(len(vocab.STYLES)))]
        bg = "black" if style == "neon" else vocab.BACKGROUNDS[int(rng.integers(len(vocab.BACKGROUNDS)))]
        size_word = list(vocab.SIZES)[int(rng.integers(3))]
        o = Obj(shape, color, size_word, float(rng.uniform(0.3, 0.7)), float(rng.uniform(0.3, 0.7)))
        images.append(render_array(Scene((o,), bg, style), size))
        shapes.append(shape)
        colors.append(color)
    return np.stack(images), shapes, colors


def zero_shot_accuracy(model: ClipBase, images: np.ndarray, shapes: list[str], colors: list[str]) -> dict:
    """Shape and colour named by prompt ensembling over the other attribute ("a red {}", "a blue {}",
    ...: the issue's measure), and, apart from it, ``shape_plain``: the shape named by "a {}" alone."""
    shape_templates = [f"a {c} {{}}" for c in vocab.COLORS]
    color_templates = [f"a {{}} {s}" for s in vocab.SHAPES]
    ps = model.zero_shot(images, list(vocab.SHAPES), shape_templates).argmax(-1)
    pc = model.zero_shot(images, list(vocab.COLORS), color_templates).argmax(-1)
    named_shapes = [vocab.SHAPES[i] for i in ps.tolist()]
    named_colors = [list(vocab.COLORS)[i] for i in pc.tolist()]
    shape_acc = float(np.mean([n == s for n, s in zip(named_shapes, shapes)]))
    color_acc = float(np.mean([n == c for n, c in zip(named_colors, colors)]))
    # the shape's name alone, "a cross", as a user who does not know the colour would ask
    plain = [vocab.SHAPES[i] for i in model.zero_shot(images, list(vocab.SHAPES), ["a {}"]).argmax(-1).tolist()]
    by_pair = _by_pair(shapes, colors, named_shapes, named_colors)
    for pair, v in by_pair.items():
        color, shape = pair.split(" ")
        v["shape_plain"] = float(
            np.mean([n == shape for n, s, c in zip(plain, shapes, colors) if (c, s) == (color, shape)])
        )
    return {
        "shape": shape_acc,
        "color": color_acc,
        "n": len(shapes),
        "shape_plain": float(np.mean([n == s for n, s in zip(plain, shapes)])),
        "by_pair": by_pair,
    }


def _by_pair(shapes, colors, named_shapes, named_colors) -> dict:
    """Per (colour, shape) pair of the pictures: how many, the share whose shape and colour were
    named right, and the wrong shape named most often (None if none): where a zero-shot score
    falls short, whether one pair fails or all do."""
    out = {}
    for pair in sorted(set(zip(colors, shapes))):
        rows = [i for i, p in enumerate(zip(colors, shapes)) if p == pair]
        wrong = [named_shapes[i] for i in rows if named_shapes[i] != pair[1]]
        out[" ".join(pair)] = {
            "n": len(rows),
            "shape": float(np.mean([named_shapes[i] == pair[1] for i in rows])),
            "color": float(np.mean([named_colors[i] == pair[0] for i in rows])),
            "taken_for": max(set(wrong), key=wrong.count) if wrong else None,
        }
    return out


@torch.no_grad()
def image_side_binding(model: ClipBase, images: np.ndarray, scenes: list[dict]) -> dict | None:
    """For a CLIP trained with a composition head: the share of val pictures with a colour swap
    (world/targets.py ``swap_pairs``) whose head scores the two pairs the picture holds above
    the two its swap would make, i.e. whether the picture embedding binds, apart from the text
    tower. None for models without a head."""
    from ..world.targets import NO_SWAP, swap_pairs

    net = getattr(model, "model", None)
    if getattr(net, "compose", None) is None:
        return None
    rows = [(i, swap_pairs(sc)) for i, sc in enumerate(scenes)]
    rows = [(i, s) for i, s in rows if s != NO_SWAP]
    if not rows:
        return {"accuracy": None, "n": 0}
    from ..clip.loss import swap_margin

    logits = net.composition(model.encode_image(images[[i for i, _ in rows]]))
    margin = swap_margin(logits, torch.tensor([s for _, s in rows]))
    return {"accuracy": _share(margin > 0), "n": len(rows)}


@torch.no_grad()
def relation_sides(model: ClipBase, images: np.ndarray, captions: list[str], stated: list[Constraints]) -> dict | None:
    """For a CLIP trained with a place head (``relate``): over the relation rows of the captions
    (world/targets.py ``relation_rows``: the two colours, the two shapes), the share the head
    puts on the stated sides when it reads the picture embedding, and when it reads the caption
    embedding. None for models without the head."""
    from ..clip.loss import relation_margin
    from ..world.targets import relation_rows

    net = getattr(model, "model", None)
    if getattr(net, "place", None) is None:
        return None
    rows = torch.from_numpy(np.stack([relation_rows(c.to_dict()) for c in stated]))
    pictures = torch.nonzero((rows[:, :, 0] >= 0).any(1)).flatten().tolist()
    if not pictures:
        return {"picture": None, "caption": None, "n": 0}
    rows = rows[pictures]

    def right(emb: torch.Tensor) -> float:
        return _share(relation_margin(net.places(emb), rows) > 0)

    return {
        "picture": right(model.encode_image(images[pictures])),
        "caption": right(model.encode_text([captions[i] for i in pictures])),
        "n": int((rows[:, :, 0] >= 0).sum()),
    }


def evaluate_clip(
    model: ClipBase,
    val_images: np.ndarray,
    val_captions: list[str],
    val_stated: list[Constraints],
    zero_shot_n: int = 600,
    val_scenes: list[dict] | None = None,
) -> dict:
    held_imgs, held_caps, held_stated = heldout_probe_set()
    return {
        "image_side_binding": image_side_binding(model, val_images, val_scenes) if val_scenes else None,
        "relation_sides": relation_sides(model, val_images, val_captions, val_stated),
        "relation_sides_heldout": relation_sides(model, held_imgs, held_caps, held_stated),
        "retrieval_r1_100": retrieval_r1(model, val_images, val_captions),
        "binding_seen": binding(model, val_images, val_captions, val_stated),
        "binding_heldout": binding(model, held_imgs, held_caps, held_stated),
        "zero_shot_seen": zero_shot_accuracy(model, *single_objects(zero_shot_n, held_out=False)),
        "zero_shot_heldout": zero_shot_accuracy(model, *single_objects(zero_shot_n // 2, held_out=True)),
    }
