"""Write the Scene World as WebDataset shards: ``KEY.png``, ``KEY.txt``, ``KEY.json``.

``make_dataset`` is resumable and idempotent. Example ``i`` of a split is a pure function of
(seed, split, i), shards are written to a temporary name and renamed when complete, and
``manifest.json`` records every finished shard with its sha256. A rerun with the same
settings verifies and skips finished shards, and writes only what is missing. A rerun with
other settings refuses to mix two datasets in one folder. Tar headers are normalised (mtime
0, uid 0) so that the same settings give byte-identical shards.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

from .. import __version__
from ..errors import PromptismError
from . import vocab
from .render import check_size, render
from .sampling import example_rng, sample_example

FORMAT = "promptism-scene-world/1"
MANIFEST = "manifest.json"


class DatasetError(PromptismError):
    """A dataset folder that cannot be written as asked (other settings, a corrupt shard)."""


@dataclass(frozen=True)
class Settings:
    n: int
    size: int = 64
    seed: int = 0
    val_fraction: float = 0.05
    shard_size: int = 1000

    def split_sizes(self) -> dict[str, int]:
        n_val = int(round(self.n * self.val_fraction))
        return {"train": self.n - n_val, "val": n_val}

    def shards(self) -> list[tuple[str, int, int, int]]:
        """(name, split start index, count, shard number) for every shard."""
        out = []
        for split, total in self.split_sizes().items():
            for k, start in enumerate(range(0, total, self.shard_size)):
                out.append((split, start, min(self.shard_size, total - start), k))
        return out


def shard_name(split: str, k: int) -> str:
    return f"{split}-{k:06d}.tar"


def example_record(settings: Settings, split: str, index: int) -> tuple[str, dict[str, bytes]]:
    """One example's key and its files."""
    ex = sample_example(example_rng(settings.seed, split, index))
    key = f"{split}-{index:08d}"
    buf = io.BytesIO()
    render(ex.scene, settings.size).save(buf, format="PNG", compress_level=6)
    meta = {
        "key": key,
        "split": split,
        "index": index,
        "caption": ex.caption,
        "kind": ex.kind,
        "size": settings.size,
        "scene": ex.scene.to_dict(),
        "stated": ex.stated.to_dict(),
    }
    return key, {
        "png": buf.getvalue(),
        "txt": ex.caption.encode(),
        "json": json.dumps(meta, sort_keys=True).encode(),
    }


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = 0
    info.mode = 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    tar.addfile(info, io.BytesIO(data))


def write_shard(settings: Settings, split: str, start: int, count: int, path: Path) -> dict:
    """Write one shard atomically; return its manifest entry."""
    tmp = path.with_name(path.name + ".tmp")
    with tarfile.open(tmp, "w", format=tarfile.USTAR_FORMAT) as tar:
        for index in range(start, start + count):
            key, files = example_record(settings, split, index)
            for ext, data in files.items():
                _add(tar, f"{key}.{ext}", data)
    digest = sha256(tmp)
    os.replace(tmp, path)
    return {"name": path.name, "split": split, "start": start, "count": count, "sha256": digest}


def _write_task(args) -> dict:
    settings, split, start, count, path = args
    return write_shard(settings, split, start, count, Path(path))


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _settings_dict(s: Settings) -> dict:
    return asdict(s)


def read_manifest(out: Path) -> dict | None:
    path = out / MANIFEST
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise DatasetError(f"{path} is not a readable manifest ({e}); move it away to start afresh") from e


def _write_manifest(out: Path, settings: Settings, done: dict[str, dict], complete: bool) -> None:
    splits = {}
    for split, total in settings.split_sizes().items():
        entries = sorted((e for e in done.values() if e["split"] == split), key=lambda e: e["start"])
        splits[split] = {"n": total, "shards": entries}
    manifest = {
        "format": FORMAT,
        "generator": f"promptism {__version__}",
        "settings": _settings_dict(settings),
        "complete": complete,
        "held_out_pairs": sorted(f"{c} {s}" for c, s in vocab.HELD_OUT_PAIRS),
        "files": {"png": "the picture", "txt": "its caption", "json": "scene, caption, what the caption states"},
        "splits": splits,
    }
    tmp = out / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=1))
    os.replace(tmp, out / MANIFEST)


def make_dataset(
    out: str | Path,
    n: int,
    size: int = 64,
    seed: int = 0,
    val_fraction: float = 0.05,
    shard_size: int = 1000,
    workers: int = 1,
    progress: bool = True,
) -> dict:
    """Write (or finish writing) a Scene World dataset; return its manifest."""
    from tqdm.auto import tqdm

    if n < 1:
        raise DatasetError(f"--n must be at least 1, got {n}")
    if shard_size < 1:
        raise DatasetError(f"--shard-size must be at least 1, got {shard_size}")
    if not 0 <= val_fraction < 1:
        raise DatasetError(f"--val-fraction must be in [0, 1), got {val_fraction}")
    check_size(size)
    settings = Settings(n, size, seed, val_fraction, shard_size)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    old = read_manifest(out)
    done: dict[str, dict] = {}
    if old is not None:
        if old.get("format") != FORMAT or old.get("settings") != _settings_dict(settings):
            raise DatasetError(
                f"{out} already holds a dataset made with other settings ({old.get('settings')}); "
                "choose another --out, or delete that folder to start afresh"
            )
        for split in old["splits"].values():
            for e in split["shards"]:
                path = out / e["name"]
                if path.exists() and path.stat().st_size > 0 and sha256(path) == e["sha256"]:
                    done[e["name"]] = e
    for stray in out.glob("*.tar.tmp"):
        stray.unlink()  # a shard an interrupted run did not finish
    todo = [
        (settings, split, start, count, str(out / shard_name(split, k)))
        for split, start, count, k in settings.shards()
        if shard_name(split, k) not in done
    ]
    bar = tqdm(
        total=n,
        initial=sum(e["count"] for e in done.values()),
        desc=f"world make {out}",
        unit="img",
        disable=not progress,
    )
    try:
        if workers > 1 and len(todo) > 1:
            with ProcessPoolExecutor(max_workers=workers) as pool:
                for entry in pool.map(_write_task, todo):
                    done[entry["name"]] = entry
                    _write_manifest(out, settings, done, complete=False)
                    bar.update(entry["count"])
        else:
            for task in todo:
                entry = _write_task(task)
                done[entry["name"]] = entry
                _write_manifest(out, settings, done, complete=False)
                bar.update(entry["count"])
    finally:
        bar.close()
    _write_manifest(out, settings, done, complete=True)
    return read_manifest(out)


def shard_urls(root: str | Path, split: str = "train") -> list[str]:
    """The shard paths of a split, from a dataset folder's manifest."""
    root = Path(root)
    manifest = read_manifest(root)
    if manifest is None:
        raise DatasetError(f"no {MANIFEST} in {root}: not a Scene World dataset (make one with `promptism world make`)")
    if split not in manifest["splits"]:
        raise DatasetError(f"{root} has no split {split!r}; it has {', '.join(manifest['splits'])}")
    return [str(root / e["name"]) for e in manifest["splits"][split]["shards"]]
