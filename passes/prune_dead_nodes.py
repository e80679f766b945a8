"""`prune-dead-nodes`: remove every node and constant that no graph output depends on.

A node is live when a graph output is one of its outputs or a live node uses one of them; all
others are erased, users before producers. Declared graph inputs stay even when unused (they are
the graph's signature). Nodes without outputs (sinks) feed no output and are removed too.
Linear in the graph size: one backward walk from the outputs, one erase per dead node.

Before:

```
graph @main(%x: f32[batch,4], %unused: f32[4]) -> (f32[batch,4]) {
  %w = const() {value = dense<f32[4]: [1.0, 1.0, 1.0, 1.0]>} : f32[4]
  %dead_c = const() {value = dense<f32[4]: [2.0, 2.0, 2.0, 2.0]>} : f32[4]
  %0 = add(%x, %w) : f32[batch,4]
  %1 = mul(%x, %dead_c) : f32[batch,4]
  %2 = relu(%1) : f32[batch,4]
  %3 = relu(%0) : f32[batch,4]
  return %3
}
```

After (`%dead_c`, `%1` and `%2` are gone; `%unused` stays):

```
graph @main(%x: f32[batch,4], %unused: f32[4]) -> (f32[batch,4]) {
  %w = const() {value = dense<f32[4]: [1.0, 1.0, 1.0, 1.0]>} : f32[4]
  %0 = add(%x, %w) : f32[batch,4]
  %3 = relu(%0) : f32[batch,4]
  return %3
}
```

Numerics: unchanged exactly (only unobservable computation is removed).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from compiler.graph import Graph
from compiler.ir import Node
from compiler.passmanager import Pass, register_pass


@register_pass
@dataclass(frozen=True)
class PruneDeadNodesPass(Pass):
    """Remove nodes and constants that no graph output depends on."""

    name: ClassVar[str] = "prune-dead-nodes"

    def run(self, graph: Graph) -> bool:
        live = live_nodes(graph)
        if len(live) == len(graph):
            return False
        for node in graph.reversed_nodes():
            if node not in live:
                graph.erase(node)
        return True


def live_nodes(graph: Graph) -> set[Node]:
    """The nodes some graph output depends on."""
    live: set[Node] = set()
    stack = [v.producer for v in graph.outputs if v.producer is not None]
    while stack:
        node = stack.pop()
        if node in live:
            continue
        live.add(node)
        stack.extend(v.producer for v in node.inputs if v is not None and v.producer is not None)
    return live
