"""Hypothesis properties of IR mutation: any sequence of legal edits keeps the graph verifiable,
use lists exact, and clone/sort faithful."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from compiler import DType, Graph, TensorType
from compiler.verifier import verify

UNARY = ("relu", "neg", "sigmoid", "tanh", "abs")
BINARY = ("add", "mul", "sub")
T = TensorType(DType.FLOAT32, ("n", 3))


def _apply(g: Graph, values: list, step: tuple) -> None:
    kind, a, b = step
    if kind == "unary":
        values.append(g.builder().op(UNARY[b % len(UNARY)], values[a % len(values)]))
    elif kind == "binary":
        x, y = values[a % len(values)], values[b % len(values)]
        values.append(g.builder().op(BINARY[a % len(BINARY)], x, y))
    elif kind == "const":
        values.append(g.builder().const(np.full(3, float(a), np.float32), f"c{a}"))
    elif kind == "rauw":
        old, new = values[a % len(values)], values[b % len(values)]
        if old is not new and new.is_graph_input:  # inputs dominate every use
            old.replace_all_uses_with(new, include_graph_outputs=True)
    elif kind == "insert_before":
        node = _nth_node(g, a)
        if node is not None and node.inputs and node.inputs[0] is not None:
            with g.inserting_before(node) as bld:
                node.set_input(0, bld.relu(node.inputs[0]))


def _nth_node(g: Graph, i: int):  # type: ignore[no-untyped-def]
    nodes = list(g.nodes)
    return nodes[i % len(nodes)] if nodes else None


def _prune(g: Graph) -> None:
    for node in g.reversed_nodes():
        if not node.has_uses():
            g.erase(node)


steps = st.lists(
    st.tuples(st.sampled_from(["unary", "binary", "const", "rauw", "insert_before"]),
              st.integers(0, 50), st.integers(0, 50)),  # fmt: skip
    min_size=1, max_size=25,
)  # fmt: skip


@given(steps)
def test_random_edits_keep_the_graph_valid(edits: list) -> None:
    g = Graph()
    values = [g.add_input("x", T), g.add_input("y", T)]
    g.outputs = [values[0]]
    for step in edits:
        _apply(g, values, step)
        g.outputs = [values[-1]]
        verify(g)
    total_uses = sum(v.num_uses for n in g.nodes for v in n.outputs) + sum(
        v.num_uses for v in g.inputs
    )
    assert total_uses == sum(1 for n in g.nodes for v in n.inputs if v is not None)
    _prune(g)
    verify(g)
    clone = g.clone()
    verify(clone)
    assert [n.op for n in clone.nodes] == [n.op for n in g.nodes]


@given(steps, st.randoms(use_true_random=False))
def test_sort_restores_any_shuffled_order(edits: list, rnd) -> None:  # type: ignore[no-untyped-def]
    g = Graph()
    values = [g.add_input("x", T), g.add_input("y", T)]
    for step in edits:
        _apply(g, values, step)
    g.outputs = [values[-1]]
    before = [n.op for n in g.nodes]
    nodes = list(g.nodes)
    rnd.shuffle(nodes)
    for node in nodes:
        g.move_before(g.first, node) if g.first is not None else None
    g.sort()
    verify(g)
    assert sorted(before) == sorted(n.op for n in g.nodes)
