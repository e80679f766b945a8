"""Integer matmul and conv ops: MatMulInteger, ConvInteger, QLinearMatMul, QLinearConv.

Integer products accumulate exactly (int64, returned as int32 like ONNX). QLinear forms requantize
    y = saturate(round_half_even(acc * (x_scale * w_scale / y_scale)) + y_zero_point)
Per-row `a` and per-column `b` parameters (matmul) and per-output-channel weight parameters (conv)
are supported. Window arithmetic comes from `compiler.ops.nn`. Imported by `compiler.ops.quant`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from compiler.ir import AttrValue
from compiler.ops.common import broadcast_shapes
from compiler.ops.nn import (
    CONV_WINDOW_ATTRS,
    check_auto_pad,
    conv_output_shape,
    fill_window_attrs,
    ints_attr,
    resolve_pads,
    window_patches,
)
from compiler.registry import InferContext, InferDim, defop, kernel
from compiler.types import DType, TensorType

Arrays = list[Any]
_INT8 = frozenset({DType.INT8, DType.UINT8})
_CONV_ATTRS = CONV_WINDOW_ATTRS


def _check_int8(ctx: InferContext, *indices: int) -> None:
    for i in indices:
        if ctx.has(i) and ctx.dtype(i) not in _INT8:
            raise ctx.fail(f"input {i} must be int8 or uint8, got {ctx.dtype(i).short}")


def matmul_shape(a: Sequence[Any], b: Sequence[Any], ctx: InferContext) -> tuple[InferDim, ...]:
    """numpy.matmul result shape (1-D operands promoted and their unit dim dropped)."""
    if not a or not b:
        raise ctx.fail("matmul operands must have rank >= 1")
    aa = (1, *a) if len(a) == 1 else tuple(a)
    bb = (*b, 1) if len(b) == 1 else tuple(b)
    k1, k2 = aa[-1], bb[-2]
    if isinstance(k1, int) and isinstance(k2, int) and k1 != k2:
        raise ctx.fail(f"inner dims differ: {tuple(a)} @ {tuple(b)}")
    out = [*broadcast_shapes([aa[:-2], bb[:-2]], ctx.op), aa[-2], bb[-1]]
    if len(b) == 1:
        out.pop(-1)
    if len(a) == 1:
        out.pop(-2 if len(b) != 1 else -1)
    return tuple(out)


def _row_param(p: np.ndarray) -> np.ndarray:
    """A per-row parameter of `a` (M elements) broadcasts along rows: shape (M, 1)."""
    return p.reshape(-1, 1) if p.ndim == 1 and p.size > 1 else p


def _requantize(acc: np.ndarray, multiplier: Any, zero_point: np.ndarray) -> np.ndarray:
    info = np.iinfo(zero_point.dtype)
    y = np.rint(acc.astype(np.float64) * np.asarray(multiplier, dtype=np.float64))
    y = y + zero_point.astype(np.float64)
    return np.clip(y, info.min, info.max).astype(zero_point.dtype)


# -- matmul ---------------------------------------------------------------------------------------


@defop("matmul_integer", onnx="MatMulInteger", inputs=(2, 4), since=10)
def _matmul_integer_infer(ctx: InferContext) -> list[TensorType]:
    """Integer matmul of (A - a_zero_point) and (B - b_zero_point), exact in int32."""
    _check_int8(ctx, 0, 1, 2, 3)
    return [TensorType(DType.INT32, matmul_shape(ctx.shape(0), ctx.shape(1), ctx))]  # type: ignore[arg-type]


def _centered(x: np.ndarray, zp: np.ndarray | None) -> np.ndarray:
    out = x.astype(np.int64)
    return out if zp is None else out - zp.astype(np.int64)


@kernel("matmul_integer")
def _matmul_integer(inputs: Arrays, attrs: Mapping[str, AttrValue]) -> Arrays:
    a, b = inputs[0], inputs[1]
    a_zp = inputs[2] if len(inputs) > 2 else None
    b_zp = inputs[3] if len(inputs) > 3 else None
    acc = np.matmul(_centered(a, None if a_zp is None else _row_param(a_zp)), _centered(b, b_zp))
    return [acc.astype(np.int32)]


@defop("qlinear_matmul", onnx="QLinearMatMul", inputs=8, since=10)
def _qlinear_matmul_infer(ctx: InferContext) -> list[TensorType]:
    """Quantized matmul: requantize (a - a_zp) @ (b - b_zp) to y_scale / y_zero_point."""
    _check_int8(ctx, 0, 2, 3, 5, 7)
    for i in (1, 4, 6):
        if ctx.dtype(i) not in (DType.FLOAT32, DType.FLOAT16, DType.BFLOAT16):
            raise ctx.fail(f"scale input {i} must be a float tensor")
    shape = matmul_shape(ctx.shape(0), ctx.shape(3), ctx)
    return [TensorType(ctx.dtype(7), shape)]  # type: ignore[arg-type]


@kernel("qlinear_matmul")
def _qlinear_matmul(inputs: Arrays, attrs: Mapping[str, AttrValue]) -> Arrays:
    a, a_scale, a_zp, b, b_scale, b_zp, y_scale, y_zp = inputs
    acc = np.matmul(_centered(a, _row_param(a_zp)), _centered(b, b_zp))
    multiplier = _row_param(a_scale) * b_scale / y_scale  # in the scales' own type, as ONNX
    return [_requantize(acc, multiplier, y_zp)]


# -- conv -----------------------------------------------------------------------------------------


def _complete(weight_index: int) -> Any:
    def complete(attrs: dict[str, Any], ctx: InferContext) -> None:
        if not ctx.has(weight_index):
            return
        w = ctx.shape(weight_index)
        if "kernel_shape" not in attrs and all(isinstance(d, int) for d in w[2:]):
            attrs["kernel_shape"] = tuple(int(d) for d in w[2:])
        fill_window_attrs(attrs, max(len(w) - 2, 0))

    return complete


def _conv_infer(ctx: InferContext, xi: int, wi: int) -> tuple[InferDim, ...]:
    x, w = ctx.shape(xi), ctx.shape(wi)
    if len(x) < 3 or len(w) != len(x):
        raise ctx.fail(f"expected x of rank >= 3 and w of the same rank, got {len(x)} and {len(w)}")
    group = int(ctx.attr("group"))
    c, wc, m = x[1], w[1], w[0]
    if group < 1 or (isinstance(m, int) and m % group):
        raise ctx.fail(f"bad group {group} for {m} output channels")
    if isinstance(c, int) and isinstance(wc, int) and c != wc * group:
        raise ctx.fail(f"x has {c} channels but w expects {wc} x group {group}")
    nsp = len(x) - 2
    kernel_shape = ctx.attr("kernel_shape") or tuple(w[2:])
    pads = ctx.attr("pads") and ints_attr(ctx, "pads", 2 * nsp, 0)
    strides, dilations = ints_attr(ctx, "strides", nsp, 1), ints_attr(ctx, "dilations", nsp, 1)
    spatial = conv_output_shape(
        x[2:], kernel_shape, strides, dilations, pads, check_auto_pad(ctx), op=ctx.op
    )
    return (x[0], m, *spatial)


def _int_conv(x: np.ndarray, w: np.ndarray, attrs: Mapping[str, AttrValue]) -> np.ndarray:
    """Exact int64 grouped N-D convolution of already zero-point-centered tensors."""
    nsp = x.ndim - 2
    ks, strides, dil = w.shape[2:], attrs["strides"], attrs["dilations"]
    pads = resolve_pads(x.shape[2:], ks, strides, dil, attrs.get("pads"), attrs["auto_pad"])
    out = [int(d) for d in conv_output_shape(x.shape[2:], ks, strides, dil, pads)]  # type: ignore[arg-type]
    xp = np.pad(x, [(0, 0), (0, 0)] + [(pads[i], pads[i + nsp]) for i in range(nsp)])
    g, n, m = attrs["group"], x.shape[0], w.shape[0]
    cols = np.stack(window_patches(xp, ks, strides, dil, out), axis=2)  # N, C, K, *out
    cols = cols.reshape(n, g, -1, int(np.prod(out, dtype=np.int64)))  # N, G, Cg*K, P
    y = np.matmul(w.reshape(g, m // g, -1)[None], cols)
    return y.reshape(n, m, *out)  # type: ignore[arg-type]


def _channel_param(p: np.ndarray | None, rank: int) -> np.ndarray | None:
    """A per-output-channel parameter (M elements) broadcasts over (M, 1, ...)."""
    if p is None or p.size == 1:
        return None if p is None else p.reshape(())
    return p.reshape(-1, *([1] * (rank - 1)))


@defop(
    "conv_integer", onnx="ConvInteger", inputs=(2, 4), attrs=_CONV_ATTRS, since=10,
    complete=_complete(1),
)  # fmt: skip
def _conv_integer_infer(ctx: InferContext) -> list[TensorType]:
    """Integer convolution of (x - x_zero_point) and (w - w_zero_point), exact in int32."""
    _check_int8(ctx, 0, 1, 2, 3)
    return [TensorType(DType.INT32, _conv_infer(ctx, 0, 1))]  # type: ignore[arg-type]


@kernel("conv_integer")
def _conv_integer(inputs: Arrays, attrs: Mapping[str, AttrValue]) -> Arrays:
    x, w = inputs[0], inputs[1]
    x_zp = inputs[2] if len(inputs) > 2 else None
    w_zp = _channel_param(inputs[3] if len(inputs) > 3 else None, w.ndim)
    return [_int_conv(_centered(x, x_zp), _centered(w, w_zp), attrs).astype(np.int32)]


@defop(
    "qlinear_conv", onnx="QLinearConv", inputs=(8, 9), attrs=_CONV_ATTRS, since=10,
    complete=_complete(3),
)  # fmt: skip
def _qlinear_conv_infer(ctx: InferContext) -> list[TensorType]:
    """Quantized convolution with int32 bias, requantized to y_scale / y_zero_point."""
    _check_int8(ctx, 0, 2, 3, 5, 7)
    for i in (1, 4, 6):
        if ctx.dtype(i) != DType.FLOAT32:
            raise ctx.fail(f"scale input {i} must be float32")
    if ctx.has(8) and ctx.dtype(8) != DType.INT32:
        raise ctx.fail("bias must be int32")
    return [TensorType(ctx.dtype(7), _conv_infer(ctx, 0, 3))]  # type: ignore[arg-type]


@kernel("qlinear_conv")
def _qlinear_conv(inputs: Arrays, attrs: Mapping[str, AttrValue]) -> Arrays:
    x, x_scale, x_zp, w, w_scale, w_zp, y_scale, y_zp = inputs[:8]
    bias = inputs[8] if len(inputs) > 8 else None
    acc = _int_conv(_centered(x, x_zp), _centered(w, _channel_param(w_zp, w.ndim)), attrs)
    if bias is not None:
        acc = acc + bias.astype(np.int64).reshape(-1, *([1] * (x.ndim - 2)))
    w_scale = w_scale.reshape(-1, *([1] * (x.ndim - 2))) if w_scale.size > 1 else w_scale
    multiplier = x_scale * w_scale / y_scale  # float32, as ONNX
    return [_requantize(acc, multiplier, y_zp)]
