"""Image–caption pairs held in memory, read from WebDataset shards or a folder.

``source`` may be a Scene World dataset folder (its manifest names the shards of each split),
a single ``.tar`` shard, a brace/glob pattern of shards (``data/train-{000000..000009}.tar``),
or a folder of ``NAME.png|jpg`` pictures each with a ``NAME.txt`` caption. Pictures are
resized to ``size`` and kept as uint8: 20,000 pictures of 64 px take 250 MB.
"""

from __future__ import annotations

import glob
import io
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from ..errors import PromptismError

IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".webp")


@dataclass
class Pairs:
    images: np.ndarray  # (N, H, W, 3) uint8
    captions: list[str]
    metas: list[dict] = field(default_factory=list)  # the shard's KEY.json, where there is one

    def __len__(self) -> int:
        return len(self.captions)


def _to_array(data: bytes | Path, size: int) -> np.ndarray:
    img = Image.open(io.BytesIO(data) if isinstance(data, bytes) else data).convert("RGB")
    if img.size != (size, size):
        img = img.resize((size, size), Image.BICUBIC)
    return np.asarray(img)


def _all_shards(urls):
    yield from urls


def shard_list(source: str | Path, split: str = "train") -> list[str]:
    src = str(source)
    path = Path(src)
    if path.is_dir() and (path / "manifest.json").exists():
        from ..world.shards import shard_urls

        return shard_urls(path, split)
    if "{" in src:
        import braceexpand

        return list(braceexpand.braceexpand(src))
    if any(ch in src for ch in "*?["):
        return sorted(glob.glob(src))
    if path.is_file() and src.endswith(".tar"):
        return [src]
    return []


def _read_shards(
    urls: list[str], size: int, images: bool, limit: int | None = None, bar=None
) -> tuple[list, list[str], list[dict]]:
    """(pictures, captions, metas) of ``urls`` in order, at most ``limit`` of them."""
    import webdataset as wds

    pictures, captions, metas = [], [], []
    # every process reads every shard: the pairs live in memory and the training loop
    # splits each batch by rank, so no node splitter may drop shards
    reader = wds.WebDataset(urls, shardshuffle=False, empty_check=False, nodesplitter=_all_shards)
    for s in reader:
        img_key = next((k for k in ("png", "jpg", "jpeg", "webp") if k in s), None)
        if img_key is None or "txt" not in s:
            continue
        pictures.append(_to_array(s[img_key], size) if images else None)
        captions.append(s["txt"].decode().strip())
        metas.append(json.loads(s["json"]) if "json" in s else {})
        if bar is not None:
            bar.update(1)
        if limit and len(captions) >= limit:
            break
    return pictures, captions, metas


def _read_shard(url: str, size: int, images: bool) -> tuple[np.ndarray | None, list[str], list[dict]]:
    """One shard, in a worker process: its pictures come back as one array."""
    pictures, captions, metas = _read_shards([url], size, images)
    return (np.stack(pictures) if images and pictures else None), captions, metas


def read_workers(n_shards: int, asked: int | None = None) -> int:
    """Processes that read shards at once: ``asked``, or by default the cores this process may
    use, at most one a shard. Decoding pictures is most of the reading (a 200,000-picture world
    at 1,700 a second in one process), and it runs in parallel across shards. Workers are forked, as torch's DataLoader
    workers on Linux: a spawned worker would run the caller's script again, which breaks any
    script without a ``__main__`` guard. Where there is no fork (or off Linux), one process reads."""
    import multiprocessing

    if not sys.platform.startswith("linux") or "fork" not in multiprocessing.get_all_start_methods():
        return 1
    if asked is None:
        try:
            asked = len(os.sched_getaffinity(0))
        except AttributeError:
            asked = os.cpu_count() or 1
    return max(1, min(asked, n_shards))


def load_pairs(
    source: str | Path,
    split: str = "train",
    size: int = 64,
    limit: int | None = None,
    progress: bool = True,
    images: bool = True,
    workers: int | None = None,
) -> Pairs:
    """``images=False`` reads captions and records only (``Pairs.images`` is then (N, 0, 0, 3)).
    Shards are read by ``read_workers(shards, workers)`` processes; with a ``limit``, one worker,
    or where processes cannot be forked, in this process."""
    from tqdm.auto import tqdm

    urls = shard_list(source, split)
    pictures, captions, metas = [], [], []
    chunks: list[np.ndarray] = []  # the parallel reader's pictures, a shard's at a time
    if urls:
        workers = read_workers(len(urls), workers)
        with tqdm(desc=f"reading {split}", disable=not progress, unit="img") as bar:
            if limit or workers == 1:
                pictures, captions, metas = _read_shards(urls, size, images, limit, bar)
            else:
                import multiprocessing
                from concurrent.futures import ProcessPoolExecutor

                # forked (read_workers): the workers run no torch, so the parent's OpenMP threads
                # do not matter to them
                with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
                    for arr, caps, ms in pool.map(_read_shard, urls, [size] * len(urls), [images] * len(urls)):
                        if arr is not None:
                            chunks.append(arr)
                        captions += caps
                        metas += ms
                        bar.update(len(caps))
    elif Path(source).is_dir():
        files = sorted(p for p in Path(source).iterdir() if p.suffix.lower() in IMAGE_EXTS)
        for p in tqdm(files[:limit] if limit else files, desc="reading", disable=not progress, unit="img"):
            txt = p.with_suffix(".txt")
            if txt.exists():
                pictures.append(_to_array(p, size) if images else None)
                captions.append(txt.read_text().strip())
                metas.append({})
    else:
        raise PromptismError(
            f"no data at {str(source)!r}: give a dataset folder, .tar shards or a folder of pictures with .txt captions"
        )
    if not captions:
        raise PromptismError(f"no image–caption pairs found in {str(source)!r} (split {split!r})")
    if not images:
        arr = np.zeros((len(captions), 0, 0, 3), np.uint8)
    else:
        arr = np.concatenate(chunks) if chunks else np.stack(pictures)
    return Pairs(arr, captions, metas)
