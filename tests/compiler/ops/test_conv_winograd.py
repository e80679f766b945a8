"""The Winograd F(2x2, 3x3) kernel against a float64 direct convolution (einsum over padded
windows): odd/even and sub-tile maps, every pad combination, batches, C != M, both dtypes, each
internal path (strided and compact GEMM layouts, image chunks, row bands); the weight cache's
guarantees; the cost model's basic sanity."""

from __future__ import annotations

import gc
import itertools

import numpy as np
import pytest

from compiler.ops import conv_winograd as cw
from compiler.ops import derived


def _direct(x: np.ndarray, w: np.ndarray, pads: Pads) -> np.ndarray:
    """float64 3x3 stride-1 convolution: einsum over every window of the zero-padded input."""
    top, left, bottom, right = pads
    xp = np.pad(x.astype(np.float64), [(0, 0), (0, 0), (top, bottom), (left, right)])
    windows = np.lib.stride_tricks.sliding_window_view(xp, (3, 3), axis=(2, 3))
    return np.einsum("nchwij,mcij->nmhw", windows, w.astype(np.float64))


Pads = tuple[int, int, int, int]


def _out_hw(x: np.ndarray, pads: Pads) -> tuple[int, int]:
    return x.shape[2] + pads[0] + pads[2] - 2, x.shape[3] + pads[1] + pads[3] - 2


def _check(x: np.ndarray, w: np.ndarray, pads: Pads) -> None:
    expected = _direct(x, w, pads)
    y = cw.winograd_conv3x3(x, cw.transform_weights(w, x.dtype), pads, _out_hw(x, pads))
    assert y.dtype == x.dtype and y.flags.c_contiguous and y.shape == expected.shape
    scale = max(1.0, float(np.abs(expected).max()))
    tol = (2e-6 if x.dtype == np.float32 else 1e-13) * scale
    np.testing.assert_allclose(y, expected, rtol=0, atol=tol)


SHAPES = [  # (N, C, M, H, W): even, odd, mixed, smaller than a tile, wide, tall
    (1, 3, 4, 8, 8),
    (2, 5, 3, 9, 11),
    (3, 4, 6, 7, 6),
    (1, 2, 2, 1, 1),
    (2, 3, 5, 1, 2),
    (1, 4, 3, 2, 1),
    (1, 2, 3, 3, 17),
    (2, 3, 2, 15, 4),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", SHAPES, ids=[str(s) for s in SHAPES])
def test_every_pad_combination_matches_direct(shape: tuple[int, ...], dtype: type) -> None:
    n, c, m, h, wd = shape
    rng = np.random.default_rng(sum(shape))
    x: np.ndarray = rng.standard_normal((n, c, h, wd)).astype(dtype)
    w: np.ndarray = rng.standard_normal((m, c, 3, 3)).astype(dtype)
    for top, left, bottom, right in itertools.product(range(3), repeat=4):
        pads = (top, left, bottom, right)
        if min(_out_hw(x, pads)) >= 1:
            _check(x, w, pads)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "shape, pads",
    [
        ((1, 16, 24, 30, 28), (1, 1, 1, 1)),  # strided layout (per-image GEMMs on plane views)
        ((3, 8, 8, 14, 13), (1, 0, 2, 1)),  # strided, odd width, asymmetric pads
        ((4, 12, 20, 7, 7), (1, 1, 1, 1)),  # compact layout, images merged into one GEMM
        ((1, 40, 33, 5, 6), (0, 2, 1, 0)),  # compact, single image
        ((2, 6, 7, 9, 10), (3, 4, 5, 6)),  # pads larger than the kernel
    ],
)
def test_layouts_match_direct(shape: tuple[int, ...], pads: Pads, dtype: type) -> None:
    n, c, m, h, wd = shape
    rng = np.random.default_rng(c * m)
    x: np.ndarray = rng.standard_normal((n, c, h, wd)).astype(dtype)
    w: np.ndarray = rng.standard_normal((m, c, 3, 3)).astype(dtype)
    _check(x, w, pads)


@pytest.mark.parametrize(
    "knob, value",
    [("_BAND_BYTES", 1), ("_STRIDED_CHUNK_BYTES", 1), ("_COMPACT_CHUNK_BYTES", 1), ("_BLOCK", 1)],
)
def test_bands_chunks_and_blocks_match_direct(knob: str, value: int, monkeypatch) -> None:  # noqa: ANN001
    """Tiny budgets: two-row output bands (each with its own halo and pads), one image per
    chunk, one channel plane per transform block."""
    monkeypatch.setattr(cw, knob, value)
    rng = np.random.default_rng(3)
    for n, c, m, h, wd, pads in [(3, 4, 5, 11, 9, (1, 2, 0, 1)), (3, 3, 4, 5, 4, (2, 1, 1, 0))]:
        x = rng.standard_normal((n, c, h, wd))
        w = rng.standard_normal((m, c, 3, 3))
        _check(x, w, pads)


