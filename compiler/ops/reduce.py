"""Reductions: Reduce*, ArgMax/ArgMin, TopK, CumSum.

Canonical form (opset 18): `axes` is an optional int64 *input*; `keepdims=1`,
`noop_with_empty_axes=0`. Without axes (or with empty axes) every axis is reduced unless
`noop_with_empty_axes` is 1, in which case the op is the identity. When `axes` is not a constant,
every result dim is data-dependent (`None`); the rank is rank(x) with `keepdims=1`, else
rank(x) - len(axes), from the axes input's static length.
With `noop_with_empty_axes=1` and no axes nothing is reduced, but the elementwise part of the op
still applies (ReduceSumSquare squares, ReduceL1 takes |x|, ReduceLogSum takes the log).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from compiler.ir import AttrValue
from compiler.ops.common import normalize_axes, normalize_axis
from compiler.ops.elementwise import FLOATS, NUMERIC, check_dtype
from compiler.registry import InferContext, InferDim, attr, defop, kernel
from compiler.types import DType, TensorType

Arrays = list[Any]
ReduceFn = Callable[[np.ndarray, tuple[int, ...], bool], np.ndarray]

_REDUCE_ATTRS = {"keepdims": attr("int", 1), "noop_with_empty_axes": attr("int", 0)}
_BASIC = FLOATS | {DType.INT32, DType.INT64, DType.UINT32, DType.UINT64}
_MINMAX = _BASIC | {DType.INT8, DType.UINT8, DType.BOOL}


def _const_axes(ctx: InferContext) -> tuple[int, ...] | None:
    """The axes input as ints: () when absent or empty, None when not known statically."""
    if not ctx.has(1):
        return ()
    known = ctx.shape_value(1)
    if known is not None and all(isinstance(a, int) for a in known):
        return tuple(int(a) for a in known)  # type: ignore[arg-type]
    if ctx.shape(1) == (0,):
        return ()
    return None


def reduce_infer(ctx: InferContext) -> list[TensorType]:
    """Output type of a Reduce* op with an optional `axes` input."""
    shape = ctx.shape(0)
    keep = bool(ctx.attr("keepdims"))
    if ctx.has(1) and (ctx.dtype(1) != DType.INT64 or len(ctx.shape(1)) != 1):
        raise ctx.fail("axes must be a 1-D int64 tensor")
    axes = _const_axes(ctx)
    if axes is None:
        return [TensorType(ctx.dtype(0), _runtime_axes_dims(ctx, len(shape), keep))]  # type: ignore[arg-type]
    if not axes and ctx.attr("noop_with_empty_axes"):
        return [ctx.type(0)]
    reduced = normalize_axes(axes, len(shape), ctx.op) if axes else tuple(range(len(shape)))
    out = [(1 if i in reduced else d) for i, d in enumerate(shape) if keep or i not in reduced]
    return [TensorType(ctx.dtype(0), tuple(out))]


def _runtime_axes_dims(ctx: InferContext, rank: int, keep: bool) -> tuple[InferDim, ...]:
    """Dims when the axes are data: with keepdims every dim may become 1 (unknown); without it
    the rank is rank(x) - len(axes), known when the axes vector has a static non-zero length
    (ONNX forbids repeated axes; an empty vector would mean "all axes" or "none")."""
    if keep:
        return (None,) * rank
    n = ctx.shape(1)[0]
    if not isinstance(n, int) or n == 0:
        raise ctx.fail("axes has no static length, so keepdims=0 gives an unknown rank")
    if n > rank:
        raise ctx.fail(f"{n} axes for a rank-{rank} input")
    return (None,) * (rank - n)


def _axes_of(inputs: Arrays, attrs: Mapping[str, AttrValue]) -> tuple[int, ...]:
    """Axes to reduce; () with noop_with_empty_axes and no axes: the elementwise part still runs
    (ReduceSumSquare squares, ReduceLogSum takes the log), as the ONNX spec says."""
    x = inputs[0]
    given = inputs[1] if len(inputs) > 1 and inputs[1] is not None else None
    if given is None or given.size == 0:
        return () if attrs["noop_with_empty_axes"] else tuple(range(x.ndim))
    return tuple(int(a) % max(x.ndim, 1) for a in given.reshape(-1))


def _extreme(x: np.ndarray, *, low: bool) -> Any:
    """The identity of max (low) or min over x's dtype: an empty reduction yields it (opset 18)."""
    if x.dtype == np.bool_:
        return not low
    if x.dtype.kind in "iu":
        info = np.iinfo(x.dtype)
        return info.min if low else info.max
    return -np.inf if low else np.inf


