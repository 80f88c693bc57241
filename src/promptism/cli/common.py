"""What every command shares: the thread count of numerical libraries."""

from __future__ import annotations

import os
import sys

from ..errors import PromptismError


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
