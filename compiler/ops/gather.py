"""Indexing ops: Slice, Gather, GatherElements, GatherND, ScatterND, ScatterElements."""

from __future__ import annotations

from typing import Any

import numpy as np

from compiler.ops.common import normalize_axes, normalize_axis
from compiler.ops.shape import const_ints, vector_value
from compiler.registry import InferContext, InferDim, ShapeValue, attr, defop, kernel
from compiler.types import TensorType

# Exporters write "to the end" as INT64_MAX (or INT32_MAX); any end this large means "the end".
_HUGE = 1 << 30


def _check_index_dtype(ctx: InferContext, i: int, what: str) -> None:
    if not ctx.dtype(i).is_int:
        raise ctx.fail(f"{what} must be an integer tensor, got {ctx.dtype(i).short}")


# -- Slice -----------------------------------------------------------------------------------------


def _slice_params(ctx: InferContext, rank: int) -> list[tuple[int, int, int, int]] | None:
    """(axis, start, end, step) per sliced axis, or None when not constant."""
    starts, ends = const_ints(ctx, 1, "starts"), const_ints(ctx, 2, "ends")
    axes = const_ints(ctx, 3, "axes") if ctx.has(3) else None
    steps = const_ints(ctx, 4, "steps") if ctx.has(4) else None
    if starts is None or ends is None or (ctx.has(3) and axes is None):
        return None
    if ctx.has(4) and steps is None:
        return None
    n = len(starts)
    axes = normalize_axes(axes if axes is not None else range(n), rank, ctx.op)
    steps = steps if steps is not None else (1,) * n
    if not len(ends) == len(axes) == len(steps) == n:
        raise ctx.fail("starts, ends, axes and steps must have the same length")
    if 0 in steps:
        raise ctx.fail("steps must not be 0")
    return list(zip(axes, starts, ends, steps, strict=True))


def _sliced_dim(d: InferDim, start: int, end: int, step: int) -> InferDim:
    if isinstance(d, int):
        return len(range(*slice(start, end, step).indices(d)))
    whole = (start == 0 and end >= _HUGE) if step > 0 else (start == -1 and end <= -_HUGE)
    return d if whole and abs(step) == 1 else None


def _slice_shape_fn(ctx: InferContext) -> ShapeValue | None:
    data = vector_value(ctx, 0)
    if data is None or len(ctx.shape(0)) != 1:
        return None
    params = _slice_params(ctx, 1)
    if params is None:
        return None
    out = list(data)
    for _, start, end, step in params:
        out = out[slice(start, end, step)]
    return None if out and all(d is None for d in out) else tuple(out)


@defop("slice", onnx="Slice", inputs=(3, 5), since=10, shape_fn=_slice_shape_fn)
def _slice(ctx: InferContext) -> list[TensorType]:
    """Strided slice (inputs starts, ends, axes?, steps?), clamped like numpy/ONNX."""
    x = ctx.shape(0)
    for i in range(1, min(ctx.num_inputs, 5)):
        if ctx.has(i):
            _check_index_dtype(ctx, i, ("", "starts", "ends", "axes", "steps")[i])
    params = _slice_params(ctx, len(x))
    if params is None:
        if ctx.has(3) and const_ints(ctx, 3, "axes") is not None:
            axes = normalize_axes(const_ints(ctx, 3, "axes") or (), len(x), ctx.op)
            return [
                ctx.type(0).with_shape(tuple(None if i in axes else d for i, d in enumerate(x)))
            ]
        n = ctx.shape(1)[0] if len(ctx.shape(1)) == 1 and not ctx.has(3) else None
        hit = range(n) if isinstance(n, int) and n <= len(x) else range(len(x))
        return [ctx.type(0).with_shape(tuple(None if i in hit else d for i, d in enumerate(x)))]
    out: list[InferDim] = list(x)
    for axis, start, end, step in params:
        out[axis] = _sliced_dim(x[axis], start, end, step)
    return [ctx.type(0).with_shape(tuple(out))]  # type: ignore[arg-type]


