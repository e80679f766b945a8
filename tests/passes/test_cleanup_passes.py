"""The clean-up passes beyond their golden files: random graphs, budgets, scale, real models."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from strategies import graphs

import compiler
from compiler.graph import Graph
from compiler.text import print_graph
from compiler.types import DType, TensorType
from compiler.verifier import verify
from passes.common import is_splat, stored_bytes
from passes.cse import CsePass
from passes.fold_constants import FoldConstantsPass

MNIST = Path(__file__).resolve().parents[2] / "examples" / "models" / "mnist_cnn_raw.onnx"
# ops the random-graph strategy builds valid, runnable graphs from
OPS = ["add", "mul", "sub", "relu", "neg", "exp", "sigmoid", "tanh", "abs", "split", "identity",
       "transpose"]  # fmt: skip
CLEANUP = [
    "fold-constants", "eliminate-no-ops", "simplify-reshapes", "merge-transposes", "cse",
    "fold-bn-scale", "fuse-pad-conv", "fuse-layer-norm", "fuse-matmul-add",
]  # fmt: skip


@pytest.mark.parametrize("name", CLEANUP)
@settings(max_examples=15)
@given(graph=graphs(max_nodes=10, ops=OPS))
def test_pass_on_random_graphs_verifies_keeps_numerics_and_is_idempotent(
    name: str, graph: Graph
) -> None:
    compiler.optimize(graph, name, check_numerics=True)
    verify(graph)
    text = print_graph(graph)
    compiler.optimize(graph, f"{name},prune-dead-nodes")
    again = print_graph(graph)
    compiler.optimize(graph, name)
    assert print_graph(graph) == again or text == again


def test_constant_of_shape_folds_to_a_view_without_memory() -> None:
    graph = Graph()
    x = graph.add_input("x", TensorType(DType.FLOAT32, (4096,)))
    b = graph.builder()
    shape = b.const(np.array([4096, 4096], np.int64))
    big = b.op("constant_of_shape", shape, value=np.array([0.02], np.float32))
    graph.outputs = [b.matmul(big, x)]
    assert FoldConstantsPass().run(graph)
    array = graph.outputs[0].producer.inputs[0].const_value()
    assert array is not None and is_splat(array) and not array.flags.writeable
    assert array.shape == (4096, 4096) and stored_bytes(array) == 4


def test_oversized_fold_is_skipped_and_reported() -> None:
    graph = Graph()
    x = graph.add_input("x", TensorType(DType.FLOAT32, (1024,)))
    b = graph.builder()
    c = b.const(np.arange(1024, dtype=np.float32))
    graph.outputs = [b.add(x, b.neg(c))]
    report = compiler.optimize(graph, "fold-constants{size-limit=1000}")
    assert "neg" in graph.op_histogram()
    notes = [n for record in report.records for n in record.notes]
    assert any("size-limit=1000" in n for n in notes)


def test_fold_does_not_duplicate_shared_constants() -> None:
    graph = Graph()
    x = graph.add_input("x", TensorType(DType.FLOAT32, (128, 128)))
    b = graph.builder()
    row = b.const(np.ones((1, 128), np.float32))
    wide = b.expand(row, b.const(np.array([128, 128], np.int64)))  # folds to a cheap view
    shaped = b.exp(wide)  # would materialise 64 KiB while the view stays for the other user
    graph.outputs = [b.add(b.mul(x, shaped), b.add(x, wide))]
    report = compiler.optimize(graph, "fold-constants")
    assert "exp" in graph.op_histogram() and "expand" not in graph.op_histogram()
    assert any("duplicate shared" in n for r in report.records for n in r.notes)


def test_cse_merges_every_duplicate_of_a_large_graph() -> None:
    # Its time per node from 1k to 100k nodes is measured in benchmarks/optimizer_bench.py
    # (scaling section), not here: timings in unit tests only measure the machine's load.
    n = 8000
    graph = Graph()
    x = graph.add_input("x", TensorType(DType.FLOAT32, (4,)))
    b = graph.builder()
    value = x
    for i in range(n):
        k = b.const(np.full(4, i % 7, np.float32))
        value = b.add(b.relu(value), k)
        b.relu(value)  # duplicate of the next relu
    graph.outputs = [value]
    assert CsePass().run(graph)
    assert graph.op_histogram() == {"relu": n + 1, "add": n, "const": 7}
    verify(graph)


def test_default_on_mnist_raw_folds_castlike_and_keeps_numerics() -> None:
    graph = compiler.load(MNIST)
    compiler.optimize(graph, "default", check_numerics=True)
    ops = graph.op_histogram()
    assert not {"cast_like", "expand", "shape"} & set(ops)
    assert sum(v for k, v in ops.items() if k != "const") <= 17
