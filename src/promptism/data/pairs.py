"""Image–caption pairs held in memory, read from WebDataset shards or a folder.

``source`` may be a Scene World dataset folder (its manifest names the shards of each split),
a single ``.tar`` shard, a brace/glob pattern of shards (``data/train-{000000..000009}.tar``),
a folder of ``.tar`` shards (img2dataset's ``webdataset`` output: ``00000.tar`` holding
``KEY.jpg``, ``KEY.txt`` and ``KEY.json``), or a folder, searched through its subfolders, of
``NAME.png|jpg|webp`` pictures each with a ``NAME.txt`` caption (img2dataset's ``files`` output
too). Pictures of any size and aspect are scaled so that their shorter side is ``size`` and cut
to a square, at the centre or (``crop="random"``, seeded by the picture's place) anywhere along
the longer side; they are kept as uint8: 20,000 pictures of 64 px take 250 MB. A picture that
cannot be read, or a caption that is empty, is skipped and counted (``Pairs.skipped``), never fatal.
"""

from __future__ import annotations

import glob
import io
import json
import os
import sys
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from ..errors import PromptismError
from .consent import Consent, active_consent, note_exclusions

IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".webp")


@dataclass
class Pairs:
    images: np.ndarray  # (N, H, W, 3) uint8
    captions: list[str]
    metas: list[dict] = field(default_factory=list)  # the shard's KEY.json, where there is one
    skipped: dict[str, int] = field(default_factory=dict)  # samples left out, by reason

    def __len__(self) -> int:
        return len(self.captions)


CROPS = ("center", "random")


def _to_array(data: bytes | Path, size: int, crop: str = "center", where: str = "") -> np.ndarray:
    """The picture as a size × size RGB array: scaled so its shorter side is ``size``, then cut to a
    square at the centre, or (``crop="random"``) at a place drawn from ``where`` (its name), so
    that the same picture gets the same crop however the data is read."""
    img = Image.open(io.BytesIO(data) if isinstance(data, bytes) else data)
    img.draft("RGB", (size, size))  # a JPEG decodes at a smaller scale when that is still enough
    img = img.convert("RGB")
    w, h = img.size
    if (w, h) != (size, size):
        scale = size / min(w, h)
        nw, nh = max(size, round(w * scale)), max(size, round(h * scale))
        img = img.resize((nw, nh), Image.BICUBIC)
        if crop == "random":
            rng = np.random.default_rng(zlib.crc32(where.encode()))
            left, top = int(rng.integers(nw - size + 1)), int(rng.integers(nh - size + 1))
        else:
            left, top = (nw - size) // 2, (nh - size) // 2
        img = img.crop((left, top, left + size, top + size))
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
    if path.is_dir():  # a folder of shards, as img2dataset writes them
        return sorted(str(p) for p in path.glob("*.tar"))
    return []


def _sample(
    picture,
    caption: bytes | str | None,
    size: int,
    images: bool,
    crop: str,
    where: str,
    skipped: Counter,
    meta: dict | None = None,
    consent: Consent | None = None,
) -> tuple[np.ndarray | None, str] | None:
    """One sample's (picture, caption), or None (counted in ``skipped``) when it is unusable or
    its maker opted out (``consent``: promptism.data.consent)."""
    if consent is not None:
        try:
            if isinstance(picture, Path):  # read once: the rules and the decoding both want the bytes
                picture = picture.read_bytes()
            why = consent.reason(meta, picture)
        except OSError:
            why = None  # an unreadable file is counted below
        if why:
            skipped[why] += 1
            return None
    if caption is None:
        skipped["no caption"] += 1
        return None
    try:
        text = (caption.decode() if isinstance(caption, bytes) else caption).strip()
    except UnicodeDecodeError:
        skipped["caption not UTF-8"] += 1
        return None
    if not text:
        skipped["empty caption"] += 1
        return None
    try:
        if not images:  # no pixels wanted, but the same samples as a read with pictures: check the file
            with Image.open(io.BytesIO(picture) if isinstance(picture, bytes) else picture) as img:
                img.verify()
            return None, text
        return _to_array(picture, size, crop, where), text
    except (OSError, ValueError, Image.DecompressionBombError, SyntaxError):
        skipped["unreadable picture"] += 1
        return None


