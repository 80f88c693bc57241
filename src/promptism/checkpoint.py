"""Model folders: ``config.json`` (the model's kind and frozen config), ``model.safetensors``,
and any side files (``tokenizer.json``). Loading is strict: the architecture comes from the
config, never from tensor shapes, and every tensor must match (diffusers' convention)."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, fields
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from . import __version__
from .errors import PromptismError


def save_model(
    folder: str | Path,
    kind: str,
    model: torch.nn.Module,
    config,
    extra: dict | None = None,
    state_dict: dict | None = None,
    dtype: torch.dtype | None = None,
) -> Path:
    """Write a model folder. dtype=torch.float16 halves the file (shipped models); loading
    copies the weights back into the float32 model."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().contiguous().cpu() for k, v in (state_dict or model.state_dict()).items()}
    if dtype is not None:
        tensors = {k: v.to(dtype) if v.is_floating_point() else v for k, v in tensors.items()}
    tmp = folder / "model.safetensors.tmp"
    save_file(tensors, str(tmp), metadata={"kind": kind, "promptism": __version__})
    os.replace(tmp, folder / "model.safetensors")
    meta = {"kind": kind, "promptism": __version__, "config": asdict(config), **(extra or {})}
    if dtype is not None:
        meta["stored_dtype"] = str(dtype).replace("torch.", "")
    (folder / "config.json").write_text(json.dumps(meta, indent=1))
    return folder


MODELS_DIR = Path(__file__).resolve().parent / "models"  # the shipped models, <kind>-<name>


def resolve(name: str | Path, kind: str) -> Path:
    """A shipped model's name ("world", "world-64") or a model folder -> the folder."""
    shipped = MODELS_DIR / f"{kind}-{name}"
    folder = shipped if isinstance(name, str) and shipped.is_dir() else Path(name)
    if not (folder / "config.json").exists():
        names = sorted(p.name[len(kind) + 1 :] for p in MODELS_DIR.glob(f"{kind}-*") if (p / "config.json").exists())
        raise PromptismError(
            f"no {kind} at {str(name)!r}: give a model folder or a shipped name ({', '.join(names) or 'none shipped'})"
        )
    return folder


def weights_sha256(folder: str | Path) -> str | None:
    """The sha256 of a model folder's model.safetensors; None where it has none."""
    import hashlib

    weights = Path(folder) / "model.safetensors"
    return hashlib.sha256(weights.read_bytes()).hexdigest() if weights.is_file() else None


def read_config(folder: str | Path, kind: str, config_cls):
    folder = Path(folder)
    path = folder / "config.json"
    if not path.exists():
        raise PromptismError(f"no model at {str(folder)!r} (it has no config.json)")
    meta = json.loads(path.read_text())
    if meta.get("kind") != kind:
        raise PromptismError(f"{folder} holds a {meta.get('kind')!r} model, not a {kind!r} one")
    known = {f.name for f in fields(config_cls)}
    unknown = set(meta["config"]) - known
    if unknown:
        raise PromptismError(f"{path} has settings this version does not know: {', '.join(sorted(unknown))}")
    return config_cls(**meta["config"]), meta


