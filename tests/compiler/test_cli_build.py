"""`irforge build` output: network and engine layer counts for every precision, builder time vs
the whole command (real TensorRT(-RTX) builds of the bundled MNIST model)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from backends.tensorrt import _trt
from compiler.cli import main

ROOT = Path(__file__).resolve().parents[2]
MNIST = ROOT / "examples" / "models" / "mnist_cnn_raw.onnx"

pytestmark = pytest.mark.skipif(
    not _trt.available(), reason="needs tensorrt or tensorrt_rtx (pip install irforge[tensorrt])"
)


@pytest.mark.parametrize("precision", ["fp16", "int8"])
def test_build_prints_engine_layers_and_labelled_times(
    precision: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan, layers = tmp_path / "m.plan", tmp_path / "m.json"
    argv = ["build", str(MNIST), "-o", str(plan), "--precision", precision, "--opt-level", "0"]
    assert main([*argv, "--layer-map", str(layers)]) == 0
    out = capsys.readouterr().out
    engine = json.loads(layers.read_text())["engine_layers"]
    assert engine > 0 and f" network layers, {engine} engine layers; wrote {layers}\n" in out
    times = re.search(r"^  time: TensorRT builder (\d+\.\d\d)s, whole command (\d+\.\d\d)s$",
                      out, re.M)  # fmt: skip
    assert times is not None and float(times[1]) <= float(times[2])
    assert main([*argv, "--force"]) == 0  # without --layer-map too
    assert re.search(r" network layers, [1-9]\d* engine layers\n", capsys.readouterr().out)
