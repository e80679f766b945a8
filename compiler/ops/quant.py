"""Quantization ops: QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear and the integer
matmul/conv ops (MatMulInteger, ConvInteger, QLinearMatMul, QLinearConv).

Scales and zero points are per tensor (a scalar or one element), per axis (1-D along `axis`) or
blocked (`block_size` > 0: same rank as x, with `ceil(x.shape[axis] / block_size)` along `axis`).
    quantize:   y = saturate(round_half_even(x / scale) + zero_point)
    dequantize: y = (x - zero_point) * scale
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from compiler.ir import AttrValue
from compiler.ops.common import normalize_axis
from compiler.ops.elementwise import FLOATS, cast_array
from compiler.registry import InferContext, attr, defop, kernel
from compiler.types import DType, TensorType

Arrays = list[Any]

_INT_RANGES: dict[DType, tuple[int, int]] = {
    DType.UINT8: (0, 255), DType.INT8: (-128, 127), DType.UINT16: (0, 65535),
    DType.INT16: (-32768, 32767), DType.UINT4: (0, 15), DType.INT4: (-8, 7),
}  # fmt: skip
_FLOAT8 = frozenset(
    {DType.FLOAT8E4M3FN, DType.FLOAT8E4M3FNUZ, DType.FLOAT8E5M2, DType.FLOAT8E5M2FNUZ}
)
_QUANT_TYPES = frozenset(_INT_RANGES) | _FLOAT8
_QATTRS = {
    "axis": attr("int", 1),
    "block_size": attr("int", 0),
    "output_dtype": attr("dtype", None),
}


# -- scale / zero-point layout --------------------------------------------------------------------


def _check_param_shape(ctx: InferContext, i: int, x: tuple[Any, ...]) -> None:
    """Input `i` (scale or zero point) must be per-tensor, per-axis or blocked for x."""
    p = ctx.shape(i)
    if len(p) == 0 or p == (1,):
        return
    axis = normalize_axis(ctx.attr("axis"), len(x), ctx.op)
    block = ctx.attr("block_size")
    if block == 0:
        if len(p) != 1 or (isinstance(p[0], int) and isinstance(x[axis], int) and p[0] != x[axis]):
            raise ctx.fail(f"input {i} of shape {p} is not per-axis for axis {axis} of {x}")
        return
    if block < 0 or len(p) != len(x):
        raise ctx.fail(f"blocked input {i} must have the rank of x and block_size > 0")
    for j, (pd, xd) in enumerate(zip(p, x, strict=True)):
        want = -(-xd // block) if j == axis and isinstance(xd, int) else xd
        if isinstance(pd, int) and isinstance(want, int) and pd != want:
            raise ctx.fail(f"input {i} of shape {p} does not block x {x} along axis {axis}")


def _expand_param(p: np.ndarray, shape: tuple[int, ...], attrs: Mapping[str, AttrValue]) -> Any:
    """Reshape/repeat a scale or zero point so that it broadcasts against x."""
    if p.size == 1 and p.ndim <= 1:
        return p.reshape(())
    axis = attrs["axis"] % len(shape)
    if not attrs["block_size"]:
        dims = [1] * len(shape)
        dims[axis] = p.size
        return p.reshape(dims)
    full = np.repeat(p, attrs["block_size"], axis=axis)
    return np.take(full, np.arange(shape[axis]), axis=axis)


# -- quantize / dequantize ------------------------------------------------------------------------


def _quantize_dtype(ctx: InferContext) -> DType:
    given = ctx.attr("output_dtype")
    if ctx.has(2):
        zp = ctx.dtype(2)
        if given is not None and given != zp:
            raise ctx.fail(f"output_dtype {given.short} differs from the zero point's {zp.short}")
        given = zp
    out = given if given is not None else DType.UINT8
    if out not in _QUANT_TYPES:
        raise ctx.fail(f"cannot quantize to {out.short}")
    return out


@defop(
    "quantize_linear",
    onnx="QuantizeLinear",
    inputs=(2, 3),
    attrs={**_QATTRS, "saturate": attr("int", 1), "precision": attr("dtype", None)},
    since=10,
)
def _quantize_infer(ctx: InferContext) -> list[TensorType]:
    """Quantize x to the zero point's type (or `output_dtype`, default uint8)."""
    if ctx.dtype(0) not in FLOATS | {DType.INT32}:
        raise ctx.fail(f"cannot quantize {ctx.dtype(0).short} input")
    x = ctx.shape(0)
    for i in (1, 2):
        if ctx.has(i):
            _check_param_shape(ctx, i, x)
    return [TensorType(_quantize_dtype(ctx), x)]


