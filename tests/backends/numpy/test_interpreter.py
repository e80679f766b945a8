"""The NumPy interpreter: results, freeing after last use, float64 mode, capture, validation and
error reporting."""

from __future__ import annotations

import numpy as np
import pytest

from backends.numpy import compile, run
from compiler.errors import BackendError
from compiler.graph import Graph
from compiler.location import OnnxLoc
from compiler.registry import get_op
from compiler.types import DType, TensorType

F32 = DType.FLOAT32


def relu_chain(length: int, shape: tuple[int | str, ...] = (256, 256)) -> Graph:
    """x -> relu -> neg -> relu -> neg ... (each step a fresh tensor of x's size)."""
    graph = Graph()
    value = graph.add_input("x", TensorType(F32, shape))
    b = graph.builder()
    for i in range(length):
        op = "relu" if i % 2 == 0 else "neg"
        value = b.node(op, value, names=[f"v{i}"], loc=OnnxLoc("m.onnx", f"n{i}")).outputs[0]
    graph.outputs = [value]
    return graph


def affine_graph() -> Graph:
    """y = x @ w + b with float32 constants; also returns x itself and a constant."""
    graph = Graph()
    x = graph.add_input("x", TensorType(F32, ("batch", 3)))
    b = graph.builder()
    w = b.const(np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], np.float32) / 3, "w")
    bias = b.const(np.array([0.1, 0.2], np.float32), "bias")
    m = b.node("matmul", x, w, names=["m"]).outputs[0]
    y = b.node("add", m, bias, names=["y"]).outputs[0]
    graph.outputs = [y, x, bias]
    return graph


def test_outputs_by_name_and_in_order() -> None:
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    result = run(affine_graph(), {"x": x})
    w = np.array([[1, 2], [3, 4], [5, 6]], np.float32) / 3
    expected = x @ w + np.array([0.1, 0.2], np.float32)
    np.testing.assert_array_equal(result.outputs["y"], expected)
    assert result.outputs["x"] is x
    np.testing.assert_array_equal(result.values[2], np.array([0.1, 0.2], np.float32))
    assert list(result.outputs) == ["y", "x", "bias"]


def test_values_are_dropped_after_last_use() -> None:
    graph = relu_chain(10)
    program = compile(graph)
    nodes = list(graph.nodes)
    assert program.free_after(nodes[0]) == ["x"]
    assert program.free_after(nodes[3]) == ["v2"]
    assert program.free_after(nodes[-1]) == ["v8"]  # v9 is the output: kept
    x = np.random.default_rng(0).standard_normal((256, 256)).astype(np.float32)
    result = program({"x": x}, track_memory=True)
    assert result.memory is not None
    # At most the input of a node and its output are live: 2 tensors, not 11.
    assert result.memory.peak_bytes == 2 * x.nbytes
    assert result.memory.final_bytes == x.nbytes


def test_dead_values_are_dropped_at_once() -> None:
    graph = Graph()
    x = graph.add_input("x", TensorType(F32, (4,)))
    b = graph.builder()
    dead = b.node("relu", x, names=["dead"]).outputs[0]
    y = b.node("neg", x, names=["y"]).outputs[0]
    graph.outputs = [y]
    program = compile(graph)
    assert program.free_after(dead.producer) == ["dead"]
    assert program.free_after(y.producer) == ["x"]


def test_views_are_counted_once() -> None:
    graph = Graph()
    x = graph.add_input("x", TensorType(F32, (64, 64)))
    b = graph.builder()
    shape = b.const(np.array([4096], np.int64), "shape")
    flat = b.node("reshape", x, shape, names=["flat"]).outputs[0]
    graph.outputs = [b.node("identity", flat, names=["y"]).outputs[0]]
    x_data = np.ones((64, 64), np.float32)
    result = run(graph, {"x": x_data}, track_memory=True)
    assert result.memory is not None and result.memory.peak_bytes == x_data.nbytes


def test_float64_mode_computes_in_float64() -> None:
    x = np.array([[1e-4, 1.0, 3.0]], np.float32)
    w32 = np.array([[1, 2], [3, 4], [5, 6]], np.float32) / 3  # the constant's float32 values
    exact = x.astype(np.float64) @ w32.astype(np.float64)
    exact += np.array([0.1, 0.2], np.float32).astype(np.float64)
    result = run(affine_graph(), {"x": x}, float64=True)
    assert result.outputs["y"].dtype == np.float64
    np.testing.assert_allclose(result.outputs["y"], exact, rtol=1e-12)
    single = run(affine_graph(), {"x": x}).outputs["y"]
    assert single.dtype == np.float32
    assert not np.array_equal(single.astype(np.float64), result.outputs["y"])


