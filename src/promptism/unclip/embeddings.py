"""CLIP embeddings of a dataset, computed once (``promptism embed``) and read by the prior and
decoder trainers, as the paper and DALLE2-pytorch do.

A file holds ``image_embed`` (N, D) and ``text_embed`` (N, D), both unit length, float32, and in
its metadata the CLIP's name, the data source and split, and a hash of the captions in order,
so that a trainer can check the file belongs to the pairs it reads.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from ..data.pairs import Pairs, load_pairs
from ..errors import PromptismError


def captions_hash(captions: list[str]) -> str:
    return hashlib.sha256("\n".join(captions).encode()).hexdigest()


@torch.no_grad()
def embed_pairs(pairs: Pairs, clip, batch_size: int = 256, progress: bool = True) -> dict[str, torch.Tensor]:
    from tqdm.auto import tqdm

    images, texts = [], []
    for i in tqdm(range(0, len(pairs), batch_size), desc="embedding", disable=not progress, unit="batch"):
        images.append(clip.encode_image(pairs.images[i : i + batch_size]))
        texts.append(clip.encode_text(pairs.captions[i : i + batch_size]))
    return {"image_embed": torch.cat(images).float(), "text_embed": torch.cat(texts).float()}


def embed_dataset(
    data: str,
    out: str | Path,
    clip_name: str = "world",
    split: str = "train",
    limit: int | None = None,
    progress: bool = True,
    crop: str = "center",
) -> Path:
    from ..clip import load

    clip = load(clip_name)
    pairs = load_pairs(data, split, size=clip.image_size, limit=limit, progress=progress, crop=crop)
    tensors = embed_pairs(pairs, clip, progress=progress)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    save_file(
        {k: v.contiguous() for k, v in tensors.items()},
        str(tmp),
        metadata={
            "clip": clip_name,
            "data": str(data),
            "split": split,
            "n": str(len(pairs)),
            "captions_sha256": captions_hash(pairs.captions),
        },
    )
    tmp.replace(out)
    return out


def load_embeddings(path: str | Path, captions: list[str] | None = None) -> tuple[dict[str, torch.Tensor], dict]:
    """The tensors and metadata of an embeddings file; with ``captions``, check they match."""
    path = Path(path)
    if not path.exists():
        raise PromptismError(f"no embeddings file at {str(path)!r}: make one with `promptism embed`")
    with safe_open(str(path), framework="pt") as f:
        meta = dict(f.metadata() or {})
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    if captions is not None and meta.get("captions_sha256") != captions_hash(captions):
        raise PromptismError(
            f"{path} was computed for other data ({json.dumps(meta.get('data'))}, "
            f"{meta.get('n')} pairs), not for these {len(captions)} pairs"
        )
    return tensors, meta
