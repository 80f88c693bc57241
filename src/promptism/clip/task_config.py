"""The knobs of CLIP's training task, declared once as the fields of ``ClipTaskConfig`` (torch-free,
so that building the command line loads no model code): the CLI's options, the presets' ``task``
tables, recipe files, the saved ``config.json`` and the model card are read off its fields."""

from __future__ import annotations

from dataclasses import dataclass, fields

from ..knobs import describe, knob, share

SEPARATION_MARGIN = 0.8  # near twins may keep this much cosine similarity before the penalty
RANK_MARGIN = 0.1  # the cosine gap by which the rank loss asks a true pair to beat its twin


def _kind_weights(text: str) -> dict[str, float]:
    """ "swap_colors=4,relation=4" -> {"swap_colors": 4.0, "relation": 4.0}, kinds checked."""
    from ..world.negatives import KINDS

    out = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        kind, eq, value = part.partition("=")
        if not eq or kind.strip() not in KINDS:
            raise ValueError(f"{part!r}: expected KIND=WEIGHT with KIND one of {', '.join(KINDS)}")
        try:
            w = float(value)
        except ValueError:
            raise ValueError(f"{part!r}: the weight must be a number") from None
        if not (w >= 0 and w < float("inf")):
            raise ValueError(f"{part!r}: the weight must be 0 or more")
        out[kind.strip()] = w
    return out


def _kinds(text: str) -> tuple[str, ...]:
    """ "relation,count" -> ("relation", "count"), kinds checked."""
    from ..world.negatives import COUNTERFACTUAL_KINDS

    kinds = tuple(filter(None, (k.strip() for k in text.split(","))))
    bad = [k for k in kinds if k not in COUNTERFACTUAL_KINDS]
    if bad or not kinds:
        raise ValueError(f"{text!r}: expected kinds among {', '.join(COUNTERFACTUAL_KINDS)}")
    return kinds


