"""Convolutions, pooling and batch normalization.

conv: `add_convolution_nd(x, K, kernel, W, b)` with `pre_padding = pads[:n]`,
`post_padding = pads[n:]` (SAME_* pads resolved on static shapes, else TensorRT's SAME modes),
then the fused activation epilogue. A 1-D conv is unsqueezed to 2-D (TensorRT needs rank >= 4)
and squeezed back. A kernel that is not a constant (e.g. the output of a DequantizeLinear) is
attached with `set_input(1, t)` and an empty `Weights` argument.

conv_transpose: `add_deconvolution_nd` with K = W.shape[1]·group; ONNX `output_padding` extends
the end of each spatial dim, so it is subtracted from `post_padding` (a negative post padding
crops less, i.e. grows the output; TensorRT accepts it).

batch_normalization (inference): `s = γ/√(σ²+ε)`, `t = β − μ·s` folded on the host, then
`add_scale_nd(CHANNEL, shift=t, scale=s, channel_axis=1)` for rank 4/5, elementwise otherwise.
Pools map to `add_pooling_nd` (ceil_mode -> EXPLICIT_ROUND_UP, count_include_pad ->
`average_count_excludes_padding = False`); global pools to a keep-dims reduce over axes 2...
"""

from __future__ import annotations

from typing import Any

import numpy as np

from backends.tensorrt.converters.pointwise import apply_epilogue
from backends.tensorrt.emitter import Emitter
from backends.tensorrt.hostvalue import host_value
from backends.tensorrt.registry import converter
from compiler.ir import Node
from compiler.ops.nn import conv_transpose_pads, resolve_pads


def _spatial_pads(em: Emitter, node: Node, nsp: int) -> tuple[list[int] | None, str | None]:
    """Explicit `[begins..., ends...]` pads, or (None, TensorRT padding mode) for SAME_* on
    dynamic spatial dims."""
    x = node.inputs[0]
    assert x is not None
    spatial = em.dims(x)[2:]
    a = node.attrs
    auto_pad = str(a.get("auto_pad", "NOTSET"))
    if auto_pad in ("SAME_UPPER", "SAME_LOWER") and min(spatial) < 0:
        return None, auto_pad
    kernel = a.get("kernel_shape") or em.dims(node.inputs[1])[2:]  # type: ignore[arg-type]
    pads = resolve_pads(spatial, kernel, a["strides"], a.get("dilations") or (1,) * nsp,
                        a.get("pads"), auto_pad)  # fmt: skip
    return pads, None


def _configure_window(em: Emitter, node: Node, layer: Any, nsp: int, extra: int = 0) -> None:
    """Strides and pads of a conv/pool layer (`extra` spatial unit dims appended for 1-D)."""
    a = node.attrs
    pads, mode = _spatial_pads(em, node, nsp)
    layer.stride_nd = tuple(a["strides"]) + (1,) * extra
    if mode is not None:
        layer.padding_mode = getattr(em.trt.PaddingMode, mode)
        return
    assert pads is not None
    layer.pre_padding = tuple(pads[:nsp]) + (0,) * extra
    layer.post_padding = tuple(pads[nsp:]) + (0,) * extra


def _to_2d(em: Emitter, t: Any, rank: int) -> Any:
    """A 1-D (rank 3) conv/pool input with a trailing unit dim."""
    if rank != 3:
        return t
    axes = em.constant(np.array([3], dtype=np.int64))
    return em.out(em.network.add_unsqueeze(t, axes))


def _from_2d(em: Emitter, t: Any, rank: int) -> Any:
    if rank != 3:
        return t
    axes = em.constant(np.array([3], dtype=np.int64))
    return em.out(em.network.add_squeeze(t, axes))


def _conv_check(node: Node) -> str | None:
    x = node.inputs[0]
    if x is None or x.type.shape is None or len(x.type.shape) not in (3, 4, 5):
        return "TensorRT convolutions take 1-D, 2-D or 3-D inputs (rank 3 to 5)"
    return None


@converter("conv", check=_conv_check)
def convert_conv(em: Emitter, node: Node) -> list[Any]:
    x, w = node.inputs[0], node.inputs[1]
    assert x is not None and w is not None
    rank, wdims = em.rank(x), em.dims(w)
    nsp, extra = rank - 2, 1 if rank == 3 else 0
    kernel = em.const(w)
    bias = em.const(node.inputs[2]) if len(node.inputs) > 2 else None
    weights = _weights(em, kernel, x.type.dtype.to_numpy())
    layer = em.network.add_convolution_nd(
        _to_2d(em, em.tensor(x), rank), wdims[0], tuple(wdims[2:]) + (1,) * extra, weights,
        _weights(em, bias, x.type.dtype.to_numpy()),
    )  # fmt: skip
    em.name(layer)
    if kernel is None:
        layer.set_input(1, _kernel_tensor(em, w, extra))
    b_v = node.inputs[2] if len(node.inputs) > 2 else None
    if b_v is not None and bias is None:
        layer.set_input(2, em.tensor(b_v))
    layer.num_groups = int(node.attrs["group"])
    layer.dilation_nd = tuple(node.attrs["dilations"]) + (1,) * extra
    _configure_window(em, node, layer, nsp, extra)
    y = _from_2d(em, layer.get_output(0), rank)
    return [apply_epilogue(em, node, y)]


def _kernel_tensor(em: Emitter, w: Any, extra: int) -> Any:
    t = em.tensor(w)
    if not extra:
        return t
    axes = em.constant(np.array([3], dtype=np.int64))
    return em.out(em.network.add_unsqueeze(t, axes))


