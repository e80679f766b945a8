"""More per-layer rules of the network interpreter: matmul, gather, scale, top-k, resize,
Q/DQ, normalization, parametric ReLU, fill, cumulative, einsum, padding."""

from __future__ import annotations

from typing import Any

import numpy as np

from backends.tensorrt.interp_layers import _axes, _wide, rule, typed


@rule("MATRIX_MULTIPLY")
def _matmul(trt: Any, layer: Any, ins: list[Any]) -> list[np.ndarray]:
    a, b = (_wide(v) for v in ins)
    op0, op1 = layer.op0.name, layer.op1.name
    if op0 == "TRANSPOSE":
        a = np.swapaxes(a, -1, -2)
    if op1 == "TRANSPOSE":
        b = np.swapaxes(b, -1, -2)
    if op0 == "VECTOR":
        a = a[..., None, :]
    if op1 == "VECTOR":
        b = b[..., :, None]
    if a.ndim != b.ndim:
        raise AssertionError(f"{layer.name}: matmul ranks differ")
    y = np.matmul(a, b)
    if op1 == "VECTOR":
        y = y[..., 0]
    if op0 == "VECTOR":
        y = y[..., 0] if op1 == "VECTOR" else y[..., 0, :]
    return [typed(trt, layer, y)]


@rule("GATHER")
def _gather(trt: Any, layer: Any, ins: list[Any]) -> list[np.ndarray]:
    x, idx = ins
    mode, axis = layer.mode.name, layer.axis
    if layer.num_elementwise_dims and mode != "ND":
        raise NotImplementedError("gather with elementwise dims")
    if mode == "DEFAULT":
        fixed = np.where(idx < 0, idx + x.shape[axis], idx)
        return [typed(trt, layer, np.take(x, fixed, axis=axis))]
    if mode == "ELEMENT":
        fixed = np.where(idx < 0, idx + x.shape[axis], idx)
        return [typed(trt, layer, np.take_along_axis(x, fixed, axis=axis))]
    if mode == "ND":
        return [typed(trt, layer, _gather_nd(x, idx, layer.num_elementwise_dims))]
    raise NotImplementedError(f"gather mode {mode}")


def _gather_nd(x: np.ndarray, idx: np.ndarray, b: int) -> np.ndarray:
    """out[batch..., i...] = x[batch..., *idx[batch..., i..., :]] (b shared batch dims)."""
    q = idx.shape[-1]
    xb = x.reshape((-1, *x.shape[b:]))
    ib = idx.reshape((xb.shape[0], -1, q))
    rows = [xb[k][tuple(ib[k].T)] for k in range(xb.shape[0])]
    return np.stack(rows).reshape(idx.shape[:-1] + x.shape[b + q :])


@rule("SCALE")
def _scale(trt: Any, layer: Any, ins: list[Any]) -> list[np.ndarray]:
    x = ins[0].astype(np.float64)
    mode = layer.mode.name
    axis = layer.channel_axis
    shape = {"UNIFORM": (), "CHANNEL": (-1,) + (1,) * (x.ndim - axis - 1),
             "ELEMENTWISE": x.shape[axis:]}[mode]  # fmt: skip

    def param(w: Any, default: float) -> Any:
        arr = np.asarray(w, np.float64)
        return default if arr.size == 0 else arr.reshape(shape)

    y = (x * param(layer.scale, 1.0) + param(layer.shift, 0.0)) ** param(layer.power, 1.0)
    return [typed(trt, layer, y)]


@rule("TOPK")
def _topk(trt: Any, layer: Any, ins: list[Any]) -> list[np.ndarray]:
    x = ins[0]
    (axis,) = _axes(layer.axes, x.ndim)
    k = int(np.asarray(ins[1]).reshape(())) if len(ins) > 1 and ins[1] is not None else layer.k
    key = -x if layer.op.name == "MAX" else x
    order = np.argsort(key, axis=axis, kind="stable")
    idx = np.take(order, np.arange(k), axis=axis)
    return [typed(trt, layer, np.take_along_axis(x, idx, axis=axis)), typed(trt, layer, idx, 1)]


@rule("QUANTIZE")
def _quantize(trt: Any, layer: Any, ins: list[Any]) -> list[np.ndarray]:
    x, scale = ins[0].astype(np.float32), ins[1].astype(np.float32)
    scale = _per_axis(scale, x.ndim, layer.axis)
    if layer.to_type != trt.DataType.INT8:
        raise NotImplementedError(f"quantize to {layer.to_type}")
    q = np.clip(np.rint(x / scale), -128, 127)
    return [typed(trt, layer, q)]


@rule("DEQUANTIZE")
def _dequantize(trt: Any, layer: Any, ins: list[Any]) -> list[np.ndarray]:
    q, scale = ins[0].astype(np.float32), ins[1].astype(np.float32)
    return [typed(trt, layer, q * _per_axis(scale, q.ndim, layer.axis))]


def _per_axis(scale: np.ndarray, rank: int, axis: int) -> np.ndarray:
    if scale.ndim == 0 or scale.size == 1:
        return scale.reshape(())
    dims = [1] * rank
    dims[axis % rank] = scale.size
    return scale.reshape(dims)


