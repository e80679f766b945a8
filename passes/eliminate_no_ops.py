"""`eliminate-no-ops`: remove nodes whose output equals one of their inputs.

| node                                               | why it is the identity                  |
|----------------------------------------------------|-----------------------------------------|
| `identity(x)`                                      | by definition                           |
| `dropout(x, ratio)` without training mode          | inference dropout: y = x (mask unused)  |
| `reshape` / `expand` / `flatten` to x's own shape  | same elements, same shape               |
| `transpose(x) {perm = [0, 1, ...]}`                | identity permutation                    |
| `cast(x) {to = dtype(x)}`                          | same dtype: values unchanged            |
| `pad(x, pads)` with all pads 0                     | nothing added or cropped                |
| `slice` with unit steps and output shape = x shape | selects everything, in order            |
| `x * 1`, `x / 1`, `x + 0`, `x - 0` (constant, output shape = x shape) | neutral element |
| `sum` / `max` / `min` / `mean` / `concat` of one input | a reduction over one operand         |

"Output shape = x shape" also guarantees the constant does not broadcast x to a larger shape.
Users of the output then use the input directly; a graph output keeps its name.

Before:

```
graph @main(%x: f32[N,4]) -> (f32[N,4]) {
  %one = const() {value = dense<f32[]: [1.0]>} : f32[]
  %a = identity(%x) : f32[N,4]
  %b = mul(%a, %one) : f32[N,4]
  %y = transpose(%b) {perm = [0, 1]} : f32[N,4]
  return %y
}
```

After: `return %x` (the constant dies in `prune-dead-nodes`).

Numerics: exact (`x * 1 = x`, `x + 0 = x` in IEEE arithmetic except `-0 + 0 = +0`, which
compares equal).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from compiler.graph import Graph
from compiler.ir import Node, Value
from compiler.passmanager import Pass, register_pass
from passes.common import all_equal_to, erase_if_dead, forward, same_shape

NoOpRule = Callable[[Node], "Value | None"]


@register_pass
@dataclass(frozen=True)
class EliminateNoOpsPass(Pass):
    """Forward the input of identity-like nodes to their users and erase them."""

    name: ClassVar[str] = "eliminate-no-ops"

    def run(self, graph: Graph) -> bool:
        changed = False
        for node in graph.nodes:
            rule = RULES.get(node.op)
            if rule is None or not node.outputs:
                continue
            source = rule(node)
            if source is None:
                continue
            forward(node.outputs[0], source)
            erase_if_dead(graph, node)
            changed = True
        return changed


def _first(node: Node) -> Value | None:
    return node.inputs[0]


def _same_shape_as_input(node: Node) -> Value | None:
    x = node.inputs[0]
    return x if x is not None and same_shape(x, node.output) else None


def _dropout(node: Node) -> Value | None:
    if len(node.outputs) > 1 and (node.outputs[1].num_uses or node.outputs[1].is_graph_output):
        return None  # the mask is used
    training = node.input(2)
    if training is not None and not all_equal_to(training.const_value(), 0):
        return None
    return node.inputs[0]


def _transpose(node: Node) -> Value | None:
    perm = node.attrs.get("perm")
    x = node.inputs[0]
    if x is None or x.type.shape is None:
        return None
    identity = tuple(range(len(x.type.shape)))
    return x if perm is None and len(identity) <= 1 or perm == identity else None


def _cast(node: Node) -> Value | None:
    x = node.inputs[0]
    return x if x is not None and x.dtype == node.attrs["to"] else None


def _pad(node: Node) -> Value | None:
    pads = node.input(1)
    if pads is None or not all_equal_to(pads.const_value(), 0):
        return None
    return _same_shape_as_input(node)


def _slice(node: Node) -> Value | None:
    steps = node.input(4)
    if steps is not None and not all_equal_to(steps.const_value(), 1):
        return None
    x = node.inputs[0]
    shape = None if x is None else x.type.shape
    if shape is None or not all(isinstance(d, int) for d in shape):
        return None  # symbolic dims could be sliced to a shorter run of the same length name
    return _same_shape_as_input(node)


def _neutral(unit: float, commutative: bool) -> NoOpRule:
    def rule(node: Node) -> Value | None:
        a, b = node.inputs
        assert a is not None and b is not None
        for x, c in ((a, b), (b, a)) if commutative else ((a, b),):
            if x.dtype == node.output.dtype and same_shape(x, node.output):
                if all_equal_to(c.const_value(), unit):
                    return x
        return None

    return rule


def _single_operand(node: Node) -> Value | None:
    if node.num_inputs != 1:
        return None
    return _same_shape_as_input(node)


RULES: dict[str, NoOpRule] = {
    "identity": _first,
    "dropout": _dropout,
    "reshape": _same_shape_as_input,
    "expand": _same_shape_as_input,
    "flatten": _same_shape_as_input,
    "transpose": _transpose,
    "cast": _cast,
    "pad": _pad,
    "slice": _slice,
    "mul": _neutral(1, commutative=True),
    "add": _neutral(0, commutative=True),
    "div": _neutral(1, commutative=False),
    "sub": _neutral(0, commutative=False),
    "sum": _single_operand,
    "max": _single_operand,
    "min": _single_operand,
    "mean": _single_operand,
    "concat": _single_operand,
}


__all__ = ["RULES", "EliminateNoOpsPass"]
