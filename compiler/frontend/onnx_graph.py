"""Structural checks of an ONNX graph before import: names, edges and order.

ONNX requires SSA names and topologically sorted nodes, but real files break the order; this module
checks names and edges, and returns a node order (the file's own when valid, else a stable
topological sort), or raises a FrontendError naming the offending node and tensor.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence

import onnx

from compiler.errors import FrontendError
from compiler.location import OnnxLoc


def node_label(node: onnx.NodeProto, index: int) -> str:
    """The name a node is reported under: its own name, else `OpType#index`."""
    return node.name or f"{node.op_type}#{index}"


def collect_names(graph: onnx.GraphProto, model: str) -> tuple[set[str], dict[str, int]]:
    """The names defined outside nodes, and the producing node index of every node output.

    Raises:
        FrontendError: on a name defined twice (naming the tensor and the node).
    """
    outer: set[str] = set()
    for tensor in graph.initializer:
        if tensor.name in outer:
            raise FrontendError(f"initializer {tensor.name!r} is defined twice")
        outer.add(tensor.name)
    inputs: set[str] = set()
    for vi in graph.input:
        if vi.name in inputs:
            raise FrontendError(f"graph input {vi.name!r} is declared twice")
        inputs.add(vi.name)
    outer |= inputs
    producers: dict[str, int] = {}
    for i, node in enumerate(graph.node):
        for name in node.output:
            if not name:
                continue
            if name in producers or name in outer:
                raise FrontendError(
                    f"tensor {name!r} is defined twice (again as an output of "
                    f"{node_label(node, i)!r})",
                    OnnxLoc(model, node_label(node, i)),
                )
            producers[name] = i
    return outer, producers


def check_edges(
    graph: onnx.GraphProto, outer: set[str], producers: dict[str, int], model: str
) -> None:
    """Every node input and graph output must be defined somewhere in the graph."""
    for i, node in enumerate(graph.node):
        for name in node.input:
            if name and name not in outer and name not in producers:
                label = node_label(node, i)
                raise FrontendError(
                    f"node {label!r} ({node.op_type}) reads tensor {name!r}, which is never "
                    f"defined (dangling edge)",
                    OnnxLoc(model, label),
                )
    for vi in graph.output:
        if vi.name not in outer and vi.name not in producers:
            raise FrontendError(f"graph output {vi.name!r} is never defined")


def node_order(
    graph: onnx.GraphProto, outer: set[str], producers: dict[str, int], model: str
) -> Sequence[int]:
    """Node indices in a valid program order: the file's own when it is topological."""
    nodes = graph.node
    seen = set(outer)
    for node in nodes:
        if any(name and name not in seen for name in node.input):
            return _sort(graph, outer, producers, model)
        seen.update(node.output)
    return range(len(nodes))


def _deps(node: onnx.NodeProto, outer: set[str], producers: dict[str, int]) -> set[int]:
    return {producers[x] for x in node.input if x and x not in outer}


def _sort(
    graph: onnx.GraphProto, outer: set[str], producers: dict[str, int], model: str
) -> list[int]:
    nodes = graph.node
    deps = [_deps(node, outer, producers) for node in nodes]
    users: list[list[int]] = [[] for _ in nodes]
    for i, ds in enumerate(deps):
        for d in ds:
            users[d].append(i)
    pending = [len(ds) for ds in deps]
    heap = [i for i, n in enumerate(pending) if n == 0]
    heapq.heapify(heap)
    order: list[int] = []
    while heap:
        i = heapq.heappop(heap)
        order.append(i)
        for user in users[i]:
            pending[user] -= 1
            if pending[user] == 0:
                heapq.heappush(heap, user)
    if len(order) < len(nodes):
        raise _cycle_error(graph, deps, pending, model)
    return order


def _cycle_error(
    graph: onnx.GraphProto, deps: list[set[int]], pending: list[int], model: str
) -> FrontendError:
    # Walk unfinished dependencies from a stuck node until one repeats: that node is on a cycle.
    node = next(i for i, n in enumerate(pending) if n > 0)
    visited: list[int] = []
    while node not in visited:
        visited.append(node)
        node = next(d for d in deps[node] if pending[d] > 0)
    cycle = visited[visited.index(node) :]
    labels = [node_label(graph.node[i], i) for i in cycle]
    return FrontendError(
        f"the graph has a cycle through node {labels[0]!r} ({' -> '.join(labels)})",
        OnnxLoc(model, labels[0]),
    )
