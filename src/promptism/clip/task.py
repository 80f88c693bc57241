"""CLIP's training task: what one step of the generic loop computes. Its knobs are the fields of
``ClipTaskConfig`` (clip/task_config.py)."""

from __future__ import annotations

from dataclasses import fields, replace

import numpy as np
import torch

from ..data import Pairs
from ..train.loop import model_device, to_device
from .adversarial import adversarial_loss, load_pool
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
from .task_config import SEPARATION_MARGIN, ClipTaskConfig
from .tokenizer import CaptionTokenizer


def to_pixels(images: np.ndarray) -> torch.Tensor:
    """(N, H, W, 3) uint8 -> (N, 3, H, W) float in [-1, 1]."""
    return torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)


class ClipTask:
    """A batch: pictures, their captions, and one hard-negative caption each where the world's scene
    record allows one (data without records trains without negatives), plus the terms its
    ClipTaskConfig switches on. Knobs that need the Scene World's records (counterfactuals,
    composition, place and attribute targets) stay off on data without them."""

    def __init__(
        self, pairs: Pairs, tokenizer: CaptionTokenizer, config: ClipTaskConfig | None = None, seed: int = 0, **knobs
    ):
        """``config`` holds the task's knobs (ClipTaskConfig); knobs given by name replace its fields."""
        cfg = replace(config or ClipTaskConfig(), **knobs)
        self.pairs, self.tok, self.hard, self.seed = pairs, tokenizer, cfg.hard_negatives, seed
        self.counterfactual_kinds = cfg.kinds()
        self.separate = cfg.separate
        self.rank, self.rank_margin = cfg.rank, cfg.rank_margin
        self.negative_weights = cfg.negative_weights or None
        self.stated = None
        if cfg.hard_negatives and pairs.metas and all("stated" in m for m in pairs.metas):
            from ..world.constraints import Constraints

            self.stated = [Constraints.from_dict(m["stated"]) for m in pairs.metas]
        has_scenes = bool(pairs.metas) and all("scene" in m for m in pairs.metas)
        self.counterfactuals = cfg.counterfactuals if self.stated is not None and has_scenes else 0.0
        self.colorless = cfg.colorless if self.stated is not None else 0.0
        self.colorless_relations = cfg.colorless_relations
        self._pair_targets(cfg, has_scenes)
        self._place_targets(cfg, has_scenes)
        self._attribute_targets(cfg, has_scenes)
        self.adversarial, self.adversarial_pictures, self.pool = 0.0, None, None
        if cfg.adversarial:
            self.pool = load_pool(cfg.adversarial_pictures, pairs.images.shape[1])
            self.adversarial, self.adversarial_pictures = cfg.adversarial, str(cfg.adversarial_pictures)
        self.robust_eps, self.robust_steps = cfg.robust_eps, cfg.robust_steps

    def _pair_targets(self, cfg: ClipTaskConfig, has_scenes: bool) -> None:
        """The composition head's targets: (colour, shape) pairs off pictures and off captions."""
        metas = self.pairs.metas
        self.compose, self.targets, self.swaps = 0.0, None, None
        if cfg.compose and has_scenes:
            from ..world.targets import composition_target, swap_pairs

            self.compose = cfg.compose
            self.targets = torch.from_numpy(np.stack([composition_target(m["scene"]) for m in metas]))
            self.swaps = torch.tensor([swap_pairs(m["scene"]) for m in metas], dtype=torch.long)
        self.compose_text, self.caption_targets = 0.0, None
        if cfg.compose_text and self.stated is not None:
            from ..world.targets import caption_target

            self.compose_text = cfg.compose_text
            presence, mask, swaps = (np.stack(x) for x in zip(*[caption_target(m["stated"]) for m in metas]))
            self.caption_targets = (torch.from_numpy(presence), torch.from_numpy(mask), torch.from_numpy(swaps).long())

    def _place_targets(self, cfg: ClipTaskConfig, has_scenes: bool) -> None:
        """The place head's targets: where each colour and shape is, and the sides relations state."""
        metas = self.pairs.metas
        self.relate, self.relate_picture, self.relate_caption, self.places, self.relations = 0.0, 0.0, 0.0, None, None
        if cfg.relate and has_scenes and self.stated is not None:
            from ..world.targets import place_target, relation_rows

            self.relate, self.relate_picture, self.relate_caption = cfg.relate, cfg.relate_picture, cfg.relate_caption
            pos, present = (np.stack(x) for x in zip(*(place_target(m["scene"]) for m in metas)))
            self.places = (torch.from_numpy(pos), torch.from_numpy(present))
            self.relations = torch.from_numpy(np.stack([relation_rows(m["stated"]) for m in metas]))

    def _attribute_targets(self, cfg: ClipTaskConfig, has_scenes: bool) -> None:
        """Which colours and which shapes each picture holds and each caption names."""
        metas = self.pairs.metas
        self.attributes, self.attribute_targets, self.caption_attribute_targets = 0.0, None, None
        if cfg.attributes and has_scenes:
            from ..world.targets import attribute_target, caption_attributes

            self.attributes = cfg.attributes
            # the place targets' presences, where built
            self.attribute_targets = (
                self.places[1]
                if self.places is not None
                else torch.from_numpy(np.stack([attribute_target(m["scene"]) for m in metas]))
            )
            if self.stated is not None:
                presence, mask = (np.stack(x) for x in zip(*(caption_attributes(m["stated"]) for m in metas)))
                self.caption_attribute_targets = (torch.from_numpy(presence), torch.from_numpy(mask))

    def effective(self) -> ClipTaskConfig:
        """The knobs as this task runs them: those its data cannot serve are off. Each knob is the
        attribute of its name; hard negatives are on where the data states what captions say."""
        knobs = {f.name: getattr(self, f.name) for f in fields(ClipTaskConfig) if f.name != "hard_negatives"}
        return ClipTaskConfig(hard_negatives=self.stated is not None, **knobs)

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

    def adversarial_pairs(self, n: int, step: int) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """A quarter of a batch's size (at least one) of the pool's fooling pictures, a fresh true
        render of each one's caption, and the captions."""
        rng = np.random.default_rng([self.seed, step, 17])
        chosen = rng.choice(len(self.pool), min(len(self.pool), max(1, n // 4)), replace=False)
        return self.pool.truths(chosen, rng), self.pool.images[chosen], [self.pool.captions[i] for i in chosen]

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
        relation is reversed states the opposite sides, a contrast that teaches them."""
        from ..world.captions import parse
        from ..world.targets import NO_RELATION, RELATION_ROWS, relation_rows

        none = np.array([NO_RELATION] * RELATION_ROWS, np.int64)
        return torch.from_numpy(
            np.stack([relation_rows(parse(t).to_dict()) if ok else none for t, ok in zip(texts, valid.tolist())])
        )

    def prepare(self, idx: np.ndarray, step: int) -> dict:
        """Everything a step needs that the model does not: pictures (with the counterfactuals),
        tokens, hard negatives and the training targets, a pure function of ``idx`` and ``step``.
        Making the next step's batch in a thread while this one trained was slower on 2 CPU cores,
        as the thread held the interpreter lock between the model's operations; with spare cores a
        worker process might pay."""
        images = self.pairs.images[idx]
        captions, stated_rows, shortened = self.batch_captions(idx, step)
        short = {j: stated_rows[j].to_dict() for j in shortened}  # what each shortened caption states
        extra_images, extra_captions, sources = (
            self.counterfactual_pairs(idx, step, captions, stated_rows) if self.counterfactuals else ([], [], [])
        )
        if extra_images:
            images = np.concatenate([images, np.stack(extra_images)])
        adv_captions: list[str] = []
        if self.pool is not None:  # their true renders are captioned pairs; the fooling pictures come last
            truths, fooling, adv_captions = self.adversarial_pairs(len(idx), step)
            images = np.concatenate([images, truths, fooling])
        ids, mask = self.tok(captions + extra_captions + adv_captions, warn=False)
        batch = {"n": len(idx), "pixels": to_pixels(images), "ids": ids, "mask": mask, "logs": {}}
        batch["fooling"] = len(adv_captions)
        rows = torch.from_numpy(np.asarray(idx))
        negs = valid = None
        if self.stated is not None:
            negs, valid = self.negatives(step, captions, stated_rows)
            if self.colorless:
                batch["logs"]["colorless"] = len(shortened) / len(idx)
            n_extra = len(extra_captions) + len(adv_captions)
            batch["neg_ids"], batch["neg_mask"] = self.tok(negs + extra_captions + adv_captions, warn=False)
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
        return self.compute(model, to_device(self.prepare(idx, step), model_device(model)))

    def compute(self, model: CLIP, batch: dict):
        """The loss and logged values of a batch ``prepare`` made: the contrastive terms, then the
        heads' terms, added in that order; with ``robust_eps``, on the batch's pictures moved where
        the loss is highest (``attack``)."""
        if self.robust_eps:
            moved, distance = self.attack(model, batch)
            batch = {**batch, "pixels": moved, "logs": {**batch["logs"], "robust_move": distance}}
        return self._compute(model, batch)

    def attack(self, model: CLIP, batch: dict) -> tuple[torch.Tensor, float]:
        """The batch's pictures moved (and their mean L2 distance from where they were) by projected gradient ascent on the loss, each within an L2 ball
        of radius ``robust_eps`` and inside [-1, 1] (Madry et al. 2018), ``robust_steps`` steps of
        2.5 eps / steps along the normalised gradient. The model runs in eval mode meanwhile (its
        BatchNorm statistics are not moved by the search), and no weight gets a gradient."""
        pixels, eps = batch["pixels"], self.robust_eps
        alpha = 2.5 * eps / self.robust_steps
        delta = torch.zeros_like(pixels)
        was_training = model.training
        model.eval()
        try:
            for _ in range(self.robust_steps):
                delta.requires_grad_(True)
                loss, _ = self._compute(model, {**batch, "pixels": pixels + delta})
                (grad,) = torch.autograd.grad(loss, delta)
                with torch.no_grad():
                    norm = grad.flatten(1).norm(dim=1).clamp_min(1e-12)[:, None, None, None]
                    delta = delta + alpha * grad / norm
                    size = delta.flatten(1).norm(dim=1).clamp_min(1e-12)[:, None, None, None]
                    delta = delta * (eps / size).clamp(max=1.0)
                    delta = (pixels + delta).clamp(-1, 1) - pixels
        finally:
            model.train(was_training)
        return (pixels + delta).detach(), float(delta.flatten(1).norm(dim=1).mean())

    def _compute(self, model: CLIP, batch: dict):
        logs = dict(batch["logs"])
        loss, towers = self._contrastive(model, batch, logs)
        loss = self._head_terms(loss, batch, towers, logs)
        logs["temperature"] = float(1.0 / towers[3].detach())
        return loss, logs

    def _contrastive(self, model: CLIP, batch: dict, logs: dict):
        """The contrastive loss with the hard negatives and their twins' terms, and the adversarial
        term, and what the towers gave: (pictures, captions, negatives, scale, composition logits,
        place logits), the pictures with the fooling ones last."""
        n, fooling = batch["n"], batch.get("fooling", 0)
        pixels, ids, mask = batch["pixels"], batch["ids"], batch["mask"]
        if self.stated is not None:
            valid, src = batch["valid"], batch["sources"]
            shown, txt, neg, scale, comp, place = model(pixels, ids, mask, batch["neg_ids"], batch["neg_mask"], valid)
            img = shown[: len(shown) - fooling]  # the captioned pictures
            loss = contrastive_loss(img, txt, scale, neg, valid)
            if self.separate:
                # keep near twins apart in each tower (a caption from its hard negative, a picture
                # from its counterfactual), so that neither can settle on bag-of-words features
                cf = torch.arange(n, n + len(src), device=img.device)
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
            shown, txt, _, scale, comp, place = model(pixels, ids, mask)
            img = shown[: len(shown) - fooling]
            loss = contrastive_loss(img, txt, scale)
        if fooling:  # each fooling picture's caption must pick its true render, rows just before them
            truth_rows = torch.arange(len(img) - fooling, len(img), device=img.device)
            adv, beats = adversarial_loss(txt[-fooling:], shown, truth_rows, scale)
            loss = loss + self.adversarial * adv
            logs["adversarial_loss"], logs["adversarial_acc"] = float(adv.detach()), beats
        return loss, (shown, txt, None if self.stated is None else neg, scale, comp, place)

    def _head_terms(self, loss, batch: dict, towers, logs: dict):
        """``loss`` plus the composition, attribute and place heads' terms that the task asks for."""
        n = batch["n"]
        img, txt, _, _, comp, place = towers
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
        return loss
