"""Training the layout stage through the generic loop, on pictures whose records hold their scene
(the Scene World's KEY.json "scene": every object's colour, shape, size and centroid).

    promptism train layout --data DIR --out runs/layout
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from ..data import Pairs, load_pairs
from ..errors import PromptismError
from ..train.loop import card_fields, loop_config, model_device, to_device, train
from .model import LayoutConfig, LayoutModel, encode_objects
from .presets import PRESETS


def preset(name: str) -> dict:
    if name not in PRESETS:
        raise PromptismError(f"unknown layout preset {name!r}; presets are {', '.join(PRESETS)}")
    return PRESETS[name]


def scene_objects(pairs: Pairs, where: str = "the training data") -> list[list[dict]]:
    """Each pair's objects (its record's "scene"), in the order the caption names them; a clear error
    for data without scene records."""
    out = []
    for i, m in enumerate(pairs.metas or [{}] * len(pairs)):
        scene = m.get("scene") if isinstance(m, dict) else None
        if not scene or "objects" not in scene:
            raise PromptismError(
                f"{where}: record {i} has no scene (KEY.json 'scene' with its objects); a layout stage "
                "learns from pictures whose objects are known, such as the Scene World's"
            )
        out.append(scene["objects"])
    return out


class LayoutTask:
    def __init__(self, text: torch.Tensor, targets: torch.Tensor):
        self.text, self.targets = text, targets

    def loss(self, model, idx: np.ndarray, step: int):
        rows = torch.from_numpy(idx)
        text, targets = to_device((self.text[rows], self.targets[rows]), model_device(model))
        m = model.module if hasattr(model, "module") else model
        return m.loss(text, targets), {}


def train_layout(
    data: str,
    out: str,
    preset_name: str = "world",
    settings: dict | None = None,
    limit: int | None = None,
    progress: bool = True,
    crop: str = "center",
    **loop_overrides,
) -> Path:
    """Train (or resume) a layout stage; write OUT/model (EMA weights, config, tokenizer)."""
    from accelerate import PartialState

    from ..checkpoint import save_model
    from ..clip.tokenizer import CaptionTokenizer, train_tokenizer

    p = preset(preset_name) if settings is None else settings
    t0 = time.time()
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    state = PartialState(cpu=not torch.cuda.is_available())
    pairs = load_pairs(data, "train", size=0, limit=limit, progress=progress, images=False, crop=crop)
    objects = scene_objects(pairs, str(data))
    tok_path = out_dir / "tokenizer.json"
    with state.main_process_first():  # a resumed run keeps the tokenizer its checkpoint was trained with
        if tok_path.exists():
            tok = CaptionTokenizer.load(tok_path, p["model"]["context"])
        else:
            tok = CaptionTokenizer(train_tokenizer(pairs.captions, p["task"]["text_vocab"]), p["model"]["context"])
            if state.is_main_process:
                tok.save(tok_path)
    cfg = LayoutConfig(**p["model"], text_vocab=tok.vocab_size)
    text, _ = tok(pairs.captions, warn=False)
    targets = torch.tensor([encode_objects(o, cfg) for o in objects], dtype=torch.long)
    loop = loop_config(p["loop"], out_dir, loop_overrides)
    torch.manual_seed(loop.seed)
    model = LayoutModel(cfg)
    result = train(model, LayoutTask(text, targets), len(pairs), loop, progress=progress)
    if not state.is_main_process:
        return out_dir / "model"
    weights = result["ema"] or {k: v.cpu() for k, v in model.state_dict().items()}
    extra = card_fields(out_dir, preset_name, data, len(pairs), p["task"], result, loop, t0)
    folder = save_model(out_dir / "model", "layout", LayoutModel(cfg), cfg, extra, weights)
    tok.save(folder / "tokenizer.json")
    return folder
