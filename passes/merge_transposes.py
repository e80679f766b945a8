"""`merge-transposes`: compose consecutive transposes; cancelling pairs vanish.

`transpose(transpose(x, p), q)` permutes x by `p` and then by `q`; output dim i is input dim
`q[i]` of the middle tensor, which is dim `p[q[i]]` of x. So the pair is one transpose with

    r[i] = p[q[i]]

and when `r` is the identity permutation the pair is x itself. The inner transpose stays only
while it has other users (so the node count never grows).

Before:

```
graph @main(%x: f32[N,32,16,16]) -> (f32[N,32,16,16]) {
  %a = transpose(%x) {perm = [0, 2, 3, 1]} : f32[N,16,16,32]
  %b = transpose(%a) {perm = [0, 3, 1, 2]} : f32[N,32,16,16]
  return %b
}
```

After: `return %x` (`r = [0, 3, 1, 2]∘[0, 2, 3, 1] = [0, 1, 2, 3]`).

Numerics: exact (data movement only).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from compiler.graph import Graph
from compiler.ir import Node
from compiler.passmanager import Pass, register_pass
from passes.common import erase_if_dead, forward


@register_pass
@dataclass(frozen=True)
class MergeTransposesPass(Pass):
    """Fold each transpose of a transpose into one transpose of the original input."""

    name: ClassVar[str] = "merge-transposes"

    def run(self, graph: Graph) -> bool:
        changed = False
        for node in graph.nodes:  # program order: inner pairs merge before outer ones see them
            if node.op == "transpose" and _merge(graph, node):
                changed = True
        return changed


def _perm(node: Node) -> tuple[int, ...] | None:
    x = node.inputs[0]
    if x is None or x.type.shape is None:
        return None
    perm = node.attrs.get("perm")
    rank = len(x.type.shape)
    return tuple(perm) if perm is not None else tuple(reversed(range(rank)))


def _merge(graph: Graph, node: Node) -> bool:
    inner = node.inputs[0].producer if node.inputs[0] is not None else None
    if inner is None or inner.op != "transpose" or inner.graph is not graph:
        return False
    p, q = _perm(inner), _perm(node)
    x = inner.inputs[0]
    if p is None or q is None or x is None:
        return False
    composed = tuple(p[i] for i in q)
    if composed == tuple(range(len(composed))):
        forward(node.output, x)
        graph.erase(node)
    else:
        node.set_input(0, x)
        node.attrs = {**node.attrs, "perm": composed}
    erase_if_dead(graph, inner)
    return True


__all__ = ["MergeTransposesPass"]
