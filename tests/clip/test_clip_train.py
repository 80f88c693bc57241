"""`promptism train clip`: the loop, resume, two processes, BatchNorm statistics, the task's options."""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from clip_helpers import cli, env1

from promptism import clip
from promptism.clip.native import load_folder
from promptism.world import render_array
from promptism.world.sampling import sample_example


def _train(data, out, *extra, env=None):
    return subprocess.run(
        cli("train", "clip", "--data", str(data), "--out", str(out), "--preset", "tiny", "--quiet", *extra),
        capture_output=True,
        text=True,
        env=env or env1(),
    )


def test_cli_reads_negative_weights_and_refuses_unknown_kinds(data, tmp_path):
    r = _train(
        data,
        tmp_path / "run",
        "--steps",
        "4",
        "--compose",
        "0.5",
        "--compose-text",
        "0.25",
        "--relate",
        "0.75",
        "--relate-picture",
        "0.5",
        "--relate-caption",
        "0.25",
        "--negative-weights",
        "swap_colors=3,relation=2",
    )
    assert r.returncode == 0, r.stderr
    meta = json.loads((tmp_path / "run" / "model" / "config.json").read_text())
    assert (
        meta["compose"] == 0.5
        and meta["compose_text"] == 0.25
        and meta["negative_weights"] == {"swap_colors": 3.0, "relation": 2.0}
    )
    assert meta["relate"] == 0.75 and meta["relate_picture"] == 0.5 and meta["relate_caption"] == 0.25
    assert meta["config"]["compose_outputs"] > 0 and meta["config"]["place_outputs"] > 0
    clip.load(str(tmp_path / "run" / "model"))  # the head loads back with the rest
    bad = _train(data, tmp_path / "bad", "--steps", "4", "--negative-weights", "swaps=3")
    assert bad.returncode == 2 and "swap_colors" in bad.stderr


def test_batchnorm_statistics_are_recomputed_for_averaged_weights():
    from promptism.train.loop import recalibrate_batchnorm

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.BatchNorm1d(8))
    weights = {k: v.clone() for k, v in net.state_dict().items()}
    weights["1.running_mean"].fill_(5.0)  # stale statistics, as an EMA of another model's
    weights["1.running_var"].fill_(9.0)
    data = torch.randn(6, 32, 4) * 3 + 1
    it = iter(data)
    new = recalibrate_batchnorm(net, weights, lambda: net(next(it)), n=6)
    with torch.no_grad():
        h = net[0](data.flatten(0, 1))
    assert torch.allclose(new["1.running_mean"], h.mean(0), atol=1e-4)
    assert torch.allclose(new["1.running_var"], h.view(6, 32, 8).var(1).mean(0), atol=1e-4)  # each batch alike
    assert torch.equal(new["0.weight"], weights["0.weight"]) and not net.training
    plain = torch.nn.Linear(2, 2)  # no BatchNorm: the weights come back as given
    given = plain.state_dict()
    assert recalibrate_batchnorm(plain, given, lambda: None, n=3) is given


def test_train_writes_a_loadable_model_and_tensorboard(data, tmp_path):
    r = _train(data, tmp_path / "run", "--steps", "12", "--checkpoint-every", "6")
    assert r.returncode == 0, r.stderr
    model = clip.load(str(tmp_path / "run" / "model"))
    meta = json.loads((tmp_path / "run" / "model" / "config.json").read_text())
    assert meta["kind"] == "clip" and meta["steps"] == 12 and meta["hard_negatives"] is True
    assert list((tmp_path / "run" / "tensorboard").glob("events.out.tfevents.*"))
    s = model.score([render_array(sample_example(np.random.default_rng(0)).scene, 32)], ["a red circle", "two stars"])
    assert s.shape == (1, 2) and s.abs().max() <= 1.0 + 1e-5
    # every knob of the task's config is saved, as the task ran it
    from dataclasses import fields

    from promptism.clip.task_config import ClipTaskConfig

    assert {f.name for f in fields(ClipTaskConfig)} <= set(meta)


def test_every_task_knob_is_a_cli_option_with_help_and_the_preset_value_by_default():
    from dataclasses import fields

    from promptism.cli import build_parser
    from promptism.clip.task_config import ClipTaskConfig

    train = next(a for a in build_parser()._actions if getattr(a, "choices", None) and "train" in a.choices)
    sub = next(a for a in train.choices["train"]._actions if getattr(a, "choices", None)).choices["clip"]
    options = {a.dest: a for a in sub._actions}
    for f in fields(ClipTaskConfig):
        assert f.name in options, f"train clip has no option for {f.name}"
        assert options[f.name].help and options[f.name].default is None  # None keeps the preset's
    args = sub.parse_args(
        ["--data", "d", "--out", "o", "--rank", "0.5", "--no-hard-negatives", "--counterfactual-kinds", "count"]
    )
    assert args.rank == 0.5 and args.hard_negatives is False and args.counterfactual_kinds == ("count",)
    assert args.colorless is None and args.colorless_relations is None


def test_a_task_config_describes_what_differs_from_its_defaults():
    from promptism.clip.task_config import ClipTaskConfig

    said = ClipTaskConfig.describe(
        {
            "hard_negatives": True,
            "rank": 1.0,
            "rank_margin": 0.1,
            "counterfactuals": 0.0,
            "counterfactual_kinds": ["count"],
        }
    )
    assert said == "hard_negatives True; rank 1.0"
    assert "counterfactual_kinds relation, count" in ClipTaskConfig.describe(
        {"counterfactuals": 0.5, "counterfactual_kinds": ["relation", "count"]}
    )


