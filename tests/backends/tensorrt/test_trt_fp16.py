"""FP16 through TensorRT: `trt-fp16` graphs build (fp16 weights, explicit casts), the network
holds half-precision layers, and its interpreted outputs match the reference within tolerances
derived from fp16's unit roundoff (against the fp16 graph and against the fp32 model)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from _trtcheck import requires_trt
from test_trt_models import feeds_for

import compiler
from backends.numpy import run
from backends.numpy.tolerance import SAFETY, accumulation_depths, max_abs_error
from compiler.graph import Graph
from compiler.types import DType, TensorType

pytestmark = requires_trt
U16 = 2.0**-11


def fp16_atol(graph32: Graph, ref: dict[str, np.ndarray]) -> dict[str, float]:
    """SAFETY · u16 · √D · max|ref| per output (D from the fp32 graph)."""
    depths = accumulation_depths(graph32)
    return {v.name: SAFETY * U16 * math.sqrt(max(depths.get(v, 1), 1))
            * float(np.abs(ref[v.name]).max()) for v in graph32.outputs}  # fmt: skip


def _check_fp16(graph32: Graph, graph16: Graph, feeds: dict[str, np.ndarray]) -> Any:
    from backends.tensorrt.build import build_plan
    from backends.tensorrt.interpreter import interpret

    result = build_plan(graph16)
    assert result.plan and not result.emission.logger.errors
    net = result.emission.network
    half_type = result.emission.trt.DataType.HALF
    layers = [net.get_layer(i) for i in range(net.num_layers)]
    half = [layer for layer in layers if layer.get_output(0).dtype == half_type]
    assert half, "no half-precision layer emitted"
    got = interpret(net, feeds)
    ref16, ref32 = run(graph16, feeds).outputs, run(graph32, feeds).outputs
    atol = fp16_atol(graph32, ref32)
    for name, want in ref32.items():
        assert got[name].dtype == np.float32  # interface stays float32
        assert max_abs_error(got[name], ref16[name]) <= atol[name]
        assert max_abs_error(got[name], want) <= atol[name]
    return result


@pytest.mark.parametrize("name", ["mnist_cnn", "resnet200", "effnet_lite0"])
def test_material_model_in_fp16(name: str, material: Any) -> None:
    graph32, graph16 = compiler.load(material(name)), compiler.load(material(name))
    compiler.optimize(graph32, "default")
    compiler.optimize(graph16, "trt-fp16")
    _check_fp16(graph32, graph16, feeds_for(graph32))


def _masked() -> Graph:
    g = Graph()
    x = g.add_input("x", TensorType(DType.FLOAT32, (2, 4)))
    b = g.builder()
    w = b.const(np.array([[1.0, 2.0, 3.0, 4.0]] * 4, np.float32), "w")
    m = b.const(np.array([0.0, -3.4e38, 0.0, 0.0], np.float32), "m")
    s = b.op("add", b.op("matmul", x, w, names=["a"]), m, names=["s"])
    p = b.op("softmax", s, axis=-1, names=["p"])
    g.outputs = [b.op("mul", p, b.const(np.float32(3.0), "three"), names=["y"])]
    return g


def test_attention_mask_stays_fp32_in_the_network() -> None:
    graph32, graph16 = _masked(), _masked()
    compiler.optimize(graph16, "trt-fp16")
    x = np.random.default_rng(1).standard_normal((2, 4)).astype(np.float32)
    result = _check_fp16(graph32, graph16, {"x": x})
    f32 = DType.FLOAT32
    kept = [n for n in graph16.nodes if n.op not in ("const", "cast") and n.outputs[0].dtype == f32]
    # the node adding the mask (fused into a gemm by `default`) and the softmax reading it
    assert [n.op for n in kept] == ["gemm", "softmax"]
    names = result.emission.emitter.names
    mine = [
        i.name
        for i in result.emission.layers
        if i.node.startswith(f"%{names[kept[0].outputs[0]]} =")
    ]
    net = result.emission.network
    layers = [net.get_layer(i) for i in range(net.num_layers)]
    dtypes = {layer.get_output(0).dtype for layer in layers if layer.name in mine}
    assert dtypes == {result.emission.trt.DataType.FLOAT}
