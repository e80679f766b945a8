"""Depthwise 2-D convolution (group == C == M, `w` as [C, kh, kw]) in NumPy, one of two strategies.

A depthwise conv does only kh*kw multiply-adds per output and shares nothing across channels, so
the obvious NumPy form (per kernel offset, `tmp = view * w; acc += tmp`) is bound by memory passes:
2*kh*kw passes over the output at ~2-3 elements/ns. Both strategies below do fewer, cheaper passes.

- **row bands** (`_depthwise_bands`, maps with more output positions than channels): BLAS does
  the arithmetic. For a tile of `ht` output rows of one channel,
  `y[tile] = band @ shifted[rows of the tile]`, where `shifted[r, j, :]` holds padded input row r
  already shifted by kernel column j (`[rows, kw, Wo]`, one copy of kw x the input per channel
  block) and `band[ht, span*kw]` is the banded matrix holding the kernel rows at the diagonal
  offsets (`span` input rows feed one tile). The product lands directly in the NCHW output. The
  copy is what lets GEMM see the (row, column shift) pairs as one evenly strided K axis; the
  band's zeros cost `span/kh` extra multiply-adds (2x for 3x3 with 4-row tiles), but sgemm does
  them an order of magnitude faster than NumPy's element-wise loops. (A horizontal band over
  column tiles needs no kw x copy but does 3x the multiply-adds, and measured 1.5x slower.)
- **channels-last einsum** (`_depthwise_nhwc`, at least as many channels as output positions:
  small deep maps): the padded image is copied channels-last once and one `np.einsum` sums
  `w[i, j, c] * window[i, j, h, w, c]` with the channels as its contiguous inner loop, a single
  fused multiply-add pass per kernel offset (~7 multiply-adds/ns) instead of a multiply pass and
  an add pass. Here the per-channel GEMMs would be tiny and the band copies short-run: at 7x7,
  1152 channels the einsum takes 0.34 ms, the bands 0.68; at 14x14 with 128 channels the bands
  win (0.11 vs 0.12 ms), and 512 channels is a tie.

Measured on one core (float32, EfficientNet-Lite0 shapes, ms at batch 1 / 8, before -> after):
(32,112,112) 3x3: 1.59 -> 0.61 / 14.2 -> 5.4; (240,28,28) 5x5: 2.5 -> 0.81 / 25.7 -> 6.7;
(672,14,14) 5x5: 1.43 -> 0.70 / 16.0 -> 5.8; (1152,7,7) 5x5: 0.76 -> 0.34 / 5.2 -> 2.5; all
twelve: 19.4 -> 8.7 ms at batch 1, 194 -> 74 ms at batch 8.

Accumulation happens in `x.dtype` (the caller's accumulation dtype); float32 stays float32.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from compiler.ops.derived import derived

# A band tile spans about this many padded rows beyond the kernel's: 4 output rows at stride 1, 2
# at stride 2. Short tiles keep the band's zeros (K = kw*span) few while the GEMM still streams
# long rows (measured, stride 1: 4 rows as fast as 2, 8 rows 5-10% slower, odd counts slower;
# stride 2: 2 rows 7% faster than 4).
_BAND_EXTRA_ROWS = 3
# The shifted-rows buffer of one channel block stays about this size (L2-resident, reused).
_BAND_BLOCK_BYTES = 512 * 1024


def depthwise(
    x: np.ndarray, w: np.ndarray, strides: Sequence[int], dilations: Sequence[int],
    pads: Sequence[int], out: Sequence[int],
) -> np.ndarray:  # fmt: skip
    """Depthwise conv of `x` [N, C, H, W] with `w` [C, kh, kw]; `pads` = [top, left, bottom,
    right], `out` = (Ho, Wo). Channels-last einsum when there are at least as many channels as
    output positions (small deep maps), row bands otherwise (measured crossover)."""
    if x.shape[1] >= out[0] * out[1]:
        return _depthwise_nhwc(x, w, strides, dilations, pads, out)
    return _depthwise_bands(x, w, strides, dilations, pads, out)


def _valid_span(first: int, step: int, count: int, size: int) -> tuple[int, int]:
    """The range [lo, hi) of k in [0, count) whose index `first + k*step` lies in [0, size)."""
    lo = min(count, max(0, -(first // step)))
    hi = min(count, (size - 1 - first) // step + 1)
    return lo, max(lo, hi)


def _band(w: np.ndarray, ht: int, span: int, sh: int, dh: int) -> np.ndarray:
    """`[C, ht, span*kw]`: row t of channel c holds `w[c, i, j]` at input row `t*sh + i*dh`,
    column j (rows flattened with the kernel column, as in the shifted-rows buffer)."""
    c, kh, kw = w.shape
    band = np.zeros((c, ht, span, kw), w.dtype)
    for t in range(ht):
        band[:, t, t * sh : t * sh + (kh - 1) * dh + 1 : dh] = w
    return band.reshape(c, ht, span * kw)


def _depthwise_bands(
    x: np.ndarray, w: np.ndarray, strides: Sequence[int], dilations: Sequence[int],
    pads: Sequence[int], out: Sequence[int],
) -> np.ndarray:  # fmt: skip
    """Row-band GEMMs (see the module docstring), image by image in channel blocks whose
    shifted-rows buffer stays in cache. The buffer is zeroed once: every block rewrites the same
    in-image cells, so the padding cells stay zero."""
    n, c, h, wd = x.shape
    _, kh, kw = w.shape
    (sh, sw), (dh, dw), (ho, wo) = strides, dilations, out
    top, left = pads[0], pads[1]
    tiles = -(-ho // min(1 + _BAND_EXTRA_ROWS // sh, ho))
    ht = -(-ho // tiles)  # output rows per tile, balanced
    span = (ht - 1) * sh + (kh - 1) * dh + 1  # padded input rows one tile reads
    rows = (ho - 1) * sh + (kh - 1) * dh + 1  # padded input rows all tiles read
    band = derived((w,), ("band", ht, span, sh, dh), lambda a: _band(a, ht, span, sh, dh))
    full, rem = divmod(ho, ht)
    rem_span = (rem - 1) * sh + (kh - 1) * dh + 1
    block = max(1, min(c, _BAND_BLOCK_BYTES // (rows * kw * wo * x.itemsize)))
    shifted = np.zeros((block, rows, kw, wo), x.dtype)
    r0, r1 = min(top, rows), min(top + h, rows)  # padded rows that hold input rows
    # per kernel column j: the output columns [lo, hi) inside the input and their input columns
    copies: list[tuple[int, int, int, slice]] = []
    for j in range(kw):
        lo, hi = _valid_span(j * dw - left, sw, wo, wd)
        if hi > lo and r1 > r0:
            start = lo * sw + j * dw - left
            copies.append((j, lo, hi, slice(start, start + (hi - lo - 1) * sw + 1, sw)))
    y = np.empty((n, c, ho, wo), x.dtype)
    s0, s1, s2, s3 = shifted.strides
    for image in range(n):
        for c0 in range(0, c, block):
            m = min(block, c - c0)
            src = x[image, c0 : c0 + m, r0 - top : r1 - top]
            for j, lo, hi, cols in copies:
                shifted[:m, r0:r1, j, lo:hi] = src[:, :, cols]
            if full:
                # tile t reads the flattened (row, column-shift) rows from t*ht*sh*kw on
                operand = np.lib.stride_tricks.as_strided(
                    shifted, (m, full, span * kw, wo), (s0, ht * sh * s1, s2, s3), writeable=False
                )  # fmt: skip
                dst = y[image, c0 : c0 + m, : full * ht].reshape(m, full, ht, wo, copy=False)
                np.matmul(band[c0 : c0 + m, None], operand, out=dst)
            if rem:
                first = full * ht * sh
                operand = shifted[:m, first : first + rem_span].reshape(m, -1, wo, copy=False)
                np.matmul(band[c0 : c0 + m, :rem, : rem_span * kw], operand,
                          out=y[image, c0 : c0 + m, full * ht :])  # fmt: skip
    return y


def _depthwise_nhwc(
    x: np.ndarray, w: np.ndarray, strides: Sequence[int], dilations: Sequence[int],
    pads: Sequence[int], out: Sequence[int],
) -> np.ndarray:  # fmt: skip
    """Channels-last einsum (see the module docstring), image by image through one zero-padded
    `[Hp, Wp, C]` buffer whose borders stay zero."""
    n, c, h, wd = x.shape
    _, kh, kw = w.shape
    (sh, sw), (dh, dw), (ho, wo) = strides, dilations, out
    top, left = pads[0], pads[1]
    hp, wp = (ho - 1) * sh + (kh - 1) * dh + 1, (wo - 1) * sw + (kw - 1) * dw + 1
    xp = np.zeros((hp, wp, c), x.dtype)
    rh, rw = max(0, min(h, hp - top)), max(0, min(wd, wp - left))
    st = xp.strides
    windows = np.lib.stride_tricks.as_strided(
        xp, (kh, kw, ho, wo, c), (dh * st[0], dw * st[1], sh * st[0], sw * st[1], st[2]),
        writeable=False,
    )  # fmt: skip
    weights = derived((w,), "kh,kw,C", lambda a: np.ascontiguousarray(a.transpose(1, 2, 0)))
    acc = np.empty((ho, wo, c), x.dtype)
    y = np.empty((n, c, ho, wo), x.dtype)
    for image in range(n):
        xp[top : top + rh, left : left + rw] = x[image, :, :rh, :rw].transpose(1, 2, 0)
        np.einsum("ijc,ijhwc->hwc", weights, windows, out=acc)
        y[image] = acc.transpose(2, 0, 1)
    return y