@kernel("slice")
def _slice_kernel(inputs: list[Any], attrs: dict[str, Any]) -> list[np.ndarray]:
    x, starts, ends = inputs[0], inputs[1], inputs[2]
    axes = inputs[3] if len(inputs) > 3 and inputs[3] is not None else range(len(starts))
    steps = inputs[4] if len(inputs) > 4 and inputs[4] is not None else [1] * len(starts)
    index = [slice(None)] * x.ndim
    for a, s, e, st in zip(axes, starts, ends, steps, strict=True):
        index[int(a)] = slice(int(s), int(e), int(st))
    return [x[tuple(index)].copy()]


# -- Gather ----------------------------------------------------------------------------------------


def _gather_shape_fn(ctx: InferContext) -> ShapeValue | None:
    data = ctx.shape_value(0)
    if data is None or len(ctx.shape(0)) != 1:
        return None
    idx = const_ints(ctx, 1, "indices")
    if idx is None or len(ctx.shape(1)) > 1:
        return None
    if any(not -len(data) <= i < len(data) for i in idx):
        return None
    return tuple(data[i] for i in idx)


@defop("gather", onnx="Gather", inputs=2, attrs={"axis": attr("int", 0)}, since=11,
       shape_fn=_gather_shape_fn)  # fmt: skip
def _gather(ctx: InferContext) -> list[TensorType]:
    """Take entries of `data` along `axis` at `indices` (negative indices count from the end)."""
    x, idx = ctx.shape(0), ctx.shape(1)
    _check_index_dtype(ctx, 1, "indices")
    axis = normalize_axis(int(ctx.attr("axis")), len(x), ctx.op)
    return [ctx.type(0).with_shape((*x[:axis], *idx, *x[axis + 1 :]))]


@kernel("gather")
def _gather_kernel(inputs: list[Any], attrs: dict[str, Any]) -> list[np.ndarray]:
    x, idx = inputs
    return [np.take(x, idx.astype(np.int64), axis=attrs["axis"])]


@defop("gather_elements", onnx="GatherElements", inputs=2, attrs={"axis": attr("int", 0)},
       since=11)  # fmt: skip
def _gather_elements(ctx: InferContext) -> list[TensorType]:
    """out[i][j][k] = data[i][indices[i][j][k]][k] (for axis 1); result has the indices' shape."""
    x, idx = ctx.shape(0), ctx.shape(1)
    _check_index_dtype(ctx, 1, "indices")
    if len(x) != len(idx):
        raise ctx.fail(f"data and indices must have the same rank, got {len(x)} and {len(idx)}")
    normalize_axis(int(ctx.attr("axis")), len(x), ctx.op)
    return [ctx.type(0).with_shape(tuple(idx))]


@kernel("gather_elements")
def _gather_elements_kernel(inputs: list[Any], attrs: dict[str, Any]) -> list[np.ndarray]:
    x, idx = inputs
    axis = attrs["axis"] % x.ndim
    idx = np.where(idx < 0, idx + x.shape[axis], idx).astype(np.int64)
    return [np.take_along_axis(x, idx, axis=axis)]


@defop("gather_nd", onnx="GatherND", inputs=2, attrs={"batch_dims": attr("int", 0)}, since=12)
def _gather_nd(ctx: InferContext) -> list[TensorType]:
    """Gather slices of `data` addressed by the last axis of `indices` (after `batch_dims`)."""
    x, idx = ctx.shape(0), ctx.shape(1)
    _check_index_dtype(ctx, 1, "indices")
    b = int(ctx.attr("batch_dims"))
    k = idx[-1] if idx else None
    if not idx or not isinstance(k, int) or b < 0 or b >= min(len(x), len(idx)) or b + k > len(x):
        raise ctx.fail(f"indices {list(idx)} (batch_dims {b}) do not address data {list(x)}")
    return [ctx.type(0).with_shape((*idx[:-1], *x[b + k :]))]


