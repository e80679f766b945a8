"""Comparison tolerances derived from the dtype and the reduction depth of a graph.

Two correct implementations of a float graph differ only by rounding. A dot product or reduction
of length K rounds with a relative error of about `u * sqrt(K)` (errors of independent roundings
add in quadrature; `u` is the unit roundoff: 2**-24 for float32, 2**-11 for float16). Along a path
of nodes the per-node errors add in quadrature too, so the relative error of an output is about

    u * sqrt(D),   D = max over paths from the inputs of  sum_{nodes on the path} K(node)

where K(node) is the node's accumulation length (conv: C_in/group * prod(kernel); matmul/gemm:
the contracted dim; reductions, pools, softmax, normalizations: the elements reduced; every other
op: 1, one rounding). The difference of two implementations is bounded normwise by

    |a - b| <= atol = SAFETY * u * sqrt(D) * max|reference|

SAFETY = 16 covers both sides rounding (x2), a 4-sigma tail of the statistical bound (x4) and the
modest error growth of well-conditioned layers (x2). Integer and boolean outputs must be exact.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from compiler.graph import Graph
from compiler.ir import Node, Value
from compiler.types import DType

SAFETY = 16.0
UNIT_ROUNDOFF = {
    DType.FLOAT64: 2.0**-53, DType.FLOAT32: 2.0**-24, DType.FLOAT16: 2.0**-11,
    DType.BFLOAT16: 2.0**-8,
}  # fmt: skip
_CONVS = ("conv", "conv_integer", "qlinear_conv")
_MATMULS = ("matmul", "matmul_integer", "qlinear_matmul", "gemm")
_WINDOWED = ("average_pool", "lp_pool")
_LAST_AXES = ("layer_normalization", "rms_normalization")
_PER_CHANNEL = ("instance_normalization", "group_normalization", "lp_normalization")


@dataclass(frozen=True)
class Tolerance:
    """The bound for one output: `atol` on the max abs difference (0 = exact)."""

    atol: float
    depth: int
    unit_roundoff: float
    scale: float

    def describe(self) -> str:
        return (f"atol {self.atol:.3g} = {SAFETY:g} * u {self.unit_roundoff:.3g}"
                f" * sqrt(D {self.depth}) * max|ref| {self.scale:.3g}")  # fmt: skip


def _dims(value: Value | None) -> tuple[int, ...]:
    """Static dims (symbols count as 1: they are batch-like, never reduced here)."""
    if value is None or value.type.shape is None:
        return ()
    return tuple(d if isinstance(d, int) else 1 for d in value.type.shape)


def _numel(value: Value | None) -> int:
    return math.prod(_dims(value))


def accumulation_length(node: Node) -> int:
    """K(node): how many terms one output element of `node` accumulates (1 for pointwise ops)."""
    op, ins = node.op, node.inputs
    if op in _CONVS:
        return math.prod(_dims(ins[3 if op == "qlinear_conv" else 1])[1:]) or 1
    if op == "conv_transpose":
        w = _dims(ins[1])
        return max(1, w[0] // int(node.attrs.get("group", 1)) * math.prod(w[2:]))
    if op in _MATMULS:
        a = _dims(ins[0])
        transposed = op == "gemm" and node.attrs.get("transA")
        return (a[0] if transposed else a[-1]) if a else 1
    if op in _WINDOWED:
        return math.prod(node.attrs.get("kernel_shape") or (1,))
    if op in ("softmax", "log_softmax"):
        x = _dims(ins[0])
        return x[int(node.attrs.get("axis", -1))] if x else 1
    if op in _LAST_AXES:
        x = _dims(ins[0])
        return math.prod(x[int(node.attrs.get("axis", -1)) :]) or 1
    if op in _PER_CHANNEL or op.startswith(("reduce_", "global_")) or op == "einsum":
        return max(
            1, max(_numel(v) for v in ins if v is not None) // max(_numel(node.outputs[0]), 1)
        )
    if op == "lrn":
        return int(node.attrs.get("size", 1))
    return 1


def accumulation_depths(graph: Graph) -> dict[Value, int]:
    """D(value) for every node output: the largest sum of K along a path from the inputs."""
    depth: dict[Value, int] = {}
    for node in graph.nodes:
        here = max((depth.get(v, 0) for v in node.inputs if v is not None), default=0)
        k = 0 if node.op == "const" else accumulation_length(node)
        for out in node.outputs:
            depth[out] = here + k
    return depth


def derive_tolerances(
    graph: Graph, reference: dict[str, np.ndarray], values: list[Value] | None = None
) -> dict[str, Tolerance]:
    """One tolerance per graph output (or per value of `values`), by name, scaled by the
    magnitude of the reference array of that name."""
    depths = accumulation_depths(graph)
    out: dict[str, Tolerance] = {}
    for value in graph.outputs if values is None else values:
        ref = np.asarray(reference[value.name])
        u = UNIT_ROUNDOFF.get(value.type.dtype, 0.0)
        depth = max(depths.get(value, 1), 1)
        scale = float(np.max(np.abs(ref), initial=0.0)) if u and ref.size else 0.0
        out[value.name] = Tolerance(SAFETY * u * math.sqrt(depth) * scale, depth, u, scale)
    return out


def max_abs_error(got: np.ndarray, ref: np.ndarray) -> float:
    """Largest absolute difference (inf when shapes differ or NaNs do not match)."""
    got, ref = np.asarray(got), np.asarray(ref)
    if got.shape != ref.shape:
        return math.inf
    a, b = got.astype(np.float64), ref.astype(np.float64)
    if not np.array_equal(np.isnan(a), np.isnan(b)):
        return math.inf
    diff = np.abs(np.where(np.isnan(a), 0.0, a - b))
    return float(np.max(diff, initial=0.0))
