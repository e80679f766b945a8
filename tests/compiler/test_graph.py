"""IR core: values, uses, nodes, graph mutation, sort, clone, networkx view."""

from __future__ import annotations

import numpy as np
import pytest

from compiler import CompilerError, DType, Graph, TensorType
from compiler.location import UNKNOWN, FileLoc, OnnxLoc, fuse
from compiler.verifier import verify

F32 = DType.FLOAT32


def _chain() -> tuple[Graph, list]:
    g = Graph()
    x = g.add_input("x", TensorType(F32, ("batch", 4)))
    b = g.builder()
    w = b.const(np.ones(4, np.float32), "w")
    y = b.add(x, w)
    z = b.relu(y)
    g.outputs = [z]
    return g, [x, w, y, z]


def test_builder_infers_types_and_keeps_use_lists() -> None:
    g, (x, w, y, z) = _chain()
    assert y.type == TensorType(F32, ("batch", 4))
    assert [u.node.op for u in x.uses] == ["add"]
    assert y.uses[0].input_index == 0 and z.is_graph_output
    verify(g)


def test_set_input_moves_the_use() -> None:
    g, (x, w, y, z) = _chain()
    z.producer.set_input(0, x)
    assert y.num_uses == 0 and len(x.uses) == 2
    verify(g)


def test_erase_refuses_while_used_and_names_the_user() -> None:
    g, (x, w, y, z) = _chain()
    with pytest.raises(CompilerError, match="still used by relu"):
        g.erase(y.producer)
    with pytest.raises(CompilerError, match="graph output"):
        g.erase(z.producer)


def test_replace_all_uses_refuses_graph_outputs_unless_asked() -> None:
    g, (x, w, y, z) = _chain()
    with pytest.raises(CompilerError, match="graph output"):
        z.replace_all_uses_with(y)
    z.replace_all_uses_with(y, include_graph_outputs=True)
    assert g.outputs == [y]
    g.erase(z.producer)
    assert len(g) == 2
    verify(g)


def test_replace_uses_where_only_touches_matching_uses() -> None:
    g = Graph()
    x = g.add_input("x", TensorType(F32, (2,)))
    b = g.builder()
    a, c = b.relu(x), b.neg(x)
    g.outputs = [a, c]
    x2 = g.add_input("x2", TensorType(F32, (2,)))
    x.replace_uses_where(x2, lambda use: use.node.op == "neg")
    assert a.producer.inputs[0] is x and c.producer.inputs[0] is x2
    verify(g)


def test_iteration_is_safe_while_erasing() -> None:
    g, (x, w, y, z) = _chain()
    g.outputs = [x]
    for node in g.reversed_nodes():
        g.erase(node)
    assert len(g) == 0 and list(g.nodes) == []


def test_insertion_point_builder_and_locations() -> None:
    g, (x, w, y, z) = _chain()
    with g.inserting_before(z.producer, loc=FileLoc("t.ir", 1, 1)) as b:
        s = b.sigmoid(y)
    z.producer.set_input(0, s)
    assert [n.op for n in g.nodes] == ["const", "add", "sigmoid", "relu"]
    assert s.producer.loc == FileLoc("t.ir", 1, 1)
    verify(g)


def test_sort_is_stable_and_fixes_order() -> None:
    g, (x, w, y, z) = _chain()
    g.move_after(z.producer, w.producer)  # const now after its user
    with pytest.raises(CompilerError):
        verify(g)
    g.sort()
    assert [n.op for n in g.nodes] == ["const", "add", "relu"]
    verify(g)


def test_sort_detects_cycles() -> None:
    g, (x, w, y, z) = _chain()
    y.producer.set_input(0, z)  # add <- relu <- add
    with pytest.raises(CompilerError, match="cycle"):
        g.sort()


def test_clone_is_deep_and_independent() -> None:
    g, (x, w, y, z) = _chain()
    c = g.clone()
    verify(c)
    assert [n.op for n in c.nodes] == [n.op for n in g.nodes]
    first = next(iter(c.nodes))
    assert first is not w.producer and first.attrs["value"] is w.producer.attrs["value"]
    c.outputs = [c.inputs[0]]
    assert g.outputs == [z]


def test_to_networkx_has_every_edge() -> None:
    g, _ = _chain()
    nx_graph = g.to_networkx()
    assert nx_graph.number_of_nodes() == 3 + 1 + 1
    assert nx_graph.number_of_edges() == 4


def test_constants_are_read_only() -> None:
    g, (x, w, y, z) = _chain()
    with pytest.raises(ValueError):
        w.const_value()[0] = 2.0


def test_fused_locations_flatten_and_dedupe() -> None:
    a, b = OnnxLoc("m.onnx", "Conv_0"), OnnxLoc("m.onnx", "Relu_1")
    fused = fuse(fuse(a, b), a, UNKNOWN)
    assert fused.origins() == (a, b)
    assert fuse(a) == a and fuse() == UNKNOWN
    assert fused.text() == '"m.onnx":"Conv_0", "m.onnx":"Relu_1"'.join(["fused[", "]"])
