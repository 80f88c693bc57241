"""What the CLIP tests share: a tiny model's settings and running the command line."""

import os
import sys

from promptism.clip.presets import PRESETS

TINY = dict(PRESETS["tiny"]["model"])  # the tiny preset's towers


def env1():
    return {**os.environ, "PROMPTISM_THREADS": "1", "OMP_NUM_THREADS": "1"}


def cli(*args):
    return [sys.executable, "-m", "promptism.cli", *args]


def assert_a_killed_run_resumes_exactly(args, tmp_path, steps: int = 40) -> None:
    """``args(out)`` (a training command that runs ``steps`` steps with a checkpoint every 5) run
    whole into tmp_path/a, and into tmp_path/b killed with SIGKILL part-way and run again: the two
    final models are equal, tensor for tensor."""
    import json
    import signal
    import subprocess
    import time

    import torch
    from safetensors.torch import load_file

    assert subprocess.run(args(tmp_path / "a"), env=env1(), capture_output=True).returncode == 0
    proc = subprocess.Popen(args(tmp_path / "b"), env=env1(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    state = tmp_path / "b" / "checkpoint" / "state.json"
    deadline = time.time() + 120
    while time.time() < deadline:
        if state.exists() and 10 <= json.loads(state.read_text())["step"] < steps:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert json.loads(state.read_text())["step"] < steps, "the run finished before it could be killed"
    assert subprocess.run(args(tmp_path / "b"), env=env1(), capture_output=True).returncode == 0
    a, b = (load_file(str(p / "model" / "model.safetensors")) for p in (tmp_path / "a", tmp_path / "b"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