def test_float64_mode_widens_casts_to_float32() -> None:
    graph = Graph()
    x = graph.add_input("x", TensorType(DType.FLOAT64, (1,)))
    graph.outputs = [graph.builder().node("cast", x, names=["y"], to=F32).outputs[0]]
    third = np.array([1 / 3])
    assert run(graph, {"x": third}).outputs["y"].dtype == np.float32
    assert run(graph, {"x": third}, float64=True).outputs["y"][0] == 1 / 3


def test_capture_chosen_values() -> None:
    graph = relu_chain(4, (3,))
    x = np.array([-1.0, 0.5, 2.0], np.float32)
    result = run(graph, {"x": x}, capture=["v0", "v2"])
    assert sorted(result.captured) == ["v0", "v2"]
    np.testing.assert_array_equal(result.captured["v0"], [0.0, 0.5, 2.0])
    np.testing.assert_array_equal(result.captured["v2"], [0.0, 0.0, 0.0])
    everything = run(graph, {"x": x}, capture=True)
    assert sorted(everything.captured) == ["v0", "v1", "v2", "v3", "x"]
    with pytest.raises(BackendError, match="cannot capture unknown values \\['nope'\\]"):
        run(graph, {"x": x}, capture=["nope"])


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({}, r"missing inputs \['x'\]"),
        ({"x": np.zeros((2, 3), np.float32), "z": 1}, r"unexpected inputs \['z'\]"),
        ({"x": np.zeros((2, 3), np.float64)}, "input %x has dtype float64, expected float32"),
        ({"x": np.zeros((2, 3, 1), np.float32)}, "input %x has rank 3"),
        ({"x": np.zeros((2, 4), np.float32)}, "input %x has dim 1 = 4, expected 3"),
    ],
)
def test_bad_inputs_are_named(inputs: dict[str, object], message: str) -> None:
    with pytest.raises(BackendError, match=message):
        run(affine_graph(), inputs)


def test_symbols_bind_consistently_across_inputs() -> None:
    graph = Graph()
    a = graph.add_input("a", TensorType(F32, ("n", 2)))
    c = graph.add_input("c", TensorType(F32, ("n", 2)))
    graph.outputs = [graph.builder().node("add", a, c, names=["y"]).outputs[0]]
    ok = run(graph, {"a": np.ones((5, 2), np.float32), "c": np.ones((5, 2), np.float32)})
    assert ok.outputs["y"].shape == (5, 2)
    bad = {"a": np.ones((5, 2), np.float32), "c": np.ones((4, 2), np.float32)}
    with pytest.raises(BackendError, match="input %c has dim 0 = 4, but symbol n is 5 in input %a"):
        run(graph, bad)


def test_kernel_errors_name_the_node_and_location(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(inputs: list[object], attrs: object) -> list[np.ndarray]:
        raise ValueError("boom")

    monkeypatch.setattr(get_op("neg"), "kernel", broken)
    with pytest.raises(BackendError) as info:
        run(relu_chain(3, (2,)), {"x": np.zeros(2, np.float32)})
    text = str(info.value)
    assert "while executing `%v1 = neg(%v0)`: ValueError: boom" in text
    assert "at ONNX node 'n1' of m.onnx" in text
    assert "inputs: (float32[2])" in text
    assert '>>%v1 = neg(%v0) : f32[2] loc("m.onnx":"n1")' in text


@pytest.mark.parametrize(
    ("result", "problem"),
    [
        (np.zeros(2, np.float64), "dtype float64 is not float32"),
        (np.zeros(3, np.float32), "dim 0 is 3, not 2"),
        (np.zeros((2, 1), np.float32), "rank 2 is not 1"),
    ],
)
def test_kernel_results_are_checked(
    monkeypatch: pytest.MonkeyPatch, result: np.ndarray, problem: str
) -> None:
    monkeypatch.setattr(get_op("neg"), "kernel", lambda inputs, attrs: [result])
    with pytest.raises(BackendError, match=f"kernel of neg produced %v1 .*: {problem}") as info:
        run(relu_chain(3, (2,)), {"x": np.zeros(2, np.float32)})
    assert info.value.loc == OnnxLoc("m.onnx", "n1")


def test_symbolic_output_dims_must_agree_with_inputs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(get_op("neg"), "kernel", lambda inputs, attrs: [np.zeros(3, np.float32)])
    with pytest.raises(BackendError, match="dim 0 is 3, but symbol n is bound to 2"):
        run(relu_chain(3, ("n",)), {"x": np.zeros(2, np.float32)})


def test_program_is_reusable_across_runs() -> None:
    program = compile(relu_chain(2, ("n",)))
    for n in (1, 7):
        x = -np.arange(n, dtype=np.float32)
        np.testing.assert_array_equal(program({"x": x}).outputs["v1"], -np.maximum(x, 0))
