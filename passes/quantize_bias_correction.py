"""Bias correction for quantized weights (Nagel et al. 2019, "Data-Free Quantization", §4.2).

Not a registered pass: it needs the mean of each layer's input over the calibration data, which
the driver (`compiler.quantize`) collects. It runs before `quantize-symmetric` and computes the
same `W_q` (`passes.quantize_symmetric`), so that the expected output of each layer is unchanged
by weight rounding:

    E[y_q] − E[y] = (W_q − W) · E[x]        ⇒        b' = b − (W_q − W) · E[x]

- conv: `shift[m] = mean over positions of conv(μ, ΔW)[m]` with μ the input's mean map over the
  batch (`[C, H, W]`); by linearity this is exactly E[conv(x, ΔW)], zero padding included;
- gemm `α·A'·B' + β·C`: `shift[n] = α · Σ_k μ_k ΔB'[k, n]`, μ the mean of A' over its rows;
  `C' = C − shift / β`.

Only layers with a float32 constant bias of shape `[M]` (conv) or `[N]` / `[1, N]` (gemm, β ≠ 0)
are corrected; the bias stays float (TensorRT adds it in float).

Before / after: `%y = conv(%x, %w, %b)` becomes `%y = conv(%x, %w, %b')` with a new constant.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

import numpy as np

from compiler.graph import Graph
from compiler.ir import Node
from compiler.registry import get_op
from compiler.text.printer import Namer, graph_values
from passes.quantize_symmetric import quantize_symmetric, symmetric_scale, weight_axis


def correct_biases(
    graph: Graph,
    means: Mapping[str, np.ndarray],
    *,
    bits: int = 8,
    per_channel: bool = True,
    skip: Collection[str] = (),
) -> int:
    """Correct the biases of conv / gemm layers whose input mean is in `means` (by printed
    value name of input 0). Returns the number of corrected layers."""
    namer = Namer(graph_values(graph))
    count = 0
    for node in graph.nodes:
        if node.op not in ("conv", "gemm") or namer.name(node.outputs[0]) in skip:
            continue
        x = node.inputs[0]
        mean = means.get(namer.name(x)) if x is not None else None
        if mean is None:
            continue
        shift = _shift(node, np.asarray(mean, np.float64), bits, per_channel)
        if shift is not None and _set_bias(graph, node, shift):
            count += 1
    return count


def _weight_delta(node: Node, bits: int, per_channel: bool) -> np.ndarray | None:
    weight = node.inputs[1] if len(node.inputs) > 1 else None
    w = weight.const_value() if weight is not None else None
    if w is None or w.dtype != np.float32:
        return None
    axis = weight_axis(node, w) if per_channel else None
    scale = symmetric_scale(w, axis, bits)
    q = quantize_symmetric(w, scale, axis, bits).astype(np.float32)
    shape = [-1 if i == axis else 1 for i in range(w.ndim)]
    w_q = (q * (scale.reshape(shape) if axis is not None else scale)).astype(np.float32)
    return w_q.astype(np.float64) - w.astype(np.float64)


def _shift(node: Node, mean: np.ndarray, bits: int, per_channel: bool) -> np.ndarray | None:
    delta = _weight_delta(node, bits, per_channel)
    if delta is None:
        return None
    if node.op == "conv":
        attrs = {k: v for k, v in node.attrs.items() if not k.startswith("activation")}
        kernel = get_op("conv").kernel
        if kernel is None or mean.ndim != delta.ndim - 1:
            return None
        (y,) = kernel([mean[None], delta], attrs)
        return np.asarray(y, np.float64).mean(axis=tuple(i for i in range(y.ndim) if i != 1))
    b = delta.T if node.attrs["transB"] else delta
    if b.ndim != 2 or mean.size != b.shape[0]:
        return None
    return np.asarray(float(node.attrs["alpha"]) * (mean @ b))


def _set_bias(graph: Graph, node: Node, shift: np.ndarray) -> bool:
    bias = node.inputs[2] if len(node.inputs) > 2 else None
    value = bias.const_value() if bias is not None else None
    if value is None or value.dtype != np.float32 or value.size != shift.size:
        return False
    if node.op == "gemm":
        beta = float(node.attrs["beta"])
        if beta == 0.0 or value.shape not in ((shift.size,), (1, shift.size)):
            return False
        shift = shift / beta
    new = (value.astype(np.float64) - shift.reshape(value.shape)).astype(np.float32)
    with graph.inserting_before(node) as b:
        node.set_input(2, b.const(new, f"{bias.name}.corrected" if bias else "", loc=node.loc))
    if bias is not None and bias.num_uses == 0 and bias.producer is not None:
        graph.erase(bias.producer)
    return True


__all__ = ["correct_biases"]
