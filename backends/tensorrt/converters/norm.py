"""Normalizations, resize and pad.

layer_normalization: `add_normalization(x, scale, bias, mask = bits axis..r−1)` with scale and
bias rank-aligned (an absent bias is a zero constant). instance_normalization: mask = spatial
axes, scale/bias `(1, C, 1, ...)`. rms_normalization has no layer and is decomposed:
`y = x / √(mean(x², axes) + ε) · scale`.
resize: constant scales/sizes; the static output dims of the IR type go to `shape`, else the
scales go to `scales`. Modes map as the ONNX parser maps them (TENSORRT.md §7).
pad: one slice with start −pre and size dim + pre + post, mode FILL (constant, value on input 4),
REFLECT, CLAMP (edge) or WRAP.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from backends.tensorrt.converters.shape import slice_tensor
from backends.tensorrt.emitter import Emitter
from backends.tensorrt.hostvalue import host_value
from backends.tensorrt.registry import converter
from compiler.ir import Node, Value


def _x(node: Node) -> Value:
    x = node.inputs[0]
    assert x is not None
    return x


def _aligned(em: Emitter, v: Value | None, like: np.ndarray | None, rank: int,
             shape: tuple[int, ...] | None = None) -> Any:  # fmt: skip
    """A scale/bias input as a rank-`rank` tensor (zeros shaped like `like` when absent)."""
    if v is None:
        assert like is not None
        return em.constant(np.zeros((1,) * (rank - like.ndim) + like.shape, like.dtype))
    array = host_value(v)
    if array is not None and shape is not None:
        return em.constant(array.reshape(shape))
    return em.operand(v, rank)


def _norm_check(node: Node) -> str | None:
    if any(o.uses or o.is_graph_output for o in node.outputs[1:]):
        return "mean / inverse std-dev outputs are not produced"
    return None


@converter("layer_normalization", check=_norm_check)
def convert_layer_norm(em: Emitter, node: Node) -> list[Any]:
    x = _x(node)
    rank = em.rank(x)
    axis = int(node.attrs["axis"]) % rank
    scale_v = node.inputs[1]
    bias_v = node.inputs[2] if len(node.inputs) > 2 else None
    scale = _aligned(em, scale_v, None, rank)
    like = np.zeros(em.dims(scale_v), x.type.dtype.to_numpy()) if bias_v is None else None  # type: ignore[arg-type]
    bias = _aligned(em, bias_v, like, rank)
    mask = sum(1 << a for a in range(axis, rank))
    layer = em.network.add_normalization(em.tensor(x), scale, bias, mask)
    layer.epsilon = float(node.attrs["epsilon"])
    return [em.out(layer), None, None]


@converter("instance_normalization")
def convert_instance_norm(em: Emitter, node: Node) -> list[Any]:
    x = _x(node)
    rank = em.rank(x)
    shape = (1, -1) + (1,) * (rank - 2)
    scale = _aligned(em, node.inputs[1], None, rank, shape)
    bias = _aligned(em, node.inputs[2], None, rank, shape)
    layer = em.network.add_normalization(em.tensor(x), scale, bias,
                                         sum(1 << a for a in range(2, rank)))  # fmt: skip
    layer.epsilon = float(node.attrs["epsilon"])
    return [em.out(layer)]


@converter("rms_normalization")
def convert_rms_norm(em: Emitter, node: Node) -> list[Any]:
    x = _x(node)
    rank, t = em.rank(x), em.tensor(x)
    axes = list(range(int(node.attrs["axis"]) % rank, rank))
    ms = em.reduce(em.elementwise(t, t, "PROD"), "AVG", axes, True)
    eps = em.scalar_like(float(node.attrs["epsilon"]), x.type.dtype, rank)
    rms = em.unary(em.elementwise(ms, eps, "SUM"), "SQRT")
    y = em.elementwise(t, rms, "DIV")
    scale_v = node.inputs[1]
    assert scale_v is not None
    return [em.elementwise(y, em.operand(scale_v, rank), "PROD")]


_TRANSFORMS = {"half_pixel": "HALF_PIXEL", "align_corners": "ALIGN_CORNERS",
               "asymmetric": "ASYMMETRIC", "pytorch_half_pixel": "HALF_PIXEL"}  # fmt: skip
_ROUNDING = {"floor": "FLOOR", "ceil": "CEIL", "round_prefer_floor": "HALF_DOWN",
             "round_prefer_ceil": "HALF_UP"}  # fmt: skip


def _resize_check(node: Node) -> str | None:
    a = node.attrs
    if a.get("antialias") or a.get("axes") is not None:
        return "resize with antialias or axes"
    if a.get("coordinate_transformation_mode") not in _TRANSFORMS:
        return f"coordinate_transformation_mode {a.get('coordinate_transformation_mode')}"
    if a.get("keep_aspect_ratio_policy", "stretch") != "stretch":
        return "keep_aspect_ratio_policy other than stretch"
    if any(v is not None and host_value(v) is None for v in node.inputs[2:]):
        return "resize with run-time scales or sizes"
    return None


@converter("resize", check=_resize_check)
def convert_resize(em: Emitter, node: Node) -> list[Any]:
    x, out = _x(node), node.outputs[0]
    a, trt = node.attrs, em.trt
    layer = em.network.add_resize(em.tensor(x))
    layer.resize_mode = getattr(trt.InterpolationMode, str(a["mode"]).upper())
    ctm = str(a["coordinate_transformation_mode"])
    layer.coordinate_transformation = getattr(trt.ResizeCoordinateTransformation, _TRANSFORMS[ctm])
    if ctm == "pytorch_half_pixel":
        layer.selector_for_single_pixel = trt.ResizeSelector.UPPER
    layer.nearest_rounding = getattr(trt.ResizeRoundMode, _ROUNDING[str(a["nearest_mode"])])
    layer.cubic_coeff = float(a["cubic_coeff_a"])
    layer.exclude_outside = bool(a["exclude_outside"])
    dims = em.dims(out)
    scales = em.const(node.inputs[2]) if len(node.inputs) > 2 else None
    if scales is None or scales.size == 0:
        layer.shape = dims  # sizes: the IR's static output dims
    else:  # scales drive the coordinate map (x / scale), not in/out; see docs
        layer.scales = [float(s) for s in scales]
    return [em.out(layer)]


_PAD_MODES = {"constant": "FILL", "reflect": "REFLECT", "edge": "CLAMP", "wrap": "WRAP"}


def _pad_check(node: Node) -> str | None:
    if any(v is not None and host_value(v) is None for v in node.inputs[1:]):
        return "pad needs constant pads, value and axes"
    if node.attrs.get("mode") not in _PAD_MODES:
        return f"pad mode {node.attrs.get('mode')}"
    return None


@converter("pad", check=_pad_check)
def convert_pad(em: Emitter, node: Node) -> list[Any]:
    x = _x(node)
    dims = em.dims(x)
    rank = len(dims)
    pads = np.asarray(em.const(node.inputs[1])).astype(np.int64).reshape(-1)
    axes_v = node.inputs[3] if len(node.inputs) > 3 else None
    axes = [int(a) % rank for a in em.const(axes_v)] if axes_v is not None else list(range(rank))  # type: ignore[union-attr]
    pre, post = [0] * rank, [0] * rank
    for i, a in enumerate(axes):
        pre[a], post[a] = int(pads[i]), int(pads[i + len(axes)])
    size = [d + p + q if d >= 0 else -1 for d, p, q in zip(dims, pre, post, strict=True)]
    mode = str(node.attrs["mode"])
    fill = None
    if mode == "constant":
        value_v = node.inputs[2] if len(node.inputs) > 2 else None
        value = em.const(value_v) if value_v is not None else None
        array = np.asarray(0 if value is None else value, x.type.dtype.to_numpy()).reshape(())
        fill = em.constant(array)
    start = [-p for p in pre]
    return [slice_tensor(em, em.tensor(x), x, start, size, [1] * rank, _PAD_MODES[mode], fill)]
