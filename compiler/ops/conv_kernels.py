"""Fast NumPy convolution kernels (the `conv` op's kernel dispatches here).

Strategies, chosen per shape by measurement on one core (OpenBLAS sgemm):

- **1x1, stride 1, no pads**: one GEMM `W[M, C] @ x[N, C, H*W]`, no copy at all.
- **Winograd F(2x2, 3x3)** (float32 3x3 stride 1 with enough channels, see `conv_winograd`): 4/9
  of the multiplies, at most 2x the direct conv's rounding error.
- **shifted GEMMs** (2-D): the input is zero-padded once into a flat buffer `[N, C, Hp*Wp + tail]`
  (split into stride phases when strided, see `_Phases`); for kernel offset (i, j) the shifted
  input is a contiguous slice starting at `i*d*Wp + j*d`, so `out += W[:, :, i, j] @ slice` runs
  kh*kw GEMMs on views without copying. The output is computed on the padded width and cropped
  once. Temporaries: the padded input, the accumulator and a small per-chunk product.
- **im2col** (strides, tiny channel counts, small spatial maps with many channels, 1-D/3-D): windows
  copied into `[n, C*K, P]` columns and one GEMM, in batch chunks so the columns stay small.
- **depthwise** (group == C == M): row-band GEMMs or a channels-last einsum, see `conv_depthwise`.

All math happens in `accum_dtype` (float32 for half types); float32 stays float32 (no upcast).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np

from compiler.ops.conv_depthwise import depthwise as _depthwise
from compiler.ops.conv_winograd import prefer_winograd, winograd_conv3x3
from compiler.ops.derived import derived

# Columns of one im2col chunk stay under this (or one image's columns, if larger).
_COLS_BUDGET = 4 * 1024 * 1024
# The shifted-GEMM product buffer covers as many images as fit in this (at least one): one GEMM
# call per offset for the whole chunk. Per-image calls cost 1.5x on small maps (batch 8, 32
# channels, 16x16: 676 us at 64 KiB, 512 us at 128 KiB, 477 us at 192 KiB, 450 us for the whole
# batch), while a whole-batch buffer adds an output-sized temporary: the reference's peak memory
# target is 2x the live set, and resnet200 batch 8 peaks at 1.89x with 128 KiB, 1.98x with 192.
_TMP_BUDGET = 128 * 1024
# Winograd needs this many output positions per call to amortize its larger weights.
_WINOGRAD_MIN_POSITIONS = 196
# Stride-1 convs whose kh*kw products (output-sized each) fit in this run as one batched matmul.
_STACK_BUDGET = 512 * 1024


def conv(
    x: np.ndarray, w: np.ndarray, b: np.ndarray | None, strides: Sequence[int],
    dilations: Sequence[int], pads: Sequence[int], group: int, out: Sequence[int],
) -> np.ndarray:  # fmt: skip
    """N-D grouped convolution of `x` (already in the accumulation dtype) with explicit pads."""
    n, c, m = x.shape[0], x.shape[1], w.shape[0]
    if group == 1:
        y = _dense(x, w, strides, dilations, pads, out)
    elif group == c == m and x.ndim == 4:
        w3 = derived((w,), "C,kh,kw", lambda w4: np.ascontiguousarray(w4[:, 0]))
        y = _depthwise(x, w3, strides, dilations, pads, out)
    else:
        cg, mg = c // group, m // group
        y = np.empty((n, m, *out), x.dtype)
        for g in range(group):  # each group is a dense conv on a channel slice
            y[:, g * mg : (g + 1) * mg] = _dense(x[:, g * cg : (g + 1) * cg],
                                                 w[g * mg : (g + 1) * mg], strides, dilations,
                                                 pads, out)  # fmt: skip
    if b is not None:
        y += b.reshape(m, *([1] * (x.ndim - 2)))
    return y


def _dense(
    x: np.ndarray, w: np.ndarray, strides: Sequence[int], dilations: Sequence[int],
    pads: Sequence[int], out: Sequence[int],
) -> np.ndarray:  # fmt: skip
    ks = w.shape[2:]
    if all(k == 1 for k in ks) and all(s == 1 for s in strides) and not any(pads):
        n, c, m = x.shape[0], x.shape[1], w.shape[0]
        flat = np.matmul(w.reshape(m, c), x.reshape(n, c, -1))
        return flat.reshape(n, m, *out)
    if _use_winograd(x, w, strides, dilations, out):
        return winograd_conv3x3(x, w, pads, out)
    if _use_shifted(x, out):
        return _shifted(x, w, strides, dilations, pads, out)
    return _im2col(x, w, strides, dilations, pads, out)


def _use_winograd(
    x: np.ndarray, w: np.ndarray, strides: Sequence[int], dilations: Sequence[int],
    out: Sequence[int],
) -> bool:  # fmt: skip
    """Winograd F(2x2, 3x3) for float32 3x3 stride-1 convs where its cost model says it wins
    (ResNet-50's 3x3 layers: 1.3-1.45x; its error stays within 2x of the direct conv's). float64
    runs, the ground-truth mode, always take the direct kernels. Fewer than 196 output positions
    per call stay direct: inside a model the weights come from memory, not cache, and Winograd's
    are 16/9 larger (ResNet-50's 512-channel 7x7 layers at batch 1: 3.5 ms vs 3.1 ms direct)."""
    return (
        x.ndim == 4 and x.dtype == np.float32 and w.shape[2:] == (3, 3)
        and tuple(strides) == (1, 1) and tuple(dilations) == (1, 1)
        and x.shape[0] * out[0] * out[1] >= _WINOGRAD_MIN_POSITIONS
        and prefer_winograd(x.shape[0], x.shape[1], w.shape[0], out[0], out[1])
    )  # fmt: skip


def _use_shifted(x: np.ndarray, out: Sequence[int]) -> bool:
    """Shifted GEMMs win unless the map is small and deep or the input has very few channels
    (then each per-offset GEMM is too thin and im2col's single GEMM is faster)."""
    if x.ndim != 4:
        return False
    c, positions = x.shape[1], out[0] * out[1]
    return c >= 8 and (positions >= 256 or c < 256)


class _Phases:
    """The zero-padded input split into stride phases, each flattened to `[N, C, Hq*Wq + tail]`.

    Input row `oh*sh + i*dh` of kernel row i lies in phase row `oh + (i*dh)//sh` of phase
    `(i*dh) % sh` (likewise for columns), so for every kernel offset the operand of all output
    positions is one contiguous slice of a phase, computed on the phase width `Wq` and cropped
    once at the end. With stride 1 there is one phase: the padded map itself.
    """

    def __init__(
        self, x: np.ndarray, ks: Sequence[int], strides: Sequence[int],
        dilations: Sequence[int], pads: Sequence[int], out: Sequence[int],
    ) -> None:  # fmt: skip
        n, c, h, wd = x.shape
        (sh, sw), dw = strides, dilations[1]
        hq = -(-(h + pads[0] + pads[2]) // sh)
        wq = -(-(wd + pads[1] + pads[3]) // sw)
        self.tail = (ks[1] - 1) * dw // sw
        self.data = np.zeros((sh, sw, n, c, hq * wq + self.tail), x.dtype)
        self.width, self.length = wq, out[0] * wq
        self.single = sh == sw == 1
        self.strides, self.dilations, self.out = strides, dilations, out
        if self.single:  # the padded map itself (the common case, without the phase arithmetic)
            grid = self.data[0, 0, :, :, : hq * wq].reshape(n, c, hq, wq)
            grid[:, :, pads[0] : pads[0] + h, pads[1] : pads[1] + wd] = x
            return
        for a, b in _offsets(sh, sw):  # phase (a, b) = padded rows a::sh, columns b::sw
            rows, xrows = _phase_span(a, sh, pads[0], h)
            cols, xcols = _phase_span(b, sw, pads[1], wd)
            grid = self.data[a, b, :, :, : hq * wq].reshape(n, c, hq, wq)
            grid[:, :, rows, cols] = x[:, :, xrows, xcols]

    def stacked(self, kh: int, kw: int) -> np.ndarray:
        """Stride 1: every offset's operand at once, a `[N, kh, kw, C, Ho*Wq]` view."""
        flat = self.data[0, 0]
        dh, dw = self.dilations
        (sn, sc, se) = flat.strides
        shape = (flat.shape[0], kh, kw, flat.shape[1], self.length)
        view = np.ndarray(shape, flat.dtype, flat, 0, (sn, dh * self.width * se, dw * se, sc, se))
        view.flags.writeable = False  # (the constructor is ~8x cheaper than `as_strided`)
        return view

    def operand(self, i: int, j: int, channels: slice = slice(None)) -> np.ndarray:
        """`[N, C, Ho*Wq]` view read by kernel offset (i, j)."""
        (sh, sw), (dh, dw) = self.strides, self.dilations
        start = (i * dh // sh) * self.width + j * dw // sw
        return self.data[i * dh % sh, j * dw % sw, :, channels, start : start + self.length]


def _release(phases: _Phases) -> int:
    """Free the phase buffer before the cropped copy is made (keeps the peak low); its width."""
    phases.data = np.empty(0, phases.data.dtype)
    return phases.width


def _crop(flat: np.ndarray, out: Sequence[int], width: int) -> np.ndarray:
    """The real output columns of a `[N, M, Ho*Wq]` result (computed on the phase width)."""
    grid = flat.reshape(flat.shape[0], flat.shape[1], out[0], width)
    return np.ascontiguousarray(grid[:, :, :, : out[1]])


def _phase_span(phase: int, stride: int, pad: int, size: int) -> tuple[slice, slice]:
    """Phase cells (and input cells) of padded positions `phase + r*stride` inside the input."""
    first = max(0, -(-(pad - phase) // stride))
    start = phase + first * stride - pad
    count = len(range(start, size, stride))
    return slice(first, first + count), slice(start, size, stride)


def _shifted(
    x: np.ndarray, w: np.ndarray, strides: Sequence[int], dilations: Sequence[int],
    pads: Sequence[int], out: Sequence[int],
) -> np.ndarray:  # fmt: skip
    n, m, kh, kw = x.shape[0], w.shape[0], w.shape[2], w.shape[3]
    phases = _Phases(x, (kh, kw), strides, dilations, pads, out)
    wt = derived((w,), "kh,kw,M,C", _offset_major)  # one contiguous W per kernel offset
    acc = np.empty((n, m, phases.length), x.dtype)
    if phases.single and acc.nbytes * kh * kw <= _STACK_BUDGET:
        # small maps: every offset's product in one batched matmul, summed in one reduction
        # (per-call overhead, not FLOPs, dominates here: 50 us vs 62 us for 32 channels at 16x16)
        np.matmul(wt, phases.stacked(kh, kw), out=None).sum(axis=(1, 2), out=acc)
        return _crop(acc, out, _release(phases))
    # images in chunks keep the product buffer small (about _TMP_BUDGET) next to the activations
    chunk = max(1, _TMP_BUDGET // (acc[0].nbytes or 1))
    tmp = np.empty((min(chunk, n), m, phases.length), x.dtype)
    for start in range(0, n, chunk):
        part = slice(start, start + chunk)
        for i, j in _offsets(kh, kw):
            operand = phases.operand(i, j)[part]
            if i == j == 0:
                np.matmul(wt[i, j], operand, out=acc[part])
            else:
                np.matmul(wt[i, j], operand, out=tmp[: operand.shape[0]])
                acc[part] += tmp[: operand.shape[0]]
    del operand, tmp  # views of the phases: drop them so the phases can be released
    return _crop(acc, out, _release(phases))


def _offset_major(w: np.ndarray) -> np.ndarray:
    """`[M, C, kh, kw]` -> contiguous `[kh, kw, M, C]`."""
    return np.ascontiguousarray(w.transpose(2, 3, 0, 1))


def _pad(x: np.ndarray, pads: Sequence[int]) -> np.ndarray:
    nsp = x.ndim - 2
    if not any(pads):
        return x
    return np.pad(x, [(0, 0), (0, 0)] + [(pads[i], pads[i + nsp]) for i in range(nsp)])


def _windows(
    xp: np.ndarray, ks: Sequence[int], strides: Sequence[int], dilations: Sequence[int],
    out: Sequence[int],
) -> np.ndarray:  # fmt: skip
    """A read-only view `[N, C, *ks, *out]` of every window (no copy)."""
    nsp = xp.ndim - 2
    index: list[slice] = [slice(None), slice(None)]
    for s, o in zip(strides, out, strict=True):
        index.append(slice(None, (o - 1) * s + 1, s))
    spans = [(k - 1) * d + 1 for k, d in zip(ks, dilations, strict=True)]
    view = np.lib.stride_tricks.sliding_window_view(xp, spans, axis=tuple(range(2, 2 + nsp)))
    view = view[tuple(index)]  # N, C, *out, *spans
    by_dilation: tuple[Any, ...] = (Ellipsis, *[slice(None, None, d) for d in dilations])
    view = view[by_dilation]
    order = (0, 1, *range(2 + nsp, 2 + 2 * nsp), *range(2, 2 + nsp))
    return view.transpose(order)


def _im2col(
    x: np.ndarray, w: np.ndarray, strides: Sequence[int], dilations: Sequence[int],
    pads: Sequence[int], out: Sequence[int],
) -> np.ndarray:  # fmt: skip
    n, m = x.shape[0], w.shape[0]
    positions = int(np.prod(out, dtype=np.int64))
    windows = _windows(_pad(x, pads), w.shape[2:], strides, dilations, out)
    wm = w.reshape(m, -1)
    per_image = wm.shape[1] * positions * x.itemsize
    chunk = max(1, _COLS_BUDGET // max(per_image, 1))
    y = np.empty((n, m, positions), x.dtype)
    for start in range(0, n, chunk):
        part = windows[start : start + chunk]
        cols = part.reshape(part.shape[0], wm.shape[1], positions)  # the one copy
        np.matmul(wm, cols, out=y[start : start + chunk])
    return y.reshape(n, m, *out)


def _offsets(kh: int, kw: int) -> list[tuple[int, int]]:
    return list(itertools.product(range(kh), range(kw)))
