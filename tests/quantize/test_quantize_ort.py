"""The reference Q/DQ semantics equal ONNX Runtime's: bit for bit on random tensors, and within
one quantization step at every quantize node of a quantized real model (float accumulation order
is the only difference)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from onnx import helper

from backends.numpy import run
from backends.onnx import run_onnxruntime, to_onnx
from compiler.graph import Graph
from compiler.quantize import quantize
from compiler.types import DType, TensorType

pytest.importorskip("onnxruntime")
RNG = np.random.default_rng(0)


def _qdq_graph(shape: tuple[int, ...], scale: np.ndarray, zp: np.ndarray, axis: int) -> Graph:
    g = Graph("qdq")
    x = g.add_input("x", TensorType(DType.FLOAT32, shape))
    b = g.builder()
    s, z = b.const(scale, "s"), b.const(zp, "z")
    q = b.op("quantize_linear", x, s, z, axis=axis)
    q.name = "q"
    y = b.op("dequantize_linear", q, s, z, axis=axis)
    y.name = "y"
    g.outputs = [q, y]
    return g


@pytest.mark.parametrize("dtype", [np.int8, np.uint8])
@pytest.mark.parametrize("per_axis", [False, True])
def test_quantize_dequantize_bit_exact_on_random_tensors(dtype: type, per_axis: bool) -> None:
    x = (RNG.standard_normal((16, 300)) * RNG.uniform(0.01, 50, (16, 1))).astype(np.float32)
    amax = np.abs(x).max(axis=1).astype(np.float32)
    scale = (amax / np.float32(100)).astype(np.float32)  # saturates the largest values
    x[:, :8] = (np.arange(8, dtype=np.float32) - 3.5) * scale[:, None]  # exact halves
    if not per_axis:
        scale = np.asarray(scale[0])
    zp = np.zeros(scale.shape, dtype)
    g = _qdq_graph(x.shape, scale, zp, axis=0)
    ours = run(g, {"x": x}).values
    theirs = run_onnxruntime(to_onnx(g), {"x": x})
    np.testing.assert_array_equal(ours[0], theirs["q"])
    np.testing.assert_array_equal(ours[1], theirs["y"])
    assert ours[0].min() == np.iinfo(dtype).min or dtype == np.int8  # saturation exercised


def test_int4_weights_dequantize_bit_exact() -> None:
    q = RNG.integers(-7, 8, (6, 10)).astype(DType.INT4.to_numpy())
    scale = RNG.uniform(0.01, 1, 6).astype(np.float32)
    g = Graph("dq4")
    g.add_input("x", TensorType(DType.FLOAT32, (1,)))
    b = g.builder()
    zero = b.const(np.zeros(6, q.dtype))
    y = b.op("dequantize_linear", b.const(q), b.const(scale), zero, axis=0)
    y.name = "y"
    g.outputs = [y]
    x = np.zeros(1, np.float32)
    np.testing.assert_array_equal(run(g, {"x": x}).values[0], run_onnxruntime(to_onnx(g),
                                  {"x": x})["y"])  # fmt: skip


def _with_quantize_outputs(model: Any) -> tuple[Any, list[str]]:
    types = {t.name: t.data_type for t in model.graph.initializer}
    nodes = [n for n in model.graph.node if n.op_type == "QuantizeLinear"]
    for n in nodes:  # the zero point's type is the output type
        model.graph.output.append(
            helper.make_tensor_value_info(n.output[0], types[n.input[2]], None)
        )
    return model, [n.output[0] for n in nodes]


@pytest.mark.parametrize("layout", ["trt", "ort"])
def test_quantized_mnist_matches_onnxruntime(material: Any, layout: str) -> None:
    from compiler.driver import load_model

    d = np.load(Path(material("mnist_cnn")).parent / "mnist_test.npz")
    g = load_model(material("mnist_cnn"))
    quantize(g, [d["x_train"][i : i + 64] for i in range(0, 256, 64)], layout=layout,
             show_progress=False)  # fmt: skip
    x = d["x"][:500]
    model, names = _with_quantize_outputs(to_onnx(g))
    theirs = run_onnxruntime(model, {"x": x})
    ours = run(g, {"x": x}, capture=names)
    steps = [np.abs(ours.captured[n].astype(np.int32) - theirs[n].astype(np.int32)) for n in names]
    assert len(names) >= 6 and max(int(s.max()) for s in steps) <= 1  # at most one step
    assert sum(int(np.count_nonzero(s)) for s in steps) <= 1e-3 * sum(s.size for s in steps)
    logits = ours.values[0]
    fused = run_onnxruntime(to_onnx(g), {"x": x}, optimization="all")["logits"]
    assert np.mean(fused.argmax(1) == logits.argmax(1)) >= 0.995  # integer kernels


def test_onnxruntime_calibration_matches_the_reference(material: Any) -> None:
    from compiler.driver import load_model
    from compiler.quantize.driver import calibrate, prepare

    d = np.load(Path(material("mnist_cnn")).parent / "mnist_test.npz")
    graph = load_model(material("mnist_cnn"))
    prepare(graph, layout="ort")
    data = [{"x": d["x_train"][i : i + 64]} for i in range(0, 256, 64)]
    ours = calibrate(graph, data, layout="ort", show_progress=False)
    theirs = calibrate(graph, data, layout="ort", show_progress=False, backend="onnxruntime")
    assert ours.amax.keys() == theirs.amax.keys() and len(ours.amax) >= 6
    for name, amax in ours.amax.items():
        assert theirs.amax[name] == pytest.approx(amax, rel=1e-5)
    for name, mean in ours.means.items():
        np.testing.assert_allclose(theirs.means[name], mean, rtol=1e-4, atol=1e-5)


def test_qdq_bit_exact_on_real_activations(material: Any) -> None:
    """Every quantize/dequantize pair of the quantized MNIST, applied in ONNX Runtime to the very
    activations our reference computed, gives the same integers and floats bit for bit."""
    from compiler.driver import load_model
    from compiler.text.printer import Namer, graph_values

    d = np.load(Path(material("mnist_cnn")).parent / "mnist_test.npz")
    g = load_model(material("mnist_cnn"))
    quantize(g, d["x_train"][:128], layout="ort", show_progress=False)
    namer = Namer(graph_values(g))
    pairs = [n for n in g.nodes if n.op == "quantize_linear"]
    names = [namer.name(n.inputs[0]) for n in pairs]  # type: ignore[arg-type]
    captured = run(g, {"x": d["x"][:100]}, capture=names).captured
    for node, name in zip(pairs, names, strict=True):
        scale, zp = (np.asarray(v.const_value()) for v in node.inputs[1:])  # type: ignore[union-attr]
        x = captured[name]
        single = _qdq_graph(x.shape, scale, zp, axis=int(node.attrs["axis"]))
        ours = run(single, {"x": x}).values
        theirs = run_onnxruntime(to_onnx(single), {"x": x})
        np.testing.assert_array_equal(ours[0], theirs["q"])
        np.testing.assert_array_equal(ours[1], theirs["y"])