def _weights(em: Emitter, array: np.ndarray | None, dtype: Any) -> Any:
    """TensorRT Weights of `array` (kept alive), or empty Weights of `dtype`."""
    if array is None:
        return em.trt.Weights(em.trt.float16 if dtype == np.float16 else em.trt.float32)
    data = np.ascontiguousarray(array)
    em.keep.append(data)
    return em.trt.Weights(data)


def _deconv_check(node: Node) -> str | None:
    problem = _conv_check(node)
    if problem:
        return problem
    w = node.inputs[1]
    if w is None or host_value(w) is None:
        return "conv_transpose needs a constant kernel here"
    x = node.inputs[0]
    spatial = () if x is None or x.type.shape is None else x.type.shape[2:]
    if not all(isinstance(d, int) for d in spatial):
        return "conv_transpose needs static spatial dims"
    return None


@converter("conv_transpose", check=_deconv_check)
def convert_conv_transpose(em: Emitter, node: Node) -> list[Any]:
    x, w = node.inputs[0], node.inputs[1]
    assert x is not None and w is not None
    a = node.attrs
    rank, kernel = em.rank(x), em.const(w)
    assert kernel is not None
    nsp, extra = rank - 2, 1 if rank == 3 else 0
    group = int(a["group"])
    bias = em.const(node.inputs[2]) if len(node.inputs) > 2 else None
    dtype = x.type.dtype.to_numpy()
    layer = em.network.add_deconvolution_nd(
        _to_2d(em, em.tensor(x), rank), kernel.shape[1] * group,
        tuple(kernel.shape[2:]) + (1,) * extra, _weights(em, kernel, dtype),
        _weights(em, bias, dtype),
    )  # fmt: skip
    em.name(layer)
    pads = conv_transpose_pads(dict(a), em.dims(x)[2:], kernel.shape[2:])
    post = [p - op for p, op in zip(pads[nsp:], a["output_padding"], strict=True)]
    layer.num_groups = group
    layer.stride_nd = tuple(a["strides"]) + (1,) * extra
    layer.dilation_nd = tuple(a["dilations"]) + (1,) * extra
    layer.pre_padding = tuple(pads[:nsp]) + (0,) * extra
    layer.post_padding = tuple(post) + (0,) * extra
    y = _from_2d(em, layer.get_output(0), rank)
    return [apply_epilogue(em, node, y)]


def _pool_check(node: Node) -> str | None:
    x = node.inputs[0]
    if x is None or x.type.shape is None or len(x.type.shape) not in (3, 4, 5):
        return "TensorRT pooling takes 1-D, 2-D or 3-D windows (rank 3 to 5)"
    if any(d != 1 for d in node.attrs.get("dilations") or ()):
        return "TensorRT pooling has no dilation"
    return None


@converter("max_pool", "average_pool", check=_pool_check)
def convert_pool(em: Emitter, node: Node) -> list[Any]:
    x = node.inputs[0]
    assert x is not None
    a, rank = node.attrs, em.rank(x)
    nsp, extra = rank - 2, 1 if rank == 3 else 0
    kind = em.trt.PoolingType.MAX if node.op == "max_pool" else em.trt.PoolingType.AVERAGE
    window = tuple(a["kernel_shape"]) + (1,) * extra
    layer = em.network.add_pooling_nd(_to_2d(em, em.tensor(x), rank), kind, window)
    em.name(layer)
    _configure_window(em, node, layer, nsp, extra)
    if a.get("ceil_mode"):
        layer.padding_mode = em.trt.PaddingMode.EXPLICIT_ROUND_UP
    if node.op == "average_pool":
        layer.average_count_excludes_padding = not a.get("count_include_pad")
    return [_from_2d(em, layer.get_output(0), rank), None]


@converter("global_average_pool", "global_max_pool")
def convert_global_pool(em: Emitter, node: Node) -> list[Any]:
    x = node.inputs[0]
    assert x is not None
    op = "AVG" if node.op == "global_average_pool" else "MAX"
    return [em.reduce(em.tensor(x), op, range(2, em.rank(x)), keep=True)]


def _bn_check(node: Node) -> str | None:
    if node.attrs.get("training_mode"):
        return "training-mode batch normalization"
    if any(v is None or host_value(v) is None for v in node.inputs[1:5]):
        return "batch normalization parameters must be constants"
    return None


@converter("batch_normalization", check=_bn_check)
def convert_batch_norm(em: Emitter, node: Node) -> list[Any]:
    x = node.inputs[0]
    assert x is not None
    gamma, beta, mean, var = (np.asarray(em.const(v), np.float64) for v in node.inputs[1:5])
    scale = gamma / np.sqrt(var + float(node.attrs["epsilon"]))
    shift = beta - mean * scale
    dtype, rank = x.type.dtype.to_numpy(), em.rank(x)
    t = em.tensor(x)
    if rank in (4, 5):
        s, b = scale.astype(dtype), shift.astype(dtype)
        em.keep += [s, b]
        power = _weights(em, None, dtype)
        layer = em.network.add_scale_nd(t, em.trt.ScaleMode.CHANNEL, b, s, power, 1)
        return [em.out(layer)]
    shape = (1, -1) + (1,) * (rank - 2)
    s = em.constant(scale.astype(dtype).reshape(shape))
    b = em.constant(shift.astype(dtype).reshape(shape))
    return [em.elementwise(em.elementwise(t, s, "PROD"), b, "SUM")]


@converter("lrn")
def convert_lrn(em: Emitter, node: Node) -> list[Any]:
    x = node.inputs[0]
    assert x is not None
    a = node.attrs
    layer = em.network.add_lrn(em.tensor(x), int(a["size"]), float(a["alpha"]),
                               float(a["beta"]), float(a["bias"]))  # fmt: skip
    return [em.out(layer)]