@dataclass(frozen=True)
class ClipTaskConfig:
    """The knobs of CLIP's training task, each declared once (the loss terms cite their papers in
    clip/loss.py). A preset's ``task`` table or a recipe file sets them; `promptism train clip`
    has an option for each."""

    hard_negatives: bool = knob(
        True,
        "train without the composition-aware hard-negative captions (plain CLIP loss)",
        flag="--no-hard-negatives",
    )
    counterfactuals: float = knob(
        0.0,
        "counterfactual pairs (a scene re-rendered with colours swapped, related objects exchanged or a "
        "counted object's copies changed by one) added per batch pair, Scene World data only",
    )
    counterfactual_kinds: tuple[str, ...] | None = knob(
        None,
        "which edits make counterfactual pairs: swap_colors, relation, count, comma-separated (none named: all)",
        parse=_kinds,
        metavar="KIND,...",
    )
    separate: float = knob(
        0.0,
        "weight of the term keeping near twins apart (a caption and its hard negative, a picture and its "
        f"counterfactual) once their cosine passes {SEPARATION_MARGIN}",
    )
    compose: float = knob(
        0.0,
        "weight of the composition loss: a linear head on the picture embedding predicts which (colour, shape) "
        "pairs the picture holds and where, from the Scene World's scene records",
    )
    compose_text: float = knob(
        0.0,
        "weight of the same head's loss on caption embeddings, with targets from what each caption states: "
        "the pairs it names and their colour swap",
    )
    relate: float = knob(
        0.0,
        "weight of the place loss: a linear head reads where each colour and each shape is off the picture "
        "embedding, and which side of the other a stated relation puts them off the caption embedding",
    )
    relate_picture: float = knob(
        1.0,
        "weight, within the place loss, of its picture term (where each colour and shape is); 0 trains the "
        "head on captions only",
    )
    relate_caption: float = knob(
        1.0,
        "weight, within the place loss, of its caption term (the sides a stated relation names); 0 trains "
        "the head on pictures only",
    )
    negative_weights: dict[str, float] | None = knob(
        None,
        "how often each kind of hard negative is drawn where several apply, e.g. swap_colors=4,relation=4 "
        "(kinds: swap_colors, relation, count, shape, color; 1 where not named; none: uniform)",
        parse=_kind_weights,
        metavar="KIND=W,...",
    )
    rank: float = knob(
        0.0,
        "weight of the rank loss (CE-CLIP's): each caption must beat its hard negative, and each picture "
        "its counterfactual, by --rank-margin in cosine",
    )
    rank_margin: float = knob(RANK_MARGIN, "the cosine gap the rank loss asks of each true pair over its twin")
    colorless: float = knob(
        0.0,
        'share of captions shown without their colour words ("a red circle above a blue square" -> "a circle '
        "above a square\") where that stays true of the picture, so that a shape's name alone fits it in "
        "every colour",
        parse=share,
        metavar="P",
    )
    colorless_relations: bool = knob(
        True,
        "keep the colour words of every caption that states a relation: --colorless shortens only the others",
        flag="--colorless-no-relations",
    )
    attributes: float = knob(
        0.0,
        "weight of the attribute loss: the composition head also reads which colours and which shapes a "
        "picture holds, and a caption names, each apart from the other, so that a shape's features hold in "
        "colours it was never seen in",
    )
    adversarial: float = knob(
        0.0,
        "weight of the adversarial term: pictures made to fool a CLIP (--adversarial-pictures) join each batch "
        "beside a fresh true render of the caption each was made for, and the caption must pick the render",
    )
    adversarial_pictures: str | None = knob(
        None,
        "a folder of pictures made to fool a CLIP, each PNG with a JSON sidecar naming its caption (what "
        "`promptism guide --out` writes); needed by --adversarial",
        parse=str,
        metavar="DIR",
    )

    robust_eps: float = knob(
        0.0,
        "adversarial training of the image tower (Madry et al. 2018): each batch's pictures are first moved, "
        "within this L2 distance (in [-1, 1] pixel units), to where the loss is highest, and the step is taken "
        "on them, aiming at gradients that follow what a picture shows (0: off)",
    )
    robust_steps: int = knob(
        2, "the projected gradient steps that find each batch's moved pictures (--robust-eps)", parse=int, metavar="N"
    )

    def __post_init__(self):
        if not self.robust_eps >= 0 or self.robust_steps < 1:
            raise ValueError(
                f"robust_eps must be 0 or more and robust_steps at least 1; got {self.robust_eps}, {self.robust_steps}"
            )
        if self.adversarial and not self.adversarial_pictures:
            raise ValueError("adversarial > 0 needs adversarial_pictures, a folder of pictures made to fool a CLIP")
        if not 0.0 <= self.colorless <= 1.0:
            raise ValueError(f"colorless is a share of captions, between 0 and 1; got {self.colorless}")
        self.kinds()  # checks them

    def kinds(self) -> tuple[str, ...]:
        """The counterfactual kinds drawn: those named, else every kind."""
        from ..world.negatives import COUNTERFACTUAL_KINDS

        kinds = tuple(self.counterfactual_kinds or COUNTERFACTUAL_KINDS)
        if set(kinds) - set(COUNTERFACTUAL_KINDS):
            raise ValueError(
                f"counterfactual kinds must be among {', '.join(COUNTERFACTUAL_KINDS)}, got {', '.join(kinds)}"
            )
        return kinds

    @classmethod
    def knobs(cls):
        """The fields, each with its CLI metadata."""
        return fields(cls)

    @classmethod
    def describe(cls, saved: dict) -> str:
        """The knobs a model's config.json records that differ from their defaults, as "name value"
        phrases for a model card (``hard_negatives`` is always said; the counterfactual kinds only
        where there are counterfactuals)."""
        if not saved.get("counterfactuals"):
            saved = {k: v for k, v in saved.items() if k != "counterfactual_kinds"}
        return describe(cls, saved, always=("hard_negatives",))
