"""One training loop for every stage; it knows nothing about the model (minGPT's trainer,
EDM's loss.py). A task supplies ``loss(model, indices, step) -> (loss, logs)``.

- accelerate runs it on one CPU, many GPUs or many processes (gloo on CPU) unchanged;
- AdamW, linear warm-up then cosine decay, gradient clipping, optional EMA of the weights;
- exact resume: the data order is a pure function of (seed, epoch), so step s always reads
  the same examples, and a checkpoint holds model, EMA, optimiser and step;
- checkpoints every N steps, written to a temporary folder and renamed into place;
- TensorBoard scalars and a progress bar with the loss and examples per second.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from ..errors import PromptismError

SCHEDULES = ("cosine", "constant")  # the learning rate after the warm-up


@dataclass
class LoopConfig:
    steps: int = 1000
    batch_size: int = 64  # global: split across processes
    lr: float = 1e-3
    weight_decay: float = 0.05
    betas: tuple[float, float] = (0.9, 0.98)  # Adam's; GANs want a small first one (StyleGAN2: 0, 0.99)
    warmup: int = 100
    schedule: str = "cosine"  # after the warm-up: cosine (decays to 0 at the last step) or constant
    grad_clip: float = 1.0
    ema: float | None = None  # e.g. 0.999
    ema_warmup: bool = False  # decay min(ema, (1 + step) / (10 + step)): early EMA weights follow the model
    checkpoint_every: int = 200
    log_every: int = 10
    seed: int = 0
    out: str = "runs/train"

    def __post_init__(self):
        if self.schedule not in SCHEDULES:
            raise PromptismError(
                f"unknown learning-rate schedule {self.schedule!r}; schedules are {', '.join(SCHEDULES)}"
            )


class Task(Protocol):
    def loss(self, model: torch.nn.Module, indices: np.ndarray, step: int) -> tuple[torch.Tensor, dict]: ...


def to_device(obj, device: torch.device):
    """``obj`` with every tensor in it (through dicts, lists and tuples) on ``device``. Tasks build
    their batches on the CPU, from CPU generators, so that a run draws the same numbers on any
    device; the loss moves them to the model's device."""
    if isinstance(obj, torch.Tensor):
        return obj.to(device, non_blocking=True)
    if isinstance(obj, dict):
        return {k: to_device(v, device) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(to_device(v, device) for v in obj)
    return obj


def run_record(result: dict, cfg: LoopConfig, started: float) -> dict:
    """What a model folder's config.json says of the run that trained it: steps, batch, EMA, the
    last logged values, its wall and stepping seconds, threads and device."""
    return {
        "steps": result["step"],
        "batch_size": cfg.batch_size,
        "ema": cfg.ema,
        "final_logs": result["logs"],
        "wall_seconds_this_run": round(time.time() - started, 1),
        "train_seconds": result["train_seconds"],
        "training_energy": result.get("energy"),
        "threads": torch.get_num_threads(),
        "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
    }


def loop_config(preset_loop: dict, out, overrides: dict) -> LoopConfig:
    """A run's loop: the preset's settings, the run folder, and the options given (None keeps the
    preset's)."""
    return LoopConfig(**{**preset_loop, "out": str(out), **{k: v for k, v in overrides.items() if v is not None}})


def card_fields(out, preset_name: str, data, examples: int, task: dict, result: dict, cfg: LoopConfig, started: float):
    """What a trained model's config.json says of where it came from and how it was trained."""
    from ..data.consent import card_record

    return {
        "name": Path(out).name,
        "preset": preset_name,
        "data": str(data),
        "examples": examples,
        "consent": card_record(data),
        "task": task,
        **run_record(result, cfg, started),
    }


def model_device(model: torch.nn.Module) -> torch.device:
    return next(model.parameters()).device


def lr_at(step: int, cfg: LoopConfig) -> float:
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    if cfg.schedule == "constant":  # StyleGAN2's habit: a GAN's two players keep their pace
        return cfg.lr
    t = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
    return cfg.lr * 0.5 * (1 + math.cos(math.pi * min(t, 1.0)))


def batch_indices(n: int, step: int, batch: int, seed: int, rank: int = 0, world: int = 1) -> np.ndarray:
    """The examples this process reads at a step: a pure function of its arguments."""
    per_epoch = n // batch
    if per_epoch == 0:
        raise ValueError(f"the dataset ({n}) is smaller than one batch ({batch})")
    epoch, k = divmod(step, per_epoch)
    perm = np.random.default_rng([seed, epoch]).permutation(n)
    idx = perm[k * batch : (k + 1) * batch]
    return idx[rank::world]


def _no_decay(name: str, p: torch.nn.Parameter) -> bool:
    return p.ndim < 2 or "pos" in name or "logit_scale" in name


def make_optimizer(model: torch.nn.Module, cfg: LoopConfig) -> torch.optim.AdamW:
    decay = [p for n, p in model.named_parameters() if p.requires_grad and not _no_decay(n, p)]
    rest = [p for n, p in model.named_parameters() if p.requires_grad and _no_decay(n, p)]
    return torch.optim.AdamW(
        [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": rest, "weight_decay": 0.0}],
        lr=cfg.lr,
        betas=tuple(float(b) for b in cfg.betas),
        eps=1e-6,
    )


def save_checkpoint(out: Path, model, ema, optimizer, step: int, extra: dict) -> Path:
    final = out / "checkpoint"
    tmp = out / "checkpoint.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    save_file({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}, tmp / "model.safetensors")
    if ema is not None:
        save_file({k: v.cpu().contiguous() for k, v in ema.items()}, tmp / "ema.safetensors")
    torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
    (tmp / "state.json").write_text(json.dumps({"step": step, **extra}, indent=1))
    old = out / "checkpoint.old"
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        final.rename(old)
    tmp.rename(final)
    shutil.rmtree(old, ignore_errors=True)
    return final


def load_checkpoint(out: Path, model, optimizer) -> tuple[int, dict | None, dict]:
    """(step, EMA weights or None, the rest of state.json) of the run in ``out``; (0, None, {})
    when it has no checkpoint yet."""
    ck = out / "checkpoint"
    if not (ck / "state.json").exists() and (out / "checkpoint.old" / "state.json").exists():
        ck = out / "checkpoint.old"  # killed between moving the old checkpoint aside and the new one in
    if not (ck / "state.json").exists():
        return 0, None, {}
    model.load_state_dict(load_file(ck / "model.safetensors"))
    optimizer.load_state_dict(torch.load(ck / "optimizer.pt", weights_only=True))
    ema = load_file(ck / "ema.safetensors") if (ck / "ema.safetensors").exists() else None
    state = json.loads((ck / "state.json").read_text())
    return state.pop("step"), ema, state


def train(
    model: torch.nn.Module,
    task: Task,
    n_examples: int,
    cfg: LoopConfig,
    on_checkpoint: Callable[[int], None] | None = None,
    progress: bool = True,
) -> dict:
    """Run (or resume) training; returns the final step, last logged values, EMA weights,
    ``train_seconds`` (stepping time over every process of the run, resumes included) and
    ``energy`` (what codecarbon measured of this process, summed over resumes up to the last
    checkpoint: ``promptism.responsible.energy``)."""
    from accelerate import Accelerator
    from tqdm.auto import tqdm

    from ..responsible.energy import Meter, Reading

    acc = Accelerator(cpu=not torch.cuda.is_available())
    out = Path(cfg.out)
    if acc.is_main_process:
        out.mkdir(parents=True, exist_ok=True)
        (out / "loop.json").write_text(json.dumps(asdict(cfg), indent=1))
    optimizer = make_optimizer(model, cfg)
    step, ema, state = load_checkpoint(out, model, optimizer)
    # seconds spent stepping, summed over every process that worked on this run (a killed and
    # resumed run's card counts them all); a checkpoint keeps the sum up to its step
    seconds_before = spent = float(state.get("train_seconds", 0.0))
    energy = Reading.from_json(state.get("energy"))  # likewise the energy, from the checkpoint's
    meter = Meter(enabled=acc.is_main_process).start()
    if cfg.ema and ema is None:
        ema = {k: v.detach().clone() for k, v in model.state_dict().items()}
    model, optimizer = acc.prepare(model, optimizer)
    if ema is not None:  # beside the weights it averages (a GPU's, when there is one)
        ema = {k: v.to(acc.device) for k, v in ema.items()}
    writer = None
    if acc.is_main_process:
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(str(out / "tensorboard"))
    bar = tqdm(total=cfg.steps, initial=step, desc=f"train {out.name}", disable=not (progress and acc.is_main_process))
    logs: dict = {}
    t0, seen = time.time(), 0
    try:
        while step < cfg.steps:
            for group in optimizer.param_groups:
                group["lr"] = lr_at(step, cfg)
            idx = batch_indices(n_examples, step, cfg.batch_size, cfg.seed, acc.process_index, acc.num_processes)
            model.train()
            loss, logs = task.loss(model, idx, step)
            optimizer.zero_grad(set_to_none=True)
            acc.backward(loss)
            if cfg.grad_clip:
                acc.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            optimizer.step()
            if ema is not None:
                decay = min(cfg.ema, (1 + step) / (10 + step)) if cfg.ema_warmup else cfg.ema
                with torch.no_grad():
                    for k, v in acc.unwrap_model(model).state_dict().items():
                        if v.dtype.is_floating_point:
                            ema[k].lerp_(v.detach(), 1 - decay)
                        else:
                            ema[k].copy_(v)
            step += 1
            seen += cfg.batch_size
            logs = {"loss": float(loss.detach()), **logs, "lr": lr_at(step - 1, cfg)}
            if acc.is_main_process:
                bar.update(1)
                rate = seen / max(time.time() - t0, 1e-9)
                bar.set_postfix(loss=f"{logs['loss']:.3f}", ex_s=f"{rate:.0f}")
                if step % cfg.log_every == 0 or step == cfg.steps:
                    for k, v in logs.items():
                        writer.add_scalar(f"train/{k}", v, step)
                    writer.add_scalar("train/examples_per_s", rate, step)
            if step % cfg.checkpoint_every == 0 or step == cfg.steps:
                acc.wait_for_everyone()
                spent = round(seconds_before + time.time() - t0, 3)
                energy = energy.add(meter.lap())
                if acc.is_main_process:
                    save_checkpoint(
                        out,
                        acc.unwrap_model(model),
                        ema,
                        optimizer,
                        step,
                        {
                            "logs": logs,
                            "world_size": acc.num_processes,
                            "train_seconds": spent,
                            "energy": energy.to_json() if energy.measured else None,
                        },
                    )
                    if on_checkpoint:
                        on_checkpoint(step)
    finally:
        meter.stop()
        bar.close()
        if writer is not None:
            writer.close()
    if ema is not None:
        ema = {k: v.cpu() for k, v in ema.items()}
    return {
        "step": step,
        "logs": logs,
        "ema": ema,
        "train_seconds": spent,
        "energy": energy.to_json() if energy.measured else None,
    }


@torch.no_grad()
def recalibrate_batchnorm(model: torch.nn.Module, state_dict: dict, batches: Callable[[], object], n: int) -> dict:
    """BatchNorm running statistics for the weights in ``state_dict`` (an EMA's): the EMA of
    running statistics gathered under the raw weights does not describe what the averaged
    weights compute, and in eval mode the mismatch ruins a CLIP's retrieval.
    Loads the weights, resets the statistics, and runs ``n`` calls of ``batches()`` (each a
    forward pass over training data) in train mode with cumulative averaging; returns the
    new state dict. Models without BatchNorm come back unchanged."""
    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return state_dict
    model.load_state_dict(state_dict)
    saved = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative moving average: every batch counts alike
    model.train()
    for _ in range(n):
        batches()
    for m, mom in zip(norms, saved):
        m.momentum = mom
    model.eval()
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