def test_small_gemm_chunks_match_direct(monkeypatch) -> None:  # noqa: ANN001
    """GEMM column and output-channel chunking (tiny `_SMALL_GEMM`) give the same result."""
    monkeypatch.setattr(cw, "_SMALL_GEMM", 64)
    rng = np.random.default_rng(4)
    for n, c, m, h, wd in [(1, 8, 9, 12, 10), (1, 8, 9, 5, 5), (2, 3, 4, 6, 6)]:
        x = rng.standard_normal((n, c, h, wd))
        w = rng.standard_normal((m, c, 3, 3))
        _check(x, w, (1, 1, 1, 1))


def test_non_contiguous_input() -> None:
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 6, 12, 10)).astype(np.float32)[:, ::2, :, ::-1]
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    _check(x, w, (1, 1, 1, 1))


def test_float32_error_stays_near_direct_float32() -> None:
    """The measured property behind choosing F(2x2, 3x3): its float32 error is within ~2x of a
    direct float32 convolution's (nine shifted GEMMs here), on ReLU-like activations."""
    rng = np.random.default_rng(6)
    n, c, m, h = 1, 64, 64, 14
    x = np.maximum(rng.standard_normal((n, c, h, h)), 0).astype(np.float32)
    w = (rng.standard_normal((m, c, 3, 3)) / np.sqrt(9 * c)).astype(np.float32)
    expected = _direct(x, w, (1, 1, 1, 1))
    xp = np.pad(x, [(0, 0), (0, 0), (1, 1), (1, 1)])
    direct = np.zeros((n, m, h, h), np.float32)
    for i, j in itertools.product(range(3), range(3)):
        direct += np.einsum("mc,nchw->nmhw", w[:, :, i, j], xp[:, :, i : i + h, j : j + h])
    y = cw.winograd_conv3x3(x, cw.transform_weights(w), (1, 1, 1, 1), (h, h))
    direct_err = np.abs(direct - expected).max()
    assert np.abs(y - expected).max() <= 3 * direct_err


def test_transform_weights_is_g_w_gt() -> None:
    rng = np.random.default_rng(7)
    w = rng.standard_normal((3, 2, 3, 3))
    u = cw.transform_weights(w, np.float64).u  # [4, 4, M, C] in slot order (0, 3, 1, 2)
    g = np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]])
    slots = [0, 3, 1, 2]
    for mo, ci in itertools.product(range(3), range(2)):
        full = g @ w[mo, ci] @ g.T
        np.testing.assert_allclose(u[:, :, mo, ci], full[np.ix_(slots, slots)], atol=1e-15)


def test_empty_and_degenerate_sizes() -> None:
    w = np.ones((4, 3, 3, 3), np.float32)
    y = cw.winograd_conv3x3(np.ones((0, 3, 5, 5), np.float32), w, (1, 1, 1, 1), (5, 5))
    assert y.shape == (0, 4, 5, 5)
    w0 = np.ones((4, 0, 3, 3), np.float32)
    y = cw.winograd_conv3x3(np.ones((2, 0, 5, 5), np.float32), w0, (1, 1, 1, 1), (5, 5))
    assert y.shape == (2, 4, 5, 5) and not y.any()


def test_rejects_bad_arguments() -> None:
    x = np.ones((1, 3, 6, 6), np.float32)
    w = np.ones((2, 3, 3, 3), np.float32)
    with pytest.raises(ValueError, match="does not match"):
        cw.winograd_conv3x3(x, w, (1, 1, 1, 1), (5, 6))
    with pytest.raises(ValueError, match="non-negative"):
        cw.winograd_conv3x3(x, w, (-1, 1, 3, 1), (6, 6))
    with pytest.raises(ValueError, match="channels"):
        cw.winograd_conv3x3(x, np.ones((2, 4, 3, 3), np.float32), (1, 1, 1, 1), (6, 6))
    with pytest.raises(ValueError, match=r"\[M, C, 3, 3\]"):
        cw.transform_weights(np.ones((2, 3, 5, 5)))
    with pytest.raises(TypeError, match="float16"):
        cw.winograd_conv3x3(x.astype(np.float16), w, (1, 1, 1, 1), (6, 6))
    with pytest.raises(TypeError, match="transformed for float64"):
        cw.winograd_conv3x3(x, cw.transform_weights(w, np.float64), (1, 1, 1, 1), (6, 6))


# -- the weight cache ------------------------------------------------------------------------------


