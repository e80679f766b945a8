"""Malformed ONNX input gives a CompilerError subclass naming the node or tensor."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper
from onnx_testmodels import init, model, need_ops, vi

from compiler.errors import FrontendError, UnsupportedOpError
from compiler.frontend.onnx_import import load


def _relu_chain() -> onnx.ModelProto:
    return model([helper.make_node("Relu", ["x"], ["a"], name="r0"),
                  helper.make_node("Relu", ["a"], ["y"], name="r1")],
                 [vi("x", [2])], [vi("y", [2])])  # fmt: skip


def test_truncated_file(tmp_path: Path) -> None:
    data = _relu_chain().SerializeToString()
    path = tmp_path / "t.onnx"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(FrontendError, match="t.onnx"):
        load(path)


def test_garbage_and_empty(tmp_path: Path) -> None:
    (tmp_path / "g.onnx").write_bytes(b"\xff\xfe not a model \x00" * 10)
    (tmp_path / "e.onnx").write_bytes(b"")
    for name in ("g.onnx", "e.onnx"):
        with pytest.raises(FrontendError, match="not a valid ONNX model"):
            load(tmp_path / name)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FrontendError, match="cannot read"):
        load(tmp_path / "nope.onnx")


def test_dangling_edge() -> None:
    m = model([helper.make_node("Relu", ["ghost"], ["y"], name="reader")], [vi("x", [2])],
              [vi("y", [2])])  # fmt: skip
    with pytest.raises(FrontendError, match="'reader'.*'ghost'"):
        load(m)


def test_cycle_names_a_node() -> None:
    m = model([helper.make_node("Add", ["x", "b"], ["a"], name="n_a"),
               helper.make_node("Relu", ["a"], ["b"], name="n_b")],
              [vi("x", [2])], [vi("b", [2])])  # fmt: skip
    with pytest.raises(FrontendError, match="cycle through node 'n_[ab]'"):
        load(m)


def test_unknown_ops_are_all_listed() -> None:
    m = model([helper.make_node("FooOp", ["x"], ["a"], name="foo1"),
               helper.make_node("Relu", ["a"], ["b"]),
               helper.make_node("BarOp", ["b"], ["c"], name="bar1"),
               helper.make_node("FooOp", ["c"], ["y"], name="foo2")],
              [vi("x", [2])], [vi("y", [2])])  # fmt: skip
    with pytest.raises(UnsupportedOpError) as info:
        load(m)
    err = info.value
    assert [(op, name) for op, name, _ in err.ops] == [("FooOp", "foo1"), ("BarOp", "bar1"),
                                                      ("FooOp", "foo2")]  # fmt: skip
    assert "BarOp, FooOp" in str(err) and "foo2" in str(err)


def test_subgraph_and_custom_domain_ops_unsupported() -> None:
    branch = helper.make_graph([], "b", [], [vi("x", [2])])
    m = model([helper.make_node("If", ["c"], ["y"], then_branch=branch, else_branch=branch,
                                name="iff"),
               helper.make_node("Fused", ["x"], ["z"], domain="com.example", name="fz")],
              [vi("c", [], TensorProto.BOOL), vi("x", [2])],
              [vi("y", [2]), vi("z", [2])])  # fmt: skip
    with pytest.raises(UnsupportedOpError) as info:
        load(m)
    assert {op for op, _, _ in info.value.ops} == {"If", "com.example::Fused"}


def test_duplicate_output_names() -> None:
    m = model([helper.make_node("Relu", ["x"], ["a"], name="first"),
               helper.make_node("Relu", ["x"], ["a"], name="second")],
              [vi("x", [2])], [vi("a", [2])])  # fmt: skip
    with pytest.raises(FrontendError, match="'a' is defined twice.*'second'"):
        load(m)


def test_wrong_initializer_size() -> None:
    w = init("weights", np.ones(4, np.float32))
    w.dims[:] = [5]
    m = model([helper.make_node("Add", ["x", "weights"], ["y"])], [vi("x", [5])], [vi("y", [5])],
              [w])  # fmt: skip
    with pytest.raises(FrontendError, match="initializer 'weights'.*16 bytes.*need 20"):
        load(m)


def test_bad_attribute_names_the_node() -> None:
    need_ops("Relu")
    m = model([helper.make_node("Relu", ["x"], ["y"], name="rl", bogus=3)], [vi("x", [2])],
              [vi("y", [2])])  # fmt: skip
    with pytest.raises(FrontendError, match="'rl'.*bogus") as info:
        load(m)
    assert info.value.loc is not None and "rl" in info.value.loc.text()


def _external_model(tmp_path: Path, location: str) -> Path:
    w = init("w", np.ones(4, np.float32))
    w.ClearField("raw_data")
    w.data_location = TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", "0"), ("length", "16")):
        entry = w.external_data.add()
        entry.key, entry.value = key, value
    m = model([helper.make_node("Add", ["x", "w"], ["y"])], [vi("x", [4])], [vi("y", [4])], [w])
    sub = tmp_path / "model"
    sub.mkdir(exist_ok=True)
    onnx.save(m, sub / "m.onnx")
    return sub / "m.onnx"


def test_external_data_parent_traversal(tmp_path: Path) -> None:
    (tmp_path / "x").write_bytes(b"\0" * 16)
    with pytest.raises(FrontendError, match="'w'.*'\\.\\.'"):
        load(_external_model(tmp_path, "../x"))


def test_external_data_absolute_path(tmp_path: Path) -> None:
    (tmp_path / "x").write_bytes(b"\0" * 16)
    with pytest.raises(FrontendError, match="'w'.*must be relative"):
        load(_external_model(tmp_path, str(tmp_path / "x")))


def test_external_data_symlink_out(tmp_path: Path) -> None:
    (tmp_path / "secret").write_bytes(b"\0" * 16)
    path = _external_model(tmp_path, "link.bin")
    os.symlink(tmp_path / "secret", path.parent / "link.bin")
    with pytest.raises(FrontendError, match="'w'.*outside the model directory"):
        load(path)


def test_external_data_past_end_of_file(tmp_path: Path) -> None:
    path = _external_model(tmp_path, "short.bin")
    (path.parent / "short.bin").write_bytes(b"\0" * 8)
    with pytest.raises(FrontendError, match="'w'.*runs past the end"):
        load(path)


def test_external_data_without_a_path(tmp_path: Path) -> None:
    path = _external_model(tmp_path, "w.bin")
    with pytest.raises(FrontendError, match="not loaded from a file"):
        load(onnx.load(path, load_external_data=False))