def _log_sum_exp(x: np.ndarray, axes: tuple[int, ...], keep: bool) -> np.ndarray:
    finite_max = np.max(
        np.where(np.isinf(x), -np.inf, x), axis=axes, keepdims=True, initial=-np.inf
    )
    finite_max = np.where(np.isfinite(finite_max), finite_max, 0).astype(x.dtype)
    total = np.sum(np.exp(x - finite_max), axis=axes, keepdims=True, dtype=x.dtype)
    out = np.log(total) + finite_max
    return out if keep else np.squeeze(out, axis=axes)


# name -> (ONNX type, since, allowed dtypes, fn(x, axes, keepdims))
_REDUCE: dict[str, tuple[str, int, frozenset[DType], ReduceFn]] = {
    "reduce_sum": ("ReduceSum", 13, _BASIC,
                   lambda x, a, k: np.sum(x, axis=a, keepdims=k, dtype=x.dtype)),
    "reduce_mean": ("ReduceMean", 18, _BASIC,
                    lambda x, a, k: np.mean(x, axis=a, keepdims=k, dtype=x.dtype)),
    "reduce_max": ("ReduceMax", 18, _MINMAX,
                   lambda x, a, k: np.max(x, axis=a, keepdims=k, initial=_extreme(x, low=True))),
    "reduce_min": ("ReduceMin", 18, _MINMAX,
                   lambda x, a, k: np.min(x, axis=a, keepdims=k, initial=_extreme(x, low=False))),
    "reduce_prod": ("ReduceProd", 18, _BASIC,
                    lambda x, a, k: np.prod(x, axis=a, keepdims=k, dtype=x.dtype)),
    "reduce_l1": ("ReduceL1", 18, _BASIC,
                  lambda x, a, k: np.sum(np.abs(x), axis=a, keepdims=k)),
    "reduce_l2": ("ReduceL2", 18, _BASIC,
                  lambda x, a, k: np.sqrt(np.sum(np.square(x), axis=a, keepdims=k))),
    "reduce_log_sum": ("ReduceLogSum", 18, FLOATS,
                       lambda x, a, k: np.log(np.sum(x, axis=a, keepdims=k))),
    "reduce_log_sum_exp": ("ReduceLogSumExp", 18, FLOATS, _log_sum_exp),
    "reduce_sum_square": ("ReduceSumSquare", 18, _BASIC,
                          lambda x, a, k: np.sum(np.square(x), axis=a, keepdims=k)),
}  # fmt: skip


def _def_reduce(name: str, onnx: str, since: int, allowed: frozenset[DType], fn: ReduceFn) -> None:
    @defop(name, onnx=onnx, inputs=(1, 2), attrs=_REDUCE_ATTRS, since=since)
    def _infer(ctx: InferContext) -> list[TensorType]:
        check_dtype(ctx, 0, allowed)
        return reduce_infer(ctx)

    _infer.__doc__ = f"{onnx} over the axes given by the optional `axes` input."

    @kernel(name)
    def _kernel(inputs: Arrays, attrs: Mapping[str, AttrValue]) -> Arrays:
        x = inputs[0]
        axes = _axes_of(inputs, attrs)
        with np.errstate(divide="ignore", invalid="ignore"):
            out = fn(x, axes, bool(attrs["keepdims"]))
        return [np.asarray(out).astype(x.dtype, copy=False)]


for _name, (_onnx, _since, _allowed, _fn) in _REDUCE.items():
    _def_reduce(_name, _onnx, _since, _allowed, _fn)


# -- arg reductions -------------------------------------------------------------------------------

_ARG_ATTRS = {
    "axis": attr("int", 0),
    "keepdims": attr("int", 1),
    "select_last_index": attr("int", 0),
}


def _def_arg(name: str, onnx: str, fn: Callable[..., Any]) -> None:
    @defop(name, onnx=onnx, attrs=_ARG_ATTRS, since=12)
    def _infer(ctx: InferContext) -> list[TensorType]:
        check_dtype(ctx, 0, NUMERIC)
        shape = ctx.shape(0)
        axis = normalize_axis(ctx.attr("axis"), len(shape), ctx.op)
        keep = bool(ctx.attr("keepdims"))
        out = [(1 if i == axis else d) for i, d in enumerate(shape) if keep or i != axis]
        return [TensorType(DType.INT64, tuple(out))]

    _infer.__doc__ = f"Index of the {onnx[3:].lower()} along `axis` (int64)."

    @kernel(name)
    def _kernel(inputs: Arrays, attrs: Mapping[str, AttrValue]) -> Arrays:
        x, axis = inputs[0], attrs["axis"] % max(inputs[0].ndim, 1)
        if attrs["select_last_index"]:
            flipped = fn(np.flip(x, axis), axis=axis, keepdims=True)
            idx = x.shape[axis] - 1 - flipped
        else:
            idx = fn(x, axis=axis, keepdims=True)
        if not attrs["keepdims"]:
            idx = np.squeeze(idx, axis=axis)
        return [np.asarray(idx, dtype=np.int64)]


