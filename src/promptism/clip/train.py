"""Training CLIP: the task the generic loop runs, and `promptism train clip`."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from ..data import Pairs, load_pairs
from ..train.loop import train
from .loss import (
    attribute_loss,
    caption_composition_loss,
    composition_loss,
    contrastive_loss,
    place_loss,
    rank_loss,
    relation_loss,
)
from .model import CLIP
from .tokenizer import CaptionTokenizer, train_tokenizer


def to_pixels(images: np.ndarray) -> torch.Tensor:
    """(N, H, W, 3) uint8 -> (N, 3, H, W) float in [-1, 1]."""
    return torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)


BN_RECALIBRATION_BATCHES = 50  # batches of training pictures that set the EMA weights' BatchNorm statistics
SEPARATION_MARGIN = 0.8  # near twins may keep this much cosine similarity before the penalty
RANK_MARGIN = 0.1  # the cosine gap by which the rank loss asks a true pair to beat its twin


class ClipTask:
    """A batch: pictures, their captions, and one hard-negative caption each where the
    world's scene record allows one (data without records trains without negatives).

    With ``counterfactuals`` > 0 (Scene World data only), the batch also gets that many
    counterfactual pairs per picture: a picture's scene re-rendered with two objects'
    colours swapped, two related objects exchanged or a counted object's copies changed by one,
    captioned to match, so that a true pair stands beside a twin only binding tells apart
    (``counterfactual_kinds`` limits the edits, e.g. to ``("relation",)``; presets world-bind9
    to world-bind15 use relation twins, world-bind11, 13, 14 and 15 count twins too). ``rank`` > 0
    adds CE-CLIP's rank loss: each caption must beat its hard negative, and each picture its
    counterfactual, by ``rank_margin`` in cosine (clip/loss.py rank_loss). ``colorless`` > 0 shows
    that share of the batch's captions without their colour words, where they stay true
    (batch_captions). ``attributes`` > 0 asks the composition head, on pictures and captions,
    which colours and which shapes there are, each apart from the other (world/targets.py
    attribute_target): the pair targets are joint, and a held-out pair is never present in
    training. ``separate`` > 0 adds a penalty on twins (a
    caption and its hard negative, a picture and its counterfactual) whose cosine passes
    SEPARATION_MARGIN; no preset uses it: with hard-negative captions alone the world-v1 model
    binds colours at chance (swap probe 0.48), and a run with both (plus token init 0.02) did no
    better (0.52) and lost shape (benchmarks/reports/clip_world_counterfactual.md)."""

    def __init__(
        self,
        pairs: Pairs,
        tokenizer: CaptionTokenizer,
        hard_negatives: bool = True,
        seed: int = 0,
        counterfactuals: float = 0.0,
        separate: float = 0.0,
        compose: float = 0.0,
        negative_weights: dict[str, float] | None = None,
        compose_text: float = 0.0,
        relate: float = 0.0,
        relate_picture: float = 1.0,
        relate_caption: float = 1.0,
        counterfactual_kinds: tuple[str, ...] | None = None,
        rank: float = 0.0,
        rank_margin: float = RANK_MARGIN,
        colorless: float = 0.0,
        colorless_relations: bool = True,
        attributes: float = 0.0,
    ):
        from ..world.negatives import COUNTERFACTUAL_KINDS

        self.pairs, self.tok, self.hard, self.seed = pairs, tokenizer, hard_negatives, seed
        self.counterfactual_kinds = tuple(counterfactual_kinds or COUNTERFACTUAL_KINDS)  # none named: every kind
        if set(self.counterfactual_kinds) - set(COUNTERFACTUAL_KINDS):
            raise ValueError(
                f"counterfactual kinds must be among {', '.join(COUNTERFACTUAL_KINDS)}, "
                f"got {', '.join(self.counterfactual_kinds)}"
            )
        self.separate = separate
        self.rank, self.rank_margin = rank, rank_margin
        self.negative_weights = negative_weights or None
        self.stated = None
        if hard_negatives and pairs.metas and all("stated" in m for m in pairs.metas):
            from ..world.constraints import Constraints

            self.stated = [Constraints.from_dict(m["stated"]) for m in pairs.metas]
        has_scenes = bool(pairs.metas) and all("scene" in m for m in pairs.metas)
        self.counterfactuals = counterfactuals if self.stated is not None and has_scenes else 0.0
        if not 0.0 <= colorless <= 1.0:
            raise ValueError(f"colorless is a share of captions, between 0 and 1; got {colorless}")
        self.colorless = colorless if self.stated is not None else 0.0
        self.colorless_relations = colorless_relations
        self.compose, self.targets, self.swaps = 0.0, None, None
        if compose and has_scenes:
            from ..world.targets import composition_target, swap_pairs

            self.compose = compose
            self.targets = torch.from_numpy(np.stack([composition_target(m["scene"]) for m in pairs.metas]))
            self.swaps = torch.tensor([swap_pairs(m["scene"]) for m in pairs.metas], dtype=torch.long)
        self.compose_text, self.caption_targets = 0.0, None
        if compose_text and self.stated is not None:
            from ..world.targets import caption_target

            self.compose_text = compose_text
            made = [caption_target(m["stated"]) for m in pairs.metas]
            presence, mask, swaps = (np.stack(x) for x in zip(*made))
            self.caption_targets = (torch.from_numpy(presence), torch.from_numpy(mask), torch.from_numpy(swaps).long())
        self.relate, self.relate_picture, self.relate_caption, self.places, self.relations = 0.0, 0.0, 0.0, None, None
        if relate and has_scenes and self.stated is not None:
            from ..world.targets import place_target, relation_rows

            self.relate, self.relate_picture, self.relate_caption = relate, relate_picture, relate_caption
            pos, present = (np.stack(x) for x in zip(*(place_target(m["scene"]) for m in pairs.metas)))
            self.places = (torch.from_numpy(pos), torch.from_numpy(present))
            self.relations = torch.from_numpy(np.stack([relation_rows(m["stated"]) for m in pairs.metas]))
        self.attributes, self.attribute_targets, self.caption_attribute_targets = 0.0, None, None
        if attributes and has_scenes:
            from ..world.targets import attribute_target, caption_attributes

            self.attributes = attributes
            # which colours and shapes each picture holds: the place targets' presences, where built
            self.attribute_targets = (
                self.places[1]
                if self.places is not None
                else torch.from_numpy(np.stack([attribute_target(m["scene"]) for m in pairs.metas]))
            )
            if self.stated is not None:
                presence, mask = (np.stack(x) for x in zip(*(caption_attributes(m["stated"]) for m in pairs.metas)))
                self.caption_attribute_targets = (torch.from_numpy(presence), torch.from_numpy(mask))

    def batch_captions(self, idx: np.ndarray, step: int) -> tuple[list[str], list | None, list[int]]:
        """The batch's captions and what each states, a share ``colorless`` of them shown without
        their colour words (world/negatives.py drop_colors) where that stays true of the picture
        (and, with ``colorless_relations`` False, where the caption states no relation), and the
        batch positions so shortened."""
        captions = [self.pairs.captions[i] for i in idx]
        if self.stated is None:
            return captions, None, []
        stated = [self.stated[i] for i in idx]
        shortened = []
        if self.colorless:
            from ..world.negatives import drop_colors

            draws = np.random.default_rng([self.seed, step, 13]).random(len(idx))
            for j in np.flatnonzero(draws < self.colorless):
                if stated[j].relations and not self.colorless_relations:
                    continue
                made = drop_colors(captions[j], stated[j])
                if made is not None:
                    captions[j], stated[j] = made
                    shortened.append(int(j))
        return captions, stated, shortened

    def counterfactual_pairs(
        self, idx: np.ndarray, step: int, batch: list[str], stated: list
    ) -> tuple[list[np.ndarray], list[str], list[int]]:
        """Pictures, captions, and the batch position each was made from (``batch`` and
        ``stated`` are the batch's captions and what they state, as batch_captions gives them)."""
        from ..world import Scene, render_array
        from ..world.negatives import counterfactual

        want = round(len(idx) * self.counterfactuals)
        rng = np.random.default_rng([self.seed, step, 11])
        images, captions, sources = [], [], []
        size = self.pairs.images.shape[1]
        for j in rng.permutation(len(idx)):
            if len(images) == want:
                break
            i = int(idx[j])
            scene = Scene.from_dict(self.pairs.metas[i]["scene"])
            for kind in rng.permutation(self.counterfactual_kinds):
                made = counterfactual(scene, batch[j], stated[j], str(kind), rng)
                if made is not None:
                    images.append(render_array(made[0], size))
                    captions.append(made[1])
                    sources.append(int(j))
                    break
        return images, captions, sources

    def negatives(self, step: int, captions: list[str], stated: list) -> tuple[list[str], torch.Tensor]:
        from ..world.negatives import pick_negative

        rng = np.random.default_rng([self.seed, step, 7])
        texts, valid = [], []
        for caption, said in zip(captions, stated):
            neg = pick_negative(caption, said, rng, self.negative_weights)
            texts.append(neg or caption)
            valid.append(neg is not None)
        return texts, torch.tensor(valid)

    def negative_relations(self, texts: list[str], valid: torch.Tensor) -> torch.Tensor:
        """``relation_rows`` of the hard negatives (none for rows without one): a negative whose
        relation is reversed states the opposite sides, a contrast that teaches them. In a
        one-off test (not in the repository) a causal tower trained on the sides alone got 0.97
        of val captions right after 500 steps of 64 captions and their reversals, 0.66 after
        500 steps of 128 captions."""
        from ..world.captions import parse
        from ..world.targets import NO_RELATION, RELATION_ROWS, relation_rows

        none = np.array([NO_RELATION] * RELATION_ROWS, np.int64)
        return torch.from_numpy(
            np.stack([relation_rows(parse(t).to_dict()) if ok else none for t, ok in zip(texts, valid.tolist())])
        )

    def prepare(self, idx: np.ndarray, step: int) -> dict:
        """Everything a step needs that the model does not: pictures (with the counterfactuals),
        tokens, hard negatives and the training targets, a pure function of ``idx`` and ``step``
        (about a tenth of a world-bind step, in Python). Making the next step's batch in a thread
        while this one trained was slower on 2 CPU cores: 1.83 s a step against 1.18 without it
        (1.31 with the interpreter's switch interval cut to 0.2 ms), as the thread held the
        interpreter lock between the model's operations. With spare cores a worker process might pay."""
        images = self.pairs.images[idx]
        captions, stated_rows, shortened = self.batch_captions(idx, step)
        short = {j: stated_rows[j].to_dict() for j in shortened}  # what each shortened caption states
        extra_images, extra_captions, sources = (
            self.counterfactual_pairs(idx, step, captions, stated_rows) if self.counterfactuals else ([], [], [])
        )
        if extra_images:
            images = np.concatenate([images, np.stack(extra_images)])
        ids, mask = self.tok(captions + extra_captions, warn=False)
        batch = {"n": len(idx), "pixels": to_pixels(images), "ids": ids, "mask": mask, "logs": {}}
        rows = torch.from_numpy(np.asarray(idx))
        negs = valid = None
        if self.stated is not None:
            negs, valid = self.negatives(step, captions, stated_rows)
            if self.colorless:
                batch["logs"]["colorless"] = len(shortened) / len(idx)
            n_extra = len(extra_captions)
            batch["neg_ids"], batch["neg_mask"] = self.tok(negs + extra_captions, warn=False)
            batch["valid"] = torch.cat([valid, torch.zeros(n_extra, dtype=torch.bool)])
            batch["sources"] = torch.tensor(
                sources, dtype=torch.long
            )  # the batch row each counterfactual was made from
        if self.targets is not None:
            batch["targets"], batch["swaps"] = self.targets[rows], self.swaps[rows]
        if self.caption_targets is not None:
            presence, pmask, swaps = (t[rows] for t in self.caption_targets)  # indexing copies
            if shortened:
                from ..world.targets import caption_target

                for j in shortened:  # a shortened caption states less: its own targets
                    p, m, sw = caption_target(short[j])
                    presence[j], pmask[j], swaps[j] = torch.from_numpy(p), torch.from_numpy(m), torch.tensor(sw)
            batch["caption_targets"] = (presence, pmask, swaps)
        if self.attribute_targets is not None:
            batch["attributes"] = self.attribute_targets[rows]
        if self.caption_attribute_targets is not None:
            presence, pmask = (t[rows] for t in self.caption_attribute_targets)
            if shortened:
                from ..world.targets import caption_attributes

                for j in shortened:  # a shortened caption names no colours: its own targets
                    p, m = caption_attributes(short[j])
                    presence[j], pmask[j] = torch.from_numpy(p), torch.from_numpy(m)
            batch["caption_attributes"] = (presence, pmask)
        if self.places is not None:
            batch["places"] = tuple(t[rows] for t in self.places)
            relations = self.relations[rows]
            if shortened:
                from ..world.targets import relation_rows

                for j in shortened:
                    relations[j] = torch.from_numpy(relation_rows(short[j]))
            # the captions, then their hard negatives (relate needs them): a reversed relation is a
            # caption too, stating the opposite sides
            batch["stated_relations"] = torch.cat([relations, self.negative_relations(negs, valid)])
        return batch

    def loss(self, model: CLIP, idx: np.ndarray, step: int):
        return self.compute(model, self.prepare(idx, step))

    def compute(self, model: CLIP, batch: dict):
        """The loss and logged values of a batch ``prepare`` made."""
        n, logs = batch["n"], dict(batch["logs"])
        pixels, ids, mask = batch["pixels"], batch["ids"], batch["mask"]
        if self.stated is not None:
            valid, src = batch["valid"], batch["sources"]
            img, txt, neg, scale, comp, place = model(pixels, ids, mask, batch["neg_ids"], batch["neg_mask"], valid)
            loss = contrastive_loss(img, txt, scale, neg, valid)
            if self.separate:
                # keep near twins apart in each tower (a caption from its hard negative, a picture
                # from its counterfactual), so that neither can settle on bag-of-words features
                cf = torch.arange(n, n + len(src))
                sims = torch.cat(
                    [(txt * neg).sum(-1)[valid], (img[src] * img[cf]).sum(-1), (txt[src] * txt[cf]).sum(-1)]
                )
                if len(sims):
                    sep = torch.relu(sims - SEPARATION_MARGIN).mean()
                    loss = loss + self.separate * sep
                    logs["twin_cos"] = float(sims.detach().mean())
            if self.rank:  # each true pair must beat its twin by a margin (clip/loss.py rank_loss)
                ranked, gaps = rank_loss(img, txt, neg, valid, src, scale, self.rank_margin)
                loss = loss + self.rank * ranked
                logs["rank_loss"] = float(ranked.detach())
                if len(gaps):
                    logs["rank_gap"] = float(gaps.median())
            with torch.no_grad():  # share of pictures that prefer their caption to its hard negative
                if valid.any():
                    logs["neg_acc"] = float(((img * txt).sum(-1) > (img * neg).sum(-1))[valid].float().mean())
        else:
            img, txt, _, scale, comp, place = model(pixels, ids, mask)
            loss = contrastive_loss(img, txt, scale)
        if self.targets is not None or self.caption_targets is not None:
            from ..world.targets import N_PAIRS, SIZE

            if comp is None:
                raise ValueError("compose > 0 needs a CLIP built with compose_outputs (a composition head)")
            if self.targets is not None:  # the pair targets are the head's first SIZE outputs
                comp_loss = composition_loss(comp[:n, :SIZE], batch["targets"], N_PAIRS, batch["swaps"])
                loss = loss + self.compose * comp_loss
                logs["compose_loss"] = float(comp_loss.detach())
            if self.caption_targets is not None:
                presence, pmask, swaps = batch["caption_targets"]
                text_loss = caption_composition_loss(comp[len(img) : len(img) + n], presence, pmask, N_PAIRS, swaps)
                loss = loss + self.compose_text * text_loss
                logs["compose_text_loss"] = float(text_loss.detach())
        if self.attribute_targets is not None:
            from ..world.targets import SIZE

            if comp is None or comp.shape[1] <= SIZE:
                raise ValueError(
                    "attributes > 0 needs a CLIP whose composition head has attribute outputs "
                    "(compose_outputs = world/targets.py SIZE + N_PLACES)"
                )
            attr = attribute_loss(comp[:n, SIZE:], batch["attributes"])
            if "caption_attributes" in batch:
                presence, pmask = batch["caption_attributes"]
                attr = attr + attribute_loss(comp[len(img) : len(img) + n, SIZE:], presence, pmask)
            loss = loss + self.attributes * attr
            logs["attribute_loss"] = float(attr.detach())
        if self.places is not None:
            if place is None:
                raise ValueError("relate > 0 needs a CLIP built with place_outputs (a place head)")
            pos, present = batch["places"]
            where = place_loss(place[:n], pos, present)
            said = torch.cat([place[len(img) : len(img) + n], place[len(img) + len(txt) : len(img) + len(txt) + n]])
            sides = relation_loss(said, batch["stated_relations"])
            loss = loss + self.relate * (self.relate_picture * where + self.relate_caption * sides)
            logs["place_loss"], logs["relation_loss"] = float(where.detach()), float(sides.detach())
        logs["temperature"] = float(1.0 / scale.detach())
        return loss, logs


def build_tokenizer(captions: list[str], vocab_size: int, context: int) -> CaptionTokenizer:
    from ..world import vocab

    words = [" ".join(vocab.COLORS), " ".join(vocab.PLURALS), " ".join(vocab.PLURALS.values())]
    return CaptionTokenizer(train_tokenizer(list(captions) + words, vocab_size), context)


def tokenizer_for_run(tok_path: Path, captions: list[str], vocab_size: int, context: int, state) -> CaptionTokenizer:
    """The run's tokenizer: read back when resuming (the vocabulary must stay the one the weights
    were trained with), else trained on the captions. The main process writes tokenizer.json,
    the others then read it."""
    with state.main_process_first():
        if tok_path.exists():
            return CaptionTokenizer.load(tok_path, context)
        tok = build_tokenizer(captions, vocab_size, context)
        tok.save(tok_path)
        return tok


def train_clip(
    data: str,
    out: str,
    preset_name: str = "world",
    hard_negatives: bool = True,
    limit: int | None = None,
    progress: bool = True,
    counterfactuals: float | None = None,
    separate: float | None = None,
    compose: float | None = None,
    negative_weights: dict[str, float] | None = None,
    compose_text: float | None = None,
    relate: float | None = None,
    relate_picture: float | None = None,
    relate_caption: float | None = None,
    counterfactual_kinds: tuple[str, ...] | None = None,
    rank: float | None = None,
    rank_margin: float | None = None,
    colorless: float | None = None,
    colorless_relations: bool | None = None,
    attributes: float | None = None,
    **loop_overrides,
) -> Path:
    """Train (or resume) a CLIP on image–caption data; write the model folder out/model."""
    import time

    from accelerate import PartialState

    from ..errors import PromptismError
    from .ours import OurClip
    from .presets import PRESETS, preset

    if preset_name not in PRESETS:
        raise PromptismError(f"unknown preset {preset_name!r}; presets are {', '.join(PRESETS)}")
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    size = PRESETS[preset_name]["model"]["image_size"]
    t0 = time.time()
    pairs = load_pairs(data, "train", size=size, limit=limit, progress=progress)
    tok_path = out_dir / "tokenizer.json"
    context = PRESETS[preset_name]["model"]["context"]
    state = PartialState(cpu=not torch.cuda.is_available())  # as the loop's Accelerator: one shared state
    tok = tokenizer_for_run(tok_path, pairs.captions, PRESETS[preset_name]["vocab_size"], context, state)
    cfg, loop = preset(preset_name, tok.vocab_size, out=str(out_dir), **loop_overrides)
    task_defaults = PRESETS[preset_name].get("task", {})
    counterfactuals = task_defaults.get("counterfactuals", 0.0) if counterfactuals is None else counterfactuals
    separate = task_defaults.get("separate", 0.0) if separate is None else separate
    compose = task_defaults.get("compose", 0.0) if compose is None else compose
    negative_weights = task_defaults.get("negative_weights") if negative_weights is None else negative_weights
    compose_text = task_defaults.get("compose_text", 0.0) if compose_text is None else compose_text
    relate = task_defaults.get("relate", 0.0) if relate is None else relate
    relate_picture = task_defaults.get("relate_picture", 1.0) if relate_picture is None else relate_picture
    relate_caption = task_defaults.get("relate_caption", 1.0) if relate_caption is None else relate_caption
    counterfactual_kinds = (
        task_defaults.get("counterfactual_kinds") if counterfactual_kinds is None else counterfactual_kinds
    )
    rank = task_defaults.get("rank", 0.0) if rank is None else rank
    rank_margin = task_defaults.get("rank_margin", RANK_MARGIN) if rank_margin is None else rank_margin
    colorless = task_defaults.get("colorless", 0.0) if colorless is None else colorless
    if colorless_relations is None:
        colorless_relations = task_defaults.get("colorless_relations", True)
    attributes = task_defaults.get("attributes", 0.0) if attributes is None else attributes
    task = ClipTask(
        pairs,
        tok,
        hard_negatives=hard_negatives,
        seed=loop.seed,
        counterfactuals=counterfactuals,
        separate=separate,
        compose=compose,
        negative_weights=negative_weights,
        compose_text=compose_text,
        relate=relate,
        relate_picture=relate_picture,
        relate_caption=relate_caption,
        counterfactual_kinds=counterfactual_kinds,
        rank=rank,
        rank_margin=rank_margin,
        colorless=colorless,
        colorless_relations=colorless_relations,
        attributes=attributes,
    )
    if task.targets is not None or task.caption_targets is not None or task.attribute_targets is not None:
        from dataclasses import replace

        from ..world.targets import N_PLACES, SIZE

        # the attribute logits follow the pair targets in one head (ClipTask.compute)
        cfg = replace(cfg, compose_outputs=SIZE + (N_PLACES if task.attribute_targets is not None else 0))
    if task.places is not None:
        from dataclasses import replace

        from ..world.targets import N_PLACES

        cfg = replace(cfg, place_outputs=N_PLACES)
    torch.manual_seed(loop.seed)  # the same initial weights every run: resuming must match running straight
    model = CLIP(cfg)
    result = train(model, task, len(pairs), loop, progress=progress)
    if not state.is_main_process:
        return out_dir / "model"
    weights = result["ema"]
    if weights is not None:  # BatchNorm statistics for the averaged weights, from training pictures
        from ..train.loop import recalibrate_batchnorm

        rng = np.random.default_rng([loop.seed, 5])

        def picture_batch():
            model.encode_image(
                to_pixels(pairs.images[rng.choice(len(pairs), min(len(pairs), loop.batch_size), replace=False)])
            )

        weights = recalibrate_batchnorm(model, weights, picture_batch, BN_RECALIBRATION_BATCHES)
    folder = OurClip(model, tok).save(
        out_dir / "model",
        extra={
            "name": out_dir.name,
            "preset": preset_name,
            "data": str(data),
            "examples": len(pairs),
            "steps": result["step"],
            "batch_size": loop.batch_size,
            "ema": loop.ema,
            "hard_negatives": task.stated is not None,
            "counterfactuals": task.counterfactuals,
            "counterfactual_kinds": list(task.counterfactual_kinds),
            "separate": task.separate,
            "compose": task.compose,
            "compose_text": task.compose_text,
            "relate": task.relate,
            "relate_picture": task.relate_picture,
            "relate_caption": task.relate_caption,
            "negative_weights": task.negative_weights,
            "rank": task.rank,
            "rank_margin": task.rank_margin,
            "colorless": task.colorless,
            "colorless_relations": task.colorless_relations,
            "attributes": task.attributes,
            "final_logs": result["logs"],
            "wall_seconds_this_run": round(time.time() - t0, 1),
            "train_seconds": result["train_seconds"],
        },
        state_dict=weights,
    )
    (out_dir / "model" / "loop.json").write_text(json.dumps(asdict(loop), indent=1))
    return folder
