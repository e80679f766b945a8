"""Bias correction: after `correct_biases` + `quantize-symmetric`, each channel's mean output over
the calibration data equals the float model's (padding included), for conv and gemm."""

from __future__ import annotations

import numpy as np
import pytest

import compiler
from backends.numpy import run
from compiler.graph import Graph
from compiler.quantize.driver import calibrate
from compiler.types import DType, TensorType
from passes.quantize_bias_correction import correct_biases

RNG = np.random.default_rng(0)


def _graph(op: str) -> tuple[Graph, list[dict[str, np.ndarray]]]:
    g = Graph("m")
    if op == "conv":
        shape: tuple[int, ...] = (4, 3, 7, 7)
        w = RNG.standard_normal((6, 3, 3, 3)) * RNG.uniform(0.1, 3, (6, 1, 1, 1))
        bias, attrs = RNG.standard_normal(6), {"pads": (1, 1, 1, 1), "group": 1}
    else:
        shape, w, bias, attrs = (8, 5), RNG.standard_normal((4, 5)), RNG.standard_normal(4), {
            "transB": 1, "alpha": 0.5, "beta": 2.0}  # fmt: skip
    x = g.add_input("x", TensorType(DType.FLOAT32, shape))
    b = g.builder()
    y = b.op(op, x, b.const(w.astype(np.float32)), b.const(bias.astype(np.float32)), **attrs)
    g.outputs = [b.relu(b.add(y, b.const(np.float32(0))))]  # keep the layer output interior
    data = [{"x": (RNG.standard_normal(shape) + 1.5).astype(np.float32)} for _ in range(3)]
    return g, data


def _channel_means(g: Graph, data: list[dict[str, np.ndarray]]) -> np.ndarray:
    y = np.concatenate([run(g, d, capture=["y"]).captured["y"] for d in data]).astype(np.float64)
    return y.mean(axis=tuple(i for i in range(y.ndim) if i != 1))


@pytest.mark.parametrize("op", ["conv", "gemm"])
def test_corrected_means_match_float(op: str) -> None:
    g, data = _graph(op)
    for n in g.nodes:
        if n.op in ("conv", "gemm"):
            n.outputs[0].name = "y"
    calib = calibrate(g, data, show_progress=False)
    expected = _channel_means(g, data)
    plain, corrected = g.clone(), g.clone()
    assert correct_biases(corrected, calib.means) == 1
    for q in (plain, corrected):
        compiler.optimize(q, "quantize-symmetric,prune-dead-nodes")
    err_plain = np.abs(_channel_means(plain, data) - expected).max()
    err_corrected = np.abs(_channel_means(corrected, data) - expected).max()
    assert err_corrected <= 1e-5 * np.abs(expected).max() + 1e-6
    assert err_corrected < err_plain / 10
