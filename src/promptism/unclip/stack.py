"""A whole unCLIP stack from one command, and the run folder that names it.

    promptism train unclip --data DATA --out RUN [--preset base] [--size 64] [--clip NAME|FOLDER]
    promptism generate "a red circle" --models RUN

The stages run in order: the CLIP (unless ``--clip`` names one to reuse), the CLIP embeddings of
the pictures, the prior, the decoder, and one ×2 upsampler per doubling from the decoder's size to
the target size. Each is an ordinary run folder (``RUN/clip``, ``RUN/prior``, ``RUN/decoder``,
``RUN/upsampler-64`` ...) that resumes from its checkpoint; a stage already finished is skipped,
so rerunning the same command after a kill goes on where it stopped. ``RUN/stack.json`` (the
manifest) records the settings, the stages and which are done; ``load_run`` reads it back for
the pipelines, ``generate --models RUN`` and ``serve --models RUN``.
"""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path

from ..errors import PromptismError

MANIFEST = "stack.json"
FORMAT = "promptism-unclip-run"
MAX_SIZE = 1024


def stage_plan(settings: dict, size: int | None, reuse_clip: bool) -> list[dict]:
    """The stages a stack's settings train, in order, each {name, kind, settings, folder}; the
    upsamplers double the decoder's size until ``size`` (the settings' own when None)."""
    base = settings["decoder"]["model"]["image_size"]
    size = settings.get("size", base) if size is None else size
    sizes = [base * 2**k for k in range(12) if base * 2**k <= MAX_SIZE]
    if isinstance(size, bool) or not isinstance(size, int) or size not in sizes:
        raise PromptismError(
            f"--size must be the decoder's {base} px doubled a whole number of times: "
            f"{', '.join(map(str, sizes))}; got {size!r}"
        )
    plan = [] if reuse_clip else [dict(name="clip", kind="clip", settings=settings["clip"], folder="clip")]
    plan += [
        dict(name="embeddings", kind="embeddings", settings={}, folder="embeddings.safetensors"),
        dict(name="prior", kind="prior", settings=settings["prior"], folder="prior"),
        dict(name="decoder", kind="decoder", settings=settings["decoder"], folder="decoder"),
    ]
    low = base
    while low < size:
        up = copy.deepcopy(settings["upsampler"])
        up["model"] = {**up["model"], "low_size": low, "image_size": 2 * low}
        plan.append(dict(name=f"upsampler-{2 * low}", kind="upsampler", settings=up, folder=f"upsampler-{2 * low}"))
        low *= 2
    return plan


def _read_manifest(run: Path) -> dict | None:
    path = run / MANIFEST
    if not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise PromptismError(f"{path} cannot be read: {e}") from None
    if manifest.get("format") != FORMAT:
        raise PromptismError(f"{path} is not a Promptism unCLIP run manifest")
    return manifest


def _write_manifest(run: Path, manifest: dict) -> None:
    tmp = run / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=1))
    tmp.replace(run / MANIFEST)


def train_unclip(
    data: str,
    out: str,
    preset_name: str = "base",
    settings: dict | None = None,
    size: int | None = None,
    clip: str | None = None,
    limit: int | None = None,
    progress: bool = True,
    crop: str = "center",
    say=print,
) -> Path:
    """Train (or finish) a whole stack into the run folder ``out``; returns it. ``settings`` (a
    recipe file's resolved stack) replaces the preset ``preset_name`` labels; ``clip`` reuses a
    CLIP (a shipped name or a folder) instead of training one. A run folder started with other
    settings is refused rather than mixed."""
    import torch
    from accelerate import PartialState

    from .presets import stack_presets

    if settings is None:
        known = stack_presets()
        if preset_name not in known:
            raise PromptismError(f"unknown unclip preset {preset_name!r}; presets are {', '.join(known)}")
        settings = known[preset_name]
    if clip is not None and not clip.startswith("hf:"):
        from ..clip import find

        find(clip)  # a name or folder that holds a CLIP, checked before any work
    plan = stage_plan(settings, size, reuse_clip=clip is not None)
    run = Path(out)
    state = PartialState(cpu=not torch.cuda.is_available())  # as the loop's Accelerator: one shared state
    if not state.is_main_process:  # one voice: the main process's
        say = _silent
    last = plan[-1]["settings"]["model"]
    wanted = {
        "format": FORMAT,
        "version": 1,
        "preset": preset_name,
        "settings": json.loads(json.dumps(settings)),
        "size": last["image_size"],
        "data": str(data),
        "limit": limit,
        "clip": clip,
        "crop": crop,
    }
    run.mkdir(parents=True, exist_ok=True)
    manifest = _read_manifest(run)
    if manifest is not None:
        differs = [k for k in wanted if manifest.get(k) != wanted[k]]
        if differs:
            raise PromptismError(
                f"{run} holds a run started with other settings ({', '.join(differs)} differ): "
                "give the same options to finish it, or another --out"
            )
    else:
        manifest = {**wanted, "stages": {}}
    if state.is_main_process:
        _write_manifest(run, manifest)
    state.wait_for_everyone()

    clip_ref = clip if clip is not None else str(run / "clip" / "model")
    t_all = time.time()
    for i, stage in enumerate(plan, 1):
        name, kind = stage["name"], stage["kind"]
        record = manifest["stages"].get(name, {})
        label = f"[{i}/{len(plan)}] {name}"
        if record.get("done"):
            say(f"{label}: done before, skipped ({run / stage['folder']})")
            continue
        say(f"{label}: {_what(stage)} -> {run / stage['folder']}")
        t0 = time.time()
        if kind == "clip":
            from ..clip.train import train_clip

            folder = train_clip(
                data, str(run / "clip"), "stack", settings=stage["settings"], limit=limit, progress=progress, crop=crop
            )
        elif kind == "embeddings":
            from .embeddings import embed_dataset

            folder = run / stage["folder"]
            if state.is_main_process:
                embed_dataset(data, folder, clip_ref, "train", limit=limit, progress=progress, crop=crop)
            state.wait_for_everyone()
        else:
            from .training import train_stage

            folder = train_stage(
                kind,
                data,
                str(run / stage["folder"]),
                name,
                settings=stage["settings"],
                embeddings=str(run / "embeddings.safetensors") if kind != "upsampler" else None,
                clip_name=clip_ref,
                limit=limit,
                progress=progress,
                crop=crop,
            )
        record = {"done": True, "folder": str(Path(folder).relative_to(run)), "seconds": round(time.time() - t0, 2)}
        if kind != "embeddings":
            record.update(_trained(Path(folder)))
        manifest["stages"][name] = record
        if state.is_main_process:
            _write_manifest(run, manifest)
        state.wait_for_everyone()
    manifest["seconds_this_run"] = round(time.time() - t_all, 1)
    if state.is_main_process:
        _write_manifest(run, manifest)
        say(summary(run))
    return run


