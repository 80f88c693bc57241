"""Training the mini transformer through the generic loop. The pictures are turned into VQGAN codes
once (``encode_codes``, resumable: a killed run goes on from the last chunk written), so training
reads tokens, not pictures. Captions are dropped (replaced by the empty caption) part of the time,
so that the model also learns the unconditional distribution that guidance needs."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import PromptismError
from ..train.loop import card_fields, loop_config, model_device, to_device, train
from .model import MiniConfig, MiniTransformer
from .presets import PRESETS

CHUNK = 256  # pictures encoded between two records of progress


def encode_codes(
    data: str | Path, vqgan: str, out: str | Path, limit: int | None = None, progress: bool = True, crop: str = "center"
) -> tuple[np.ndarray, list[str]]:
    """The VQGAN codes (N, grid²) and captions of a dataset's training pictures, kept in ``out``
    (codes.npy, captions.json, state.json). A run that stopped part-way goes on from its last chunk;
    one made from another VQGAN or dataset is an error, not silently reused."""
    from tqdm.auto import tqdm

    from ..checkpoint import weights_sha256
    from ..clip.task import to_pixels
    from ..data import load_pairs
    from ..vqgan import load as load_vqgan

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    vq = load_vqgan(vqgan)
    pairs = load_pairs(data, "train", size=vq.config.image_size, limit=limit, progress=progress, crop=crop)
    n, cells = len(pairs), vq.config.grid**2
    want = {"n": n, "vqgan_sha256": weights_sha256(vq.folder), "data": str(data), "crop": crop, "limit": limit}
    state_path, codes_path = out / "state.json", out / "codes.npy"
    state = json.loads(state_path.read_text()) if state_path.exists() else None
    if state is not None and {k: state.get(k) for k in want} != want:
        raise PromptismError(
            f"{out} holds codes of another dataset or VQGAN ({state.get('data')}); give a new --out or remove it"
        )
    if state is None or not codes_path.exists():
        codes = np.lib.format.open_memmap(codes_path, mode="w+", dtype=np.int16, shape=(n, cells))
        (out / "captions.json").write_text(json.dumps(pairs.captions))
        state = {**want, "done": 0}
    else:
        codes = np.load(codes_path, mmap_mode="r+")
    done = state["done"]
    with torch.no_grad(), tqdm(total=n, initial=done, desc="encoding codes", disable=not progress, unit="img") as bar:
        while done < n:
            end = min(n, done + CHUNK)
            idx = vq.encode(to_pixels(pairs.images[done:end]))
            codes[done:end] = idx.reshape(end - done, -1).numpy().astype(np.int16)
            codes.flush()
            done = end
            tmp = state_path.with_suffix(".tmp")
            tmp.write_text(json.dumps({**state, "done": done}))
            tmp.replace(state_path)
            bar.update(end - bar.n)
    return np.asarray(codes), pairs.captions


class MiniTask:
    """Cross-entropy of every code given the caption and the codes before it."""

    def __init__(self, codes: np.ndarray, text: torch.Tensor, null: torch.Tensor, drop_text: float, seed: int = 0):
        self.codes, self.text, self.null = torch.from_numpy(codes.astype(np.int64)), text, null
        self.drop_text, self.seed = drop_text, seed

    def loss(self, model, idx: np.ndarray, step: int):
        rng = np.random.default_rng([self.seed, step])
        text = self.text[idx].clone()
        dropped = torch.from_numpy(rng.random(len(idx)) < self.drop_text)
        text[dropped] = self.null
        codes = self.codes[idx]
        text, codes = to_device((text, codes), model_device(model))
        logits = model(text, codes)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), codes.reshape(-1))
        return loss, {"dropped": float(dropped.float().mean())}


def preset(name: str) -> dict:
    if name not in PRESETS:
        raise PromptismError(f"unknown mini preset {name!r}; presets are {', '.join(PRESETS)}")
    return PRESETS[name]


def train_mini(
    data: str,
    out: str,
    preset_name: str = "world",
    settings: dict | None = None,
    vqgan: str = "world",
    limit: int | None = None,
    progress: bool = True,
    crop: str = "center",
    init: str | None = None,
    **loop_overrides,
) -> Path:
    """Train (or resume) a mini transformer on a dataset's pictures as ``vqgan``'s codes; writes
    OUT/codes (the encoded dataset) and OUT/model (EMA weights, config, tokenizer). ``init`` (a
    shipped name or a model folder, trained over the same VQGAN) fine-tunes: the run starts from its
    weights and keeps its tokenizer."""
    from accelerate import PartialState

    from ..checkpoint import keep_start_tokenizer, resolve, save_model, start_from, weights_sha256
    from ..clip.tokenizer import CaptionTokenizer, train_tokenizer
    from ..vqgan import load as load_vqgan

    p = preset(preset_name) if settings is None else settings
    t0 = time.time()
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    state = PartialState(cpu=not torch.cuda.is_available())
    vq = load_vqgan(vqgan)
    vq_info = {"name": str(vqgan), "sha256": weights_sha256(vq.folder)}
    if init:  # checked before the pictures are encoded
        init = str(resolve(init, "mini"))
        init_vq = json.loads((Path(init) / "config.json").read_text()).get("vqgan", {}).get("sha256")
        if init_vq != vq_info["sha256"]:
            raise PromptismError(f"--init {init} writes the codes of another VQGAN than {vqgan!r}")
    codes, captions = encode_codes(data, vqgan, out_dir / "codes", limit, progress, crop)
    tok_path = out_dir / "tokenizer.json"
    keep_start_tokenizer(init, out_dir, state)
    if tok_path.exists():  # a resumed run keeps the tokenizer its checkpoint was trained with
        tok = CaptionTokenizer.load(tok_path, p["model"]["context"])
    else:
        tok = CaptionTokenizer(train_tokenizer(captions, p["task"]["text_vocab"]), p["model"]["context"])
        if state.is_main_process:
            tok.save(tok_path)
    cfg = MiniConfig(
        **p["model"], text_vocab=tok.vocab_size, codebook_size=vq.config.codebook_size, grid=vq.config.grid
    )
    text, _ = tok(captions, warn=False)
    null, _ = tok([""])
    loop = loop_config(p["loop"], out_dir, loop_overrides)
    torch.manual_seed(loop.seed)
    model = MiniTransformer(cfg)
    # a fine-tune's start (a resumed run's checkpoint then replaces these weights)
    start = start_from(init, "mini", MiniConfig, model, cfg, preset_name) if init else {}
    if state.is_main_process:  # what a run stopped before its end ships with (promptism.mini.ship)
        started = {"config": cfg.to_dict(), "preset": preset_name, "data": str(data), "vqgan": vq_info, **start}
        (out_dir / "model_config.json").write_text(json.dumps(started, indent=1))
    task = MiniTask(codes, text, null[0], float(p["task"]["drop_text"]), loop.seed)
    result = train(model, task, len(captions), loop, progress=progress)
    if not state.is_main_process:
        return out_dir / "model"
    weights = result["ema"] or {k: v.cpu() for k, v in model.state_dict().items()}
    extra = {
        **card_fields(out_dir, preset_name, data, len(captions), p["task"], result, loop, t0),
        "vqgan": vq_info,
        **start,
    }
    folder = save_model(out_dir / "model", "mini", MiniTransformer(cfg), cfg, extra, weights)
    tok.save(folder / "tokenizer.json")
    return folder