@pytest.mark.slow
def test_killed_run_resumes_exactly(data, tmp_path):
    straight = _train(data, tmp_path / "a", "--steps", "30", "--checkpoint-every", "5")
    assert straight.returncode == 0, straight.stderr
    args = cli(
        "train",
        "clip",
        "--data",
        str(data),
        "--out",
        str(tmp_path / "b"),
        "--preset",
        "tiny",
        "--quiet",
        "--steps",
        "30",
        "--checkpoint-every",
        "5",
    )
    proc = subprocess.Popen(args, env=env1(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    state = tmp_path / "b" / "checkpoint" / "state.json"
    deadline = time.time() + 120
    while time.time() < deadline:
        if state.exists() and 10 <= json.loads(state.read_text())["step"] < 30:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed = json.loads(state.read_text())
    killed_at = killed["step"]
    assert killed_at < 30, "the run finished before it could be killed"
    # the checkpoint's stepping seconds must carry into the resumed run's total: make them unmistakable
    killed["train_seconds"] += 1000.0
    state.write_text(json.dumps(killed))
    resumed = _train(data, tmp_path / "b", "--steps", "30", "--checkpoint-every", "5")
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(state.read_text())["step"] == 30
    meta = json.loads((tmp_path / "b" / "model" / "config.json").read_text())
    assert killed["train_seconds"] <= meta["train_seconds"] <= killed["train_seconds"] + meta["wall_seconds_this_run"]
    from safetensors.torch import load_file

    a = load_file(tmp_path / "a" / "model" / "model.safetensors")
    b = load_file(tmp_path / "b" / "model" / "model.safetensors")
    assert a.keys() == b.keys()
    for k in a:  # same steps on the same examples in the same order: the same weights
        assert torch.allclose(a[k], b[k], atol=1e-6), k


@pytest.mark.slow
def test_two_process_cpu_run_with_gloo(data, tmp_path):
    import shutil

    # torchrun starts the processes; accelerate reads its environment and joins them with gloo on CPU
    torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent)) or "torchrun"
    r = subprocess.run(
        [
            torchrun,
            "--standalone",
            "--nproc_per_node",
            "2",
            "-m",
            "promptism.cli",
            "train",
            "clip",
            "--data",
            str(data),
            "--out",
            str(tmp_path / "ddp"),
            "--preset",
            "tiny",
            "--quiet",
            "--steps",
            "6",
            "--checkpoint-every",
            "3",
        ],
        capture_output=True,
        text=True,
        env=env1(),
        timeout=300,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    state = json.loads((tmp_path / "ddp" / "checkpoint" / "state.json").read_text())
    assert state["step"] == 6 and state["world_size"] == 2
    load_folder(tmp_path / "ddp" / "model")


def test_batches_are_a_pure_function_of_step_and_split_across_processes():
    from promptism.train.loop import batch_indices

    full = batch_indices(100, 7, 10, seed=3)
    parts = [batch_indices(100, 7, 10, seed=3, rank=r, world=2) for r in range(2)]
    assert sorted(np.concatenate(parts)) == sorted(full)
    assert np.array_equal(full, batch_indices(100, 7, 10, seed=3))
    assert not np.array_equal(full, batch_indices(100, 17, 10, seed=3))  # next epoch, new order


def test_train_clip_runs_a_recipe_file(data, tmp_path):
    recipe = tmp_path / "tiny-ranked.toml"
    recipe.write_text('kind = "clip"\nbase = "tiny"\nresult = "a test"\n[loop]\nsteps = 3\n[task]\nrank = 0.5\n')
    r = subprocess.run(
        cli("train", "clip", "--data", str(data), "--out", str(tmp_path / "run"), "--config", str(recipe), "--quiet"),
        capture_output=True,
        text=True,
        env=env1(),
    )
    assert r.returncode == 0, r.stderr
    meta = json.loads((tmp_path / "run" / "model" / "config.json").read_text())
    assert meta["preset"] == "tiny-ranked" and meta["steps"] == 3 and meta["rank"] == 0.5
    both = subprocess.run(
        cli(
            "train",
            "clip",
            "--data",
            str(data),
            "--out",
            str(tmp_path / "x"),
            "--config",
            str(recipe),
            "--preset",
            "tiny",
        ),
        capture_output=True,
        text=True,
        env=env1(),
    )
    assert both.returncode == 2 and "not both" in both.stderr


def test_a_fine_tune_starts_from_its_init_and_keeps_its_tokenizer(data, tmp_path):
    assert _train(data, tmp_path / "start", "--steps", "4").returncode == 0
    start = tmp_path / "start" / "model"
    # learning rate 0: the weights can only be the start's if the start was loaded
    r = _train(data, tmp_path / "ft", "--steps", "2", "--lr", "0", "--init", str(start))
    assert r.returncode == 0, r.stderr
    tuned = load_folder(tmp_path / "ft" / "model")
    for (name, a), (_, b) in zip(load_folder(start).model.named_parameters(), tuned.model.named_parameters()):
        assert torch.equal(a, b), name
    assert (tmp_path / "ft" / "model" / "tokenizer.json").read_text() == (start / "tokenizer.json").read_text()
    meta = json.loads((tmp_path / "ft" / "model" / "config.json").read_text())
    assert meta["init"] == str(start) and [p["steps"] for p in meta["init_phases"]] == [4]
    bad = _train(data, tmp_path / "bad", "--steps", "2", "--init", str(tmp_path / "nowhere"))
    assert bad.returncode != 0 and "no clip at" in bad.stderr
