"""ONNX frontend: types, constants, symbols, old-opset upgrades, external data."""

from __future__ import annotations

import logging

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper
from onnx_testmodels import init, model, need_ops, ort_bitwise, vi

import compiler
from compiler.errors import FrontendError
from compiler.frontend.onnx_import import load
from compiler.location import OnnxLoc
from compiler.verifier import verify


def _roundtrip_bitwise(m: onnx.ModelProto) -> None:
    from backends.onnx.roundtrip import roundtrip

    ort_bitwise(m, roundtrip(m))


def test_symbolic_and_unknown_dims() -> None:
    need_ops("Relu", "Add")
    x = vi("x", ["batch", None, 4])
    y = vi("y", [None, 3])
    m = model([helper.make_node("Relu", ["x"], ["r"]), helper.make_node("Add", ["y", "y"], ["s"])],
              [x, y], [vi("r", None), vi("s", None)])  # fmt: skip
    g = load(m)
    verify(g)
    assert g.inputs[0].type.shape == ("batch", "unk_0", 4)
    assert g.inputs[1].type.shape == ("unk_1", 3)
    assert [v.name for v in g.outputs] == ["r", "s"]


def test_fresh_symbols_avoid_declared_names() -> None:
    need_ops("Relu")
    m = model([helper.make_node("Relu", ["x"], ["r"])], [vi("x", ["unk_0", None])], [vi("r", None)])
    assert load(m).inputs[0].type.shape == ("unk_0", "unk_1")


def test_initializers_are_read_only_constants_and_zero_copy() -> None:
    need_ops("Add")
    w = np.arange(12, dtype=np.float32).reshape(3, 4)
    m = model([helper.make_node("Add", ["x", "w"], ["y"])], [vi("x", [3, 4])], [vi("y", [3, 4])],
              [init("w", w)])  # fmt: skip
    g = load(m)
    const = next(n for n in g.nodes if n.op == "const")
    value = const.attrs["value"]
    assert not value.flags.writeable and value.base is not None
    np.testing.assert_array_equal(value, w)
    assert const.outputs[0].name == "w" and len(g.inputs) == 1


def test_initializer_listed_as_input_becomes_constant() -> None:
    need_ops("Add")
    m = model([helper.make_node("Add", ["x", "w"], ["y"])], [vi("x", [2]), vi("w", [2])],
              [vi("y", [2])], [init("w", np.ones(2, np.float32))], opset=8)  # fmt: skip
    g = load(m)
    assert [v.name for v in g.inputs] == ["x"]


@pytest.mark.parametrize(
    "attr, value, expected",
    [("value_float", 1.5, np.float32(1.5)), ("value_floats", [1.0, 2.0], np.float32([1, 2])),
     ("value_int", 3, np.int64(3)), ("value_ints", [1, 2], np.int64([1, 2])),
     ("value", helper.make_tensor("t", TensorProto.INT32, [2], [4, 5]), np.int32([4, 5]))],
)  # fmt: skip
def test_constant_node_forms(attr: str, value: object, expected: np.ndarray) -> None:
    m = model([helper.make_node("Constant", [], ["c"], **{attr: value})], [],
              [onnx.ValueInfoProto(name="c")])  # fmt: skip
    g = load(m)
    got = g.outputs[0].const_value()
    assert got is not None and got.dtype == expected.dtype
    np.testing.assert_array_equal(got, expected)


def test_sparse_constant() -> None:
    values = helper.make_tensor("v", TensorProto.FLOAT, [2], [1.0, 2.0])
    indices = helper.make_tensor("i", TensorProto.INT64, [2], [1, 5])
    sparse = helper.make_sparse_tensor(values, indices, [2, 3])
    m = model([helper.make_node("Constant", [], ["c"], sparse_value=sparse)], [], [vi("c", None)])
    got = load(m).outputs[0].const_value()
    np.testing.assert_array_equal(got, np.float32([[0, 1, 0], [0, 0, 2]]))


def test_locations_and_names() -> None:
    need_ops("Relu")
    m = model([helper.make_node("Relu", ["x"], ["a"], name="first"),
               helper.make_node("Relu", ["a"], ["b"])], [vi("x", [2])], [vi("b", [2])])  # fmt: skip
    nodes = list(load(m).nodes)
    assert nodes[0].loc == OnnxLoc("g", "first") and nodes[1].loc == OnnxLoc("g", "Relu#1")
    assert nodes[1].outputs[0].name == "b"


def test_unsorted_nodes_are_sorted() -> None:
    need_ops("Relu")
    m = model([helper.make_node("Relu", ["a"], ["b"]), helper.make_node("Relu", ["x"], ["a"])],
              [vi("x", [2])], [vi("b", [2])])  # fmt: skip
    g = load(m)
    verify(g)
    assert [n.outputs[0].name for n in g.nodes] == ["a", "b"]


def test_declared_output_type_is_checked() -> None:
    need_ops("Relu")
    m = model([helper.make_node("Relu", ["x"], ["y"])], [vi("x", [2, 3])], [vi("y", [2, 4])])
    with pytest.raises(FrontendError, match="'y' is declared with shape"):
        load(m)


def test_shape_chain_resolves_reshape() -> None:
    need_ops("Shape", "Gather", "Concat", "Reshape")
    nodes = [
        helper.make_node("Shape", ["x"], ["s"]),
        helper.make_node("Gather", ["s", "i0"], ["n"], axis=0),
        helper.make_node("Concat", ["n", "m1"], ["shape"], axis=0),
        helper.make_node("Reshape", ["x", "shape"], ["y"]),
    ]
    inits = [init("i0", np.int64([0])), init("m1", np.int64([-1]))]
    g = load(model(nodes, [vi("x", ["batch", 3, 4])], [vi("y", None)], inits))
    verify(g)
    assert g.outputs[0].type.shape == ("batch", 12)


