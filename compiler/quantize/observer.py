"""Range observers for activation calibration and the four ways to pick a clipping range.

An `Observer` keeps the exact `max|x|` and a histogram of `|x|` over `BINS` bins of equal width
starting at 0. The width is fixed by the first non-zero batch (`max|x| / (BINS − 1)`) and
doubles, by merging neighbouring bins exactly, whenever a later batch reaches the covered range;
so every batch counts at its true position (bins are half-open, `[k·w, (k+1)·w)`) and no data is
kept. From the histogram:

- `minmax`: amax = max|x| (exact).
- `percentile`: amax = the upper edge of the bin where the cumulative count of |x| reaches
  `percentile` % (default 99.99).
- `entropy`: TensorRT's calibration (KL divergence): for every candidate cut `i` (from `levels`
  bins on), P = the first i bins with the tail folded into bin i−1, Q = P merged into `levels`
  equal groups and spread back evenly over the non-empty bins of each group; amax = the upper
  edge of the cut minimising KL(P ‖ Q) (the largest such cut on ties). `levels = 2^(bits−1)`
  (128 for int8). As in TensorRT, the first bin's count is replaced by the second's, so the
  spike of exact zeros after a ReLU does not decide the range.
- `mse`: amax minimising Σ count·(c − Q(c))² over bin centres c, where
  Q(c) = s·min(round_half_even(c/s), qmax), s = amax/qmax, for cuts at every bin edge.

All methods are symmetric: the scale is `amax / qmax` with a zero point of zero.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

BINS = 2048
METHODS = ("minmax", "percentile", "entropy", "mse")


class Observer:
    """max|x| and an exact-merge histogram of |x| over all batches seen (see module docstring)."""

    def __init__(self, bins: int = BINS) -> None:
        self.bins = bins
        self.amax = 0.0
        self.width = 0.0
        self.hist = np.zeros(bins, dtype=np.int64)
        self.count = 0

    def update(self, x: np.ndarray) -> None:
        """Add one batch of values (any shape; NaN is ignored)."""
        a = np.abs(np.asarray(x, dtype=np.float32)).ravel()
        if a.size == 0:
            return
        peak = float(a.max())
        if not np.isfinite(peak):
            a = a[np.isfinite(a)]
            if a.size == 0:
                return
            peak = float(a.max())
        self.amax = max(self.amax, peak)
        self.count += a.size
        if peak == 0.0 and self.width == 0.0:
            self.hist[0] += a.size
            return
        if self.width == 0.0:
            self.width = peak / (self.bins - 1)  # the peak falls inside the last bin
        while peak >= self.width * self.bins:  # bins are half-open: [k·w, (k+1)·w)
            self._double()
        index = np.minimum((a / np.float32(self.width)).astype(np.int64), self.bins - 1)
        self.hist += np.bincount(index, minlength=self.bins)

    def _double(self) -> None:
        merged = self.hist.reshape(-1, 2).sum(axis=1)
        self.hist = np.concatenate([merged, np.zeros(self.bins - merged.size, np.int64)])
        self.width *= 2.0

    def merge(self, other: Observer) -> None:
        """Fold another observer's data into this one (used for shared concat scales)."""
        if other.width == 0.0:
            self.hist[0] += other.hist[0]
            self.count += other.count
            return
        values = (np.arange(other.bins) + 0.5) * other.width
        counts = other.hist
        self.update(np.repeat(values[counts > 0], counts[counts > 0]).astype(np.float32))
        self.amax = max(self.amax, other.amax)

    def edges(self) -> np.ndarray:
        """Upper edges of the bins."""
        return (np.arange(1, self.bins + 1, dtype=np.float64)) * self.width

    def compute_amax(self, method: str, bits: int = 8, percentile: float = 99.99) -> float:
        """The clipping range by `method` (see module docstring); 0 when nothing non-zero seen."""
        if method not in METHODS:
            raise ValueError(f"unknown calibration method {method!r} (valid: {', '.join(METHODS)})")
        if self.amax == 0.0 or self.width == 0.0 or method == "minmax":
            return float(self.amax)
        found: Callable[[], float] = {
            "percentile": lambda: _percentile(self, percentile),
            "entropy": lambda: _entropy(self, 1 << (bits - 1)),
            "mse": lambda: _mse(self, (1 << (bits - 1)) - 1),
        }[method]
        return float(min(found(), self.amax))


def _percentile(obs: Observer, percentile: float) -> float:
    cdf = np.cumsum(obs.hist) / max(obs.hist.sum(), 1)
    k = int(np.searchsorted(cdf, percentile / 100.0))
    return float(obs.edges()[min(k, obs.bins - 1)])


def _used(obs: Observer) -> np.ndarray:
    last = int(np.nonzero(obs.hist)[0][-1]) + 1
    return obs.hist[:last].astype(np.float64)


def _kl(p: np.ndarray, q: np.ndarray) -> float:
    mask = p > 0
    if np.any(q[mask] == 0):
        return float("inf")
    return float(np.sum(p[mask] * np.log(p[mask] / q[mask])))


def _entropy(obs: Observer, levels: int) -> float:
    hist = _used(obs)
    if hist.size > 1:
        hist[0] = hist[1]  # as TensorRT: the spike of exact zeros (ReLU) would dominate P
    n = hist.size
    if n <= levels:
        return float(n * obs.width)
    best, best_i = float("inf"), n
    for i in range(levels, n + 1):
        p = hist[:i].copy()
        p[-1] += hist[i:].sum()
        group = np.minimum((np.arange(i) * levels) // i, levels - 1)
        nonzero = hist[:i] > 0
        totals = np.bincount(group, weights=hist[:i], minlength=levels)
        members = np.bincount(group, weights=nonzero, minlength=levels)
        q = np.where(nonzero, totals[group] / np.maximum(members[group], 1), 0.0)
        div = _kl(p / p.sum(), q / max(q.sum(), 1e-300))
        if div <= best:
            best, best_i = div, i
    return float(best_i * obs.width)


def _mse(obs: Observer, qmax: int) -> float:
    hist = _used(obs)
    centres = (np.arange(hist.size) + 0.5) * obs.width
    cuts = np.arange(1, hist.size + 1) * obs.width
    step = max(1, cuts.size // 512)
    cuts = cuts[::-1][::step][::-1]
    s = cuts[:, None] / qmax
    err = (centres[None, :] - s * np.minimum(np.rint(centres[None, :] / s), qmax)) ** 2
    return float(cuts[int(np.argmin(err @ hist))])


__all__ = ["BINS", "METHODS", "Observer"]