def _frozen(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False
    return a


def test_cache_serves_the_same_read_only_array() -> None:
    w = _frozen(np.random.default_rng(8).standard_normal((4, 3, 3, 3)).astype(np.float32))
    first = cw.cached_weights(w, np.float32)
    assert cw.cached_weights(w, np.float32) is first
    assert cw.cached_weights(w, np.float64) is not first  # one entry per dtype
    assert cw.cached_weights(w, np.float64).dtype == np.float64
    x = np.random.default_rng(9).standard_normal((1, 3, 6, 6)).astype(np.float32)
    y = cw.winograd_conv3x3(x, w, (1, 1, 1, 1), (6, 6))  # a raw read-only array uses the cache
    np.testing.assert_allclose(y, _direct(x, w, (1, 1, 1, 1)), atol=1e-5)
    assert cw.cached_weights(w, np.float32) is first


def test_cache_tells_equal_arrays_apart() -> None:
    rng = np.random.default_rng(10)
    a = _frozen(rng.standard_normal((4, 3, 3, 3)))
    b = _frozen(rng.standard_normal((4, 3, 3, 3)))
    ua, ub = cw.cached_weights(a, np.float64), cw.cached_weights(b, np.float64)
    assert ua is not ub
    np.testing.assert_array_equal(ub.u, cw.transform_weights(b, np.float64).u)
    c = _frozen(a.copy())  # same values, another array: its own entry
    assert cw.cached_weights(c, np.float64) is not ua


def test_cache_never_holds_writeable_arrays() -> None:
    """A writeable array may change under us, so it is transformed afresh on every call: a
    mutated array gives the mutated result."""
    rng = np.random.default_rng(11)
    w = rng.standard_normal((4, 3, 3, 3))
    x = rng.standard_normal((1, 3, 5, 5))
    before = len(derived._CACHE)
    assert cw.cached_weights(w, np.float64) is not cw.cached_weights(w, np.float64)
    np.testing.assert_allclose(cw.winograd_conv3x3(x, w, (1, 1, 1, 1), (5, 5)),
                               _direct(x, w, (1, 1, 1, 1)), atol=1e-12)  # fmt: skip
    w *= -3.0
    np.testing.assert_allclose(cw.winograd_conv3x3(x, w, (1, 1, 1, 1), (5, 5)),
                               _direct(x, w, (1, 1, 1, 1)), atol=1e-12)  # fmt: skip
    assert len(derived._CACHE) == before


def test_cache_bypassed_once_an_array_is_writeable_again() -> None:
    w = _frozen(np.random.default_rng(12).standard_normal((2, 2, 3, 3)))
    stale = cw.cached_weights(w, np.float64)
    w.flags.writeable = True
    w += 1.0
    fresh = cw.cached_weights(w, np.float64)
    assert fresh is not stale
    np.testing.assert_array_equal(fresh.u, cw.transform_weights(w, np.float64).u)


def test_cache_entry_dies_with_its_array() -> None:
    w = _frozen(np.random.default_rng(13).standard_normal((2, 2, 3, 3)))
    cw.cached_weights(w, np.float64)
    ident = id(w)
    assert any(ident in ids for ids, _ in derived._CACHE)
    del w
    gc.collect()
    assert not any(ident in ids for ids, _ in derived._CACHE)


def test_transformed_weights_are_read_only() -> None:
    """A cached transform is shared by every later call: nobody may write it."""
    w = _frozen(np.ones((2, 2, 3, 3), np.float32))
    with pytest.raises(ValueError, match="read-only"):
        cw.cached_weights(w).u[0, 0, 0, 0] = 1.0


# -- the cost model --------------------------------------------------------------------------------

RESNET = [(64, 56), (128, 28), (256, 14), (512, 7)]


@pytest.mark.parametrize("n", [1, 8])
@pytest.mark.parametrize("c, hw", RESNET)
def test_cost_model_prefers_winograd_on_resnet50_layers(n: int, c: int, hw: int) -> None:
    assert cw.prefer_winograd(n, c, c, hw, hw)


TINY = [(1, 8, 8, 56, 56), (1, 3, 64, 224, 224), (1, 16, 16, 7, 7), (4, 32, 32, 4, 4),
        (1, 64, 64, 2, 2), (1, 0, 8, 8, 8), (0, 8, 8, 8, 8)]  # fmt: skip


@pytest.mark.parametrize("n, c, m, h, w", TINY)
def test_cost_model_declines_tiny_problems(n: int, c: int, m: int, h: int, w: int) -> None:
    assert not cw.prefer_winograd(n, c, m, h, w)


def test_cost_model_is_monotone_in_channels() -> None:
    """Once Winograd wins for a map, it keeps winning with more channels."""
    for hw in (7, 14, 28, 56):
        picks = [cw.prefer_winograd(1, c, c, hw, hw) for c in (8, 16, 32, 64, 128, 256, 512)]
        assert picks == sorted(picks)
