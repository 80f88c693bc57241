"""What every command shares: the thread count of numerical libraries."""

from __future__ import annotations

import os
import sys

from ..errors import PromptismError
from ..pipelines.settings import SHIPPED_UPSAMPLERS


def set_threads(n: int | None) -> None:
    """Cap the threads numerical libraries use (other processes share this machine)."""
    if n is None:
        n_env = os.environ.get("PROMPTISM_THREADS")
        n = int(n_env) if n_env else None
    if n is None:
        return
    if n < 1:
        raise PromptismError(f"--threads must be at least 1, got {n}")
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(n)
    os.environ["PROMPTISM_THREADS"] = str(n)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(n)


def model_options(parser) -> None:
    """--models RUN, or the models one by one: --clip, --prior, --decoder, --upsamplers."""
    parser.add_argument(
        "--models",
        default=None,
        metavar="RUN",
        help="every model of a run folder that `promptism train unclip` wrote (instead of the four options below)",
    )
    parser.add_argument(
        "--clip",
        default=None,
        help="CLIP: 'world' (shipped), a model folder, or hf:<folder or hub id> "
        "(default: the one the prior was trained on, as its config.json names it)",
    )
    parser.add_argument("--prior", default=None, help="prior: a shipped name (world, the default) or a model folder")
    parser.add_argument(
        "--decoder", default=None, help="decoder: a shipped name (world, the default) or a model folder"
    )
    parser.add_argument(
        "--upsamplers",
        nargs="*",
        default=None,
        help="upsamplers in order, each taking the pictures of the stage before: shipped names or model folders "
        "(default: world-64 world-128 with the shipped decoder, none with another; give none to stop at the decoder's size)",
    )
    parser.add_argument(
        "--fast-decoder",
        default=None,
        metavar="FOLDER",
        help="a distilled student of the decoder (`promptism train distill`) that draws new pictures in its few "
        "steps, its guidance folded in; edits, negative prompts and caption guidance keep the decoder",
    )


def model_spec(args) -> dict:
    """load_models' arguments from model_options: a run's models, or those named one by one."""
    fast = args.fast_decoder
    if args.models:
        named = [f"--{k}" for k in ("clip", "prior", "decoder", "upsamplers") if getattr(args, k) is not None]
        if named:
            raise PromptismError(f"--models names every model: give it or {', '.join(named)}, not both")
        from ..unclip.stack import load_run

        return {**load_run(args.models), "fast": fast}
    decoder = args.decoder or "world"
    ups = args.upsamplers if args.upsamplers is not None else (SHIPPED_UPSAMPLERS if decoder == "world" else ())
    return {
        "clip": args.clip,
        "prior": args.prior or "world",
        "decoder": decoder,
        "upsamplers": tuple(ups),
        "fast": fast,
    }


def torch_threads() -> None:
    """Torch's thread count for a command that runs torch: --threads / $PROMPTISM_THREADS (main
    put it in the environment), else the cores idle at start when some are busy
    (threads.auto_threads; measured here, so that commands without torch don't wait for it)."""
    if not os.environ.get("PROMPTISM_THREADS"):
        from ..threads import auto_threads

        set_threads(auto_threads())  # before torch is imported, as main's own count is
    import torch

    n = os.environ.get("PROMPTISM_THREADS")
    if n:
        torch.set_num_threads(int(n))
