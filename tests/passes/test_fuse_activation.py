"""Activation epilogues: bit-identical kernels, every supported activation, ONNX export as plain
op + activation node (checked by onnx and run in ONNX Runtime), verifier checks, refusals."""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
import pytest

import compiler
from backends.numpy import run
from backends.onnx import run_onnxruntime, to_onnx
from compiler.errors import CompilerError
from compiler.graph import Graph
from compiler.ops.epilogue import EPILOGUES
from compiler.types import DType, TensorType

RNG = np.random.default_rng(0)
ACT_ATTRS: dict[str, dict[str, Any]] = {
    "leaky_relu": {"alpha": 0.2}, "elu": {"alpha": 0.7}, "celu": {"alpha": 1.3},
    "thresholded_relu": {"alpha": 0.1}, "hard_sigmoid": {"alpha": 0.3, "beta": 0.4},
    "selu": {"alpha": 1.5, "gamma": 1.1},
}  # fmt: skip
CLIPS = [(0.0, 6.0), (None, 0.5), (-0.5, None), (1.0, -1.0)]


def _arr(*shape: int) -> np.ndarray:
    return RNG.standard_normal(shape).astype(np.float32)


def _affine(g: Graph, op: str) -> tuple[Any, Any]:
    """(builder, output) of one conv/conv_transpose/gemm/matmul on the graph input."""
    b = g.builder()
    x = g.inputs[0]
    if op == "conv":
        return b, b.op("conv", x, b.const(_arr(4, 3, 3, 3)), b.const(_arr(4)), pads=(1, 1, 1, 1))
    if op == "conv_transpose":
        return b, b.op("conv_transpose", x, b.const(_arr(3, 2, 3, 3)), strides=(2, 2))
    flat = b.op("flatten", x)
    if op == "gemm":
        return b, b.op("gemm", flat, b.const(_arr(5, 48)), b.const(_arr(5)), transB=1)
    return b, b.op("matmul", flat, b.const(_arr(48, 5)))


def _graph(op: str, act: str, clip: tuple[float | None, float | None] = (0.0, 6.0)) -> Graph:
    g = Graph("m")
    g.add_input("x", TensorType(DType.FLOAT32, (2, 3, 4, 4)))
    b, y = _affine(g, op)
    if act == "clip":
        lo, hi = (None if v is None else b.const(np.float32(v)) for v in clip)
        y = b.op("clip", y, lo, hi, names=["out"])
    else:
        y = b.op(act, y, names=["out"], **ACT_ATTRS.get(act, {}))
    g.outputs = [y]
    return g


def _fuse(g: Graph) -> None:
    report = compiler.optimize(g, "fuse-conv-bn-relu,prune-dead-nodes", check_numerics=True)
    assert report.records[0].rules["fuse-activation"].applied == 1


@pytest.mark.parametrize("act", sorted(EPILOGUES))
@pytest.mark.parametrize("op", ["conv", "conv_transpose", "gemm", "matmul"])
def test_fused_kernels_are_bit_identical_and_export_as_two_nodes(op: str, act: str) -> None:
    g = _graph(op, act)
    x = RNG.standard_normal((2, 3, 4, 4)).astype(np.float32) * 3
    want = run(g, [x]).values[0]
    _fuse(g)
    fused = [n for n in g.nodes if n.op == op]
    assert len(fused) == 1 and fused[0].attrs["activation"] == act
    assert act not in g.op_histogram() and fused[0].outputs[0].name == "out"
    np.testing.assert_array_equal(run(g, [x]).values[0], want)
    model = to_onnx(g)
    onnx.checker.check_model(model, full_check=True)
    types = [n.op_type for n in model.graph.node if n.op_type != "Flatten"]
    assert types == [compiler.registry.get_op(op).onnx, compiler.registry.get_op(act).onnx]
    got = run_onnxruntime(model, {"x": x})["out"]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("clip", CLIPS)
def test_clip_bounds(clip: tuple[float | None, float | None]) -> None:
    g = _graph("conv", "clip", clip)
    x = _arr(2, 3, 4, 4) * 3
    want = run(g, [x]).values[0]
    _fuse(g)
    np.testing.assert_array_equal(run(g, [x]).values[0], want)
    (clip_node,) = [n for n in to_onnx(g).graph.node if n.op_type == "Clip"]
    given = [v is not None for v in clip]
    while given and not given[-1]:  # trailing absent bounds are left out
        given.pop()
    assert [bool(name) for name in clip_node.input[1:]] == given


def test_refuses_clip_bounds_that_are_not_constant() -> None:
    g = Graph("m")
    x = g.add_input("x", TensorType(DType.FLOAT32, (1, 3, 4, 4)))
    hi = g.add_input("hi", TensorType(DType.FLOAT32, ()))
    b = g.builder()
    g.outputs = [b.op("clip", b.op("conv", x, b.const(_arr(2, 3, 1, 1))), None, hi)]
    report = compiler.optimize(g, "fuse-conv-bn-relu")
    stats = report.records[0].rules["fuse-activation"]
    assert stats.applied == 0 and "the clip max is not a constant" in (stats.last_refusal or "")


def test_refuses_when_the_intermediate_has_other_users() -> None:
    g = _graph("conv", "relu")
    conv = next(n for n in g.nodes if n.op == "conv")
    g.outputs = [*g.outputs, g.builder().op("sigmoid", conv.output)]
    report = compiler.optimize(g, "fuse-conv-bn-relu")
    stats = report.records[0].rules["fuse-activation"]
    assert stats.applied == 0 and "the conv output has 1 other users" in (stats.last_refusal or "")


def test_second_activation_stays_and_bn_after_activation_is_not_folded() -> None:
    g = _graph("conv", "relu")
    b = g.builder()
    y = b.op("sigmoid", g.outputs[0])
    c = [b.const(np.full(4, v, np.float32)) for v in (1.0, 0.0, 0.0, 1.0)]
    g.outputs = [b.op("batch_normalization", y, *c)]
    compiler.optimize(g, "fuse-conv-bn-relu,prune-dead-nodes", check_numerics=True)
    assert g.op_histogram() == {"const": 6, "conv": 1, "sigmoid": 1, "batch_normalization": 1}


@pytest.mark.parametrize(
    ("attrs", "message"),
    [({"activation": "gelu", "activation_params": ()}, "unknown activation 'gelu'"),
     ({"activation": "leaky_relu", "activation_params": ()}, "takes 1 params"),
     ({"activation_params": (1.0,)}, "activation_params without an activation")],
)  # fmt: skip
def test_inference_rejects_bad_epilogues(attrs: dict[str, Any], message: str) -> None:
    g = Graph("m")
    x = g.add_input("x", TensorType(DType.FLOAT32, (1, 3, 4, 4)))
    w = g.builder().const(_arr(2, 3, 1, 1))
    with pytest.raises(CompilerError, match=message):
        g.create_node("conv", [x, w], attrs)


def test_export_refuses_an_epilogue_newer_than_the_target_opset() -> None:
    g = _graph("conv", "mish")
    _fuse(g)
    with pytest.raises(CompilerError, match="activation mish needs opset 18"):
        to_onnx(g, opset=17)
    assert to_onnx(g).opset_import[0].version >= 18
