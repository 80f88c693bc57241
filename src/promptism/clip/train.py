"""Training CLIP: the task the generic loop runs, and `promptism train clip`."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from ..data import Pairs, load_pairs
from ..train.loop import train
from .loss import contrastive_loss
from .model import CLIP
from .tokenizer import CaptionTokenizer, train_tokenizer


def to_pixels(images: np.ndarray) -> torch.Tensor:
    """(N, H, W, 3) uint8 -> (N, 3, H, W) float in [-1, 1]."""
    return torch.from_numpy(images).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)


class ClipTask:
    """A batch: pictures, their captions, and one hard-negative caption each where the
    world's scene record allows one (data without records trains without negatives)."""

    def __init__(self, pairs: Pairs, tokenizer: CaptionTokenizer, hard_negatives: bool = True, seed: int = 0):
        self.pairs, self.tok, self.hard, self.seed = pairs, tokenizer, hard_negatives, seed
        self.stated = None
        if hard_negatives and pairs.metas and all("stated" in m for m in pairs.metas):
            from ..world.constraints import Constraints

            self.stated = [Constraints.from_dict(m["stated"]) for m in pairs.metas]

    def negatives(self, idx: np.ndarray, step: int) -> tuple[list[str], torch.Tensor]:
        from ..world.negatives import pick_negative

        rng = np.random.default_rng([self.seed, step, 7])
        texts, valid = [], []
        for i in idx:
            neg = pick_negative(self.pairs.captions[i], self.stated[i], rng)
            texts.append(neg or self.pairs.captions[i])
            valid.append(neg is not None)
        return texts, torch.tensor(valid)

    def loss(self, model: CLIP, idx: np.ndarray, step: int):
        pixels = to_pixels(self.pairs.images[idx])
        ids, mask = self.tok([self.pairs.captions[i] for i in idx], warn=False)
        logs = {}
        if self.stated is not None:
            negs, valid = self.negatives(idx, step)
            nid, nmask = self.tok(negs, warn=False)
            img, txt, neg, scale = model(pixels, ids, mask, nid, nmask)
            loss = contrastive_loss(img, txt, scale, neg, valid)
            with torch.no_grad():  # share of pictures that prefer their caption to its hard negative
                if valid.any():
                    logs["neg_acc"] = float(((img * txt).sum(-1) > (img * neg).sum(-1))[valid].float().mean())
        else:
            img, txt, _, scale = model(pixels, ids, mask)
            loss = contrastive_loss(img, txt, scale)
        logs["temperature"] = float(1.0 / scale.detach())
        return loss, logs


def build_tokenizer(captions: list[str], vocab_size: int, context: int) -> CaptionTokenizer:
    from ..world import vocab

    words = [" ".join(vocab.COLORS), " ".join(vocab.PLURALS), " ".join(vocab.PLURALS.values())]
    return CaptionTokenizer(train_tokenizer(list(captions) + words, vocab_size), context)


def train_clip(data: str, out: str, preset_name: str = "world", hard_negatives: bool = True,
               limit: int | None = None, progress: bool = True, **loop_overrides) -> Path:
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
    with state.main_process_first():  # the main process writes tokenizer.json, the others then read it
        if tok_path.exists():  # resuming: the vocabulary must stay the one the weights were trained with
            tok = CaptionTokenizer.load(tok_path, context)
        else:
            tok = build_tokenizer(pairs.captions, PRESETS[preset_name]["vocab_size"], context)
            tok.save(tok_path)
    cfg, loop = preset(preset_name, tok.vocab_size, out=str(out_dir), **loop_overrides)
    torch.manual_seed(loop.seed)  # the same initial weights every run: resuming must match running straight
    model = CLIP(cfg)
    task = ClipTask(pairs, tok, hard_negatives=hard_negatives, seed=loop.seed)
    result = train(model, task, len(pairs), loop, progress=progress)
    if not state.is_main_process:
        return out_dir / "model"
    weights = result["ema"] if result["ema"] is not None else None
    folder = OurClip(model, tok).save(out_dir / "model", extra={
        "name": out_dir.name, "preset": preset_name, "data": str(data), "examples": len(pairs),
        "steps": result["step"], "batch_size": loop.batch_size, "ema": loop.ema, "hard_negatives": task.stated is not None,
        "final_logs": result["logs"], "wall_seconds_this_run": round(time.time() - t0, 1),
    }, state_dict=weights)
    (out_dir / "model" / "loop.json").write_text(json.dumps(asdict(loop), indent=1))
    return folder
