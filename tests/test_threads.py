"""The thread count chosen when nobody gives one: the cores idle at start, when some are busy."""

import os

import pytest
import torch

from promptism import threads
from promptism.cli.common import torch_threads

# two readings of /proc/stat 100 jiffies apart: cpu0 busy (10 idle of 100), cpu1 idle (95 of 100)
BEFORE = """cpu  300 0 100 1000 0 0 0 0 0 0
cpu0 200 0 50 400 0 0 0 0 0 0
cpu1 100 0 50 600 0 0 0 0 0 0
intr 12345
"""
AFTER = """cpu  390 0 105 1105 0 0 0 0 0 0
cpu0 285 0 55 410 0 0 0 0 0 0
cpu1 105 0 50 690 5 0 0 0 0 0
intr 12399
"""


def test_cpu_times_reads_idle_and_total_per_core():
    assert threads.cpu_times(BEFORE) == {0: (400, 650), 1: (600, 750)}


def test_free_cores_counts_the_cores_idle_half_the_time():
    assert threads.free_cores(BEFORE, AFTER) == 1
    assert threads.free_cores(BEFORE, AFTER, cpus={0}) == 0
    assert threads.free_cores(BEFORE, BEFORE) == 2  # no ticks at all: nothing ran on them


def test_auto_threads_lowers_the_count_only_when_a_core_is_busy(monkeypatch, tmp_path):
    stat = tmp_path / "stat"
    readings = iter([BEFORE, AFTER, BEFORE, BEFORE])
    monkeypatch.setattr(threads, "STAT", type("S", (), {"read_text": lambda self: next(readings)})())
    monkeypatch.setattr(threads.os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    assert threads.auto_threads(interval=0) == 1
    assert threads.auto_threads(interval=0) is None  # all idle: the library default stands
    monkeypatch.setattr(threads, "STAT", stat)  # missing file: no opinion
    assert threads.auto_threads(interval=0) is None


def test_an_explicit_count_wins_over_the_measured_one(monkeypatch):
    monkeypatch.setenv("PROMPTISM_THREADS", "1")
    monkeypatch.setattr(threads, "auto_threads", lambda interval=0.1: pytest.fail("measured despite an explicit count"))
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        monkeypatch.setenv(var, "1")
    torch_threads()
    assert os.environ["PROMPTISM_THREADS"] == "1"


def test_the_measured_count_is_applied_when_none_is_given(monkeypatch):
    monkeypatch.setenv("PROMPTISM_THREADS", "")  # empty: not given (restored afterwards)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        monkeypatch.setenv(var, "1")  # monkeypatch restores what torch_threads overwrites
    monkeypatch.setattr(threads, "auto_threads", lambda interval=0.1: 3)
    was = torch.get_num_threads()
    try:
        torch_threads()
        assert os.environ["PROMPTISM_THREADS"] == "3" and os.environ["OMP_NUM_THREADS"] == "3"
        assert torch.get_num_threads() == 3
    finally:
        torch.set_num_threads(was)
