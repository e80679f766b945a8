"""QuantizeLinear / DequantizeLinear -> TensorRT IQuantizeLayer / IDequantizeLayer.

TensorRT quantization is symmetric: the zero point must be all zeros (it is then dropped) and
the quantized type is int8 (or fp8 E4M3); uint8 and nonzero zero points are refused. The scale is
a build-time constant tensor (`add_constant`); a single-element scale is per-tensor (`axis` left
at TensorRT's −1), a 1-D scale of `x.shape[axis]` elements is per-axis (`layer.axis = axis`).
Blocked quantization (`block_size > 0`) is refused. Output types are explicit (strong typing):
`add_quantize(x, scale, int8)`, `add_dequantize(q, scale, scale dtype or output_dtype)`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from backends.tensorrt import _trt
from backends.tensorrt.emitter import Emitter
from backends.tensorrt.hostvalue import host_value
from backends.tensorrt.registry import converter
from compiler.ir import Node
from compiler.types import DType

_QTYPES = (DType.INT8, DType.FLOAT8E4M3FN)


def _qdq_check(node: Node) -> str | None:
    x = node.inputs[0]
    scale = node.inputs[1]
    zp = node.inputs[2] if len(node.inputs) > 2 else None
    qtype = node.outputs[0].type.dtype if node.op == "quantize_linear" else x.type.dtype  # type: ignore[union-attr]
    if qtype not in _QTYPES:
        return f"TensorRT quantizes to int8 or fp8 only (symmetric), not {qtype.short}"
    if scale is None or host_value(scale) is None:
        return "the scale must be a constant"
    if zp is not None and (host_value(zp) is None or np.any(host_value(zp) != 0)):
        return "TensorRT quantization is symmetric: the zero point must be a constant 0"
    if node.attrs.get("block_size"):
        return "blocked quantization (block_size > 0)"
    if node.attrs.get("precision") is not None:
        return "quantize_linear with a precision attribute"
    return None


def _scale(em: Emitter, node: Node) -> tuple[Any, int | None]:
    """The scale tensor and the per-axis axis (None for per-tensor)."""
    scale = em.const(node.inputs[1])
    x = node.inputs[0]
    assert scale is not None and x is not None
    if scale.size == 1:
        return em.constant(scale.reshape(())), None
    return em.constant(scale.reshape(-1)), int(node.attrs["axis"]) % em.rank(x)


@converter("quantize_linear", check=_qdq_check)
def convert_quantize(em: Emitter, node: Node) -> list[Any]:
    return [_qdq_layer(em, node, em.network.add_quantize)]


@converter("dequantize_linear", check=_qdq_check)
def convert_dequantize(em: Emitter, node: Node) -> list[Any]:
    return [_qdq_layer(em, node, em.network.add_dequantize)]


def _qdq_layer(em: Emitter, node: Node, add: Any) -> Any:
    """`add(x, scale, output type)` (add_quantize / add_dequantize) with the per-axis axis set."""
    x = node.inputs[0]
    assert x is not None
    scale, axis = _scale(em, node)
    to = _trt.trt_dtype(em.trt, node.outputs[0].type.dtype)
    layer = add(em.tensor(x), scale, to)
    if axis is not None:
        layer.axis = axis
    return em.out(layer)
