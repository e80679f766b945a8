"""Hand-built Q/DQ graphs -> TensorRT IQuantizeLayer / IDequantizeLayer: built by the real
builder, interpreted, and bit-faithful to the reference's fake quantization (int8 values exact;
float outputs within one quantization step where a float op follows)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from _trtcheck import Const, build_and_compare, one_node, rand, requires_trt

from backends.tensorrt.capability import capability_report
from compiler.graph import Graph
from compiler.types import DType, TensorType
from compiler.verifier import verify

pytestmark = requires_trt
I8 = np.int8


def test_quantize_per_tensor_is_exact() -> None:
    graph, feeds = one_node("quantize_linear", [rand(2, 3, 4) * 3, Const(np.float32(0.05)),
                                                Const(np.int8(0))])  # fmt: skip
    build_and_compare(graph, feeds)  # int8 outputs: tolerance 0, exact


def test_quantize_per_channel_is_exact() -> None:
    scale = Const(np.array([0.01, 0.02, 0.05], np.float32))
    graph, feeds = one_node("quantize_linear", [rand(2, 3, 4), scale, Const(np.zeros(3, I8))],
                            {"axis": 1})  # fmt: skip
    build_and_compare(graph, feeds)


def test_dequantize_per_channel() -> None:
    q = np.random.default_rng(0).integers(-128, 128, (4, 3), dtype=I8)
    graph, feeds = one_node("dequantize_linear", [q, Const(np.array([0.5, 0.25, 2.0], np.float32))],
                            {"axis": 1})  # fmt: skip
    build_and_compare(graph, feeds)


def _qdq_conv() -> Graph:
    """x -> Q -> DQ -> conv(DQ(int8 W per-channel)) -> relu: the explicit-quantization shape."""
    g = Graph()
    x = g.add_input("x", TensorType(DType.FLOAT32, (1, 3, 8, 8)))
    b = g.builder()
    rng = np.random.default_rng(1)
    sx, zx = b.const(np.float32(0.02), "sx"), b.const(np.int8(0), "zx")
    w = b.const(rng.integers(-127, 128, (4, 3, 3, 3), dtype=I8), "w_q")
    sw = b.const(np.array([0.01, 0.02, 0.015, 0.03], np.float32), "sw")
    xq = b.op("quantize_linear", x, sx, zx, names=["xq"])
    xd = b.op("dequantize_linear", xq, sx, zx, names=["xd"])
    wd = b.op("dequantize_linear", w, sw, axis=0, names=["wd"])
    y = b.op("conv", xd, wd, pads=(1, 1, 1, 1), names=["c"])
    g.outputs = [b.op("relu", y, names=["y"])]
    verify(g)
    return g


def test_qdq_conv_builds_and_matches_fake_quant() -> None:
    x = (np.random.default_rng(2).standard_normal((1, 3, 8, 8)) * 2).astype(np.float32)
    result = build_and_compare(_qdq_conv(), {"x": x})
    kinds = [result.emission.network.get_layer(i).type.name
             for i in range(result.emission.network.num_layers)]  # fmt: skip
    assert kinds.count("QUANTIZE") == 1 and kinds.count("DEQUANTIZE") == 2


@pytest.mark.parametrize(
    ("inputs", "attrs", "reason"),
    [
        ([rand(2, 3), Const(np.float32(0.1)), Const(np.uint8(128))], {}, "int8 or fp8 only"),
        ([rand(2, 3), Const(np.float32(0.1)), Const(np.int8(3))], {}, "zero point"),
        ([rand(2, 4), Const(np.full((2, 2), 0.1, np.float32))], {"axis": 1, "block_size": 2,
                                                                  "output_dtype": "i8"},
         "blocked"),
    ],
)  # fmt: skip
def test_unsupported_quantization_is_reported(inputs: list, attrs: dict, reason: str) -> None:
    graph, _ = one_node("quantize_linear", inputs, attrs)
    report = capability_report(graph)
    assert not report.ok and reason in report.problems[0].reason


def test_weight_quantized_model_from_the_quantize_pass(material: Any) -> None:
    """`quantize-symmetric` (int8 weights in Q/DQ form) -> int8 constants + IDequantizeLayer
    kernels on every conv: builds, and the network equals the reference's fake quantization."""
    from compiler.passmanager import find_pass

    if find_pass("quantize-symmetric") is None:
        pytest.skip("the quantize-symmetric pass (quantization issue) is not in this tree")
    from test_trt_models import feeds_for

    import compiler

    graph = compiler.load(material("resnet200"))
    compiler.optimize(graph, "default,quantize-symmetric")
    result = build_and_compare(graph, feeds_for(graph))
    net = result.emission.network
    kinds = [net.get_layer(i).type.name for i in range(net.num_layers)]
    assert kinds.count("DEQUANTIZE") >= kinds.count("CONVOLUTION") == 201
