"""Resource limits: huge declared tensors are refused before anything is allocated.

The reference backend checks each node's output size (from its stored type, with the input symbols
bound) against its memory budget before the kernel runs; fold-constants checks the declared result
size against its size limit before evaluating; the frontend refuses data that does not match dims.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from backends.numpy import compile, run
from backends.numpy.budget import default_budget
from compiler.cli import main
from compiler.cli_run import parse_size
from compiler.errors import BackendError, FrontendError
from compiler.frontend.onnx_import import load
from compiler.passmanager import run_pipeline


def _model(
    nodes: list[onnx.NodeProto], inits: list[TensorProto], inputs: list, out_shape: list
) -> onnx.ModelProto:  # type: ignore[type-arg]
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, out_shape)
    graph = helper.make_graph(nodes, "g", inputs, [y], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _tile_model() -> onnx.ModelProto:
    """y = Tile(x, [100000, 1]) for x: f32[1, 1024]: 80 MB."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1024])
    reps = onnx.numpy_helper.from_array(np.array([20_000, 1], np.int64), "reps")
    return _model([helper.make_node("Tile", ["x", "reps"], ["y"], name="big_tile")], [reps], [x],
                  [20_000, 1024])  # fmt: skip


def test_interpreter_refuses_a_node_over_budget_before_running() -> None:
    graph = load(_tile_model())
    x = np.ones((1, 1024), np.float32)
    assert run(graph, {"x": x}, memory_budget=1 << 30).outputs["y"].shape == (20_000, 1024)
    with pytest.raises(BackendError, match=r"tile .*%y.*over the memory budget of 1.0 MiB") as info:
        run(graph, {"x": x}, memory_budget=1 << 20)
    assert "big_tile" in info.value.loc.text()  # type: ignore[union-attr]


def test_budget_uses_the_bound_symbols() -> None:
    """y = Expand(x, [1, 2**20]) for x: f32[N, 1]: y is f32[N, 1048576], 4 MiB per N."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1])
    shape = onnx.numpy_helper.from_array(np.array([1, 1 << 20], np.int64), "shape")
    nodes = [helper.make_node("Expand", ["x", "shape"], ["y"])]
    program = compile(load(_model(nodes, [shape], [x], ["N", 1 << 20])), memory_budget=6 << 20)
    program({"x": np.ones((1, 1), np.float32)})
    with pytest.raises(BackendError, match=r"expand .*\[2, 1048576\].*over the memory budget"):
        program({"x": np.ones((2, 1), np.float32)})


def test_constant_of_shape_over_budget_is_refused() -> None:
    shape = onnx.numpy_helper.from_array(np.array([1 << 20, 1 << 20], np.int64), "shape")
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])
    nodes = [helper.make_node("ConstantOfShape", ["shape"], ["c"], name="huge"),
             helper.make_node("Add", ["c", "x"], ["y"])]  # fmt: skip
    graph = load(_model(nodes, [shape], [x], [1 << 20, 1 << 20]))
    with pytest.raises(BackendError, match="constant_of_shape.*4.0 TiB|constant_of_shape.*GiB"):
        run(graph, {"x": np.ones(1, np.float32)})  # the default budget: half the RAM


def test_default_budget_is_half_the_memory() -> None:
    budget = default_budget()
    assert budget is None or 1 << 20 < budget


def test_run_cli_memory_budget(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "m.onnx"
    onnx.save(_tile_model(), path)
    args = ["run", str(path), "--random", "--shape", "x=1x1024", "--memory-budget"]
    assert main([*args, "1M"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("irforge: error:") and "memory budget" in err and "big_tile" in err
    assert main([*args, "1G"]) == 0


@pytest.mark.parametrize(("text", "size"), [("512", 512), ("1k", 1024), ("1.5M", 3 << 19),
                                            ("8G", 8 << 30), ("2GiB", 2 << 30)])  # fmt: skip
def test_parse_size(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "x", "-1M", "0", "nan", "inf"])
def test_parse_size_rejects(text: str) -> None:
    import argparse

    with pytest.raises(argparse.ArgumentTypeError):
        parse_size(text)


def test_folding_checks_the_declared_size_before_evaluating(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A Tile/Range of constants whose result exceeds size-limit is not even computed."""
    data = onnx.numpy_helper.from_array(np.ones((1, 1024), np.float32), "data")
    reps = onnx.numpy_helper.from_array(np.array([1 << 20, 1], np.int64), "reps")  # 4 GiB
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1 << 20, 1024])
    nodes = [
        helper.make_node("Tile", ["data", "reps"], ["t"]),
        helper.make_node("Add", ["t", "x"], ["y"]),
    ]
    graph = load(_model(nodes, [data, reps], [x], [1 << 20, 1024]))
    from compiler.registry import get_op

    def boom(*args: object) -> None:
        raise AssertionError("the tile kernel ran")

    monkeypatch.setattr(get_op("tile"), "kernel", boom)
    run_pipeline(graph, "fold-constants")
    assert "tile" in graph.op_histogram()


def test_range_over_the_size_limit_is_not_folded() -> None:
    scalars = [onnx.numpy_helper.from_array(np.array(v, np.int64), n)
               for n, v in (("start", 0), ("limit", 1 << 24), ("delta", 1))]  # fmt: skip
    x = helper.make_tensor_value_info("x", TensorProto.INT64, [1 << 24])
    y = helper.make_tensor_value_info("y", TensorProto.INT64, [1 << 24])
    nodes = [helper.make_node("Range", ["start", "limit", "delta"], ["r"]),
             helper.make_node("Add", ["r", "x"], ["y"])]  # fmt: skip
    model = helper.make_model(helper.make_graph(nodes, "g", [x], [y], scalars),
                              opset_imports=[helper.make_opsetid("", 17)])  # fmt: skip
    graph = load(model)
    run_pipeline(graph, "fold-constants{size-limit=1048576}")
    assert "range" in graph.op_histogram()
    run_pipeline(graph, "fold-constants")  # 128 MiB > the default 64 MiB limit too
    assert "range" in graph.op_histogram()


def test_initializer_dims_beyond_its_data_are_refused() -> None:
    w = TensorProto()
    w.name, w.data_type = "w", TensorProto.FLOAT
    w.dims.extend([1 << 40, 1 << 40])
    w.raw_data = b"\0" * 16
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])
    with pytest.raises(FrontendError, match="'w'.*16 bytes"):
        load(_model([helper.make_node("Add", ["x", "w"], ["y"])], [w], [x], [1]))
