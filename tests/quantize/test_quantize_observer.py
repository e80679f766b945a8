"""Calibration observers: exact histogram merging and the four range methods."""

from __future__ import annotations

import numpy as np
import pytest

from compiler.quantize.observer import Observer

RNG = np.random.default_rng(0)


def test_doubling_keeps_the_histogram_exact() -> None:
    batches = [RNG.uniform(0, 1, 5000), RNG.uniform(0, 3.9, 5000), RNG.uniform(0, 7.5, 5000)]
    obs = Observer(bins=64)
    for b in batches:
        obs.update(b.astype(np.float32))
    # the final width is the first batch's peak / 64, doubled until it covers 7.5
    assert obs.amax == pytest.approx(max(b.max() for b in batches), rel=1e-6)
    direct = np.zeros(64, np.int64)
    for b in batches:
        a = np.abs(b.astype(np.float32))
        direct += np.bincount(np.minimum((a / np.float32(obs.width)).astype(int), 63), minlength=64)
    np.testing.assert_array_equal(obs.hist, direct)
    assert obs.hist.sum() == obs.count == 15000


def test_minmax_percentile_and_zero_data() -> None:
    obs = Observer()
    assert obs.compute_amax("entropy") == 0.0
    obs.update(np.zeros(10, np.float32))
    assert obs.compute_amax("mse") == 0.0
    data = np.concatenate([RNG.uniform(-1, 1, 99_990), np.full(10, 50.0)]).astype(np.float32)
    obs.update(data)
    assert obs.compute_amax("minmax") == 50.0
    assert obs.compute_amax("percentile", percentile=99.9) <= 1.0 + obs.width
    with pytest.raises(ValueError, match="unknown calibration method"):
        obs.compute_amax("kl")


def test_mse_matches_brute_force() -> None:
    x = np.abs(RNG.standard_normal(200_000)).astype(np.float32) * 3
    obs = Observer()
    obs.update(x)
    got = obs.compute_amax("mse")
    cuts = np.linspace(0.5, float(x.max()), 400)

    def err(cut: float) -> float:
        s = cut / 127
        return float(np.sum((x - s * np.minimum(np.rint(x / s), 127)) ** 2))

    best = cuts[int(np.argmin([err(c) for c in cuts]))]
    assert err(got) <= err(best) * 1.02


def test_entropy_clips_a_long_tail_but_not_a_bounded_range() -> None:
    uniform = Observer()
    uniform.update(RNG.uniform(0, 6, 100_000).astype(np.float32))
    assert uniform.compute_amax("entropy") >= 0.95 * 6  # nothing to clip
    tail = Observer()
    tail.update(np.abs(RNG.standard_normal(200_000)).astype(np.float32))
    tail.update(np.full(20, 40.0, np.float32))  # rare outliers
    assert tail.compute_amax("minmax") == 40.0
    assert 2.5 < tail.compute_amax("entropy") < 8.0
