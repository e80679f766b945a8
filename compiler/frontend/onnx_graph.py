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


def _outer_names(graph: onnx.GraphProto) -> set[str]:
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
    return outer | inputs


def _defined_twice(name: str, node: onnx.NodeProto, index: int, model: str) -> FrontendError:
    label = node_label(node, index)
    return FrontendError(
        f"tensor {name!r} is defined twice (again as an output of {label!r})",
        OnnxLoc(model, label),
    )


def check_graph(
    graph: onnx.GraphProto, model: str
) -> tuple[set[str], dict[str, int], Sequence[int]]:
    """`collect_names`, `check_edges` and `node_order` in one pass over the nodes.

    Returns the names defined outside nodes, the producer index of every node output and a valid
    node order. A file whose nodes are already in order (the common case) is walked once; any other
    falls back to the separate checks, which report the same errors in the same precedence.
    """
    outer = _outer_names(graph)
    producers: dict[str, int] = {}
    in_order = True
    for i, node in enumerate(graph.node):
        if in_order:
            for name in node.input:
                if name and name not in producers and name not in outer:
                    in_order = False  # out of order or dangling: decided after every name is known
                    break
        for name in node.output:
            if not name:
                continue
            if name in producers or name in outer:
                raise _defined_twice(name, node, i, model)
            producers[name] = i
    if in_order:
        _check_outputs(graph, outer, producers)
        return outer, producers, range(len(graph.node))
    check_edges(graph, outer, producers, model)
    return outer, producers, _sort(graph, outer, producers, model)


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
    _check_outputs(graph, outer, producers)


def _check_outputs(graph: onnx.GraphProto, outer: set[str], producers: dict[str, int]) -> None:
    for vi in graph.output:
        if vi.name not in outer and vi.name not in producers:
            raise FrontendError(f"graph output {vi.name!r} is never defined")


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


class Symbols:
    """Fresh dim symbols `unk_N` that do not clash with the model's own `dim_param`s."""

    def __init__(self, taken: set[str]) -> None:
        self.taken = taken
        self.counter = 0

    def fresh(self) -> str:
        while True:
            name = f"unk_{self.counter}"
            self.counter += 1
            if name not in self.taken:
                return name


def all_names(graph: onnx.GraphProto) -> set[str]:
    names = {t.name for t in graph.initializer} | {vi.name for vi in graph.input}
    for node in graph.node:
        names.update(node.output)
    return names


def declared_symbols(graph: onnx.GraphProto) -> set[str]:
    names: set[str] = set()
    for vi in (*graph.input, *graph.output, *graph.value_info):
        if vi.type.HasField("tensor_type"):
            names.update(d.dim_param for d in vi.type.tensor_type.shape.dim if d.dim_param)
    return names
