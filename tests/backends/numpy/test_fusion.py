"""Fused conv chains: same bits as node-by-node runs, only where every link is single-use, never
when capturing, and failures still name the node whose kernel failed."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from backends.numpy import compile
from compiler.errors import BackendError
from compiler.frontend.onnx_import import load
from compiler.graph import Graph
from compiler.location import OnnxLoc
from compiler.types import DType, TensorType

F32 = DType.FLOAT32


def conv_block(extra_use: bool = False) -> Graph:
    """x -> conv -> batch_norm -> add(skip) -> relu; optionally the BN output is also an output."""
    rng = np.random.default_rng(0)
    graph = Graph()
    x = graph.add_input("x", TensorType(F32, ("n", 4, 9, 7)))
    b = graph.builder()
    w = b.const(rng.standard_normal((4, 4, 3, 3)).astype(np.float32))
    y = b.node("conv", x, w, pads=(1, 1, 1, 1), loc=OnnxLoc("m.onnx", "conv0")).outputs[0]
    vectors = [b.const(rng.uniform(0.5, 1.5, 4).astype(np.float32)) for _ in range(4)]
    z = b.node("batch_normalization", y, *vectors, loc=OnnxLoc("m.onnx", "bn0")).outputs[0]
    s = b.add(x, z)  # the chain value on the right-hand side
    r = b.relu(s)
    graph.outputs = [r, z] if extra_use else [r]
    return graph


def fused_nodes(program: Any) -> list[list[str]]:
    return [[n.op for n in step.fused] for step in program.fused_steps if step.fused]


def test_a_conv_chain_becomes_one_step_with_the_same_bits() -> None:
    graph = conv_block()
    fused, plain = compile(graph), compile(graph, fuse=False)
    assert fused_nodes(fused) == [["conv", "batch_normalization", "add", "relu"]]
    assert fused_nodes(plain) == []
    x = np.random.default_rng(1).standard_normal((2, 4, 9, 7)).astype(np.float32)
    assert np.array_equal(fused({"x": x}).values[0], plain({"x": x}).values[0])
    assert np.array_equal(fused({"x": x}, float64=True).values[0],
                          plain({"x": x}, float64=True).values[0])  # fmt: skip


def test_a_link_with_another_use_ends_the_chain() -> None:
    program = compile(conv_block(extra_use=True))
    # the BN output is a graph output: the chain stops before it is consumed
    assert fused_nodes(program) == [["conv", "batch_normalization"]]
    x = np.ones((1, 4, 9, 7), np.float32)
    out = program({"x": x}).values
    plain = compile(conv_block(extra_use=True), fuse=False)({"x": x}).values
    assert all(np.array_equal(a, b) for a, b in zip(out, plain, strict=True))


def test_capture_runs_unfused_and_sees_every_intermediate() -> None:
    graph = conv_block()
    program = compile(graph)
    x = np.random.default_rng(2).standard_normal((1, 4, 9, 7)).astype(np.float32)
    result = program({"x": x}, capture=True)
    assert len(result.captured) == len(program.slots)  # inputs, constants and every node output
    assert np.array_equal(result.values[0], program({"x": x}).values[0])


def test_a_failure_inside_a_fused_step_names_the_failing_node(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import backends.numpy.fusion as fusion

    def broken(*args: Any, **kwargs: Any) -> np.ndarray:
        raise FloatingPointError("injected")

    monkeypatch.setattr(fusion, "batch_norm", broken)
    program = compile(conv_block())
    with pytest.raises(BackendError, match="batch_normalization") as info:
        program({"x": np.ones((1, 4, 9, 7), np.float32)})
    assert "bn0" in str(info.value) and "injected" in str(info.value)


@pytest.mark.parametrize(
    ("model", "shape"),
    [("resnet200", (2, 3, 32, 32)), ("light_resnet50", (1, 3, 224, 224)),
     ("effnet_lite0", (1, 3, 224, 224)), ("mnist_cnn", (3, 1, 28, 28))],
)  # fmt: skip
def test_real_models_give_the_same_bits_fused_and_unfused(
    material: Any, model: str, shape: tuple[int, ...]
) -> None:
    graph = load(material(model))
    fused, plain = compile(graph), compile(graph, fuse=False)
    assert fused_nodes(fused), "expected fused conv chains"
    x = np.random.default_rng(3).standard_normal(shape).astype(np.float32)
    name = graph.inputs[0].name
    for wide in (False, True):
        runs = fused({name: x}, float64=wide).values, plain({name: x}, float64=wide).values
        for a, b in zip(*runs, strict=True):
            assert a.dtype == b.dtype and np.array_equal(a, b)


def late_operand_block() -> Graph:
    """a = neg(x); conv(a) -> bn -> add(., z) -> relu, where z = relu(a) comes after the conv in
    node order: the fused step must run after z, keep `a` alive for the conv, and the relu that
    reads `a` must not overwrite it in place."""
    rng = np.random.default_rng(4)
    graph = Graph()
    x = graph.add_input("x", TensorType(F32, (1, 4, 6, 6)))
    b = graph.builder()
    a = b.neg(x)
    w = b.const(rng.standard_normal((4, 4, 3, 3)).astype(np.float32))
    y = b.node("conv", a, w, pads=(1, 1, 1, 1)).outputs[0]
    vectors = [b.const(rng.uniform(0.5, 1.5, 4).astype(np.float32)) for _ in range(4)]
    bn = b.node("batch_normalization", y, *vectors).outputs[0]
    z = b.relu(a)
    graph.outputs = [b.relu(b.add(bn, z))]
    return graph


def test_a_chain_whose_operand_is_computed_after_the_conv() -> None:
    graph = late_operand_block()
    fused, plain = compile(graph), compile(graph, fuse=False)
    assert fused_nodes(fused) == [["conv", "batch_normalization", "add", "relu"]]
    x = np.random.default_rng(5).standard_normal((1, 4, 6, 6)).astype(np.float32)
    assert np.array_equal(fused({"x": x}).values[0], plain({"x": x}).values[0])


def test_fused_planning_leaves_the_unfused_steps_alone() -> None:
    graph = late_operand_block()
    fused, plain = compile(graph), compile(graph, fuse=False)
    assert [s.frees for s in fused.steps] == [s.frees for s in plain.steps]
    assert [s.donor for s in fused.steps] == [s.donor for s in plain.steps]
    assert all(step.donor < 0 for step in fused.fused_steps if step.fused)
    # in the unfused order relu(a) is a's last use and may overwrite it; fused, the conv reads `a`
    # later, so that relu must not
    relu_a = [s for s in fused.fused_steps if s.node.op == "relu" and not s.fused]
    assert relu_a and relu_a[0].donor < 0
    assert [s.donor >= 0 for s in plain.steps if s.node.op == "relu"][0]
