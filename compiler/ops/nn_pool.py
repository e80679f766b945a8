"""Pooling ops: MaxPool, AveragePool, LpPool and their global forms.

Windows follow `conv_output_shape`; in ceil mode the extra cells past the end pad are never
counted (as in PyTorch and ONNX Runtime), and a window that would start in the end pad is dropped.
"""

from __future__ import annotations

from typing import Any, cast

import numpy as np

from compiler.ops.nn import (
    accum_dtype,
    check_auto_pad,
    conv_output_shape,
    fill_window_attrs,
    ints_attr,
    resolve_pads,
    window_patches,
)
from compiler.registry import REQUIRED, InferContext, InferDim, attr, defop, kernel
from compiler.types import DType, TensorType

_POOL_ATTRS = {
    "auto_pad": attr("str", "NOTSET"),
    "ceil_mode": attr("int", 0),
    "dilations": attr("ints"),
    "kernel_shape": attr("ints", REQUIRED),
    "pads": attr("ints"),
    "strides": attr("ints"),
}


def _complete_pool(attrs: dict[str, Any], ctx: InferContext) -> None:
    fill_window_attrs(attrs, len(attrs["kernel_shape"]))


def _pool_type(ctx: InferContext) -> TensorType:
    x = ctx.shape(0)
    ks = tuple(ctx.attr("kernel_shape"))
    if len(x) != len(ks) + 2:
        raise ctx.fail(f"kernel_shape {ks} does not fit an input of rank {len(x)}")
    if any(k < 1 for k in ks):
        raise ctx.fail(f"kernel_shape {ks} must be positive")
    n = len(ks)
    spatial = conv_output_shape(
        x[2:], ks, ints_attr(ctx, "strides", n, 1), ints_attr(ctx, "dilations", n, 1),
        ctx.attr("pads") and ints_attr(ctx, "pads", 2 * n, 0), check_auto_pad(ctx),
        bool(ctx.attr("ceil_mode")), ctx.op,
    )  # fmt: skip
    return ctx.type(0).with_shape((x[0], x[1], *spatial))


@defop("max_pool", onnx="MaxPool", outputs=(1, 2), since=10, complete=_complete_pool,
       attrs={**_POOL_ATTRS, "storage_order": attr("int", 0)})  # fmt: skip
def _max_pool(ctx: InferContext) -> list[TensorType]:
    """Max over sliding windows; optional int64 Indices output (flat, row- or column-major)."""
    y = _pool_type(ctx)
    return [y, y.with_dtype(DType.INT64)][: ctx.num_outputs]


@defop("average_pool", onnx="AveragePool", since=19, complete=_complete_pool,
       attrs={**_POOL_ATTRS, "count_include_pad": attr("int", 0)})  # fmt: skip
def _average_pool(ctx: InferContext) -> list[TensorType]:
    """Mean over sliding windows (pad cells counted only with count_include_pad)."""
    return [_pool_type(ctx)]


@defop("lp_pool", onnx="LpPool", since=18, complete=_complete_pool,
       attrs={**_POOL_ATTRS, "p": attr("int", 2)})  # fmt: skip
def _lp_pool(ctx: InferContext) -> list[TensorType]:
    """Lp norm over sliding windows."""
    return [_pool_type(ctx)]


class _Windows:
    """The padded input sliced once per kernel offset, plus a mask of real (non-pad) cells."""

    def __init__(self, x: np.ndarray, attrs: dict[str, Any], fill: float) -> None:
        ks, strides, dil = attrs["kernel_shape"], attrs["strides"], attrs["dilations"]
        n = len(ks)
        pads = resolve_pads(x.shape[2:], ks, strides, dil, attrs.get("pads"), attrs["auto_pad"])
        ceil = bool(attrs["ceil_mode"])
        dims = conv_output_shape(x.shape[2:], ks, strides, dil, pads, "NOTSET", ceil)
        self.out = [int(cast(int, d)) for d in dims]  # concrete: runtime shapes are ints
        # ceil mode may need cells past the end pad: they exist only to keep windows in bounds
        extra = [
            max((self.out[i] - 1) * strides[i] + dil[i] * (ks[i] - 1) + 1 - size
                - pads[i] - pads[i + n], 0)
            for i, size in enumerate(x.shape[2:])
        ]  # fmt: skip
        widths = [(pads[i], pads[i + n] + extra[i]) for i in range(n)]
        xp = np.pad(x, [(0, 0), (0, 0), *widths], constant_values=fill)
        real = np.pad(np.ones(x.shape[2:], bool), widths)[None, None]
        # cells of the explicit pads (not the ceil-mode extra) count for count_include_pad
        explicit = [size + pads[i] + pads[i + n] for i, size in enumerate(x.shape[2:])]
        inpad = np.pad(np.ones(explicit, bool), [(0, e) for e in extra])[None, None]
        self.patches = window_patches(xp, ks, strides, dil, self.out)
        self.real = window_patches(real, ks, strides, dil, self.out)
        self.inpad = window_patches(inpad, ks, strides, dil, self.out)
        self.pads = pads