_def_arg("argmax", "ArgMax", np.argmax)
_def_arg("argmin", "ArgMin", np.argmin)


# -- topk and cumsum ------------------------------------------------------------------------------


@defop(
    "topk",
    onnx="TopK",
    inputs=2,
    outputs=2,
    attrs={"axis": attr("int", -1), "largest": attr("int", 1), "sorted": attr("int", 1)},
    since=11,
)
def _topk_infer(ctx: InferContext) -> list[TensorType]:
    """The k largest (or smallest) elements along `axis` and their int64 indices."""
    check_dtype(ctx, 0, NUMERIC)
    if ctx.dtype(1) != DType.INT64 or ctx.shape(1) not in ((1,), ()):
        raise ctx.fail("K must be an int64 tensor holding one value")
    shape = ctx.shape(0)
    axis = normalize_axis(ctx.attr("axis"), len(shape), ctx.op)
    known = ctx.shape_value(1)
    k: InferDim = known[0] if known else None
    size = shape[axis]
    if isinstance(k, int) and (k < 0 or (isinstance(size, int) and k > size)):
        raise ctx.fail(f"k={k} is out of range for axis {axis} of size {size}")
    out = tuple(k if i == axis else d for i, d in enumerate(shape))
    return [TensorType(ctx.dtype(0), out), TensorType(DType.INT64, out)]  # type: ignore[arg-type]


@kernel("topk")
def _topk(inputs: Arrays, attrs: Mapping[str, AttrValue]) -> Arrays:
    x, k = inputs[0], int(inputs[1].reshape(-1)[0])
    axis = attrs["axis"] % x.ndim
    n = x.shape[axis]
    if attrs["largest"]:
        # Stable sort of the reversed axis, flipped: descending values, ties by lower index first.
        order = np.argsort(np.flip(x, axis), axis=axis, kind="stable")
        idx = n - 1 - np.flip(order, axis)
    else:
        idx = np.argsort(x, axis=axis, kind="stable")
    idx = np.take(idx, np.arange(k), axis=axis)
    return [np.take_along_axis(x, idx, axis=axis), idx.astype(np.int64)]


@defop(
    "cumsum",
    onnx="CumSum",
    inputs=2,
    attrs={"exclusive": attr("int", 0), "reverse": attr("int", 0)},
    since=11,
)
def _cumsum_infer(ctx: InferContext) -> list[TensorType]:
    """Cumulative sum along the axis given by the scalar `axis` input."""
    return cumulative_infer(ctx)


def cumulative_infer(ctx: InferContext) -> list[TensorType]:
    """Inference shared by the scans (CumSum, CumProd): x keeps its type; `axis` is a scalar."""
    check_dtype(ctx, 0, FLOATS | {DType.INT32, DType.INT64, DType.UINT32, DType.UINT64})
    if ctx.dtype(1) not in (DType.INT32, DType.INT64) or len(ctx.shape(1)) > 1:
        raise ctx.fail("axis must be an int32/int64 scalar")
    axis = ctx.shape_value(1)
    if axis and isinstance(axis[0], int):
        normalize_axis(axis[0], len(ctx.shape(0)), ctx.op)
    return [ctx.type(0)]


@kernel("cumsum")
def _cumsum(inputs: Arrays, attrs: Mapping[str, AttrValue]) -> Arrays:
    x = inputs[0]
    axis = int(inputs[1].reshape(-1)[0]) % max(x.ndim, 1)
    data = np.flip(x, axis) if attrs["reverse"] else x
    out = np.cumsum(data, axis=axis, dtype=x.dtype)
    if attrs["exclusive"]:
        out = np.roll(out, 1, axis=axis)
        index = [slice(None)] * x.ndim
        index[axis] = slice(0, 1)
        out[tuple(index)] = 0
    return [np.flip(out, axis) if attrs["reverse"] else out]
