"""Comparison, logical and bitwise ops, `where`, `is_nan` and `is_inf`.

Comparisons and logical ops return `bool` tensors; all binary ops broadcast numpy-style.
Imported by `compiler.ops.elementwise`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from compiler.ir import AttrValue
from compiler.ops.common import broadcast_infer, require_same_dtype
from compiler.ops.elementwise import FLOATS, INTS, NUMERIC, check_dtype
from compiler.registry import InferContext, attr, defop, kernel
from compiler.types import DType, TensorType

Arrays = list[Any]
BOOL = frozenset({DType.BOOL})

# name -> (ONNX type, since, allowed input dtypes, numpy function)
_COMPARE: dict[str, tuple[str, int, frozenset[DType], Callable[..., Any]]] = {
    "equal": ("Equal", 7, NUMERIC | BOOL | {DType.STRING}, np.equal),
    "less": ("Less", 7, NUMERIC, np.less),
    "less_or_equal": ("LessOrEqual", 12, NUMERIC, np.less_equal),
    "greater": ("Greater", 7, NUMERIC, np.greater),
    "greater_or_equal": ("GreaterOrEqual", 12, NUMERIC, np.greater_equal),
    "and": ("And", 7, BOOL, np.logical_and),
    "or": ("Or", 7, BOOL, np.logical_or),
    "xor": ("Xor", 7, BOOL, np.logical_xor),
}

_BITWISE: dict[str, tuple[str, Callable[..., Any]]] = {
    "bitwise_and": ("BitwiseAnd", np.bitwise_and),
    "bitwise_or": ("BitwiseOr", np.bitwise_or),
    "bitwise_xor": ("BitwiseXor", np.bitwise_xor),
}


def _def_compare(
    name: str, onnx: str, since: int, allowed: frozenset[DType], fn: Callable[..., Any]
) -> None:
    @defop(name, onnx=onnx, inputs=2, since=since)
    def _infer(ctx: InferContext) -> list[TensorType]:
        check_dtype(ctx, 0, allowed)
        require_same_dtype(ctx, 0, 1)
        return broadcast_infer(ctx, DType.BOOL)

    _infer.__doc__ = f"Elementwise {onnx} with broadcasting; the result is bool."

    @kernel(name)
    def _kernel(inputs: Arrays, attrs: Mapping[str, AttrValue]) -> Arrays:
        return [np.asarray(fn(inputs[0], inputs[1]), dtype=np.bool_)]


def _def_bitwise(name: str, onnx: str, fn: Callable[..., Any]) -> None:
    @defop(name, onnx=onnx, inputs=2, since=18)
    def _infer(ctx: InferContext) -> list[TensorType]:
        check_dtype(ctx, 0, INTS)
        require_same_dtype(ctx, 0, 1)
        return broadcast_infer(ctx)

    _infer.__doc__ = f"Elementwise {onnx} of integers with broadcasting."

    @kernel(name)
    def _kernel(inputs: Arrays, attrs: Mapping[str, AttrValue]) -> Arrays:
        return [np.asarray(fn(inputs[0], inputs[1]))]


for _name, (_onnx, _since, _allowed, _fn) in _COMPARE.items():
    _def_compare(_name, _onnx, _since, _allowed, _fn)
for _name, (_onnx, _fn) in _BITWISE.items():
    _def_bitwise(_name, _onnx, _fn)


@defop("not", onnx="Not", since=1)
def _not_infer(ctx: InferContext) -> list[TensorType]:
    """Logical negation of a bool tensor."""
    check_dtype(ctx, 0, BOOL)
    return [ctx.type(0)]


@kernel("not")
def _not(inputs: Arrays, attrs: Mapping[str, AttrValue]) -> Arrays:
    return [np.logical_not(inputs[0])]


@defop("bitwise_not", onnx="BitwiseNot", since=18)
def _bitwise_not_infer(ctx: InferContext) -> list[TensorType]:
    """Bitwise complement of an integer tensor."""
    check_dtype(ctx, 0, INTS)
    return [ctx.type(0)]


@kernel("bitwise_not")
def _bitwise_not(inputs: Arrays, attrs: Mapping[str, AttrValue]) -> Arrays:
    return [np.asarray(np.invert(inputs[0]))]


@defop("where", onnx="Where", inputs=3, since=9)
def _where_infer(ctx: InferContext) -> list[TensorType]:
    """Select X where the condition holds, else Y (all three broadcast)."""
    check_dtype(ctx, 0, BOOL)
    require_same_dtype(ctx, 1, 2)
    return broadcast_infer(ctx, ctx.dtype(1))


@kernel("where")
def _where(inputs: Arrays, attrs: Mapping[str, AttrValue]) -> Arrays:
    cond, x, y = inputs
    return [np.asarray(np.where(cond, x, y), dtype=x.dtype)]


@defop("is_nan", onnx="IsNaN", since=9)
def _is_nan_infer(ctx: InferContext) -> list[TensorType]:
    """Whether each element is NaN."""
    check_dtype(ctx, 0, FLOATS)
    return [ctx.type(0).with_dtype(DType.BOOL)]


@kernel("is_nan")
def _is_nan(inputs: Arrays, attrs: Mapping[str, AttrValue]) -> Arrays:
    return [np.isnan(inputs[0])]


@defop(
    "is_inf",
    onnx="IsInf",
    attrs={"detect_negative": attr("int", 1), "detect_positive": attr("int", 1)},
    since=10,
)
def _is_inf_infer(ctx: InferContext) -> list[TensorType]:
    """Whether each element is an infinity of a detected sign."""
    check_dtype(ctx, 0, FLOATS)
    return [ctx.type(0).with_dtype(DType.BOOL)]


@kernel("is_inf")
def _is_inf(inputs: Arrays, attrs: Mapping[str, AttrValue]) -> Arrays:
    x = inputs[0]
    out = np.zeros(x.shape, dtype=np.bool_)
    if attrs["detect_positive"]:
        out |= np.isposinf(x)
    if attrs["detect_negative"]:
        out |= np.isneginf(x)
    return [out]