@kernel("max_pool")
def _max_pool_kernel(inputs: list[Any], attrs: dict[str, Any]) -> list[np.ndarray]:
    x = inputs[0]
    fill = -np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min
    win = _Windows(x, attrs, fill)
    stacked = np.stack(win.patches)  # K, N, C, *out
    best = np.argmax(stacked, axis=0)
    y = np.take_along_axis(stacked, best[None], axis=0)[0]
    return [y.astype(x.dtype), _max_indices(x, attrs, win, best)]


@kernel("max_pool", variant="first")
def _max_pool_values(inputs: list[Any], attrs: dict[str, Any]) -> list[np.ndarray]:
    """MaxPool without Indices: a running `np.maximum` over the window views (no stacked copy).
    `maximum` propagates NaN like the argmax of the full kernel, so the values are identical."""
    x = inputs[0]
    fill = -np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min
    patches = _Windows(x, attrs, fill).patches
    y = np.array(patches[0], dtype=x.dtype)
    for patch in patches[1:]:
        np.maximum(y, patch, out=y)
    return [y]


def _max_indices(x: np.ndarray, attrs: dict[str, Any], win: _Windows, best: np.ndarray) -> Any:
    """Flat input index of each maximum (storage_order 1: spatial dims column-major)."""
    ks, strides, dil = attrs["kernel_shape"], attrs["strides"], attrs["dilations"]
    n, sizes = len(ks), x.shape[2:]
    offsets = np.array(np.unravel_index(best, ks))  # n, N, C, *out
    coords = []
    for i in range(n):
        base = np.arange(win.out[i]) * strides[i] - win.pads[i]
        base = base.reshape([-1 if j == i else 1 for j in range(n)])
        coords.append(base + offsets[i] * dil[i])
    order = range(n - 1, -1, -1) if attrs["storage_order"] else range(n)
    flat = np.zeros(best.shape, np.int64)
    for i in order:
        flat = flat * sizes[i] + coords[i]
    nc = np.arange(x.shape[0] * x.shape[1]).reshape(x.shape[0], x.shape[1], *([1] * n))
    return flat + nc * int(np.prod(sizes, dtype=np.int64))


@kernel("average_pool")
def _average_pool_kernel(inputs: list[Any], attrs: dict[str, Any]) -> list[np.ndarray]:
    x = inputs[0]
    acc = accum_dtype(x.dtype)
    win = _Windows(x.astype(acc), attrs, 0.0)
    total = np.sum(win.patches, axis=0, dtype=acc)
    counted = win.inpad if attrs["count_include_pad"] else win.real
    count = np.sum(counted, axis=0)
    return [(total / count).astype(x.dtype)]


@kernel("lp_pool")
def _lp_pool_kernel(inputs: list[Any], attrs: dict[str, Any]) -> list[np.ndarray]:
    x, p = inputs[0], attrs["p"]
    acc = accum_dtype(x.dtype)
    win = _Windows(np.abs(x.astype(acc)), attrs, 0.0)
    total = np.sum([patch**p for patch in win.patches], axis=0, dtype=acc)
    return [np.power(total, 1.0 / p).astype(x.dtype)]


# -- global pools ----------------------------------------------------------------------------------


def _global_type(ctx: InferContext) -> TensorType:
    x = ctx.shape(0)
    if len(x) < 3:
        raise ctx.fail(f"expected an input of rank >= 3, got {len(x)}")
    ones: tuple[InferDim, ...] = (1,) * (len(x) - 2)
    return ctx.type(0).with_shape((x[0], x[1], *ones))


@defop("global_average_pool", onnx="GlobalAveragePool", since=1)
def _global_average_pool(ctx: InferContext) -> list[TensorType]:
    """Mean over all spatial dims (kept as size 1)."""
    return [_global_type(ctx)]


@defop("global_max_pool", onnx="GlobalMaxPool", since=1)
def _global_max_pool(ctx: InferContext) -> list[TensorType]:
    """Max over all spatial dims (kept as size 1)."""
    return [_global_type(ctx)]


@defop("global_lp_pool", onnx="GlobalLpPool", attrs={"p": attr("int", 2)}, since=2)
def _global_lp_pool(ctx: InferContext) -> list[TensorType]:
    """Lp norm over all spatial dims (kept as size 1)."""
    return [_global_type(ctx)]


def _spatial(x: np.ndarray) -> tuple[int, ...]:
    return tuple(range(2, x.ndim))


@kernel("global_average_pool")
def _global_average_pool_kernel(inputs: list[Any], attrs: dict[str, Any]) -> list[np.ndarray]:
    x = inputs[0]
    y = np.mean(x, axis=_spatial(x), keepdims=True, dtype=accum_dtype(x.dtype))
    return [y.astype(x.dtype)]


@kernel("global_max_pool")
def _global_max_pool_kernel(inputs: list[Any], attrs: dict[str, Any]) -> list[np.ndarray]:
    x = inputs[0]
    return [np.max(x, axis=_spatial(x), keepdims=True)]


@kernel("global_lp_pool")
def _global_lp_pool_kernel(inputs: list[Any], attrs: dict[str, Any]) -> list[np.ndarray]:
    x, p = inputs[0], attrs["p"]
    acc = accum_dtype(x.dtype)
    total = np.sum(np.abs(x.astype(acc)) ** p, axis=_spatial(x), keepdims=True)
    return [np.power(total, 1.0 / p).astype(x.dtype)]