def _silent(*_a, **_kw) -> None:
    pass


def _what(stage: dict) -> str:
    s = stage["settings"]
    if stage["kind"] == "embeddings":
        return "CLIP embeddings of every picture"
    steps = s.get("loop", {}).get("steps")
    if stage["kind"] == "upsampler":
        m = s["model"]
        return f"{m['low_size']} -> {m['image_size']} px, {steps} steps"
    if stage["kind"] == "decoder":
        return f"{s['model']['image_size']} px, {steps} steps"
    return f"{steps} steps"


def _trained(folder: Path) -> dict:
    """What a stage's model folder says of its training: steps and the last logged loss."""
    try:
        meta = json.loads((folder / "config.json").read_text())
    except (OSError, json.JSONDecodeError):
        return {}
    logs = meta.get("final_logs") or {}
    out = {"steps": meta.get("steps")}
    if "loss" in logs:
        out["loss"] = round(float(logs["loss"]), 4)
    return out


def summary(run: str | Path) -> str:
    """A table of a run's stages: each one's folder, steps, final loss and seconds."""
    run = Path(run)
    manifest = _read_manifest(run)
    if manifest is None:
        raise PromptismError(f"no unCLIP run at {run} (it has no {MANIFEST})")
    lines = [f"unCLIP run {run} ({manifest['preset']}, {manifest['size']} px):"]
    lines.append(f"  {'stage':<16} {'steps':>7} {'loss':>8} {'seconds':>9}  folder")
    for name, r in manifest["stages"].items():
        loss = f"{r['loss']:.4f}" if "loss" in r else "-"
        lines.append(f"  {name:<16} {r.get('steps') or '-':>7} {loss:>8} {r.get('seconds', 0):>9.1f}  {r['folder']}")
    lines.append(f'generate with: promptism generate "..." --models {run}')
    return "\n".join(lines)


def load_run(run: str | Path) -> dict:
    """The models of a finished run, as load_models' arguments: {clip, prior, decoder, upsamplers}."""
    run = Path(run)
    manifest = _read_manifest(run)
    if manifest is None:
        raise PromptismError(
            f"no unCLIP run at {str(run)!r}: --models takes a folder that `promptism train unclip` wrote "
            f"(it holds {MANIFEST})"
        )
    stages = manifest.get("stages", {})
    plan = stage_plan(manifest["settings"], manifest["size"], reuse_clip=manifest.get("clip") is not None)
    left = [s["name"] for s in plan if not stages.get(s["name"], {}).get("done")]
    if left:
        raise PromptismError(
            f"the run at {run} is not finished ({', '.join(left)} left): rerun `promptism train unclip` "
            "with the same options to finish it"
        )

    def path(name: str) -> str:
        return str(run / stages[name]["folder"])

    ups = tuple(path(s["name"]) for s in plan if s["kind"] == "upsampler")
    clip = manifest["clip"] if manifest.get("clip") is not None else path("clip")
    return {"clip": clip, "prior": path("prior"), "decoder": path("decoder"), "upsamplers": ups}
