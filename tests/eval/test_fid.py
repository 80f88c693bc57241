"""The Fréchet distance and its feature network."""

from __future__ import annotations

import numpy as np
import pytest

from promptism.errors import PromptismError
from promptism.eval.fid import Features, frechet, stats


def test_the_distance_is_zero_for_equal_sets_and_matches_the_closed_form_for_gaussians():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(500, 6))
    assert abs(frechet(stats(a), stats(a))) < 1e-8
    # two Gaussians with diagonal covariances: ||Δμ||² + Σ (σa − σb)²
    mu_a, mu_b = np.zeros(3), np.array([1.0, 2.0, 0.0])
    cov_a, cov_b = np.diag([1.0, 4.0, 9.0]), np.diag([4.0, 4.0, 1.0])
    expected = 5.0 + (1 - 2) ** 2 + 0 + (3 - 1) ** 2
    assert frechet((mu_a, cov_a), (mu_b, cov_b)) == pytest.approx(expected, abs=1e-9)
    # symmetric in its arguments
    b = rng.normal(1.0, 2.0, size=(500, 6))
    assert frechet(stats(a), stats(b)) == pytest.approx(frechet(stats(b), stats(a)), rel=1e-9)


def test_world_pictures_sit_nearer_each_other_than_noise_does():
    from promptism.world.render import render_array
    from promptism.world.sampling import sample_example

    world = [render_array(sample_example(np.random.default_rng([5, i])).scene, 32) for i in range(24)]
    more = [render_array(sample_example(np.random.default_rng([6, i])).scene, 32) for i in range(24)]
    noise = np.random.default_rng(0).integers(0, 256, (24, 32, 32, 3), dtype=np.uint8)
    features = Features(batch=24)
    fw, fm, fn = features(np.stack(world)), features(np.stack(more)), features(noise)
    assert fw.shape == (24, 1280) and np.isfinite(fw).all()
    assert frechet(stats(fw), stats(fm)) < 0.5 * frechet(stats(fw), stats(fn))
    with pytest.raises(PromptismError, match="uint8 pictures"):
        features(np.zeros((2, 32, 32, 3), np.float32))
    with pytest.raises(PromptismError, match="at least two pictures"):
        stats(fw[:1])