@rule("NORMALIZATION")
def _normalization(trt: Any, layer: Any, ins: list[Any]) -> list[np.ndarray]:
    x, scale, bias = (v.astype(np.float64) for v in ins)
    if layer.num_groups != 1:
        raise NotImplementedError("group normalization")
    axes = _axes(layer.axes, x.ndim)
    mean = np.mean(x, axis=axes, keepdims=True)
    var = np.mean((x - mean) ** 2, axis=axes, keepdims=True)
    y = (x - mean) / np.sqrt(var + layer.epsilon) * scale + bias
    return [typed(trt, layer, y)]


@rule("PARAMETRIC_RELU")
def _prelu(trt: Any, layer: Any, ins: list[Any]) -> list[np.ndarray]:
    x, slope = ins
    return [typed(trt, layer, np.where(x >= 0, x, x * slope))]


@rule("FILL")
def _fill(trt: Any, layer: Any, ins: list[Any]) -> list[np.ndarray]:
    if layer.operation.name != "LINSPACE":
        raise NotImplementedError(f"fill {layer.operation.name}")
    shape = [int(d) for d in np.asarray(ins[0]).reshape(-1)] if ins and ins[0] is not None \
        else list(layer.shape)  # fmt: skip
    alpha = np.asarray(ins[1]) if len(ins) > 1 and ins[1] is not None else layer.alpha
    beta = np.asarray(ins[2]).reshape(-1) if len(ins) > 2 and ins[2] is not None else layer.beta
    grids = np.indices(shape)
    y = np.asarray(alpha).reshape(()) + sum(g * b for g, b in zip(grids, beta, strict=True))
    return [typed(trt, layer, y)]


@rule("CUMULATIVE")
def _cumulative(trt: Any, layer: Any, ins: list[Any]) -> list[np.ndarray]:
    x, axis = ins[0], int(np.asarray(ins[1]).reshape(()))
    y = np.flip(x, axis) if layer.reverse else x
    c = np.cumsum(y, axis=axis)
    if layer.exclusive:
        c = c - y
    return [typed(trt, layer, np.flip(c, axis) if layer.reverse else c)]


@rule("EINSUM")
def _einsum(trt: Any, layer: Any, ins: list[Any]) -> list[np.ndarray]:
    return [typed(trt, layer, np.einsum(layer.equation, *(_wide(v) for v in ins)))]


@rule("PADDING")
def _padding(trt: Any, layer: Any, ins: list[Any]) -> list[np.ndarray]:
    x = ins[0]
    pre, post = tuple(layer.pre_padding_nd), tuple(layer.post_padding_nd)
    lead = x.ndim - len(pre)
    widths = [(0, 0)] * lead + [(max(a, 0), max(b, 0)) for a, b in zip(pre, post, strict=True)]
    y = np.pad(x, widths)
    pairs = enumerate(zip(pre, post, strict=True))
    tail = [slice(max(-a, 0), y.shape[lead + i] - max(-b, 0)) for i, (a, b) in pairs]
    crop = tuple([slice(None)] * lead + tail)
    return [typed(trt, layer, y[crop])]


@rule("RESIZE")
def _resize(trt: Any, layer: Any, ins: list[Any]) -> list[np.ndarray]:
    from compiler.registry import get_op

    x = ins[0]
    mode = layer.resize_mode.name.lower()
    ctm = layer.coordinate_transformation.name.lower()
    if layer.selector_for_single_pixel.name == "UPPER" and ctm == "half_pixel":
        ctm = "pytorch_half_pixel"
    rounding = {"FLOOR": "floor", "CEIL": "ceil", "HALF_DOWN": "round_prefer_floor",
                "HALF_UP": "round_prefer_ceil"}[layer.nearest_rounding.name]  # fmt: skip
    attrs = {"mode": mode, "coordinate_transformation_mode": ctm, "nearest_mode": rounding,
             "cubic_coeff_a": layer.cubic_coeff, "exclude_outside": int(layer.exclude_outside),
             "antialias": 0, "axes": None, "extrapolation_value": 0.0,
             "keep_aspect_ratio_policy": "stretch"}  # fmt: skip
    shape = layer.shape
    sizes = np.array(tuple(shape), np.int64) if shape is not None else None
    scales = None if sizes is not None else np.array(layer.scales, np.float32)
    fn = get_op("resize").kernel
    assert fn is not None
    y = fn([_wide(x), None, scales, sizes], attrs)[0]
    return [typed(trt, layer, y)]


@rule("SCATTER")
def _scatter(trt: Any, layer: Any, ins: list[Any]) -> list[np.ndarray]:
    x, idx, upd = ins
    y = x.copy()
    if layer.mode.name == "ELEMENT":
        coords = list(np.indices(idx.shape))  # no broadcasting (unlike np.put_along_axis)
        coords[layer.axis] = np.where(idx < 0, idx + x.shape[layer.axis], idx)
        y[tuple(coords)] = upd
        return [typed(trt, layer, y)]
    q = idx.shape[-1]
    flat_idx = idx.reshape(-1, q)
    flat_upd = upd.reshape((flat_idx.shape[0], *x.shape[q:]))
    for k, where in enumerate(flat_idx):
        y[tuple(where)] = flat_upd[k]
    return [typed(trt, layer, y)]


@rule("ONE_HOT")
def _one_hot(trt: Any, layer: Any, ins: list[Any]) -> list[np.ndarray]:
    idx, values, depth = ins
    d = int(np.asarray(depth).reshape(()))
    fixed = np.where(idx < 0, idx + d, idx)
    hot = fixed[..., None] == np.arange(d)
    y = np.where(hot, values[1], values[0])
    return [typed(trt, layer, np.moveaxis(y, -1, layer.axis))]
