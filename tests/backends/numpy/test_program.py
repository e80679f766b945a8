"""The interpreter's compile-time work: constants resolved once, output checks planned per step
(fast path and its fallbacks), and errors that still name the node."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from backends.numpy import compile, run
from compiler.errors import BackendError
from compiler.graph import Graph
from compiler.ir import Node, frozen_array
from compiler.location import OnnxLoc
from compiler.registry import get_op
from compiler.types import DType, TensorType

F32 = DType.FLOAT32


def const_heavy(count: int) -> Graph:
    """y = ((x + c0) + c1) + ... with `count` float32 constants: half of the nodes are const."""
    graph = Graph()
    value = graph.add_input("x", TensorType(F32, ("n", 3)))
    b = graph.builder()
    for i in range(count):
        c = b.const(np.full(3, i + 0.1, np.float32), f"c{i}")
        value = b.node("add", value, c, names=[f"s{i}"], loc=OnnxLoc("m.onnx", f"add{i}")).outputs[
            0
        ]
    graph.outputs = [value, c]
    return graph


def counting(monkeypatch: pytest.MonkeyPatch, op: str) -> list[int]:
    """Count the calls of `op`'s kernels, in-place and first-output forms included (patched
    before compiling)."""
    calls = [0]
    opdef = get_op(op)
    assert opdef.kernel is not None
    for variant in ("kernel", "kernel_first", "kernel_inplace"):
        real = getattr(opdef, variant)
        if real is None:
            continue

        def counted(inputs: list[Any], attrs: Any, real: Any = real) -> list[np.ndarray]:
            calls[0] += 1
            return real(inputs, attrs)

        monkeypatch.setattr(opdef, variant, counted)
    return calls


def test_constants_are_resolved_at_compile_time(monkeypatch: pytest.MonkeyPatch) -> None:
    const_calls, add_calls = counting(monkeypatch, "const"), counting(monkeypatch, "add")
    graph = const_heavy(5)
    program = compile(graph)
    assert const_calls[0] == 5 and len(program.steps) == 5
    assert all(step.node.op == "add" for step in program.steps)
    x = np.zeros((2, 3), np.float32)
    for _ in range(3):
        result = program({"x": x})
    assert const_calls[0] == 5  # never again per run
    assert add_calls[0] == 15  # only the 5 real ops run, each run
    np.testing.assert_allclose(result.values[0], np.full((2, 3), 0.1 + 1.1 + 2.1 + 3.1 + 4.1))
    assert result.values[1] is graph.outputs[1].const_value()  # a const output: the array itself


def test_constants_are_never_freed_nor_counted_as_live() -> None:
    graph = const_heavy(3)
    program = compile(graph)
    consts = [node for node in graph.nodes if node.op == "const"]
    assert all(program.free_after(node) == [] for node in consts)
    assert all(slot not in step.frees for step in program.steps for slot in program.constants)
    x = np.zeros((4, 3), np.float32)
    first = program({"x": x}, track_memory=True).memory
    second = program({"x": x}, track_memory=True).memory  # the constants survived run 1
    assert first == second and first is not None
    assert first.peak_bytes == 2 * x.nbytes  # input + one sum; the constants are not counted


def test_float64_constants_are_widened_once_per_program(monkeypatch: pytest.MonkeyPatch) -> None:
    program = compile(const_heavy(2))
    x = np.ones((1, 3), np.float32)
    wide = [program({"x": x}, float64=True) for _ in range(2)]
    const_out = wide[0].values[1]
    assert const_out.dtype == np.float64 and not const_out.flags.writeable
    assert wide[1].values[1] is const_out  # cached, not recomputed per run
    assert wide[0].values[0].dtype == np.float64
    single = program({"x": x})  # the float32 mode keeps its own, unwidened constants
    assert single.values[1].dtype == np.float32
    np.testing.assert_array_equal(single.values[1], const_out)


def test_capture_includes_constants() -> None:
    x = np.zeros((1, 3), np.float32)
    result = run(const_heavy(2), {"x": x}, capture=["c0", "s1"])
    assert sorted(result.captured) == ["c0", "s1"]
    np.testing.assert_array_equal(result.captured["c0"], np.full(3, 0.1, np.float32))


def test_a_bad_constant_is_reported_at_compile_time_naming_the_node() -> None:
    graph = Graph()
    x = graph.add_input("x", TensorType(F32, (3,)))
    arr = frozen_array(np.zeros(4, np.float32))  # the stored type below says 3 elements
    node = Node("const", (), [TensorType(F32, (3,))], {"value": arr}, OnnxLoc("m.onnx", "k"), ["k"])
    graph.append(node)
    graph.outputs = [graph.builder().node("add", x, node.output, names=["y"]).outputs[0]]
    with pytest.raises(BackendError, match="kernel of const produced %k .*dim 0 is 4, not 3") as e:
        compile(graph)
    assert e.value.loc == OnnxLoc("m.onnx", "k")


def test_constant_symbols_are_checked_against_the_inputs() -> None:
    graph = Graph()
    x = graph.add_input("x", TensorType(F32, ("n",)))
    arr = frozen_array(np.ones(3, np.float32))
    node = Node(
        "const", (), [TensorType(F32, ("n",))], {"value": arr}, OnnxLoc("m.onnx", "k"), ["k"]
    )
    graph.append(node)
    graph.outputs = [graph.builder().node("add", x, node.output, names=["y"]).outputs[0]]
    program = compile(graph)
    assert program({"x": np.ones(3, np.float32)}).outputs["y"].tolist() == [2, 2, 2]
    with pytest.raises(BackendError, match="%k .*dim 0 is 3, but symbol n is bound to 4"):
        program({"x": np.ones(4, np.float32)})


def test_an_equal_but_distinct_dtype_passes_the_full_check(monkeypatch: pytest.MonkeyPatch) -> None:
    tagged = np.dtype(np.float32, metadata={"tag": 1})  # == float32, another object
    monkeypatch.setattr(get_op("neg"), "kernel", lambda inputs, attrs: [inputs[0].astype(tagged)])
    graph = Graph()
    x = graph.add_input("x", TensorType(F32, (2,)))
    graph.outputs = [graph.builder().node("neg", x, names=["y"]).outputs[0]]
    assert run(graph, {"x": np.ones(2, np.float32)}).outputs["y"].dtype == np.float32


def test_plans_follow_the_symbol_binding(monkeypatch: pytest.MonkeyPatch) -> None:
    program = compile(const_heavy(2))
    for n in (1, 5, 1, 3):
        assert program({"x": np.zeros((n, 3), np.float32)}).values[0].shape == (n, 3)
    bad = np.zeros((2, 3), np.float32)
    monkeypatch.setattr(get_op("add"), "kernel", lambda inputs, attrs: [np.zeros((5, 3))])
    with pytest.raises(BackendError, match="kernel of add produced %s0 .*dtype float64"):
        compile(const_heavy(2))({"x": bad})
    monkeypatch.setattr(get_op("add"), "kernel", lambda i, a: [np.zeros((5, 3), np.float32)])
    with pytest.raises(BackendError, match="%s0 .*dim 0 is 5, but symbol n is bound to 2") as e:
        compile(const_heavy(2))({"x": bad})
    assert e.value.loc == OnnxLoc("m.onnx", "add0")


def test_kernel_errors_after_constants_name_the_node(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(inputs: list[Any], attrs: Any) -> list[np.ndarray]:
        raise ValueError("boom")

    monkeypatch.setattr(get_op("add"), "kernel", broken)
    with pytest.raises(BackendError, match="while executing `%s0 = add\\(%x, %c0\\)`") as e:
        run(const_heavy(2), {"x": np.zeros((1, 3), np.float32)})
    assert "inputs: (float32[1, 3], float32[3])" in str(e.value)
    assert e.value.loc == OnnxLoc("m.onnx", "add0")


def test_absent_optional_inputs_reach_the_kernel_as_none() -> None:
    graph = Graph()
    x = graph.add_input("x", TensorType(F32, (4,)))
    lo = graph.builder().const(np.array(0.0, np.float32), "lo")
    graph.outputs = [graph.builder().node("clip", x, lo, None, names=["y"]).outputs[0]]
    x_data = np.array([-1.0, 0.5, 2.0, -3.0], np.float32)
    np.testing.assert_array_equal(run(graph, {"x": x_data}).outputs["y"], [0.0, 0.5, 2.0, 0.0])
