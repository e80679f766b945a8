"""ONNX export: opset forms, outputs, metadata, atomic saving with external data, ORT runner."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import helper
from onnx_testmodels import init, model, need_ops, vi

from backends.onnx import save_onnx, to_onnx
from backends.onnx.runtime import run_onnxruntime
from compiler.errors import BackendError
from compiler.frontend.onnx_import import load
from compiler.graph import Graph
from compiler.types import DType, TensorType


def _reduce_mean_graph() -> Graph:
    need_ops("ReduceMean")
    m = model([helper.make_node("ReduceMean", ["x", "axes"], ["y"], keepdims=0)],
              [vi("x", ["n", 3, 4])], [vi("y", None)], [init("axes", np.int64([2]))],
              opset=18)  # fmt: skip
    return load(m)


def _attrs(m: onnx.ModelProto, op: str) -> dict[str, object]:
    node = next(n for n in m.graph.node if n.op_type == op)
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def test_default_opset_and_explicit_attributes() -> None:
    m = to_onnx(_reduce_mean_graph(), pipeline="fold-constants")
    onnx.checker.check_model(m, full_check=True)
    assert m.opset_import[0].version == 18
    assert _attrs(m, "ReduceMean") == {"keepdims": 0, "noop_with_empty_axes": 0}
    assert {p.key: p.value for p in m.metadata_props} == {"irforge.pipeline": "fold-constants"}
    dims = m.graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param == "n" and dims[1].dim_value == 3


def test_reduce_axes_written_as_attribute_before_18() -> None:
    m = to_onnx(_reduce_mean_graph(), opset=13)
    onnx.checker.check_model(m, full_check=True)
    node = next(n for n in m.graph.node if n.op_type == "ReduceMean")
    assert list(node.input) == ["x"] and _attrs(m, "ReduceMean") == {"axes": [2], "keepdims": 0}
    x = np.random.default_rng(0).standard_normal((2, 3, 4)).astype(np.float32)
    got = run_onnxruntime(m, {"x": x})["y"]
    np.testing.assert_array_equal(
        got, run_onnxruntime(to_onnx(_reduce_mean_graph()), {"x": x})["y"]
    )


def test_split_num_outputs_at_18() -> None:
    need_ops("Split")
    m = model([helper.make_node("Split", ["x"], ["a", "b"], axis=0)], [vi("x", [4, 2])],
              [vi("a", None), vi("b", None)], opset=13)  # fmt: skip
    out = to_onnx(load(m), opset=18)
    onnx.checker.check_model(out, full_check=True)
    assert _attrs(out, "Split")["num_outputs"] == 2
    assert "num_outputs" not in _attrs(to_onnx(load(m), opset=17), "Split")


def test_too_old_opset_without_downgrade_is_refused() -> None:
    # (Gelu, the example before, is now written as its formula below opset 20)
    need_ops("Mish")
    m = model([helper.make_node("Mish", ["x"], ["y"])], [vi("x", [2])], [vi("y", [2])], opset=18)
    with pytest.raises(BackendError, match="Mish needs opset 18"):
        to_onnx(load(m), opset=17)


def test_constant_and_input_outputs_go_through_identity() -> None:
    g = Graph("g")
    x = g.add_input("x", TensorType(DType.FLOAT32, (2,)))
    c = g.builder().const(np.float32([1, 2]), "c")
    g.outputs = [c, x, x]
    m = to_onnx(g)
    onnx.checker.check_model(m, full_check=True)
    assert [o.name for o in m.graph.output] == ["c", "x_1", "x_2"]  # outputs keep names
    got = run_onnxruntime(m, {"x": np.float32([5, 6])})
    np.testing.assert_array_equal(got["c"], [1, 2])
    np.testing.assert_array_equal(got["x_2"], [5, 6])


def test_save_with_external_data_is_loadable(tmp_path: Path) -> None:
    need_ops("Add")
    w = np.random.default_rng(1).standard_normal((32, 32)).astype(np.float32)
    m = model([helper.make_node("Add", ["x", "w"], ["y"])], [vi("x", [32, 32])],
              [vi("y", [32, 32])], [init("w", w)])  # fmt: skip
    path = tmp_path / "out.onnx"
    save_onnx(load(m), path, external_data=True, size_threshold=1024, pipeline="O0")
    assert (tmp_path / "out.onnx.data").stat().st_size >= w.nbytes
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.onnx", "out.onnx.data"]
    onnx.checker.check_model(str(path), full_check=True)
    again = load(path)
    value = next(n for n in again.nodes if n.op == "const").attrs["value"]
    np.testing.assert_array_equal(value, w)
    x = np.ones((32, 32), np.float32)
    np.testing.assert_array_equal(run_onnxruntime(path, {"x": x})["y"], x + w)


def test_save_without_external_data(tmp_path: Path) -> None:
    path = tmp_path / "m.onnx"
    save_onnx(_reduce_mean_graph(), path)
    assert [p.name for p in tmp_path.iterdir()] == ["m.onnx"]
    assert onnx.load(path).graph.node[0].op_type == "ReduceMean"


def test_runtime_missing_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(BackendError, match=r"pip install irforge\[ort\]"):
        run_onnxruntime(onnx.ModelProto(), {})


def test_runtime_rejects_unknown_optimization_level() -> None:
    with pytest.raises(BackendError, match="optimization must be one of"):
        run_onnxruntime(onnx.ModelProto(), {}, optimization="max")


def _cast_like_graph(round_mode: str) -> Graph:
    graph = Graph()
    x = graph.add_input("x", TensorType(DType.FLOAT32, (3,)))
    like = graph.add_input("like", TensorType(DType.BFLOAT16, (1,)))
    y = graph.builder().op("cast_like", x, like, round_mode=round_mode)
    graph.outputs = [y]
    return graph


@pytest.mark.parametrize("opset", [21, 25])
def test_late_attribute_at_default_is_not_written(opset: int) -> None:
    # round_mode arrived in CastLike-24: at its default it is left out at every opset, so that
    # consumers predating it (onnx.reference) load the model; saturate (CastLike-19) likewise.
    m = to_onnx(_cast_like_graph("up"), opset=opset)
    onnx.checker.check_model(m, full_check=True)
    assert m.opset_import[0].version == opset
    assert _attrs(m, "CastLike") == {}
    import ml_dtypes
    from onnx.reference import ReferenceEvaluator

    x = np.array([1.0, 2.5, -3.0], np.float32)
    (y,) = ReferenceEvaluator(m).run(None, {"x": x, "like": np.zeros(1, ml_dtypes.bfloat16)})
    np.testing.assert_array_equal(y.astype(np.float32), x)


def test_late_attribute_at_non_default_is_written_or_refused() -> None:
    graph = _cast_like_graph("down")
    m = to_onnx(graph, opset=25)
    assert _attrs(m, "CastLike") == {"round_mode": b"down"}
    with pytest.raises(BackendError, match="round_mode"):
        to_onnx(graph, opset=21)
