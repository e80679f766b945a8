"""`fold-bn-scale`: merge per-channel `Mul` / `Add` constants after a BatchNormalization into it.

Inference BN is a per-channel affine map of x: with `s = γ / √(σ² + ε)`,

    BN(x) = s · (x − μ) + β

so a per-channel scale `c` or shift `d` applied afterwards (Caffe2's "scale" layer in densenet121
and inception_v2) is again a BN with

    c · BN(x) = (c·γ) / √(σ² + ε) · (x − μ) + c·β      →  γ' = c·γ,  β' = c·β
    BN(x) + d = γ / √(σ² + ε) · (x − μ) + (β + d)      →  β' = β + d

A constant qualifies when it broadcasts along the channel axis only: its shape, after leading
1s are dropped, is `[C, 1, ..., 1]` with as many trailing 1s as x has spatial dims, or it has
one element. The BN's output must have no other user, and the BN must be in inference mode.

Before:

```
graph @main(%x: f32[N,2,4,4]) -> (f32[N,2,4,4]) {
  ...
  %y = batch_normalization(%x, %g, %b, %m, %v) {epsilon = 1e-05, ...} : f32[N,2,4,4]
  %c = const() {value = dense<f32[2,1,1]: [2.0, 3.0]>} : f32[2,1,1]
  %z = mul(%y, %c) : f32[N,2,4,4]
  return %z
}
```

After: `%z = batch_normalization(%x, %g2, %b2, %m, %v)` with `%g2 = %g · c`, `%b2 = %b · c`; the
BN takes the folded node's value name (`%z`) and the fused location of both nodes.

Numerics: `c·γ` and `c·β` are rounded once at compile time, which moves results by at most one
rounding per element (within the derived tolerance).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from compiler.graph import Graph
from compiler.ir import Node, Value
from compiler.location import fuse
from compiler.passmanager import Pass, register_pass
from passes.common import forward, insert_const


@register_pass
@dataclass(frozen=True)
class FoldBnScalePass(Pass):
    """Fold per-channel constant Mul/Add that follow a BatchNormalization into its γ/β."""

    name: ClassVar[str] = "fold-bn-scale"

    def run(self, graph: Graph) -> bool:
        changed = False
        for node in graph.nodes:
            if node.op in ("mul", "add") and node.graph is graph and _fold(graph, node):
                changed = True
        return changed


def _fold(graph: Graph, node: Node) -> bool:
    split = _bn_and_constant(node)
    if split is None:
        return False
    bn, vector = split
    gamma, beta = (v.const_value() for v in bn.inputs[1:3])  # type: ignore[union-attr]
    assert gamma is not None and beta is not None
    if node.op == "mul":
        gamma, beta = gamma * vector, beta * vector
    else:
        beta = beta + vector
    dtype = bn.inputs[1].dtype.to_numpy()  # type: ignore[union-attr]
    name = bn.output.name
    bn.set_input(1, insert_const(graph, gamma.astype(dtype), f"{name}_scale", bn))
    bn.set_input(2, insert_const(graph, beta.astype(dtype), f"{name}_bias", bn))
    # the BN now computes what the folded node computed: it takes that value's name (what users
    # and layer maps see) and both origins (provenance)
    bn.output.name = node.output.name
    bn.loc = fuse(bn.loc, node.loc)
    forward(node.output, bn.output)
    graph.erase(node)
    return True


def _bn_and_constant(node: Node) -> tuple[Node, np.ndarray] | None:
    """(the BN, the per-channel vector of length C) when `node` folds into a BN."""
    for y, c in (node.inputs, tuple(reversed(node.inputs))):
        if y is None or c is None or y.producer is None or y.producer.op != "batch_normalization":
            continue
        bn = y.producer
        if y.num_uses != 1 or y.is_graph_output or not _inference_bn(bn):
            continue
        if node.output.type != y.type:
            continue
        vector = _channel_vector(c, y)
        if vector is not None:
            return bn, vector
    return None


def _inference_bn(bn: Node) -> bool:
    if bn.attrs.get("training_mode", 0) or len(bn.outputs) != 1:
        return False
    return all(v is not None and v.const_value() is not None for v in bn.inputs[1:3])


def _channel_vector(c: Value, y: Value) -> np.ndarray | None:
    """c's values as a length-C vector when c varies along y's channel axis (1) only."""
    array, shape = c.const_value(), y.type.shape
    if array is None or shape is None or len(shape) < 2 or not isinstance(shape[1], int):
        return None
    channels = shape[1]
    if array.size == 1:
        return np.full(channels, array.reshape(-1)[0], dtype=array.dtype)
    dims = list(array.shape)
    while dims and dims[0] == 1 and len(dims) > len(shape) - 1:
        dims.pop(0)  # leading 1s: broadcast over the batch
    if dims != [channels] + [1] * (len(shape) - 2):
        return None
    return np.ascontiguousarray(array).reshape(channels)


__all__ = ["FoldBnScalePass"]
