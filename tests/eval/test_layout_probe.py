"""benchmarks/layout_probe.py's reading of a picture: colour centroids and the relation they show."""

import importlib.util
from pathlib import Path

import pytest
import torch

from promptism.world import vocab

_spec = importlib.util.spec_from_file_location(
    "layout_probe", Path(__file__).resolve().parents[2] / "benchmarks" / "layout_probe.py"
)
probe = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(probe)


def _picture(spots: dict[str, tuple[int, int]], size: int = 32) -> torch.Tensor:
    """A white picture (1, 3, S, S) in [-1, 1] with a 6 px square of each named colour at (x, y)."""
    x = torch.ones(1, 3, size, size)
    for name, (cx, cy) in spots.items():
        rgb = torch.tensor(vocab.COLORS[name], dtype=torch.float32) / 255 * 2 - 1
        x[0, :, cy - 3 : cy + 3, cx - 3 : cx + 3] = rgb[:, None, None]
    return x


@pytest.mark.parametrize(
    "spots, relation, want",
    [
        ({"red": (6, 16), "blue": (26, 16)}, "left of", True),
        ({"red": (6, 16), "blue": (26, 16)}, "right of", False),
        ({"red": (16, 5), "blue": (16, 27)}, "above", True),
        ({"red": (16, 5), "blue": (16, 27)}, "below", False),
        ({"pink": (26, 16), "red": (6, 16)}, "right of", True),  # near colours stay apart
    ],
)
def test_centroids_show_where_each_colour_is(spots, relation, want):
    names = list(spots)
    c = probe.colour_centroids(_picture(spots), names)[0]
    for k, name in enumerate(names):
        x, y = spots[name]
        assert abs(c[k, 0] - (x + 0.5) / 32) < 0.08 and abs(c[k, 1] - (y + 0.5) / 32) < 0.08
    assert probe.placed(c, relation) is want


def test_the_probe_reads_every_ground_truth_render_as_placed():
    assert probe.truth("seen", 6) == 1.0 and probe.truth("heldout", 6) == 1.0
