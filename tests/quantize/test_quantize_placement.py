"""Where activation Q/DQ pairs go (TensorRT fusion points, shared concat scales), the ONNX
Runtime layout (split epilogues, uint8 after ReLU, exact pre-activation pairs)."""

from __future__ import annotations

import numpy as np

import compiler
from backends.numpy import run
from compiler.graph import Graph
from compiler.ir import Node, Value
from compiler.quantize.driver import apply_quantization, calibrate, prepare
from compiler.types import DType, TensorType
from passes.quantize_activations import activation_sites

RNG = np.random.default_rng(0)


def _w(*shape: int) -> np.ndarray:
    return (RNG.standard_normal(shape) * 0.3).astype(np.float32)


def _model() -> Graph:
    """conv-relu, conv + residual add, concat, conv, flatten, matmul."""
    g = Graph("m")
    x = g.add_input("x", TensorType(DType.FLOAT32, (2, 4, 6, 6)))
    b = g.builder()
    r1 = b.relu(b.conv(x, b.const(_w(4, 4, 3, 3)), pads=(1, 1, 1, 1)))
    c2 = b.conv(r1, b.const(_w(4, 4, 1, 1)))
    add = b.add(c2, r1)
    cat = b.concat(add, r1, axis=1)
    c3 = b.conv(cat, b.const(_w(2, 8, 1, 1)))
    flat = b.flatten(c3)
    g.outputs = [b.matmul(flat, b.const(_w(72, 5)))]
    for v, name in ((r1, "r1"), (c2, "c2"), (add, "add"), (cat, "cat"), (c3, "c3"), (flat, "f")):
        v.name = name
    return g


def _data() -> list[dict[str, np.ndarray]]:
    return [{"x": RNG.standard_normal((2, 4, 6, 6)).astype(np.float32)} for _ in range(3)]


def _reads_dq(node: Node, index: int) -> bool:
    value = node.inputs[index]
    return (
        value is not None
        and value.producer is not None
        and value.producer.op == ("dequantize_linear")
    )


def _node(g: Graph, out: str) -> Node:
    return next(n for n in g.nodes if n.outputs[0].name == out)


def test_trt_placement() -> None:
    g = _model()
    prepare(g)
    sites = {s.name: s for s in activation_sites(g)}
    assert set(sites) == {"x", "r1", "add", "cat", "f"}
    assert sites["add"].group == sites["cat"].group == sites["r1"].group  # concat shares a scale
    apply_quantization(g, calibrate(g, _data(), show_progress=False).amax)
    compiler.optimize(g, "O0")  # verifies
    add = _node(g, "add")
    assert not _reads_dq(add, 0) and _reads_dq(add, 1)  # the conv output fuses into the add
    cat = _node(g, "cat")
    scales = {float(_scale(cat.inputs[i])) for i in (0, 1)}
    assert scales == {float(_scale(_node(g, "c3").inputs[0]))}  # one shared scale
    for n in g.nodes:
        if n.op in ("conv", "matmul"):
            assert _reads_dq(n, 0) and _reads_dq(n, 1)
        if n.op == "quantize_linear":
            zp = n.inputs[2].const_value()  # type: ignore[union-attr]
            assert zp is not None and zp.dtype == np.int8 and not zp.any()


def _scale(dq_out: Value | None) -> np.ndarray:
    assert dq_out is not None and dq_out.producer is not None
    scale = dq_out.producer.inputs[1]
    assert scale is not None and scale.const_value() is not None
    return np.asarray(scale.const_value())


def test_keep_leaves_a_layer_float() -> None:
    g = _model()
    prepare(g)
    calib = calibrate(g, _data(), show_progress=False)
    apply_quantization(g, calib.amax, keep=["c3"])
    c3 = _node(g, "c3")
    assert not _reads_dq(c3, 0) and not _reads_dq(c3, 1)
    assert _reads_dq(_node(g, "c2"), 0)


def test_ort_layout_pre_activation_pairs_are_exact() -> None:
    g = _model()
    prepare(g, layout="ort")
    data = _data()
    calib = calibrate(g, data, layout="ort", show_progress=False)
    apply_quantization(g, calib.amax, layout="ort")
    relu = next(n for n in g.nodes if n.op == "relu")
    pre = relu.inputs[0]
    assert pre is not None and pre.producer is not None and pre.producer.op == "dequantize_linear"
    # r1 shares the concat's signed scale: the pre-activation pair takes r1's scale and type
    post = _node(g, "c2").inputs[0]
    assert _scale(pre) == _scale(post)
    assert pre.producer.inputs[2].type == post.producer.inputs[2].type  # type: ignore[union-attr]
    quantized = [run(g, d).values[0] for d in data]
    q = pre.producer.inputs[0]
    assert q is not None and q.producer is not None
    relu.set_input(0, q.producer.inputs[0])  # drop the pre-activation pair
    for d, expected in zip(data, quantized, strict=True):
        np.testing.assert_array_equal(run(g, d).values[0], expected)
