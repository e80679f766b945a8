"""Real data: int8 MNIST accuracy on the held-out digits, and the sensitivity report finding a
layer made fragile on purpose (then `--max-drop` keeping exactly that layer in float)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from backends.numpy import run
from backends.onnx import run_onnxruntime, to_onnx
from compiler.driver import load_model
from compiler.graph import Graph
from compiler.ir import Node
from compiler.optimizer import optimize
from compiler.quantize import quantize
from compiler.quantize.driver import (
    apply_quantization,
    calibrate,
    keep_for_budget,
    prepare,
    run_batches,
    sensitivity,
)
from compiler.quantize.metrics import sqnr_db
from compiler.text.printer import Namer, graph_values


def _digits(material: Any) -> Any:
    return np.load(Path(material("mnist_cnn")).parent / "mnist_test.npz")


@pytest.mark.parametrize("layout", ["trt", "ort"])
def test_mnist_int8_accuracy_drop_at_most_0_3_points(material: Any, layout: str) -> None:
    d = _digits(material)
    graph = load_model(material("mnist_cnn"))
    float_acc = np.mean(run(graph, {"x": d["x"]}).values[0].argmax(1) == d["y"])
    calib = [d["x_train"][i : i + 32] for i in range(0, 256, 32)]
    result = quantize(graph, calib, layout=layout, show_progress=False)
    assert result.weight_layers == 6 and result.activation_pairs >= 6
    int8_acc = np.mean(run(graph, {"x": d["x"]}).values[0].argmax(1) == d["y"])
    assert float_acc - int8_acc <= 0.003, (float_acc, int8_acc)
    if layout == "ort":  # ONNX Runtime's integer kernels on the export
        logits = run_onnxruntime(to_onnx(graph), {"x": d["x"]}, optimization="all")["logits"]
        assert float_acc - np.mean(logits.argmax(1) == d["y"]) <= 0.003


def _make_fragile(graph: Graph) -> str:
    """Scale one channel of the second conv's output by 1/100 and the third conv's weights on
    that input channel by 100: the float function is unchanged (ReLU is positively homogeneous)
    but the third conv's per-channel weight scales and input range are dominated by it."""
    convs = [n for n in graph.nodes if n.op == "conv"]
    prev, layer = convs[1], convs[2]
    w, bias = (np.array(prev.inputs[i].const_value()) for i in (1, 2))  # type: ignore[union-attr]
    w[5] /= 100
    bias[5] /= 100
    w2 = np.array(layer.inputs[1].const_value())  # type: ignore[union-attr]
    w2[:, 5] *= 100
    for node, i, array in ((prev, 1, w), (prev, 2, bias), (layer, 1, w2)):
        _set_const(graph, node, i, array)
    optimize(graph, "prune-dead-nodes")
    return Namer(graph_values(graph)).name(layer.outputs[0])


def _set_const(graph: Graph, node: Node, index: int, array: np.ndarray) -> None:
    with graph.inserting_before(node) as b:
        node.set_input(index, b.const(array.astype(np.float32)))


def test_sensitivity_finds_the_fragile_layer_and_budget_keeps_only_it(material: Any) -> None:
    d = _digits(material)
    graph = load_model(material("mnist_cnn"))
    prepare(graph)
    fragile = _make_fragile(graph)
    data = [{"x": d["x_train"][i : i + 64]} for i in range(0, 256, 64)]
    calib = calibrate(graph, data, show_progress=False)
    scores = sensitivity(graph, calib, data[:1], show_progress=False)
    assert scores[0].unit == fragile and scores[0].sqnr < scores[1].sqnr - 10
    ranked = [s.unit for s in scores]
    result = keep_for_budget(graph, calib, data[:1], ranked, metric="sqnr", max_drop=30.0)
    assert result.within and result.keep == [fragile]
    assert result.trace[0][1] > -30.0  # fully quantized: SQNR below 30 dB
    quantized = graph.clone()
    apply_quantization(quantized, calib.amax, keep=result.keep)
    ref, out = run_batches(graph, data[:1]), run_batches(quantized, data[:1])
    assert sqnr_db(ref, out) >= 30.0
