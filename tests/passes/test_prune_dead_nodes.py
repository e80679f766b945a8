"""`prune-dead-nodes` beyond the golden files: properties on random graphs, large graphs, models."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from strategies import graphs

import compiler
from compiler.graph import Graph
from compiler.types import DType, TensorType
from compiler.verifier import verify
from passes.prune_dead_nodes import PruneDeadNodesPass, live_nodes

MNIST = Path(__file__).resolve().parents[2] / "examples" / "models" / "mnist_cnn_raw.onnx"
ELEMENTWISE = ["add", "mul", "sub", "relu", "neg", "exp", "sigmoid", "tanh", "abs", "split"]


@given(graphs(max_nodes=10, ops=ELEMENTWISE))
def test_prune_keeps_exactly_the_live_nodes(graph: Graph) -> None:
    outputs, inputs = graph.outputs, list(graph.inputs)
    live = live_nodes(graph)
    dead = len(graph) - len(live)
    assert PruneDeadNodesPass().run(graph) == (dead > 0)
    assert set(graph.nodes) == live
    assert graph.outputs == outputs and graph.inputs == inputs
    verify(graph)
    assert not PruneDeadNodesPass().run(graph)


def test_large_graph_with_dead_branches() -> None:
    graph = Graph()
    x = graph.add_input("x", TensorType(DType.FLOAT32, (4,)))
    b = graph.builder()
    value = x
    for _ in range(5000):
        b.exp(value)  # dead branch
        value = b.relu(value)
    graph.outputs = [value]
    assert len(graph) == 10000
    assert PruneDeadNodesPass().run(graph)
    assert len(graph) == 5000 and set(graph.op_histogram()) == {"relu"}


def test_mnist_has_nothing_dead_and_numerics_hold() -> None:
    graph = compiler.load(MNIST)
    before = len(graph)
    report = compiler.optimize(graph, "prune-dead-nodes", check_numerics=True)
    assert len(graph) == before and not report.changed


def test_unused_inputs_stay_and_sinks_of_dead_values_go() -> None:
    graph = Graph()
    x = graph.add_input("x", TensorType(DType.FLOAT32, (2,)))
    unused = graph.add_input("u", TensorType(DType.FLOAT32, (2,)))
    b = graph.builder()
    graph.outputs = [b.relu(x)]
    b.exp(b.neg(unused))
    assert PruneDeadNodesPass().run(graph)
    assert graph.inputs == [x, unused] and [n.op for n in graph.nodes] == ["relu"]
    assert graph.outputs[0].producer is not None and graph.outputs[0].producer.inputs == (x,)
