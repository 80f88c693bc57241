"""The install itself: the traps this machine sets must stay shut."""

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import promptism


def test_torchvision_is_not_installed():
    # every torchvision wheel is a CUDA build here; once installed, `import torchvision` fails
    # and takes transformers' and diffusers' imports down with it (see pyproject.toml)
    assert importlib.util.find_spec("torchvision") is None, "torchvision crept in: find who depends on it"


def test_transformers_imports():
    # the first thing a stray torchvision breaks; the hf: CLIP backend needs it
    import transformers
    from transformers import CLIPModel  # noqa: F401

    assert transformers.__version__


def test_torch_is_the_pinned_cpu_build():
    import torch

    assert torch.__version__.startswith("2.13.0"), torch.__version__
    assert torch.ones(2, 2).sum().item() == 4.0


def test_console_script_runs_and_reports_version():
    exe = shutil.which("promptism") or str(Path(sys.executable).parent / "promptism")
    out = subprocess.run([exe, "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == f"promptism {promptism.__version__}"


def test_world_commands_do_not_import_torch():
    # generation start-up matters on a CPU: the world, its judge and the CLI parser stay torch-free
    code = (
        "import sys, promptism.cli, promptism.world.suite, promptism.world.shards; "
        "promptism.cli.build_parser(); print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
