"""The verifier catches each broken invariant and shows the IR with the offending node marked."""

from __future__ import annotations

import numpy as np
import pytest

from compiler import DType, Graph, TensorType, VerifyError
from compiler.ir import Node, Use
from compiler.location import OnnxLoc
from compiler.verifier import verify

F32 = TensorType(DType.FLOAT32, ("n", 4))


def _graph() -> tuple[Graph, Node, Node]:
    g = Graph()
    x = g.add_input("x", F32)
    b = g.builder(loc=OnnxLoc("m.onnx", "Relu_0"))
    r = b.relu(x)
    s = b.sigmoid(r)
    g.outputs = [s]
    return g, r.producer, s.producer


def _fails(g: Graph, match: str) -> VerifyError:
    with pytest.raises(VerifyError, match=match) as info:
        verify(g)
    return info.value


def test_a_valid_graph_passes() -> None:
    verify(_graph()[0])


def test_wrong_stored_type_is_reported_with_the_node_marked() -> None:
    g, relu, _ = _graph()
    relu.outputs[0].type = TensorType(DType.FLOAT16, ("n", 4))
    err = _fails(g, "differs from inferred")
    text = str(err)
    assert "m.onnx" in text and "Relu_0" in text
    marked = [line for line in text.splitlines() if line.startswith(">>")]
    assert len(marked) == 1 and "relu(" in marked[0]


def test_wrong_static_dim_is_caught_but_symbol_matches() -> None:
    g, relu, _ = _graph()
    relu.outputs[0].type = TensorType(DType.FLOAT32, ("n", 5))
    _fails(g, "differs from inferred")


def test_use_before_definition() -> None:
    g, relu, sig = _graph()
    g.move_before(relu, sig)
    _fails(g, "defined later in program order")


def test_value_from_another_graph() -> None:
    g, relu, _ = _graph()
    other = Graph("other").add_input("y", F32)
    relu.set_input(0, other)
    _fails(g, "outside the graph")


def test_stale_use_list() -> None:
    g, relu, _ = _graph()
    g.inputs[0]._uses.append(Use(relu, 3))
    with pytest.raises(VerifyError, match="stale use"):
        verify(g)


def test_missing_use_entry() -> None:
    g, relu, _ = _graph()
    g.inputs[0]._uses.clear()
    _fails(g, "does not list this node")


def test_unknown_op_and_bad_arity() -> None:
    g, relu, _ = _graph()
    relu.op = "frobnicate"
    _fails(g, "unknown op 'frobnicate'")
    relu.op = "relu"
    relu.inputs = [g.inputs[0], g.inputs[0]]
    _fails(g, "takes 1 inputs, got 2")


def test_unknown_and_non_canonical_attributes() -> None:
    g = Graph()
    x = g.add_input("x", F32)
    y = g.builder().op("leaky_relu", x, alpha=0.1)
    g.outputs = [y]
    verify(g)
    y.producer.attrs["beta"] = 1.0
    _fails(g, "unknown attribute 'beta'")
    del y.producer.attrs["beta"]
    del y.producer.attrs["alpha"]
    _fails(g, "not canonical")


def test_graph_output_must_be_defined() -> None:
    g, _, _ = _graph()
    stray = Graph().builder().const(np.zeros(1, np.float32))
    g.outputs = [stray]
    with pytest.raises(VerifyError, match="not defined in the graph"):
        verify(g)
