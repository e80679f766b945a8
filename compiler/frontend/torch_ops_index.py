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
