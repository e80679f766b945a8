"""Shape and tensor-creation ops: Shape, Size, Expand, Tile, Pad, ConstantOfShape, Range, NonZero,
Trilu, OneHot, EyeLike."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from compiler.ops.common import broadcast_dims, normalize_axes, normalize_axis
from compiler.ops.shape import const_ints, prod_dim, vector_len
from compiler.registry import InferContext, InferDim, ShapeValue, attr, defop, kernel
from compiler.types import DType, TensorType, tensor_type_of

# -- Shape / Size ----------------------------------------------------------------------------------


def _shape_range(ctx: InferContext) -> slice:
    end = ctx.attr("end")
    return slice(int(ctx.attr("start")), None if end is None else int(end))


def _shape_shape_fn(ctx: InferContext) -> ShapeValue | None:
    return tuple(ctx.shape(0)[_shape_range(ctx)])


@defop("shape", onnx="Shape", attrs={"start": attr("int", 0), "end": attr("int")}, since=15,
       shape_fn=_shape_shape_fn)  # fmt: skip
def _shape(ctx: InferContext) -> list[TensorType]:
    """The input's shape as an int64 vector (optionally the dims [start:end])."""
    return [TensorType(DType.INT64, (len(ctx.shape(0)[_shape_range(ctx)]),))]


@kernel("shape")
def _shape_kernel(inputs: list[Any], attrs: dict[str, Any]) -> list[np.ndarray]:
    end = attrs.get("end")
    return [np.array(inputs[0].shape[slice(attrs["start"], end)], dtype=np.int64)]


def _size_shape_fn(ctx: InferContext) -> ShapeValue | None:
    return (prod_dim(ctx.shape(0)),)


@defop("size", onnx="Size", since=1, shape_fn=_size_shape_fn)
def _size(ctx: InferContext) -> list[TensorType]:
    """The input's element count as an int64 scalar."""
    ctx.shape(0)
    return [TensorType(DType.INT64, ())]


@kernel("size")
def _size_kernel(inputs: list[Any], attrs: dict[str, Any]) -> list[np.ndarray]:
    return [np.array(inputs[0].size, dtype=np.int64)]


# -- Expand / Tile ---------------------------------------------------------------------------------


def _expand_shape_fn(ctx: InferContext) -> ShapeValue | None:
    # exporters build shape vectors with Expand(v, [1]): a no-op on a 1-D vector
    values, target = ctx.shape_value(0), ctx.shape_value(1)
    if values is None or target is None or len(ctx.shape(0)) != 1:
        return None
    return values if target in ((1,), (len(values),)) else None


@defop("expand", onnx="Expand", inputs=2, since=8, shape_fn=_expand_shape_fn)
def _expand(ctx: InferContext) -> list[TensorType]:
    """Broadcast the input to the `shape` input (numpy rules, both ways)."""
    x = ctx.shape(0)
    target = ctx.shape_value(1)
    if target is None:
        target = (None,) * vector_len(ctx, 1, "shape")
    rank = max(len(x), len(target))
    xs = (1,) * (rank - len(x)) + tuple(x)
    ts = (1,) * (rank - len(target)) + tuple(target)
    out = [_expand_dim(ctx, a, b) for a, b in zip(xs, ts, strict=True)]
    return [ctx.type(0).with_shape(tuple(out))]  # type: ignore[arg-type]


def _expand_dim(ctx: InferContext, a: InferDim, b: InferDim) -> InferDim:
    if b is None:
        return None if a == 1 else a
    return broadcast_dims(a, b, ctx.op)


@kernel("expand")
def _expand_kernel(inputs: list[Any], attrs: dict[str, Any]) -> list[np.ndarray]:
    x, shape = inputs
    out = np.broadcast_shapes(x.shape, tuple(int(d) for d in shape))
    return [np.array(np.broadcast_to(x, out))]


@defop("tile", onnx="Tile", inputs=2, since=6)
def _tile(ctx: InferContext) -> list[TensorType]:
    """Repeat the input `repeats[i]` times along each dim i."""
    x = ctx.shape(0)
    if vector_len(ctx, 1, "repeats") != len(x):
        raise ctx.fail(f"repeats must have {len(x)} values")
    reps = const_ints(ctx, 1, "repeats")
    if reps is None:
        return [ctx.type(0).with_shape((None,) * len(x))]  # type: ignore[arg-type]
    out = [
        d * r if isinstance(d, int) else (d if r == 1 else None)
        for d, r in zip(x, reps, strict=True)
    ]
    return [ctx.type(0).with_shape(tuple(out))]  # type: ignore[arg-type]


@kernel("tile")
def _tile_kernel(inputs: list[Any], attrs: dict[str, Any]) -> list[np.ndarray]:
    return [np.tile(inputs[0], [int(r) for r in inputs[1]])]


# -- Pad -------------------------------------------------------------------------------------------

_PAD_MODES = ("constant", "reflect", "edge", "wrap")


