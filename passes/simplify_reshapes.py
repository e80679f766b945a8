"""`simplify-reshapes`: merge chains of reshape-like ops and give reshapes constant shapes.

Reshape-like ops (`reshape`, `flatten`, `squeeze`, `unsqueeze`) only reinterpret the row-major
element order, so for any two of them `R(P(x))` is a reshape of `x` to R's output shape:

* if R's output shape equals x's shape, the pair is `x` (squeeze/unsqueeze pairs, reshape round
  trips);
* otherwise R becomes `reshape(x, s)` with a constant `s` and P dies when unused.

`s` comes from the output *type*: an int dim is written as is, a symbolic dim equal to x's dim
at the same position as 0 ("copy", `allowzero = 0`), and at most one other symbolic dim as -1.
The same rule gives a constant shape to a reshape whose shape input is computed at run time,
such as the `Shape/Gather/Concat` head of exported classifiers; a reshape of `x: [N, C, 1, 1]`
to `[N, C]` then becomes `flatten(x) {axis = 1}`.

Before:

```
graph @main(%x: f32[N,32,1,1]) -> (f32[N,32]) {
  %s = shape(%x) {start = 0} : i64[4]
  %i = const() {value = dense<i64[1]: [0]>} : i64[1]
  %n = gather(%s, %i) {axis = 0} : i64[1]
  %m = const() {value = dense<i64[1]: [-1]>} : i64[1]
  %t = concat(%n, %m) {axis = 0} : i64[2]
  %y = reshape(%x, %t) {allowzero = 0} : f32[N,32]
  return %y
}
```

After: `%y = flatten(%x) {axis = 1} : f32[N,32]` (the shape arithmetic dies once unused).

Numerics: exact (no arithmetic on data).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from compiler.graph import Graph
from compiler.ir import Node, Value
from compiler.passmanager import Pass, register_pass
from passes.common import erase_if_dead, forward, insert_const, same_shape

RESHAPE_LIKE = frozenset({"reshape", "flatten", "squeeze", "unsqueeze"})


@register_pass
@dataclass(frozen=True)
class SimplifyReshapesPass(Pass):
    """Merge reshape chains, give reshapes constant shapes, recognise flatten."""

    name: ClassVar[str] = "simplify-reshapes"

    def run(self, graph: Graph) -> bool:
        changed = False
        for node in graph.nodes:
            if node.op in RESHAPE_LIKE and _simplify(graph, node):
                changed = True
        return changed


def _simplify(graph: Graph, node: Node) -> bool:
    x = node.inputs[0]
    assert x is not None
    inner = x.producer
    if inner is not None and inner.op in RESHAPE_LIKE and inner.inputs[0] is not None:
        if _bypass(graph, node, inner, inner.inputs[0]):
            return True
    if node.op != "reshape":
        return False
    changed = _constant_shape(graph, node)
    return _to_flatten(graph, node) or changed


def _bypass(graph: Graph, node: Node, inner: Node, x: Value) -> bool:
    """R(P(x)) -> x or reshape(x, s)."""
    if same_shape(x, node.output):
        forward(node.output, x)
        graph.erase(node)
        erase_if_dead(graph, inner)
        return True
    vector = shape_vector(x, node.output)
    if vector is None:
        return False
    shape = insert_const(graph, vector, f"{node.output.name}_shape", node)
    reshape = graph.create_node("reshape", [x, shape], {"allowzero": 0}, loc=node.loc,
                                names=[node.output.name],
                                output_types=[node.output.type])  # fmt: skip
    graph.insert_before(node, reshape)
    forward(node.output, reshape.output)
    graph.erase(node)
    erase_if_dead(graph, inner)
    return True


def _constant_shape(graph: Graph, node: Node) -> bool:
    """A reshape whose shape input is computed: use the constant its output type implies."""
    shape_in = node.inputs[1]
    if shape_in is None or shape_in.const_value() is not None:
        return False
    vector = shape_vector(node.inputs[0], node.output)  # type: ignore[arg-type]
    if vector is None:
        return False
    node.set_input(1, insert_const(graph, vector, f"{node.output.name}_shape", node))
    node.attrs = {**node.attrs, "allowzero": 0}
    if shape_in.producer is not None:
        erase_if_dead(graph, shape_in.producer)
    return True


def _to_flatten(graph: Graph, node: Node) -> bool:
    """reshape(x: [d0, d1, ...], [d0, d1 * ...]) is flatten(x, axis=1)."""
    x, out = node.inputs[0], node.output
    assert x is not None
    xs, ys = x.type.shape, out.type.shape
    if xs is None or ys is None or len(ys) != 2 or len(xs) < 2 or xs[0] != ys[0]:
        return False
    rest = xs[1:]
    if not all(isinstance(d, int) for d in rest) or ys[1] != math.prod(rest):  # type: ignore[arg-type]
        return False
    flatten = graph.create_node("flatten", [x], {"axis": 1}, loc=node.loc,
                                names=[out.name], output_types=[out.type])  # fmt: skip
    graph.insert_before(node, flatten)
    forward(out, flatten.output)
    graph.erase(node)
    return True


def shape_vector(x: Value, out: Value) -> np.ndarray | None:
    """The constant `shape` input (allowzero = 0) reshaping `x` to `out`'s type, or None."""
    xs, ys = x.type.shape, out.type.shape
    if xs is None or ys is None:
        return None
    vector: list[int] = []
    for i, d in enumerate(ys):
        if isinstance(d, int):
            if d == 0:
                return None  # 0 would mean "copy" with allowzero = 0
            vector.append(d)
        elif i < len(xs) and xs[i] == d:
            vector.append(0)
        elif -1 in vector:
            return None
        else:
            vector.append(-1)
    return np.array(vector, dtype=np.int64)


__all__ = ["RESHAPE_LIKE", "SimplifyReshapesPass", "shape_vector"]
