"""Symbolic dims: -1 network inputs, one optimization profile (given or default), run-time shape
tensors; the interpreted network matches the reference at several sizes inside the profile."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from _trtcheck import compare, requires_trt

import compiler
from backends.numpy import run
from backends.tensorrt.build import DEFAULT_PROFILE, BuildOptions, build_plan, parse_shapes
from backends.tensorrt.interpreter import InterpretError, interpret
from compiler.errors import CompilerError
from compiler.graph import Graph
from compiler.types import DType, TensorType
from compiler.verifier import verify

pytestmark = requires_trt


def test_effnet_profile_and_batches(material: Any) -> None:
    graph = compiler.load(material("effnet_lite0"))
    compiler.optimize(graph, "default")
    shapes = parse_shapes(["x:1x3x224x224,2x3x224x224,3x3x224x224"])
    result = build_plan(graph, BuildOptions(shapes=shapes))
    assert result.profiles == {"x": ((1, 3, 224, 224), (2, 3, 224, 224), (3, 3, 224, 224))}
    assert tuple(result.emission.network.get_input(0).shape) == (-1, 3, 224, 224)
    for batch in (1, 3):
        x = np.random.default_rng(batch).standard_normal((batch, 3, 224, 224)).astype(np.float32)
        got = interpret(result.emission.network, {"x": x})
        assert got["logits"].shape == (batch, 1000)
        compare(graph, {"x": x}, got)


def _two_symbols() -> Graph:
    """reshape(x: f32[n,m,4], concat(shape(x)[0:1], [-1])) -> f32[n,?]: a run-time shape."""
    g = Graph()
    x = g.add_input("x", TensorType(DType.FLOAT32, ("n", "m", 4)))
    b = g.builder()
    head = b.op("shape", x, start=0, end=1, names=["head"])
    target = b.op("concat", head, b.const(np.array([-1], np.int64), "minus1"), axis=0)
    out = TensorType(DType.FLOAT32, ("n", "k"))
    y = b.insert(g.create_node("reshape", [x, target], {}, names=["flat"], output_types=[out]))
    g.outputs = [b.op("relu", y.outputs[0], names=["y"])]
    verify(g)
    return g


def test_runtime_shape_tensor_with_default_profile() -> None:
    graph = _two_symbols()
    result = build_plan(graph)
    lo, opt, hi = result.profiles["x"]
    assert lo == (DEFAULT_PROFILE[0],) * 2 + (4,) and hi == (DEFAULT_PROFILE[2],) * 2 + (4,)
    for n, m in ((1, 1), (3, 5), (16, 16)):
        x = np.random.default_rng(n).standard_normal((n, m, 4)).astype(np.float32)
        got = interpret(result.emission.network, {"x": x})
        assert got["y"].shape == (n, m * 4)
        compare(graph, {"x": x}, got, run(graph, {"x": x}).outputs)


def test_interpreter_checks_static_dims_against_the_builder(material: Any) -> None:
    graph = compiler.load(material("mnist_cnn"))
    compiler.optimize(graph, "default")
    result = build_plan(graph)
    with pytest.raises(InterpretError, match="input x"):
        interpret(result.emission.network, {"x": np.zeros((1, 1, 27, 28), np.float32)})


def test_profile_errors_are_compiler_errors() -> None:
    with pytest.raises(CompilerError, match="min <= opt <= max"):
        build_plan(_two_symbols(), BuildOptions(shapes=parse_shapes(["x:2x2x4,1x2x4,4x4x4"])))
