"""benchmarks/layout_stage.py's check of a layout against its prompt."""

import importlib.util
from dataclasses import asdict
from pathlib import Path

from promptism.world import suite

_spec = importlib.util.spec_from_file_location(
    "layout_stage", Path(__file__).resolve().parents[2] / "benchmarks" / "layout_stage.py"
)
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)


class _Truth:
    """A layout stage that writes each prompt's ground-truth scene (or, ``empty``, nothing)."""

    def __init__(self, empty: bool = False):
        self.by_text = {p.text: p for p in suite.all_prompts()}
        self.empty = empty

    def draw(self, captions, generators, temperature=1.0):
        assert len(captions) == len(generators) == 1
        if self.empty:
            return [[]]
        return [[asdict(o) for o in suite.truth_scene(self.by_text[captions[0]], 0).objects]]


def test_ground_truth_layouts_pass_every_category_and_empty_ones_none():
    right = bench.measure(_Truth(), "seen", 3)
    assert right["prompts"] == 18 and right["valid"] == 1.0
    assert all(c["share"] == 1.0 for c in right["categories"].values()) and right["overall"] == 1.0
    wrong = bench.measure(_Truth(empty=True), "heldout", 3)
    assert wrong["overall"] == 0.0 and wrong["valid"] == 1.0  # no objects: nothing asked is there
    assert "| seen |" in bench.markdown(
        {
            "machine": "m",
            "torch": "t",
            "promptism": "p",
            "threads": 1,
            "layout": "x",
            "limit": 3,
            "temperature": 1.0,
            "splits": {"seen": right},
        }
    )
