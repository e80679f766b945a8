"""`quantize-symmetric`: symmetric integer weights of conv, conv_transpose, gemm and matmul.

Every float constant weight `W` of a layer becomes an integer constant and a scale constant
feeding a `dequantize_linear` node (zero point zero): the explicit Q/DQ form TensorRT and ONNX
Runtime consume.

Before / after (per-channel int8, conv output-channel axis 0):

```
%w = const() ... : f32[8,3,3,3]
%c = conv(%x, %w) {...} : f32[1,8,16,16]
  ==>
%w.q = const() ... : i8[8,3,3,3]
%w.scale = const() ... : f32[8]
%w.zp = const() ... : i8[8]
%w.dq = dequantize_linear(%w.q, %w.scale, %w.zp) {axis = 0, ...} : f32[8,3,3,3]
%c = conv(%x, %w.dq) {...} : f32[1,8,16,16]
```

Arithmetic (all in float32, IEEE round-to-nearest; `qmax = 2^(bits−1) − 1`, 127 or 7):

    m_c = max |W[c]|                     (per output channel c, or over all of W per tensor)
    α_c = m_c / qmax                     (one float32 division); α_c = 1 when m_c = 0
    q   = clip(round_half_even(W / α_c), −qmax, qmax)     stored as int8 / int4
    W_q = α_c · q                        (what `dequantize_linear` computes)

`q` equals ONNX `QuantizeLinear(W, α, 0)` (the same float32 division and half-to-even rounding):
`|W / α_c| ≤ qmax` up to one rounding, so the symmetric clip to ±qmax never moves a value by more
than that rounding and −qmax−1 (−128, −8) is never used. Hence `|W − W_q| ≤ α_c/2` up to float32
rounding of the division and the product (a relative 2⁻²⁴ of |W|). An all-zero channel (m_c = 0)
gets scale 1 (TensorRT rejects zero scales; any scale gives q = 0 = W). Weights with NaN or ±inf
are refused (PassError naming the node).

Output-channel axis: conv 0 (`[M, C/g, k...]`); conv_transpose 1 (`[C, M/g, k...]`; with groups
the M/g scales are shared by the groups); gemm 0 with `transB = 1` (`[N, K]`), else 1; matmul the
last axis of B (`[..., K, N]`; a 1-D B is per tensor). Only input 1 (B / W) is quantized, when it
is a float constant; biases stay float (TensorRT adds them in float). A weight shared by several
layers is quantized once. `skip` lists printed output names of layers to leave in float (the
sensitivity tooling keeps layers in float this way).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from compiler.errors import PassError
from compiler.graph import Graph
from compiler.ir import Node, Value
from compiler.passmanager import Pass, note, register_pass
from compiler.text.printer import Namer, graph_values
from compiler.types import DType

LAYER_OPS = ("conv", "conv_transpose", "gemm", "matmul")
INT_TYPES = {8: DType.INT8, 4: DType.INT4}


def qmax_of(bits: int) -> int:
    """The largest magnitude of a symmetric `bits`-bit integer (127 for 8 bits, 7 for 4)."""
    return (1 << (bits - 1)) - 1


def weight_axis(node: Node, weight: np.ndarray) -> int | None:
    """The output-channel axis of `node`'s weight (input 1), or None when it has none (1-D B)."""
    if node.op == "conv":
        return 0
    if node.op == "conv_transpose":
        return 1
    if weight.ndim < 2:
        return None
    if node.op == "gemm":
        return 0 if node.attrs["transB"] else 1
    return weight.ndim - 1


def symmetric_scale(weight: np.ndarray, axis: int | None, bits: int) -> np.ndarray:
    """α = max|W| / qmax per slice along `axis` (a 0-d array when `axis` is None), float32.

    Zero slices get α = 1 (see the module docstring).
    """
    w = np.asarray(weight, np.float32)
    if axis is None:
        peak = np.max(np.abs(w), initial=np.float32(0)).astype(np.float32)
    else:
        others = tuple(i for i in range(w.ndim) if i != axis)
        peak = np.max(np.abs(w), axis=others, initial=np.float32(0)).astype(np.float32)
    alpha = (peak / np.float32(qmax_of(bits))).astype(np.float32)
    return np.where(alpha == 0, np.float32(1), alpha).astype(np.float32)