def _read_shards(
    urls: list[str],
    size: int,
    images: bool,
    limit: int | None = None,
    bar=None,
    crop: str = "center",
    consent: Consent | None = None,
) -> tuple[list, list[str], list[dict], dict]:
    """(pictures, captions, metas, skipped) of ``urls`` in order, at most ``limit`` of them."""
    import webdataset as wds

    pictures, captions, metas, skipped = [], [], [], Counter()
    # every process reads every shard: the pairs live in memory and the training loop
    # splits each batch by rank, so no node splitter may drop shards
    reader = wds.WebDataset(urls, shardshuffle=False, empty_check=False, nodesplitter=_all_shards)
    for s in reader:
        img_key = next((k for k in ("png", "jpg", "jpeg", "webp") if k in s), None)
        if img_key is None:
            skipped["no picture"] += 1
            continue
        where = f"{Path(str(s.get('__url__', ''))).name}/{s.get('__key__', '')}"
        try:
            meta = json.loads(s["json"]) if "json" in s else {}
        except (json.JSONDecodeError, UnicodeDecodeError):
            meta = {}
        got = _sample(s[img_key], s.get("txt"), size, images, crop, where, skipped, meta, consent)
        if got is None:
            continue
        pictures.append(got[0])
        captions.append(got[1])
        metas.append(meta if isinstance(meta, dict) else {})
        if bar is not None:
            bar.update(1)
        if limit and len(captions) >= limit:
            break
    return pictures, captions, metas, skipped


def _read_shard(
    url: str, size: int, images: bool, crop: str, consent: Consent | None = None
) -> tuple[np.ndarray | None, list[str], list[dict], dict]:
    """One shard, in a worker process: its pictures come back as one array."""
    pictures, captions, metas, skipped = _read_shards([url], size, images, crop=crop, consent=consent)
    return (np.stack(pictures) if images and pictures else None), captions, metas, skipped


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
    crop: str = "center",
    consent: Consent | None = None,
) -> Pairs:
    """``images=False`` reads captions and records only (``Pairs.images`` is then (N, 0, 0, 3)).
    ``consent``: the opt-out rules samples go through (default: those in force,
    ``promptism.data.consent.active_consent``; what they drop is counted in ``Pairs.skipped``).
    Shards are read by ``read_workers(shards, workers)`` processes; with a ``limit``, one worker,
    or where processes cannot be forked, in this process. ``crop``: center or random (CROPS)."""
    from tqdm.auto import tqdm

    if crop not in CROPS:
        raise PromptismError(f"crop must be one of {', '.join(CROPS)}, got {crop!r}")
    consent = consent or active_consent()
    urls = shard_list(source, split)
    pictures, captions, metas, skipped = [], [], [], Counter()
    chunks: list[np.ndarray] = []  # the parallel reader's pictures, a shard's at a time
    if urls:
        workers = read_workers(len(urls), workers)
        with tqdm(desc=f"reading {split}", disable=not progress, unit="img") as bar:
            if limit or workers == 1:
                pictures, captions, metas, skipped = _read_shards(urls, size, images, limit, bar, crop, consent)
            else:
                import multiprocessing
                from concurrent.futures import ProcessPoolExecutor

                # forked (read_workers): the workers run no torch, so the parent's OpenMP threads
                # do not matter to them
                n = len(urls)
                with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
                    for arr, caps, ms, sk in pool.map(
                        _read_shard, urls, [size] * n, [images] * n, [crop] * n, [consent] * n
                    ):
                        if arr is not None:
                            chunks.append(arr)
                        captions += caps
                        metas += ms
                        skipped.update(sk)
                        bar.update(len(caps))
    elif Path(source).is_dir():
        files = sorted(p for p in Path(source).rglob("*") if p.suffix.lower() in IMAGE_EXTS and p.is_file())
        for p in tqdm(files, desc="reading", disable=not progress, unit="img"):
            txt = p.with_suffix(".txt")
            if not txt.exists():
                skipped["no caption"] += 1
                continue
            side = p.with_suffix(".json")
            try:
                meta = json.loads(side.read_text()) if side.exists() else {}
            except (OSError, ValueError):
                meta = {}
            meta = meta if isinstance(meta, dict) else {}
            got = _sample(p, txt.read_bytes(), size, images, crop, str(p.relative_to(source)), skipped, meta, consent)
            if got is None:
                continue
            pictures.append(got[0])
            captions.append(got[1])
            metas.append(meta)
            if limit and len(captions) >= limit:
                break
    else:
        raise PromptismError(
            f"no data at {str(source)!r}: give a dataset folder, .tar shards or a folder of pictures with .txt captions"
        )
    note_exclusions(source, split, skipped)
    if skipped:
        import warnings

        what = ", ".join(f"{k} {v}" for k, v in sorted(skipped.items()))
        warnings.warn(f"{str(source)!r}: {sum(skipped.values())} samples skipped ({what})", stacklevel=2)
    if not captions:
        raise PromptismError(f"no image–caption pairs found in {str(source)!r} (split {split!r})")
    if not images:
        arr = np.zeros((len(captions), 0, 0, 3), np.uint8)
    else:
        arr = np.concatenate(chunks) if chunks else np.stack(pictures)
    return Pairs(arr, captions, metas, dict(skipped))
