"""Less common ops: inverse hyperbolics, Swish, CumProd, Compress, ReverseSequence, Det.

RotaryEmbedding and Attention live in `compiler.ops.rotary` and `compiler.ops.attention`
(imported at the end).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from compiler.ir import AttrValue
from compiler.ops.common import normalize_axis
from compiler.ops.elementwise import FLOATS, check_dtype, unary_infer
from compiler.ops.reduce import cumulative_infer
from compiler.registry import InferContext, InferDim, attr, defop, kernel
from compiler.types import DType, TensorType

Arrays = list[Any]

# -- inverse hyperbolic functions and Swish -------------------------------------------------------

_UNARY: dict[str, tuple[str, Callable[[np.ndarray], np.ndarray]]] = {
    "asinh": ("Asinh", np.arcsinh),
    "acosh": ("Acosh", np.arccosh),
    "atanh": ("Atanh", np.arctanh),
}


def _def_unary(name: str, onnx: str, fn: Callable[[np.ndarray], np.ndarray]) -> None:
    @defop(name, onnx=onnx, since=9)
    def _infer(ctx: InferContext) -> list[TensorType]:
        return unary_infer(ctx, FLOATS)

    _infer.__doc__ = f"Elementwise {onnx}."

    @kernel(name)
    def _kernel(inputs: Arrays, attrs: Mapping[str, AttrValue]) -> Arrays:
        with np.errstate(all="ignore"):
            return [np.asarray(fn(inputs[0])).astype(inputs[0].dtype, copy=False)]


for _name, (_onnx, _fn) in _UNARY.items():
    _def_unary(_name, _onnx, _fn)


@defop("swish", onnx="Swish", attrs={"alpha": attr("float", 1.0)}, since=24)
def _swish(ctx: InferContext) -> list[TensorType]:
    """x * sigmoid(alpha * x)."""
    return unary_infer(ctx, FLOATS)


@kernel("swish")
def _swish_kernel(inputs: Arrays, attrs: Mapping[str, AttrValue]) -> Arrays:
    x = inputs[0]
    alpha = x.dtype.type(attrs["alpha"])
    with np.errstate(over="ignore"):
        return [(x * (1 / (1 + np.exp(-alpha * x)))).astype(x.dtype)]


# -- CumProd --------------------------------------------------------------------------------------


@defop("cumprod", onnx="CumProd", inputs=2, since=26,
       attrs={"exclusive": attr("int", 0), "reverse": attr("int", 0)})  # fmt: skip
def _cumprod(ctx: InferContext) -> list[TensorType]:
    """Cumulative product along the axis given by the scalar `axis` input."""
    return cumulative_infer(ctx)


@kernel("cumprod")
def _cumprod_kernel(inputs: Arrays, attrs: Mapping[str, AttrValue]) -> Arrays:
    x = inputs[0]
    axis = int(inputs[1].reshape(-1)[0]) % max(x.ndim, 1)
    data = np.flip(x, axis) if attrs["reverse"] else x
    if attrs["exclusive"]:  # shift by one along the axis, starting from the identity 1
        first = np.ones_like(np.take(data, [0], axis=axis))
        rest = np.take(data, np.arange(data.shape[axis] - 1), axis=axis)
        data = np.concatenate([first, rest], axis=axis)
    out = np.cumprod(data, axis=axis, dtype=x.dtype)
    return [np.flip(out, axis) if attrs["reverse"] else out]


# -- Compress / ReverseSequence -------------------------------------------------------------------


@defop("compress", onnx="Compress", inputs=2, attrs={"axis": attr("int")}, since=11)
def _compress(ctx: InferContext) -> list[TensorType]:
    """Keep the slices along `axis` (or of the flattened input) where `condition` is true."""
    x = ctx.shape(0)
    if ctx.dtype(1) != DType.BOOL or len(ctx.shape(1)) != 1:
        raise ctx.fail("condition must be a 1-D bool tensor")
    cond = ctx.const(1)
    kept: InferDim = None if cond is None else int(np.count_nonzero(cond))
    if ctx.attr("axis") is None:
        return [ctx.type(0).with_shape((kept,))]  # type: ignore[arg-type]
    axis = normalize_axis(int(ctx.attr("axis")), len(x), ctx.op)
    return [ctx.type(0).with_shape((*x[:axis], kept, *x[axis + 1 :]))]  # type: ignore[arg-type]


@kernel("compress")
def _compress_kernel(inputs: Arrays, attrs: Mapping[str, AttrValue]) -> Arrays:
    x, cond = inputs
    axis = attrs.get("axis")
    return [np.compress(cond, x, axis=None if axis is None else int(axis) % x.ndim)]


@defop("reverse_sequence", onnx="ReverseSequence", inputs=2, since=10,
       attrs={"batch_axis": attr("int", 1), "time_axis": attr("int", 0)})  # fmt: skip
def _reverse_sequence(ctx: InferContext) -> list[TensorType]:
    """Reverse the first `sequence_lens[b]` steps along `time_axis` of each batch entry b."""
    x = ctx.shape(0)
    if len(x) < 2:
        raise ctx.fail(f"expected rank >= 2, got {len(x)}")
    if {int(ctx.attr("batch_axis")), int(ctx.attr("time_axis"))} != {0, 1}:
        raise ctx.fail("batch_axis and time_axis must be 0 and 1 (either way round)")
    if ctx.dtype(1) != DType.INT64 or len(ctx.shape(1)) != 1:
        raise ctx.fail("sequence_lens must be a 1-D int64 tensor")
    return [ctx.type(0)]


@kernel("reverse_sequence")
def _reverse_sequence_kernel(inputs: Arrays, attrs: Mapping[str, AttrValue]) -> Arrays:
    x, lens = inputs
    batch_first = attrs["batch_axis"] == 0
    out = np.array(x if batch_first else np.swapaxes(x, 0, 1))  # [batch, time, ...]
    for b, n in enumerate(int(v) for v in lens):
        out[b, :n] = out[b, :n][::-1]
    return [out if batch_first else np.swapaxes(out, 0, 1)]


# -- Det ------------------------------------------------------------------------------------------


@defop("det", onnx="Det", since=11)
def _det(ctx: InferContext) -> list[TensorType]:
    """Determinant of the square matrices in the last two dims."""
    check_dtype(ctx, 0, FLOATS)
    x = ctx.shape(0)
    if len(x) < 2:
        raise ctx.fail(f"expected rank >= 2, got {len(x)}")
    n, m = x[-2:]
    if isinstance(n, int) and isinstance(m, int) and n != m:
        raise ctx.fail(f"matrices must be square, got {n}x{m}")
    return [ctx.type(0).with_shape(tuple(x[:-2]))]


@kernel("det")
def _det_kernel(inputs: Arrays, attrs: Mapping[str, AttrValue]) -> Arrays:
    x = inputs[0]
    acc = np.float32 if x.dtype.itemsize < 4 else x.dtype  # numpy has no half-precision LU
    return [np.asarray(np.linalg.det(x.astype(acc))).astype(x.dtype)]


from compiler.ops import attention, rotary  # noqa: E402,F401