def test_compiler_load_from_bytes_and_path(tmp_path) -> None:  # type: ignore[no-untyped-def]
    need_ops("Relu")
    m = model([helper.make_node("Relu", ["x"], ["y"])], [vi("x", [2])], [vi("y", [2])])
    path = tmp_path / "m.onnx"
    onnx.save(m, path)
    assert len(compiler.load(m.SerializeToString())) == 1
    g = compiler.load(path, name="net")
    assert g.name == "net" and next(g.nodes).loc == OnnxLoc("m.onnx", "Relu#0")


def test_external_data_is_memory_mapped(tmp_path) -> None:  # type: ignore[no-untyped-def]
    need_ops("Add")
    w = np.random.default_rng(0).standard_normal((64, 64)).astype(np.float32)
    m = model([helper.make_node("Add", ["x", "w"], ["y"])], [vi("x", [64, 64])],
              [vi("y", [64, 64])], [init("w", w)])  # fmt: skip
    onnx.save(m, tmp_path / "m.onnx", save_as_external_data=True, location="w.bin",
              size_threshold=0)  # fmt: skip
    g = load(tmp_path / "m.onnx")
    value = next(n for n in g.nodes if n.op == "const").attrs["value"]
    np.testing.assert_array_equal(value, w)
    assert not value.flags.writeable and not value.flags.owndata


def test_opset_below_7_is_converted(caplog) -> None:  # type: ignore[no-untyped-def]
    need_ops("Relu")
    m = model([helper.make_node("Relu", ["x"], ["y"])], [vi("x", [2])], [vi("y", [2])], opset=6)
    with caplog.at_level(logging.INFO):
        g = load(m)
    assert "version_converter" in caplog.text and len(g) == 1


def _softmax_model(op: str, opset: int, shape: list[int], axis: int) -> onnx.ModelProto:
    node = helper.make_node(op, ["x"], ["y"], axis=axis)
    return model([node], [vi("x", shape)], [vi("y", shape)], opset=opset)


@pytest.mark.parametrize("op", ["Softmax", "LogSoftmax", "Hardmax"])
@pytest.mark.parametrize("shape, axis", [([2, 3, 4], 1), ([2, 3, 4], 2), ([2, 3, 1], 1),
                                         ([2, 3, 4], 0)])  # fmt: skip
def test_old_softmax_flatten_semantics(op: str, shape: list[int], axis: int) -> None:
    need_ops(op, "Flatten", "Shape", "Reshape")
    m = _softmax_model(op, 11, shape, axis)
    g = load(m)
    verify(g)
    flattened = axis < len(shape) - 1 and any(d != 1 for d in shape[axis + 1 :])
    assert ("flatten" in g.op_histogram()) == flattened
    _roundtrip_bitwise(m)


def _node_model(op: str, opset: int, shape: list[int], out: list[int] | None = None,
                n_out: int = 1, **attrs: object) -> onnx.ModelProto:  # fmt: skip
    outs = [f"y{i}" for i in range(n_out)]
    node = helper.make_node(op, ["x"], outs, **attrs)
    return model([node], [vi("x", shape)], [onnx.ValueInfoProto(name=o) for o in outs], opset=opset)


UPGRADES = [
    ("Slice", 9, [4, 5], dict(starts=[1, 0], ends=[3, 4], axes=[0, 1])),
    ("Squeeze", 11, [1, 3, 1], dict(axes=[0])),
    ("Unsqueeze", 11, [3, 4], dict(axes=[0, 3])),
    ("ReduceSum", 11, [3, 4], dict(axes=[1], keepdims=0)),
    ("ReduceMean", 13, [3, 4, 5], dict(axes=[0, 2])),
    ("ReduceMax", 17, [3, 4], dict(axes=[-1])),
    ("Clip", 10, [3, 4], dict(min=-0.5, max=0.5)),
    ("Pad", 10, [3, 4], dict(pads=[1, 0, 0, 2], value=1.5)),
    ("Dropout", 10, [3, 4], dict(ratio=0.3)),
    ("Upsample", 7, [1, 1, 2, 3], dict(scales=[1.0, 1.0, 2.0, 3.0], mode="nearest")),
]  # fmt: skip


@pytest.mark.parametrize("op, opset, shape, attrs", UPGRADES, ids=[u[0] for u in UPGRADES])
def test_old_forms_upgrade_bitwise(op: str, opset: int, shape: list[int], attrs: dict) -> None:
    need_ops("Resize" if op == "Upsample" else op)
    m = _node_model(op, opset, shape, **attrs)
    verify(load(m))
    _roundtrip_bitwise(m)


def test_old_split_and_topk() -> None:
    need_ops("Split", "TopK")
    split = _node_model("Split", 11, [6, 2], n_out=2, axis=0, split=[2, 4])
    topk = _node_model("TopK", 9, [3, 5], n_out=2, k=2)
    for m in (split, topk):
        verify(load(m))
        _roundtrip_bitwise(m)


@pytest.mark.parametrize(
    "op", ["Softmax", "LogSoftmax", "Hardmax", "Clip", "TopK", "Pad", "Dropout"]
)
def test_old_form_without_its_first_input_is_a_frontend_error(op: str) -> None:
    # found by the fuzz campaign: an opset-11 Softmax with no inputs reached the upgrade rule
    node = helper.make_node(op, [], ["y"], name="bad")
    graph = helper.make_graph([node], "g", [], [helper.make_tensor_value_info("y", 1, None)])
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 9)])
    with pytest.raises(FrontendError, match=rf"{op} node 'bad' \(opset 9\): needs its first input"):
        load(m)
