"""Normalization ops: BatchNormalization (inference), Instance/Layer/Group/RMS normalization,
LpNormalization and LRN.

`stash_type` is the ONNX TensorProto element type of the statistics (1 = float32); kernels compute
the statistics in that type and cast the result back to the input type.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from compiler.ops.common import normalize_axis, require_same_dtype
from compiler.ops.derived import derived
from compiler.ops.nn import accum_dtype
from compiler.registry import REQUIRED, InferContext, InferDim, attr, defop, kernel
from compiler.types import DType, TensorType

_STASH = {1: DType.FLOAT32, 10: DType.FLOAT16, 11: DType.FLOAT64, 16: DType.BFLOAT16}


def stash_dtype(ctx: InferContext) -> DType:
    code = int(ctx.attr("stash_type"))
    if code not in _STASH:
        raise ctx.fail(f"stash_type {code} is not a float type code")
    return _STASH[code]


def _check_vector(ctx: InferContext, i: int, n: InferDim, what: str) -> None:
    if not ctx.dtype(i).is_float:  # ONNX: a float type (a fusing pass computes in float64)
        raise ctx.fail(f"{what} must be a float tensor, got {ctx.dtype(i).short}")
    shape = ctx.shape(i)
    if len(shape) != 1 or (isinstance(n, int) and isinstance(shape[0], int) and shape[0] != n):
        raise ctx.fail(f"{what} must have shape [{n}], got {list(shape)}")


def _channel_shape(x: np.ndarray) -> tuple[int, ...]:
    return (-1, *([1] * (x.ndim - 2)))


# -- BatchNormalization ----------------------------------------------------------------------------

_BN_ATTRS = {
    "epsilon": attr("float", 1e-5),
    "momentum": attr("float", 0.9),
    "training_mode": attr("int", 0),
}


@defop("batch_normalization", onnx="BatchNormalization", inputs=5, attrs=_BN_ATTRS, since=14)
def _batch_normalization(ctx: InferContext) -> list[TensorType]:
    """Inference batch norm: (x - mean) / sqrt(var + eps) * scale + B over channel axis 1."""
    if ctx.attr("training_mode"):
        raise ctx.fail("training_mode=1 is not supported (inference form only)")
    x = ctx.shape(0)
    if len(x) < 2:
        raise ctx.fail(f"expected an input of rank >= 2, got {len(x)}")
    for i, what in enumerate(("scale", "B", "input_mean", "input_var"), start=1):
        _check_vector(ctx, i, x[1], what)
    return [ctx.type(0)]


@kernel("batch_normalization")
def _batch_normalization_kernel(inputs: list[Any], attrs: dict[str, Any]) -> list[np.ndarray]:
    return [_batch_norm(inputs, attrs, inplace=False)]


@kernel("batch_normalization", variant="inplace")
def _batch_normalization_inplace(inputs: list[Any], attrs: dict[str, Any]) -> list[np.ndarray]:
    return [_batch_norm(inputs, attrs, inplace=True)]


def _batch_norm(inputs: list[Any], attrs: dict[str, Any], inplace: bool) -> np.ndarray:
    """(x - mean) * (scale / sqrt(var + eps)) + bias, per channel, in three in-place passes over
    one fresh buffer (or over x itself when `inplace` and x is in the accumulation dtype)."""
    x, scale, bias, mean, var = inputs
    acc = accum_dtype(x.dtype)
    eps = attrs["epsilon"]
    m, inv, b = derived((scale, bias, mean, var), ("bn", acc, x.ndim, eps),
                        lambda s, b, m, v: _bn_factors(s, b, m, v, acc, x.ndim, eps))  # fmt: skip
    # one fresh buffer (or the donated input), then in place
    out = x if inplace and x.dtype == acc else None
    y = np.subtract(x, m, dtype=acc, out=out)
    y *= inv
    y += b
    return y.astype(x.dtype, copy=False)


def _bn_factors(
    scale: np.ndarray, bias: np.ndarray, mean: np.ndarray, var: np.ndarray, acc: np.dtype,
    ndim: int, eps: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """Mean, 1/sqrt(var + eps) * scale and bias in `acc`, shaped to broadcast over channels."""
    shape = (-1, *([1] * (ndim - 2)))
    inv = scale.astype(acc) / np.sqrt(var.astype(acc) + np.asarray(eps, acc))
    return (mean.astype(acc, copy=False).reshape(shape), inv.reshape(shape),
            bias.astype(acc, copy=False).reshape(shape))  # fmt: skip


# -- InstanceNormalization -------------------------------------------------------------------------


@defop("instance_normalization", onnx="InstanceNormalization", inputs=3, since=6,
       attrs={"epsilon": attr("float", 1e-5)})  # fmt: skip
def _instance_normalization(ctx: InferContext) -> list[TensorType]:
    """Normalize each (n, c) plane over its spatial dims, then scale and shift per channel."""
    x = ctx.shape(0)
    if len(x) < 3:
        raise ctx.fail(f"expected an input of rank >= 3, got {len(x)}")
    _check_vector(ctx, 1, x[1], "scale")
    _check_vector(ctx, 2, x[1], "B")
    return [ctx.type(0)]


def _normalize(x: np.ndarray, axes: tuple[int, ...], eps: float, acc: np.dtype) -> np.ndarray:
    xa = x.astype(acc)
    mean = np.mean(xa, axis=axes, keepdims=True)
    var = np.mean(np.square(xa - mean), axis=axes, keepdims=True)
    return (xa - mean) / np.sqrt(var + np.asarray(eps, acc))


@kernel("instance_normalization")
def _instance_normalization_kernel(inputs: list[Any], attrs: dict[str, Any]) -> list[np.ndarray]:
    x, scale, bias = inputs
    acc = accum_dtype(x.dtype)
    y = _normalize(x, tuple(range(2, x.ndim)), attrs["epsilon"], acc)
    y = y * scale.astype(acc).reshape(_channel_shape(x)) + bias.astype(acc).reshape(
        _channel_shape(x)
    )
    return [y.astype(x.dtype)]


# -- LayerNormalization / RMSNormalization ---------------------------------------------------------

_LN_ATTRS = {"axis": attr("int", -1), "epsilon": attr("float", 1e-5), "stash_type": attr("int", 1)}


def _check_trailing(ctx: InferContext, i: int, tail: Sequence[InferDim], what: str) -> None:
    """`what` must broadcast unidirectionally to the normalized trailing dims."""
    shape = ctx.shape(i)
    if len(shape) > len(tail):
        raise ctx.fail(f"{what} of rank {len(shape)} is longer than the normalized dims")
    for d, t in zip(shape[::-1], tail[::-1], strict=False):
        if isinstance(d, int) and isinstance(t, int) and d not in (1, t):
            raise ctx.fail(f"{what} shape {list(shape)} does not broadcast to {list(tail)}")


@defop("layer_normalization", onnx="LayerNormalization", inputs=(2, 3), outputs=(1, 3),
       attrs=_LN_ATTRS, since=17)  # fmt: skip
def _layer_normalization(ctx: InferContext) -> list[TensorType]:
    """Normalize over dims [axis:], then Scale (and B); optional Mean and InvStdDev outputs."""
    x = ctx.shape(0)
    dtype = require_same_dtype(ctx, 0, 1, 2)
    axis = normalize_axis(int(ctx.attr("axis")), len(x), ctx.op)
    _check_trailing(ctx, 1, x[axis:], "Scale")
    if ctx.has(2):
        _check_trailing(ctx, 2, x[axis:], "B")
    stats = TensorType(stash_dtype(ctx), (*x[:axis], *([1] * (len(x) - axis))))
    return [TensorType(dtype, x), stats, stats][: ctx.num_outputs]


@kernel("layer_normalization")
def _layer_normalization_kernel(inputs: list[Any], attrs: dict[str, Any]) -> list[np.ndarray]:
    x, scale = inputs[0], inputs[1]
    bias = inputs[2] if len(inputs) > 2 else None
    acc = _STASH[attrs["stash_type"]].to_numpy()
    axes = tuple(range(attrs["axis"] % x.ndim, x.ndim))
    xa = x.astype(acc)
    mean = np.mean(xa, axis=axes, keepdims=True)
    inv_std = 1.0 / np.sqrt(np.mean(np.square(xa - mean), axis=axes, keepdims=True)
                            + np.asarray(attrs["epsilon"], acc))  # fmt: skip
    y = (xa - mean) * inv_std * scale.astype(acc)
    if bias is not None:
        y = y + bias.astype(acc)
    return [y.astype(x.dtype), mean.astype(acc), inv_std.astype(acc)]


@defop("rms_normalization", onnx="RMSNormalization", inputs=2, attrs=_LN_ATTRS, since=23)
def _rms_normalization(ctx: InferContext) -> list[TensorType]:
    """x / sqrt(mean(x^2 over dims [axis:]) + eps) * scale."""
    x = ctx.shape(0)
    dtype = require_same_dtype(ctx, 0, 1)
    axis = normalize_axis(int(ctx.attr("axis")), len(x), ctx.op)
    _check_trailing(ctx, 1, x[axis:], "scale")
    stash_dtype(ctx)
    return [TensorType(dtype, x)]


@kernel("rms_normalization")
def _rms_normalization_kernel(inputs: list[Any], attrs: dict[str, Any]) -> list[np.ndarray]:
    x, scale = inputs
    acc = _STASH[attrs["stash_type"]].to_numpy()
    axes = tuple(range(attrs["axis"] % x.ndim, x.ndim))
    xa = x.astype(acc)
    ms = np.mean(np.square(xa), axis=axes, keepdims=True)
    y = xa / np.sqrt(ms + np.asarray(attrs["epsilon"], acc)) * scale.astype(acc)
    return [y.astype(x.dtype)]


# -- GroupNormalization ----------------------------------------------------------------------------


@defop("group_normalization", onnx="GroupNormalization", inputs=3, since=21, attrs={
    "epsilon": attr("float", 1e-5), "num_groups": attr("int", REQUIRED),
    "stash_type": attr("int", 1),
})  # fmt: skip
def _group_normalization(ctx: InferContext) -> list[TensorType]:
    """Normalize channel groups over (channels of the group, spatial), then per-channel affine."""
    x = ctx.shape(0)
    if len(x) < 2:
        raise ctx.fail(f"expected an input of rank >= 2, got {len(x)}")
    groups = int(ctx.attr("num_groups"))
    if groups < 1 or (isinstance(x[1], int) and x[1] % groups):
        raise ctx.fail(f"{x[1]} channels are not divisible into {groups} groups")
    _check_vector(ctx, 1, x[1], "scale")
    _check_vector(ctx, 2, x[1], "bias")
    stash_dtype(ctx)
    return [ctx.type(0)]


@kernel("group_normalization")
def _group_normalization_kernel(inputs: list[Any], attrs: dict[str, Any]) -> list[np.ndarray]:
    x, scale, bias = inputs
    acc = _STASH[attrs["stash_type"]].to_numpy()
    grouped = x.reshape(x.shape[0], attrs["num_groups"], -1)
    y = _normalize(grouped, (2,), attrs["epsilon"], acc).reshape(x.shape)
    shape = _channel_shape(x)
    y = y * scale.astype(acc).reshape(shape) + bias.astype(acc).reshape(shape)
    return [y.astype(x.dtype)]


# -- LpNormalization, LRN --------------------------------------------------------------------------


@defop("lp_normalization", onnx="LpNormalization", since=1,
       attrs={"axis": attr("int", -1), "p": attr("int", 2)})  # fmt: skip
def _lp_normalization(ctx: InferContext) -> list[TensorType]:
    """x / ||x||_p along one axis (p is 1 or 2; a zero norm gives 0)."""
    normalize_axis(int(ctx.attr("axis")), len(ctx.shape(0)), ctx.op)
    if ctx.attr("p") not in (1, 2):
        raise ctx.fail(f"p must be 1 or 2, got {ctx.attr('p')}")
    return [ctx.type(0)]


@kernel("lp_normalization")
def _lp_normalization_kernel(inputs: list[Any], attrs: dict[str, Any]) -> list[np.ndarray]:
    x = inputs[0]
    xa = x.astype(accum_dtype(x.dtype))
    p, axis = attrs["p"], attrs["axis"]
    norm = (
        np.sum(np.abs(xa), axis=axis, keepdims=True)
        if p == 1
        else np.sqrt(np.sum(np.square(xa), axis=axis, keepdims=True))
    )
    safe = np.where(norm == 0, 1, norm)
    return [np.where(norm == 0, 0, xa / safe).astype(x.dtype)]


@defop("lrn", onnx="LRN", since=1, attrs={
    "alpha": attr("float", 1e-4), "beta": attr("float", 0.75), "bias": attr("float", 1.0),
    "size": attr("int", REQUIRED),
})  # fmt: skip
def _lrn(ctx: InferContext) -> list[TensorType]:
    """Local response normalization across channels (axis 1)."""
    if len(ctx.shape(0)) < 3:
        raise ctx.fail(f"expected an input of rank >= 3, got {len(ctx.shape(0))}")
    if int(ctx.attr("size")) < 1:
        raise ctx.fail("size must be positive")
    return [ctx.type(0)]


@kernel("lrn")
def _lrn_kernel(inputs: list[Any], attrs: dict[str, Any]) -> list[np.ndarray]:
    x, size = inputs[0], attrs["size"]
    acc = accum_dtype(x.dtype)
    sq = np.square(x.astype(acc))
    lo, hi = (size - 1) // 2, size - 1 - (size - 1) // 2
    padded = np.pad(sq, [(0, 0), (lo, hi)] + [(0, 0)] * (x.ndim - 2))
    csum = np.cumsum(padded, axis=1, dtype=acc)
    csum = np.concatenate([np.zeros_like(csum[:, :1]), csum], axis=1)
    window = csum[:, size:] - csum[:, :-size]
    base = np.asarray(attrs["bias"], acc) + np.asarray(attrs["alpha"] / size, acc) * window
    return [(x.astype(acc) / base ** np.asarray(attrs["beta"], acc)).astype(x.dtype)]