def quantize(x: np.ndarray, scale: Any, zero_point: Any, to: DType, saturate: bool) -> np.ndarray:
    """`saturate(rint(x / scale) + zero_point)` in type `to` (scale/zp already broadcastable)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        scaled = x / scale
    if to in _FLOAT8:
        if zero_point is not None:
            scaled = scaled + np.asarray(zero_point).astype(np.float32)
        return cast_array(scaled, to, saturate)
    q = np.rint(scaled).astype(np.float64)
    if zero_point is not None:
        q = q + np.asarray(zero_point).astype(np.float64)
    lo, hi = _INT_RANGES[to]
    return np.clip(q, lo, hi).astype(np.int64).astype(to.to_numpy())


@kernel("quantize_linear")
def _quantize(inputs: Arrays, attrs: Mapping[str, AttrValue]) -> Arrays:
    x, scale = inputs[0], inputs[1]
    zp = inputs[2] if len(inputs) > 2 else None
    to = attrs.get("output_dtype") or DType.UINT8
    if zp is not None:
        to = DType.from_numpy(zp.dtype)
        zp = _expand_param(zp, x.shape, attrs)
    precision = attrs.get("precision")
    if precision is not None:
        x, scale = x.astype(precision.to_numpy()), scale.astype(precision.to_numpy())
    scale = _expand_param(scale, x.shape, attrs)
    return [quantize(x, scale, zp, to, bool(attrs["saturate"]))]


@defop("dequantize_linear", onnx="DequantizeLinear", inputs=(2, 3), attrs=_QATTRS, since=10)
def _dequantize_infer(ctx: InferContext) -> list[TensorType]:
    """Dequantize x to the scale's type (or `output_dtype`)."""
    if ctx.dtype(0) not in _QUANT_TYPES | {DType.INT32}:
        raise ctx.fail(f"cannot dequantize {ctx.dtype(0).short} input")
    if ctx.has(2) and ctx.dtype(2) != ctx.dtype(0):
        raise ctx.fail("the zero point must have x's element type")
    x = ctx.shape(0)
    for i in (1, 2):
        if ctx.has(i):
            _check_param_shape(ctx, i, x)
    out = ctx.attr("output_dtype") or ctx.dtype(1)
    if out not in FLOATS or ctx.dtype(1) not in FLOATS:
        raise ctx.fail(f"cannot dequantize to {out.short}")
    return [TensorType(out, x)]


@kernel("dequantize_linear")
def _dequantize(inputs: Arrays, attrs: Mapping[str, AttrValue]) -> Arrays:
    x, scale = inputs[0], inputs[1]
    zp = inputs[2] if len(inputs) > 2 else None
    y = x.astype(np.float32)
    if zp is not None:
        y = y - _expand_param(zp, x.shape, attrs).astype(np.float32)
    y = y * _expand_param(scale, x.shape, attrs).astype(np.float32)
    out = attrs.get("output_dtype") or DType.from_numpy(scale.dtype)
    with np.errstate(over="ignore"):  # int32 input may exceed float16: inf, as ONNX
        return [y.astype(out.to_numpy())]


@defop("dynamic_quantize_linear", onnx="DynamicQuantizeLinear", outputs=3, since=11)
def _dyn_quantize_infer(ctx: InferContext) -> list[TensorType]:
    """uint8 quantization with scale and zero point computed from x's range (including 0)."""
    if ctx.dtype(0) != DType.FLOAT32:
        raise ctx.fail("x must be float32")
    return [ctx.type(0).with_dtype(DType.UINT8), TensorType(DType.FLOAT32, ()),
            TensorType(DType.UINT8, ())]  # fmt: skip


@kernel("dynamic_quantize_linear")
def _dyn_quantize(inputs: Arrays, attrs: Mapping[str, AttrValue]) -> Arrays:
    x = inputs[0]
    hi = np.float32(max(0.0, float(np.max(x)))) if x.size else np.float32(0)
    lo = np.float32(min(0.0, float(np.min(x)))) if x.size else np.float32(0)
    scale = np.float32((hi - lo) if hi != lo else 1.0) / np.float32(255)
    zp = np.rint(np.clip(np.float32(0) - lo / scale, 0, 255))
    y = np.clip(np.rint(x / scale) + zp, 0, 255).astype(np.uint8)
    return [y, np.asarray(scale, dtype=np.float32), np.asarray(zp).astype(np.uint8)]


import compiler.ops.quant_linalg  # noqa: E402, F401  (integer matmul / conv ops)
