"""int8 through TensorRT on real models: `irforge build --precision int8` (`trt-int8`: int8
weights only) and `--precision int8 --calib DATA` (int8 activations calibrated on real data by
`compiler.quantize`, plus int8 weights). The int8 network built by the real builder, interpreted
in NumPy, must be bit-faithful to the reference's fake quantization: every quantized (int8)
tensor within one quantization step of the reference's (TENSORRT.md §11 item 5; observed:
identical), and float outputs within the float32 tolerance derived for the Q/DQ graph.
Calibration and evaluation use real data: the bundled MNIST digits
(examples/models/mnist_digits.npz) and the 10 MATERIAL photos (images.npz, MATERIAL.md §1.4) for
EfficientNet-Lite0.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _trtcheck import compare, requires_trt
from test_trt_models import feeds_for

from backends.numpy import run
from compiler.cli import main
from compiler.cli_build import build_model

pytestmark = [requires_trt, pytest.mark.slow]
DIGITS = Path(__file__).resolve().parents[3] / "examples" / "models" / "mnist_digits.npz"


def _layer_kinds(result: Any) -> list[str]:
    net = result.emission.network
    return [net.get_layer(i).type.name for i in range(net.num_layers)]


def _check_int8(result: Any, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Every int8 tensor within one step (and nearly all identical); outputs within tolerance."""
    from backends.tensorrt.interpreter import interpret

    assert result.plan and not result.emission.logger.errors
    graph, names = result.emission.graph, result.emission.emitter.names
    got = interpret(result.emission.network, feeds, capture=True)
    quantized = [n.outputs[0] for n in graph.nodes if n.op == "quantize_linear"]
    ref = run(graph, feeds, capture=[names[v] for v in quantized])
    for v in quantized:
        have, want = got[names[v]], ref.captured[names[v]]
        assert have.dtype == want.dtype == np.int8
        steps = np.abs(have.astype(np.int32) - want.astype(np.int32))
        assert steps.max() <= 1 and np.mean(steps > 0) <= 1e-3, names[v]
    compare(graph, feeds, {k: got[k] for k in ref.outputs}, ref.outputs)
    return got


def test_mnist_int8_calibrated_activations_on_real_digits(material: Any) -> None:
    result = build_model(material("mnist_cnn"), precision="int8", calib=DIGITS)
    kinds = _layer_kinds(result)
    assert kinds.count("QUANTIZE") == 6  # input, 4 conv activations, the pooled features
    assert kinds.count("DEQUANTIZE") == 12  # those 6 and the 6 weight tensors
    digits = np.load(DIGITS)
    graph = result.emission.graph
    feeds = {graph.inputs[0].name: digits["x"]}
    got = _check_int8(result, feeds)
    logits = got[graph.outputs[0].name]
    # the float model on the same digits: the int8 network is a real int8 network, not a copy
    float_graph = build_model(material("mnist_cnn")).emission.graph
    float_logits = run(float_graph, feeds).outputs[float_graph.outputs[0].name]
    assert not np.array_equal(logits, float_logits)
    acc8 = np.mean(logits.argmax(1) == digits["y"])
    acc32 = np.mean(float_logits.argmax(1) == digits["y"])
    assert acc8 >= acc32 - 2 / len(digits["y"]), (acc8, acc32)


def test_effnet_lite0_int8_calibrated_on_real_photos(material: Any) -> None:
    """50 int8 activation sites calibrated on the 10 photos; measured: every int8 tensor and the
    logits identical to the reference's fake quantization, and top-1 equal to the torch float
    model's on 9 of the 10 photos (the flower moves, as in MATERIAL's quantization bench)."""
    model = material("effnet_lite0")
    photos = model.parent / "images.npz"
    result = build_model(model, precision="int8", calib=photos)
    assert _layer_kinds(result).count("QUANTIZE") >= 40
    graph = result.emission.graph
    got = _check_int8(result, {graph.inputs[0].name: np.load(photos)["x"]})
    torch_logits = np.load(model.parent / "effnet_lite0_torch_logits.npy")
    agree = got[graph.outputs[0].name].argmax(1) == torch_logits.argmax(1)
    assert agree.sum() >= 8, agree


@pytest.mark.parametrize("name", ["mnist_cnn", "resnet200"])
def test_int8_weights_only_pipeline(name: str, material: Any) -> None:
    result = build_model(material(name), precision="int8")
    kinds = _layer_kinds(result)
    assert kinds.count("QUANTIZE") == 0  # trt-int8 quantizes weights only
    assert kinds.count("DEQUANTIZE") >= kinds.count("CONVOLUTION") > 0
    _check_int8(result, feeds_for(result.emission.graph))


def test_cli_int8(material: Any, tmp_path: Path, capsys: Any) -> None:
    model, plan = str(material("mnist_cnn")), tmp_path / "m.plan"
    argv = ["build", model, "-o", str(plan), "--precision", "int8"]
    assert main([*argv, "--calib", str(DIGITS)]) == 0
    assert "int8: weights and calibrated activations" in capsys.readouterr().out
    assert plan.stat().st_size > 0
    assert main([*argv, "--force"]) == 0
    assert "int8: weights only" in capsys.readouterr().out
    bad = ["build", model, "-o", str(tmp_path / "h.plan"), "--precision", "fp16"]
    assert main([*bad, "--calib", str(DIGITS)]) == 2
    assert "--calib calibrates int8 activations" in capsys.readouterr().err
    assert main([*argv, "--force", "--calib", str(tmp_path / "missing.npz")]) == 2
