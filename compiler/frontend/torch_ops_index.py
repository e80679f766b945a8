"""Lowerings of the core-ATen indexing, ordering and statistics ops: advanced indexing with one
index tensor, flip, topk/sort, remainder/fmod and variance (see `torch_ops`)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from compiler.errors import FrontendError
from compiler.frontend.torch_values import TorchValues, lowering, target_name
from compiler.ir import Value
from compiler.types import DType

_INT64_MAX = 2**63 - 1


def _kw(args: tuple[Any, ...], kw: dict[str, Any], i: int, key: str, default: Any) -> Any:
    return args[i] if len(args) > i else kw.get(key, default)


@lowering("index.Tensor")
def _index(cx: TorchValues, node: Any, args: tuple[Any, ...], kw: dict[str, Any]) -> Value:
    """`x[:, idx]`: one integer index tensor is a `gather` on its axis (same result dims)."""
    x, indices = cx.value(args[0]), list(args[1])
    used = [i for i, index in enumerate(indices) if index is not None]
    if len(used) != 1:
        raise FrontendError("indexing with several index tensors is not supported", cx.loc)
    index = cx.value(indices[used[0]])
    if index.type.dtype == DType.BOOL:
        raise FrontendError("boolean-mask indexing (data-dependent shape) is not supported", cx.loc)
    return cx.emit("gather", [x, index], axis=used[0])  # type: ignore[no-any-return]


@lowering("flip.default")
def _flip(cx: TorchValues, node: Any, args: tuple[Any, ...], kw: dict[str, Any]) -> Value:
    x = cx.value(args[0])
    rank = len(x.type.shape or ())
    axes = [int(d) % rank for d in args[1]]
    n = len(axes)
    ins = [cx.ints([-1] * n), cx.ints([-_INT64_MAX] * n), cx.ints(axes), cx.ints([-1] * n)]
    return cx.emit("slice", [x, *ins])  # type: ignore[no-any-return]


@lowering("topk.default", "sort.default")
def _topk(cx: TorchValues, node: Any, args: tuple[Any, ...], kw: dict[str, Any]) -> tuple:
    """topk(k, dim, largest, sorted); sort(dim, descending) is a topk of the whole axis (ties
    in index order)."""
    x = cx.value(args[0])
    shape = x.type.shape or ()
    if target_name(node.target).startswith("sort"):
        dim, largest = int(_kw(args, kw, 1, "dim", -1)), bool(_kw(args, kw, 2, "descending", False))
        k: Any = shape[dim]
        if not isinstance(k, int):
            raise FrontendError("sort along a symbolic axis is not supported", cx.loc)
    else:
        k, dim = int(args[1]), int(_kw(args, kw, 2, "dim", -1))
        largest = bool(_kw(args, kw, 3, "largest", True))
    out = cx.emit("topk", [x, cx.ints([k])], n_out=2, axis=dim, largest=int(largest), sorted=1)
    return tuple(out)


@lowering("remainder.Tensor", "remainder.Scalar", "fmod.Tensor", "fmod.Scalar")
def _mod(cx: TorchValues, node: Any, args: tuple[Any, ...], kw: dict[str, Any]) -> Value:
    """remainder takes the divisor's sign (numpy `mod`, fmod=0), fmod the dividend's."""
    dtype = cx.out_dtype()
    a, b = (cx.cast(cx.like(arg, cx.value(args[0]), dtype), dtype) for arg in args[:2])
    fmod = int(target_name(node.target).startswith("fmod"))
    return cx.emit("mod", [a, b], fmod=fmod)  # type: ignore[no-any-return]


@lowering("var.correction")
def _var(cx: TorchValues, node: Any, args: tuple[Any, ...], kw: dict[str, Any]) -> Value:
    """Σ(x - mean)² / (N - correction) over the reduced axes (N static)."""
    x = cx.value(args[0])
    shape = x.type.shape or ()
    dims = _kw(args, kw, 1, "dim", None)
    axes = list(range(len(shape))) if not dims else [int(d) % len(shape) for d in dims]
    sizes = [shape[a] for a in axes]
    if not all(isinstance(s, int) for s in sizes):
        raise FrontendError("variance over a symbolic axis is not supported", cx.loc)
    correction = float(kw.get("correction", 1) if kw.get("correction") is not None else 1)
    keep = int(bool(kw.get("keepdim", False)))
    mean = cx.emit("reduce_mean", [x, cx.ints(axes)], keepdims=1)
    dev = cx.emit("sub", [x, mean])
    total = cx.emit("reduce_sum", [cx.emit("mul", [dev, dev]), cx.ints(axes)], keepdims=keep)
    count = math.prod(int(s) for s in sizes) - correction
    divisor = cx.const(np.array(max(count, 0.0), dtype=x.type.dtype.to_numpy()))
    return cx.emit("div", [total, divisor])  # type: ignore[no-any-return]


# -- reductions with indices, norms, statistics ---------------------------------------------------
@lowering("max.dim", "min.dim", "max.default", "min.default")
def _max_min(cx: TorchValues, node: Any, args: tuple[Any, ...], kw: dict[str, Any]) -> Any:
    """max(x) is a full reduction; max(x, dim) also returns the (first) index of the extreme."""
    x = cx.value(args[0])
    rank = len(x.type.shape or ())
    op = target_name(node.target).split(".")[0]
    if len(args) < 2 and "dim" not in kw:
        return cx.emit(f"reduce_{op}", [x, cx.ints(list(range(rank)))], keepdims=0)
    dim = int(_kw(args, kw, 1, "dim", 0)) % rank
    keep = int(bool(_kw(args, kw, 2, "keepdim", False)))
    values = cx.emit(f"reduce_{op}", [x, cx.ints([dim])], keepdims=keep)
    return (values, cx.emit(f"arg{op}", [x], axis=dim, keepdims=keep))


@lowering("linalg_vector_norm.default")
def _vector_norm(cx: TorchValues, node: Any, args: tuple[Any, ...], kw: dict[str, Any]) -> Value:
    x = cx.cast(cx.value(args[0]), cx.out_dtype())
    rank = len(x.type.shape or ())
    order = float(_kw(args, kw, 1, "ord", 2))
    dims = _kw(args, kw, 2, "dim", None)
    axes = list(range(rank)) if not dims else [int(d) % rank for d in dims]
    keep = int(bool(_kw(args, kw, 3, "keepdim", False)))
    ops = {1.0: "reduce_l1", 2.0: "reduce_l2"}
    if order == math.inf:
        return cx.emit("reduce_max", [cx.emit("abs", [x]), cx.ints(axes)], keepdims=keep)  # type: ignore[no-any-return]
    if order not in ops:
        raise FrontendError(f"vector norm of order {order} is not supported (1, 2, inf)", cx.loc)
    return cx.emit(ops[order], [x, cx.ints(axes)], keepdims=keep)  # type: ignore[no-any-return]


@lowering("_native_batch_norm_legit.no_stats")
def _batch_norm_stats(
    cx: TorchValues, node: Any, args: tuple[Any, ...], kw: dict[str, Any]
) -> tuple:
    """Normalization by the input's own statistics over every axis but 1 (instance norm's form):
    (x - mean) / sqrt(var + eps) * weight + bias, biased variance."""
    x = cx.value(args[0])
    rank = len(x.type.shape or ())
    if not bool(args[3]):
        raise FrontendError("batch norm without statistics must be in training form", cx.loc)
    axes = cx.ints([0, *range(2, rank)])
    mean = cx.emit("reduce_mean", [x, axes], keepdims=1)
    dev = cx.emit("sub", [x, mean])
    var = cx.emit("reduce_mean", [cx.emit("mul", [dev, dev]), axes], keepdims=1)
    eps = cx.scalar(float(args[5]), x.type.dtype)
    y = cx.emit("div", [dev, cx.emit("sqrt", [cx.emit("add", [var, eps])])])
    shape = cx.ints([-1, *([1] * (rank - 2))])
    for op, arg in (("mul", args[1]), ("add", args[2])):
        if arg is not None:
            y = cx.emit(op, [y, cx.emit("reshape", [cx.value(arg), shape])])
    return (y, None, None)


# -- math with a numerically different IR spelling ------------------------------------------------
@lowering("log1p.default", "expm1.default", "exp2.default")
def _math(cx: TorchValues, node: Any, args: tuple[Any, ...], kw: dict[str, Any]) -> Value:
    x = cx.cast(cx.value(args[0]), cx.out_dtype())
    one = cx.scalar(1.0, x.type.dtype)
    base = target_name(node.target).split(".")[0]
    if base == "log1p":
        return cx.emit("log", [cx.emit("add", [x, one])])  # type: ignore[no-any-return]
    if base == "expm1":
        return cx.emit("sub", [cx.emit("exp", [x]), one])  # type: ignore[no-any-return]
    return cx.emit("pow", [cx.scalar(2.0, x.type.dtype), x])  # type: ignore[no-any-return]


@lowering("cumprod.default")
def _cumprod(cx: TorchValues, node: Any, args: tuple[Any, ...], kw: dict[str, Any]) -> Value:
    x = cx.cast(cx.value(args[0]), cx.out_dtype())
    return cx.emit("cumprod", [x, cx.const(np.array(int(args[1]), np.int64))])  # type: ignore[no-any-return]


@lowering("adaptive_max_pool2d.default", "adaptive_max_pool1d.default")
def _adaptive_max(cx: TorchValues, node: Any, args: tuple[Any, ...], kw: dict[str, Any]) -> tuple:
    x = cx.value(args[0])
    spatial = (x.type.shape or ())[2:]
    out = [int(o) for o in args[1]]
    if all(o == 1 for o in out):
        return (cx.emit("global_max_pool", [x]), None)
    if not all(isinstance(s, int) and s % o == 0 for s, o in zip(spatial, out, strict=True)):
        raise FrontendError(f"adaptive pooling of {spatial} to {out}: sizes must divide", cx.loc)
    kernel = tuple(int(s) // o for s, o in zip(spatial, out, strict=True))
    return (cx.emit("max_pool", [x], kernel_shape=kernel, strides=kernel), None)