@defop("pad", onnx="Pad", inputs=(2, 4), attrs={"mode": attr("str", "constant")}, since=11)
def _pad(ctx: InferContext) -> list[TensorType]:
    """Pad (or crop, with negative pads) by the `pads` input: [begins..., ends...] over `axes`."""
    x = ctx.shape(0)
    if ctx.attr("mode") not in _PAD_MODES:
        raise ctx.fail(f"mode must be one of {', '.join(_PAD_MODES)}")
    for i, what in ((1, "pads"), (3, "axes")):
        if ctx.has(i) and not ctx.dtype(i).is_int:
            raise ctx.fail(f"{what} must be an integer tensor, got {ctx.dtype(i).short}")
    axes = const_ints(ctx, 3, "axes") if ctx.has(3) else tuple(range(len(x)))
    if axes is None:
        return [ctx.type(0).with_shape((None,) * len(x))]  # type: ignore[arg-type]
    axes = normalize_axes(axes, len(x), ctx.op)
    pads = const_ints(ctx, 1, "pads")
    if pads is None:
        return [ctx.type(0).with_shape(tuple(None if i in axes else d for i, d in enumerate(x)))]
    if len(pads) != 2 * len(axes):
        raise ctx.fail(f"pads has {len(pads)} values for {len(axes)} axes")
    out: list[InferDim] = list(x)
    for j, a in enumerate(axes):
        grow, dim = pads[j] + pads[j + len(axes)], x[a]
        new = dim + grow if isinstance(dim, int) else (dim if grow == 0 else None)
        out[a] = new
        if isinstance(new, int) and new < 0:
            raise ctx.fail(f"pads {list(pads)} crop dim {a} below zero")
    return [ctx.type(0).with_shape(tuple(out))]  # type: ignore[arg-type]


@kernel("pad")
def _pad_kernel(inputs: list[Any], attrs: dict[str, Any]) -> list[np.ndarray]:
    x, pads = inputs[0], [int(p) for p in inputs[1]]
    value = inputs[2] if len(inputs) > 2 and inputs[2] is not None else None
    axes = inputs[3] if len(inputs) > 3 and inputs[3] is not None else range(x.ndim)
    axes = [int(a) % x.ndim for a in axes]
    widths = [[0, 0] for _ in range(x.ndim)]
    for j, a in enumerate(axes):
        widths[a] = [pads[j], pads[j + len(axes)]]
    grow = [(max(b, 0), max(e, 0)) for b, e in widths]
    mode = attrs["mode"]
    if mode == "constant":
        fill = value.reshape(-1)[0] if value is not None and value.size else 0
        y = np.pad(x, grow, mode="constant", constant_values=fill)
    else:
        y = np.pad(x, grow, mode=mode)
    crop = tuple(slice(max(-b, 0), y.shape[i] - max(-e, 0)) for i, (b, e) in enumerate(widths))
    return [y[crop]]


# -- ConstantOfShape / Range -----------------------------------------------------------------------

_SMALL = 64  # largest constant vector tracked as a shape value


def _constant_of_shape_shape_fn(ctx: InferContext) -> ShapeValue | None:
    value = ctx.attr("value")
    dims = ctx.shape_value(0)
    if value.dtype.kind not in "iu" or dims is None or len(dims) != 1:
        return None
    n = dims[0]
    return (int(value.reshape(-1)[0]),) * n if isinstance(n, int) and n <= _SMALL else None


@defop("constant_of_shape", onnx="ConstantOfShape", since=9,
       attrs={"value": attr("tensor", np.zeros(1, np.float32))},
       shape_fn=_constant_of_shape_shape_fn)  # fmt: skip
def _constant_of_shape(ctx: InferContext) -> list[TensorType]:
    """A tensor of the shape given by the input, filled with the one-element `value`."""
    value = ctx.attr("value")
    if value.size != 1:
        raise ctx.fail(f"value must have one element, got {value.size}")
    if not ctx.dtype(0).is_int:
        raise ctx.fail("the shape input must be an integer tensor")
    dims = ctx.shape_value(0)
    if dims is None:
        dims = (None,) * vector_len(ctx, 0, "input")
    if any(isinstance(d, int) and d < 0 for d in dims):
        raise ctx.fail(f"negative dim in {list(dims)}")
    return [tensor_type_of(value).with_shape(tuple(dims))]  # type: ignore[arg-type]


@kernel("constant_of_shape")
def _constant_of_shape_kernel(inputs: list[Any], attrs: dict[str, Any]) -> list[np.ndarray]:
    value = attrs["value"]
    return [np.full([int(d) for d in inputs[0]], value.reshape(-1)[0], dtype=value.dtype)]


@defop("range", onnx="Range", inputs=3, attrs={"stash_type": attr("int")}, since=11)
def _range(ctx: InferContext) -> list[TensorType]:
    """[start, start + delta, ...) up to `limit` (exclusive); length known when all are constant."""
    dtypes = {ctx.dtype(i) for i in range(3)}
    if len(dtypes) > 1 or any(ctx.shape(i) not in ((), (1,)) for i in range(3)):
        raise ctx.fail("start, limit and delta must be scalars of one type")
    args = [ctx.const(i) for i in range(3)]
    if any(a is None for a in args):
        return [TensorType(ctx.dtype(0), (None,))]  # type: ignore[arg-type]
    start, limit, delta = (a.reshape(-1)[0].item() for a in args)  # type: ignore[union-attr]
    if delta == 0:
        raise ctx.fail("delta must not be 0")
    return [TensorType(ctx.dtype(0), (max(math.ceil((limit - start) / delta), 0),))]