def load_weights(folder: str | Path, model: torch.nn.Module) -> torch.nn.Module:
    state = load_file(str(Path(folder) / "model.safetensors"))
    own = model.state_dict()
    state = {k: v.to(own[k].dtype) if k in own and v.is_floating_point() else v for k, v in state.items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise PromptismError(
            f"weights in {folder} do not fit the config: missing {missing[:5]}, unexpected {unexpected[:5]}"
        )
    return model.eval()


# what a fine-tuned model's config.json keeps of each phase before its own ("init_phases")
PHASE_FIELDS = (
    "name",
    "preset",
    "steps",
    "batch_size",
    "ema",
    "wall_seconds_this_run",
    "train_seconds",
    "training_energy",
    "threads",
    "device",  # with the seconds, what an estimate of unmeasured energy needs
    "training_time_source",
    "diffusion",
)


def init_record(init: str | Path, init_meta: dict) -> dict:
    """The provenance a fine-tune records of its start: the folder it began from and every phase
    that made those weights (the start's own ``init_phases``, then the start itself). They travel
    with the model because the folder may be gone, or (a shipped model) overwritten, by the time a
    card is written."""
    phases = init_meta.get("init_phases", []) + [{k: init_meta[k] for k in PHASE_FIELDS if k in init_meta}]
    return {"init": str(init), "init_phases": phases}


def keep_start_tokenizer(init: str | Path | None, out_dir: str | Path, state) -> None:
    """A fine-tune keeps the token ids its start was trained with: ``init``'s tokenizer.json becomes
    the run's, unless the run already has one (a resumed run). The main process copies; every
    process waits for it (``state``: accelerate's PartialState)."""
    import shutil

    src, dst = Path(init or ""), Path(out_dir) / "tokenizer.json"
    if init and (src / "tokenizer.json").exists() and not dst.exists() and state.is_main_process:
        shutil.copyfile(src / "tokenizer.json", dst)
    state.wait_for_everyone()


def start_from(init: str | Path, kind: str, config_cls, model: torch.nn.Module, cfg, preset_name: str) -> dict:
    """Load a trained model folder's weights into ``model`` (which must have the same config) for a
    fine-tune, in train mode; returns :func:`init_record`'s provenance."""
    init_cfg, init_meta = read_config(init, kind, config_cls)
    if init_cfg != cfg:
        raise PromptismError(f"--init {init} has another architecture than preset {preset_name!r}")
    load_weights(init, model).train()
    return init_record(init, init_meta)


def finished_run(run: str | Path, kind: str, config_cls):
    """(config, weights, the card's fields) of a run's finished model RUN/model; None if it has none."""
    from safetensors.torch import load_file

    folder = Path(run) / "model"
    if not (folder / "config.json").exists():
        return None
    cfg, meta = read_config(folder, kind, config_cls)
    extra = {k: v for k, v in meta.items() if k not in ("kind", "promptism", "config", "stored_dtype")}
    return cfg, load_file(str(folder / "model.safetensors")), extra


def last_checkpoint(run: str | Path):
    """(weights, the card's fields) of a run's last checkpoint, for shipping a run stopped before its
    end: its EMA weights, or its weights where it keeps no EMA; None if it has no checkpoint."""
    from safetensors.torch import load_file

    ck = Path(run) / "checkpoint"
    weights = ck / "ema.safetensors" if (ck / "ema.safetensors").exists() else ck / "model.safetensors"
    if not weights.exists() or not (ck / "state.json").exists():
        return None
    done = json.loads((ck / "state.json").read_text())
    extra = {"steps": done["step"], "final_logs": done.get("logs"), "stopped_early": True}
    return load_file(str(weights)), {
        **extra,
        "train_seconds": done.get("train_seconds"),
        "training_energy": done.get("energy"),
    }


def run_to_ship(run: str | Path, kind: str, config_cls, part=None):
    """(config, weights, the card's fields) of a run to ship: its finished model RUN/model, or, for a
    run stopped before its end, its last checkpoint's weights (``part`` picks the shipped model's
    from the trainer's, e.g. a generator without its discriminator) with the architecture that
    RUN/model_config.json recorded when the run started."""
    run = Path(run)
    done = finished_run(run, kind, config_cls)
    if done is not None:
        return done
    stopped = last_checkpoint(run)
    if stopped is None or not (run / "model_config.json").exists():
        raise PromptismError(f"{run} has no finished model and no checkpoint to ship")
    started = json.loads((run / "model_config.json").read_text())
    state = part(stopped[0]) if part else stopped[0]
    extra = {**{k: v for k, v in started.items() if k != "config"}, **stopped[1]}
    return config_cls(**started["config"]), state, extra