def quantize_symmetric(
    weight: np.ndarray, scale: np.ndarray, axis: int | None, bits: int
) -> np.ndarray:
    """q = clip(round_half_even(W / α), −qmax, qmax) as int8 (or ml_dtypes int4 for 4 bits)."""
    w = np.asarray(weight, np.float32)
    shape = [1] * w.ndim
    if axis is not None:
        shape[axis] = -1
    with np.errstate(divide="ignore", invalid="ignore"):
        scaled = w / np.asarray(scale, np.float32).reshape(shape if axis is not None else ())
    qmax = qmax_of(bits)
    q = np.clip(np.rint(scaled), -qmax, qmax).astype(np.int8)
    return q.astype(INT_TYPES[bits].to_numpy())


@register_pass
@dataclass(frozen=True)
class QuantizeSymmetricPass(Pass):
    """Symmetric per-channel (default) or per-tensor integer weights in Q/DQ form."""

    name: ClassVar[str] = "quantize-symmetric"
    changes_numerics: ClassVar[bool] = True
    bits: int = 8
    per_channel: bool = True
    skip: str = ""

    def __post_init__(self) -> None:
        if self.bits not in INT_TYPES:
            raise ValueError(f"bits must be 8 or 4, not {self.bits}")

    def run(self, graph: Graph) -> bool:
        namer = Namer(graph_values(graph))
        skipped = {s for s in self.skip.split(",") if s}
        done: dict[Value, Value] = {}
        changed = False
        for node in graph.nodes:
            if node.op not in LAYER_OPS or namer.name(node.outputs[0]) in skipped:
                continue
            changed |= self._quantize_node(graph, node, done, namer)
        for weight in done:
            if weight.num_uses == 0 and not weight.is_graph_output and weight.producer:
                graph.erase(weight.producer)
        return changed

    def _quantize_node(
        self, graph: Graph, node: Node, done: dict[Value, Value], namer: Namer
    ) -> bool:
        weight = node.inputs[1] if len(node.inputs) > 1 else None
        if weight is None:
            return False
        if weight in done:
            node.set_input(1, done[weight])
            return True
        array = weight.const_value()
        if array is None or array.dtype != np.float32:
            return False
        if not np.all(np.isfinite(array)):
            raise PassError(
                f"quantize-symmetric: weight {namer.name(weight)} of {node.op} "
                f"{namer.name(node.outputs[0])} holds NaN or inf", node.loc
            )  # fmt: skip
        done[weight] = self._dequantized(graph, node, weight, np.asarray(array), namer)
        node.set_input(1, done[weight])
        note(f"{node.op} {namer.name(node.outputs[0])}: {self.bits}-bit weights")
        return True

    def _dequantized(
        self, graph: Graph, node: Node, weight: Value, array: np.ndarray, namer: Namer
    ) -> Value:
        axis = weight_axis(node, array) if self.per_channel else None
        scale = symmetric_scale(array, axis, self.bits)
        q = quantize_symmetric(array, scale, axis, self.bits)
        zero = np.zeros(scale.shape, dtype=q.dtype)
        base = namer.name(weight)
        anchor = weight.producer if weight.producer is not None else node
        with graph.inserting_before(anchor) as b:
            qv = b.const(q, f"{base}.q", loc=anchor.loc)
            sv = b.const(scale, f"{base}.scale", loc=anchor.loc)
            zv = b.const(zero, f"{base}.zp", loc=anchor.loc)
            out: Value = b.op("dequantize_linear", qv, sv, zv, axis=axis or 0, loc=anchor.loc)
        out.name = f"{base}.dq"
        return out


__all__ = ["LAYER_OPS", "QuantizeSymmetricPass", "quantize_symmetric", "symmetric_scale",
           "qmax_of", "weight_axis"]  # fmt: skip