@kernel("range")
def _range_kernel(inputs: list[Any], attrs: dict[str, Any]) -> list[np.ndarray]:
    start, limit, delta = (np.asarray(a).reshape(-1)[0] for a in inputs)
    n = max(math.ceil((limit.item() - start.item()) / delta.item()), 0)
    dtype = np.asarray(inputs[0]).dtype
    return [(start + np.arange(n, dtype=dtype) * delta).astype(dtype)]


# -- NonZero / Trilu / OneHot / EyeLike ------------------------------------------------------------


@defop("nonzero", onnx="NonZero", since=9)
def _nonzero(ctx: InferContext) -> list[TensorType]:
    """Indices of the non-zero elements: an int64 [rank, count] matrix (count depends on data)."""
    return [TensorType(DType.INT64, (len(ctx.shape(0)), None))]  # type: ignore[arg-type]


@kernel("nonzero")
def _nonzero_kernel(inputs: list[Any], attrs: dict[str, Any]) -> list[np.ndarray]:
    x = inputs[0]
    if x.ndim == 0:
        return [np.zeros((0, int(bool(x))), dtype=np.int64)]
    return [np.array(np.nonzero(x), dtype=np.int64).reshape(x.ndim, -1)]


@defop("trilu", onnx="Trilu", inputs=(1, 2), attrs={"upper": attr("int", 1)}, since=14)
def _trilu(ctx: InferContext) -> list[TensorType]:
    """Keep the upper (or lower) triangle of the last two dims, offset by the diagonal `k`."""
    if len(ctx.shape(0)) < 2:
        raise ctx.fail(f"expected rank >= 2, got {len(ctx.shape(0))}")
    if ctx.has(1) and ctx.shape(1) not in ((), (1,)):
        raise ctx.fail("k must be a scalar")
    return [ctx.type(0)]


@kernel("trilu")
def _trilu_kernel(inputs: list[Any], attrs: dict[str, Any]) -> list[np.ndarray]:
    x = inputs[0]
    k = (
        int(np.asarray(inputs[1]).reshape(-1)[0])
        if len(inputs) > 1 and inputs[1] is not None
        else 0
    )
    return [np.triu(x, k) if attrs["upper"] else np.tril(x, k)]


@defop("one_hot", onnx="OneHot", inputs=3, attrs={"axis": attr("int", -1)}, since=11)
def _one_hot(ctx: InferContext) -> list[TensorType]:
    """One-hot encode `indices` with `depth` classes; `values` = [off, on] gives dtype and fill."""
    idx = ctx.shape(0)
    values = ctx.shape(2)
    if len(values) != 1 or (isinstance(values[0], int) and values[0] != 2):
        raise ctx.fail(f"values must have shape [2], got {list(ctx.shape(2))}")
    axis = normalize_axis(int(ctx.attr("axis")), len(idx) + 1, ctx.op)
    depth = ctx.const(1)
    n: InferDim = None if depth is None else int(depth.reshape(-1)[0])
    return [TensorType(ctx.dtype(2), (*idx[:axis], n, *idx[axis:]))]


@kernel("one_hot")
def _one_hot_kernel(inputs: list[Any], attrs: dict[str, Any]) -> list[np.ndarray]:
    idx, depth, values = inputs
    n = int(np.asarray(depth).reshape(-1)[0])
    idx = np.asarray(idx).astype(np.int64)
    idx = np.where(idx < 0, idx + n, idx)
    axis = attrs["axis"] % (idx.ndim + 1)
    classes = np.arange(n).reshape([-1 if i == axis else 1 for i in range(idx.ndim + 1)])
    hot = np.expand_dims(idx, axis) == classes
    return [np.where(hot, values[1], values[0]).astype(values.dtype)]


@defop("eye_like", onnx="EyeLike", attrs={"dtype": attr("dtype"), "k": attr("int", 0)}, since=9)
def _eye_like(ctx: InferContext) -> list[TensorType]:
    """A 2-D tensor shaped like the input with ones on diagonal `k` (dtype attr or the input's)."""
    if len(ctx.shape(0)) != 2:
        raise ctx.fail(f"expected a 2-D input, got rank {len(ctx.shape(0))}")
    dtype = ctx.attr("dtype") or ctx.dtype(0)
    return [ctx.type(0).with_dtype(dtype)]


@kernel("eye_like")
def _eye_like_kernel(inputs: list[Any], attrs: dict[str, Any]) -> list[np.ndarray]:
    x = inputs[0]
    dtype = attrs["dtype"].to_numpy() if attrs.get("dtype") is not None else x.dtype
    return [np.eye(x.shape[0], x.shape[1], attrs["k"], dtype=dtype)]
