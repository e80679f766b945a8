"""The conv kernel's strategies (1x1, shifted GEMMs, im2col, depthwise, grouped) against a direct
float64 loop over kernel offsets, on shapes that steer the dispatch into each path."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from compiler.ops import conv_kernels
from compiler.ops.nn import conv_output_shape


def _direct(x, w, b, strides, dil, pads, group):  # noqa: ANN001, ANN202  float64 oracle
    nsp = x.ndim - 2
    xp = np.pad(x.astype(np.float64), [(0, 0), (0, 0)] + [(pads[i], pads[i + nsp])
                                                           for i in range(nsp)])  # fmt: skip
    out = conv_output_shape(x.shape[2:], w.shape[2:], strides, dil, pads)
    n, c, m = x.shape[0], x.shape[1], w.shape[0]
    cg, mg = c // group, m // group
    y = np.zeros((n, m, *out))
    for offset in itertools.product(*(range(k) for k in w.shape[2:])):
        index = [slice(None), slice(None)] + [
            slice(o * d, o * d + s * (size - 1) + 1, s)
            for o, d, s, size in zip(offset, dil, strides, out, strict=True)
        ]
        patch = xp[tuple(index)]
        for g in range(group):
            wk = w[g * mg : (g + 1) * mg, :, *offset].astype(np.float64)
            y[:, g * mg : (g + 1) * mg] += np.einsum("mc,nc...->nm...", wk,
                                                     patch[:, g * cg : (g + 1) * cg])  # fmt: skip
    if b is not None:
        y += b.reshape(m, *([1] * nsp))
    return y, out


CASES = [  # (N, C, M, spatial, kernel, strides, dilations, pads, group)
    (2, 16, 8, (9, 11), (3, 3), (1, 1), (1, 1), (1, 1, 1, 1), 1),  # shifted
    (1, 16, 8, (9, 11), (3, 2), (1, 1), (2, 1), (0, 2, 1, 0), 1),  # shifted, dilated, asymmetric
    (2, 16, 8, (13, 12), (3, 3), (2, 2), (1, 1), (1, 0, 1, 1), 1),  # shifted on stride phases
    (1, 16, 8, (17, 14), (5, 3), (3, 2), (2, 3), (2, 1, 0, 2), 1),  # phases, dilated
    (2, 300, 4, (5, 5), (3, 3), (1, 1), (1, 1), (1, 1, 1, 1), 1),  # im2col (small and deep)
    (2, 3, 8, (12, 10), (3, 3), (2, 2), (1, 1), (1, 0, 2, 1), 1),  # im2col, strided
    (3, 8, 6, (7, 7), (1, 1), (1, 1), (1, 1), (0, 0, 0, 0), 1),  # 1x1
    (2, 8, 6, (7, 7), (1, 1), (2, 2), (1, 1), (0, 0, 0, 0), 1),  # strided 1x1
    (2, 12, 12, (9, 8), (3, 3), (1, 1), (1, 1), (1, 1, 1, 1), 12),  # depthwise
    (2, 12, 12, (9, 8), (5, 5), (2, 2), (1, 1), (2, 1, 2, 1), 12),  # depthwise strided
    (2, 6, 6, (9, 9), (3, 3), (1, 2), (2, 1), (2, 1, 0, 1), 6),  # depthwise dilated
    (1, 8, 8, (40, 30), (3, 3), (1, 1), (1, 1), (1, 1, 1, 1), 8),  # depthwise flat
    (1, 8, 8, (40, 30), (3, 3), (1, 1), (2, 1), (2, 0, 1, 1), 8),  # depthwise flat dilated
    (1, 8, 8, (70, 61), (3, 3), (2, 2), (1, 1), (1, 1, 1, 0), 8),  # depthwise stride phases
    (1, 8, 8, (70, 61), (5, 4), (2, 3), (2, 1), (1, 2, 0, 1), 8),  # phases, dilated
    (2, 12, 6, (8, 9), (3, 3), (1, 1), (1, 1), (1, 1, 1, 1), 3),  # grouped
    (2, 12, 24, (8, 9), (3, 3), (1, 1), (1, 1), (1, 1, 1, 1), 12),  # depthwise multiplier 2
    (2, 4, 5, (13,), (3,), (2,), (1,), (1, 2), 1),  # 1-D
    (1, 4, 3, (5, 6, 4), (3, 2, 2), (1, 2, 1), (1, 1, 2), (1, 0, 1, 1, 1, 0), 1),  # 3-D
]


@pytest.mark.parametrize("case", CASES, ids=[str(i) for i in range(len(CASES))])
@pytest.mark.parametrize("bias", [False, True])
def test_conv_strategies_match_direct_loop(case, bias: bool) -> None:  # noqa: ANN001
    n, c, m, spatial, ks, strides, dil, pads, group = case
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, c, *spatial)).astype(np.float32)
    w = rng.standard_normal((m, c // group, *ks)).astype(np.float32)
    b = rng.standard_normal(m).astype(np.float32) if bias else None
    expected, out = _direct(x, w, b, strides, dil, pads, group)
    y = conv_kernels.conv(x, w, b, strides, dil, pads, group, [int(d) for d in out])
    assert y.dtype == np.float32 and y.flags.c_contiguous
    depth = c // group * int(np.prod(ks))
    np.testing.assert_allclose(y, expected, rtol=0, atol=1e-6 * depth * np.abs(x).max() * 4)
