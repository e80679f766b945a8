"""`fuse-layer-norm`: recognise the expanded LayerNorm formula and use `layer_normalization`.

Exporters write LayerNorm over the last axes as

    μ = ReduceMean(x, axes),  d = x − μ,  σ² = ReduceMean(d ^ 2, axes)
    y = d / √(σ² + ε) · γ + β

which is `LayerNormalization(x, γ, β, axis = −len(axes), epsilon = ε)` (opset 17) when `axes`
are the trailing axes, both means keep dims, the exponent is 2, ε is a scalar constant, and γ, β
are constants broadcasting over the normalized dims only. Without the Mul (Add) γ = 1 (β = 0).
Every intermediate must have no users outside the pattern.

Before (10 nodes):

```
%m = reduce_mean(%x, %axes) {keepdims = 1, ...} : f32[N,64,1]
%d = sub(%x, %m)            %p = pow(%d, %two)
%v = reduce_mean(%p, %axes) {keepdims = 1, ...} : f32[N,64,1]
%e = add(%v, %eps)          %s = sqrt(%e)            %n = div(%d, %s)
%g = mul(%n, %gamma)        %y = add(%g, %beta) : f32[N,64,128]
```

After: `%y = layer_normalization(%x, %gamma, %beta) {axis = -1, epsilon = 1e-05, stash_type = 1}`.

Numerics: the same formula evaluated by one kernel; ORT and the reference backend compute it
with float32 (or wider) accumulation, within the derived tolerance of a reduction over the
normalized elements.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from compiler.graph import Graph
from compiler.ir import Node, Value
from compiler.location import fuse
from compiler.passmanager import Pass, register_pass
from passes.common import all_equal_to, forward, insert_const


@register_pass
@dataclass(frozen=True)
class FuseLayerNormPass(Pass):
    """Replace ReduceMean/Sub/Pow/ReduceMean/Add/Sqrt/Div(/Mul/Add) by layer_normalization."""

    name: ClassVar[str] = "fuse-layer-norm"

    def run(self, graph: Graph) -> bool:
        changed = False
        for node in graph.nodes:
            if node.op == "div" and node.graph is graph and _fuse(graph, node):
                changed = True
        return changed


def _producer(value: Value | None, op: str) -> Node | None:
    if value is None or value.producer is None or value.producer.op != op:
        return None
    return value.producer


def _only_user(value: Value | None, node: Node) -> bool:
    if value is None:
        return False
    return not value.is_graph_output and all(u.node is node for u in value.uses)


def _trailing_axes(mean: Node, rank: int) -> int | None:
    """The number of trailing axes a keepdims ReduceMean reduces, or None."""
    axes = mean.input(1)
    array = None if axes is None else axes.const_value()
    if array is None or not mean.attrs.get("keepdims", 1) or array.size == 0:
        return None
    normalized = sorted(int(a) % rank for a in array.reshape(-1))
    count = len(normalized)
    return count if normalized == list(range(rank - count, rank)) else None


def _match_core(div: Node) -> tuple[Value, int, float, list[Node]] | None:
    """(x, number of normalized axes, epsilon, matched nodes) of d / sqrt(var(d) + eps)."""
    d, s = div.inputs
    sub, sqrt = _producer(d, "sub"), _producer(s, "sqrt")
    add = _producer(sqrt.inputs[0], "add") if sqrt else None
    var = _producer(add.inputs[0], "reduce_mean") if add else None
    pow_ = _producer(var.inputs[0], "pow") if var else None
    if not (sub and sqrt and add and var and pow_) or pow_.inputs[0] is not d:
        return None
    x, mu = sub.inputs
    mean = _producer(mu, "reduce_mean")
    if x is None or x.type.shape is None or mean is None or mean.inputs[0] is not x:
        return None
    rank = len(x.type.shape)
    axes = _trailing_axes(mean, rank)
    eps = add.inputs[1].const_value() if add.inputs[1] is not None else None
    if axes is None or axes != _trailing_axes(var, rank) or eps is None or eps.size != 1:
        return None
    if not all_equal_to(pow_.inputs[1].const_value() if pow_.inputs[1] else None, 2):
        return None
    nodes = [mean, sub, pow_, var, add, sqrt, div]
    inner = [(mu, sub), (pow_.output, var), (var.output, add), (add.output, sqrt),
             (sqrt.output, div)]  # fmt: skip
    if not all(_only_user(v, n) for v, n in inner) or not _d_used_twice(d, sub, pow_, div):
        return None
    return x, axes, float(eps.reshape(-1)[0]), nodes


def _d_used_twice(d: Value | None, sub: Node, pow_: Node, div: Node) -> bool:
    assert d is not None
    return not d.is_graph_output and {u.node for u in d.uses} == {pow_, div}


def _affine(value: Value, op: str, norm_shape: tuple[int, ...]) -> tuple[Node, np.ndarray] | None:
    """The single `value * γ` (or `+ β`) user with a constant over the normalized dims."""
    if value.is_graph_output or value.num_uses != 1:
        return None
    user = value.uses[0].node
    if user.op != op:
        return None
    other = user.inputs[1] if user.inputs[0] is value else user.inputs[0]
    array = None if other is None else other.const_value()
    if array is None or user.output.type != value.type or array.ndim > len(norm_shape):
        return None
    try:
        full = np.broadcast_to(array, norm_shape)
    except ValueError:
        return None
    return user, np.ascontiguousarray(full)


def _fuse(graph: Graph, div: Node) -> bool:
    core = _match_core(div)
    if core is None:
        return False
    x, axes, eps, nodes = core
    trailing = x.type.shape[-axes:] if x.type.shape else ()
    if not all(isinstance(d, int) for d in trailing) or not x.dtype.is_float:
        return False
    norm_shape = tuple(int(d) for d in trailing)  # type: ignore[arg-type]
    dtype = x.dtype.to_numpy()
    out = div.output
    gamma = np.ones(norm_shape, dtype)
    beta = np.zeros(norm_shape, dtype)
    scale = _affine(out, "mul", norm_shape)
    if scale is not None:
        nodes.append(scale[0])
        out, gamma = scale[0].output, scale[1].astype(dtype)
    shift = _affine(out, "add", norm_shape)
    if shift is not None:
        nodes.append(shift[0])
        out, beta = shift[0].output, shift[1].astype(dtype)
    _replace(graph, nodes, out, x, gamma, beta, axes, eps)
    return True


def _replace(graph: Graph, nodes: list[Node], out: Value, x: Value, gamma: np.ndarray,
             beta: np.ndarray, axes: int, eps: float) -> None:  # fmt: skip
    last = nodes[-1]
    name = out.name
    g = insert_const(graph, gamma, f"{name}_gamma", last)
    b = insert_const(graph, beta, f"{name}_beta", last)
    ln = graph.create_node("layer_normalization", [x, g, b], {"axis": -axes, "epsilon": eps},
                           loc=fuse(*(n.loc for n in nodes)), names=[name],
                           output_types=[out.type])  # fmt: skip
    graph.insert_before(last, ln)
    forward(out, ln.output)
    for node in reversed(nodes):
        if node.graph is graph and not node.has_uses():
            graph.erase(node)


__all__ = ["FuseLayerNormPass"]
