"""The conv kernel's strategies (1x1, shifted GEMMs, im2col, depthwise, grouped) against a direct
float64 loop over kernel offsets, on shapes that steer the dispatch into each path."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from compiler.ops import conv_depthwise, conv_kernels
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
    (2, 12, 12, (9, 8), (3, 3), (1, 1), (1, 1), (1, 1, 1, 1), 12),  # depthwise bands
    (2, 12, 12, (9, 8), (5, 5), (2, 2), (1, 1), (2, 1, 2, 1), 12),  # depthwise bands strided
    (2, 6, 6, (9, 9), (3, 3), (1, 2), (2, 1), (2, 1, 0, 1), 6),  # depthwise bands dilated
    (1, 8, 8, (40, 30), (3, 3), (1, 1), (1, 1), (1, 1, 1, 1), 8),  # depthwise bands, many tiles
    (1, 8, 8, (40, 30), (3, 3), (1, 1), (2, 1), (2, 0, 1, 1), 8),  # bands dilated, many tiles
    (1, 8, 8, (70, 61), (3, 3), (2, 2), (1, 1), (1, 1, 1, 0), 8),  # depthwise bands stride 2
    (1, 8, 8, (70, 61), (5, 4), (2, 3), (2, 1), (1, 2, 0, 1), 8),  # bands strided, dilated
    (2, 40, 40, (6, 5), (3, 3), (1, 1), (1, 1), (1, 1, 1, 1), 40),  # depthwise channels-last
    (3, 50, 50, (9, 8), (5, 5), (2, 2), (1, 1), (1, 1, 2, 2), 50),  # channels-last strided
    (2, 30, 30, (7, 6), (3, 2), (1, 2), (2, 1), (2, 0, 1, 1), 30),  # channels-last dilated
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


def _depthwise_cases() -> list[tuple]:
    """Random depthwise problems over strides 1-3, dilations 1-2, asymmetric pads (up to 3),
    kernels 1-5 (also non-square and larger than the map), odd sizes and batches up to 3."""
    rng = np.random.default_rng(7)
    cases: list[tuple] = []
    while len(cases) < 60:
        n, c = int(rng.integers(1, 4)), int(rng.integers(1, 7))
        spatial = tuple(int(v) for v in rng.integers(1, 19, 2))
        ks = tuple(int(v) for v in rng.integers(1, 6, 2))
        strides = tuple(int(v) for v in rng.integers(1, 4, 2))
        dil = tuple(int(v) for v in rng.integers(1, 3, 2))
        pads = tuple(int(v) for v in rng.integers(0, 4, 4))
        spans = [(k - 1) * d + 1 for k, d in zip(ks, dil, strict=True)]
        if all(
            s + pads[i] + pads[i + 2] >= sp
            for i, (s, sp) in enumerate(zip(spatial, spans, strict=True))
        ):
            cases.append((n, c, spatial, ks, strides, dil, pads))
    return cases


@pytest.mark.parametrize("path", ["bands", "bands_small_blocks", "nhwc"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_depthwise_paths_match_direct_loop(path: str, dtype: type, monkeypatch) -> None:  # noqa: ANN001
    """Each depthwise strategy directly (whatever the dispatch would pick) on random problems; with
    tiny channel blocks the band path also runs many blocks per image and a remainder tile."""
    fn = conv_depthwise._depthwise_nhwc if path == "nhwc" else conv_depthwise._depthwise_bands
    if path == "bands_small_blocks":
        monkeypatch.setattr(conv_depthwise, "_BAND_BLOCK_BYTES", 1)
    rng = np.random.default_rng(1)
    for n, c, spatial, ks, strides, dil, pads in _depthwise_cases():
        x = rng.standard_normal((n, c, *spatial)).astype(dtype)
        w = rng.standard_normal((c, 1, *ks)).astype(dtype)
        expected, out = _direct(x, w, None, strides, dil, pads, c)
        y = fn(x, w[:, 0], strides, dil, pads, [int(d) for d in out])
        assert y.dtype == dtype and y.flags.c_contiguous and y.shape == expected.shape
        tol = (1e-6 if dtype == np.float32 else 1e-13) * int(np.prod(ks)) * np.abs(x).max() * 4
        np.testing.assert_allclose(y, expected, rtol=0, atol=tol)


DISPATCH = [(40, "_depthwise_nhwc"), (30, "_depthwise_nhwc"), (29, "_depthwise_bands")]


@pytest.mark.parametrize(("c", "path"), DISPATCH)
def test_depthwise_dispatch(c: int, path: str, monkeypatch) -> None:  # noqa: ANN001
    """Channels-last when there are at least as many channels as output positions, bands below."""
    called: list[str] = []
    for name in ("_depthwise_nhwc", "_depthwise_bands"):
        real = getattr(conv_depthwise, name)
        monkeypatch.setattr(conv_depthwise, name,
                            lambda *a, _n=name, _f=real: called.append(_n) or _f(*a))  # fmt: skip
    x = np.ones((1, c, 6, 5), np.float32)  # 6x5 = 30 output positions
    conv_depthwise.depthwise(x, np.ones((c, 3, 3), np.float32), (1, 1), (1, 1), (1, 1, 1, 1),
                             [6, 5])  # fmt: skip
    assert called == [path]