@kernel("gather_nd")
def _gather_nd_kernel(inputs: list[Any], attrs: dict[str, Any]) -> list[np.ndarray]:
    x, idx = inputs
    b, k = attrs["batch_dims"], idx.shape[-1]
    batch = x.shape[:b]
    nb = int(np.prod(batch, dtype=np.int64))
    xf = x.reshape(nb, *x.shape[b:])
    ix = idx.reshape(nb, -1, k).astype(np.int64)
    ix = np.where(ix < 0, ix + np.array(x.shape[b : b + k]), ix)
    rows = np.arange(nb)[:, None]
    out = xf[(rows, *(ix[..., j] for j in range(k)))]
    return [out.reshape(*idx.shape[:-1], *x.shape[b + k :])]


# -- Scatter ---------------------------------------------------------------------------------------

_REDUCTIONS = ("none", "add", "mul", "max", "min")
_UFUNCS = {"add": np.add, "mul": np.multiply, "max": np.maximum, "min": np.minimum}


def _check_reduction(ctx: InferContext) -> None:
    if ctx.attr("reduction") not in _REDUCTIONS:
        raise ctx.fail(f"reduction must be one of {', '.join(_REDUCTIONS)}")


@defop("scatter_nd", onnx="ScatterND", inputs=3, attrs={"reduction": attr("str", "none")},
       since=16)  # fmt: skip
def _scatter_nd(ctx: InferContext) -> list[TensorType]:
    """Copy of `data` with slices at `indices` replaced (or reduced) by `updates`."""
    x, idx, upd = ctx.shape(0), ctx.shape(1), ctx.shape(2)
    _check_index_dtype(ctx, 1, "indices")
    _check_reduction(ctx)
    k = idx[-1] if idx else None
    if isinstance(k, int) and (k > len(x) or len(upd) != len(idx) - 1 + len(x) - k):
        raise ctx.fail(f"updates {list(upd)} do not fit indices {list(idx)} into data {list(x)}")
    return [ctx.type(0)]


@kernel("scatter_nd")
def _scatter_nd_kernel(inputs: list[Any], attrs: dict[str, Any]) -> list[np.ndarray]:
    x, idx, upd = inputs
    out = x.copy()
    k = idx.shape[-1]
    flat_idx = idx.reshape(-1, k)
    flat_upd = upd.reshape(flat_idx.shape[0], *x.shape[k:])
    ufunc = _UFUNCS.get(attrs["reduction"])
    for where, value in zip(flat_idx, flat_upd, strict=True):
        key = tuple(int(i) for i in where)
        out[key] = value if ufunc is None else ufunc(out[key], value)
    return [out]


@defop("scatter_elements", onnx="ScatterElements", inputs=3, since=16,
       attrs={"axis": attr("int", 0), "reduction": attr("str", "none")})  # fmt: skip
def _scatter_elements(ctx: InferContext) -> list[TensorType]:
    """Copy of `data` with `updates` written (or reduced) at `indices` along `axis`."""
    x, idx, upd = ctx.shape(0), ctx.shape(1), ctx.shape(2)
    _check_index_dtype(ctx, 1, "indices")
    _check_reduction(ctx)
    if not len(x) == len(idx) == len(upd):
        raise ctx.fail("data, indices and updates must have the same rank")
    normalize_axis(int(ctx.attr("axis")), len(x), ctx.op)
    return [ctx.type(0)]


@kernel("scatter_elements")
def _scatter_elements_kernel(inputs: list[Any], attrs: dict[str, Any]) -> list[np.ndarray]:
    x, idx, upd = inputs
    axis = attrs["axis"] % x.ndim
    idx = np.where(idx < 0, idx + x.shape[axis], idx).astype(np.int64)
    grid = list(np.indices(idx.shape, sparse=True))
    grid[axis] = idx
    out = x.copy()
    ufunc = _UFUNCS.get(attrs["reduction"])
    if ufunc is None:
        out[tuple(grid)] = upd
    else:
        ufunc.at(out, tuple(grid), upd)
    return [out]
