"""Determinism of the deployment pipelines across processes with different `PYTHONHASHSEED`s:
`trt-int8` (every MATERIAL model) and `trt-fp16` outputs (ONNX, textual IR) are byte-identical, and
so is the `--layer-map` JSON of TensorRT builds in fp32, fp16 and int8. Plan bytes are compared
with TensorRT-RTX's internal Myelin symbol numbers (`__mye585`) masked: the builder numbers them
in the order its threads create them, so under CPU load (and for int8 plans, always) two builds of
the same network differ in those digits only (measured: 24 bytes of a 577 kB fp32 plan, all in
such names; with them masked, every plan of a seed matches byte for byte). The
`default` pipeline on every MATERIAL model is covered by `test_determinism.py`, whose worker this
file reuses.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from material import model_path
from test_determinism import MODELS, _run_workers

ROOT = Path(__file__).resolve().parent.parent
MNIST = ROOT / "examples" / "models" / "mnist_cnn_raw.onnx"


@pytest.mark.parametrize("pipeline", ["trt-fp16", "trt-int8"])
def test_deployment_pipelines_are_byte_identical_across_processes(
    pipeline: str, tmp_path: Path
) -> None:
    """`trt-int8` on every MATERIAL model (issue 9); `trt-fp16` on three of them."""
    names = MODELS if pipeline == "trt-int8" else ("resnet200", "effnet_lite0")
    found = [p for p in (model_path(m) for m in names) if p]
    paths = [*found, *([] if any(p.stem == MNIST.stem for p in found) else [MNIST])]
    first, second = _run_workers(paths, tmp_path / "out", pipeline)
    assert sorted(first) == sorted(p.stem for p in paths)
    for model, files in first.items():
        assert len(files) >= 3, model
        assert files == second[model], f"{model} ({pipeline}): outputs differ between processes"


MYELIN_SYMBOL = re.compile(rb"__mye\d+")


def _build(tmp: Path, seed: str, precision: str) -> tuple[str, str]:
    plan, layers = tmp / f"{seed}.plan", tmp / f"{seed}.json"
    cmd = [sys.executable, "-m", "compiler", "build", str(MNIST), "-o", str(plan),
           "--precision", precision, "--layer-map", str(layers)]  # fmt: skip
    if precision == "int8":  # weights and activations, calibrated on the bundled digits
        cmd += ["--calib", str(MNIST.with_name("mnist_digits.npz"))]
    env = {**os.environ, "PYTHONHASHSEED": seed}
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    masked = MYELIN_SYMBOL.sub(b"__mye#", plan.read_bytes())
    return (hashlib.sha256(masked).hexdigest(),
            hashlib.sha256(layers.read_bytes()).hexdigest())  # fmt: skip


@pytest.mark.parametrize("precision", ["fp32", "fp16", "int8"])
def test_tensorrt_plan_and_layer_map_are_byte_identical(precision: str, tmp_path: Path) -> None:
    if not any(importlib.util.find_spec(n) for n in ("tensorrt", "tensorrt_rtx")):
        pytest.skip("needs tensorrt or tensorrt_rtx (the tensorrt extra)")
    first, second = _build(tmp_path, "1", precision), _build(tmp_path, "2", precision)
    assert first[1] == second[1], "layer maps differ"
    assert first[0] == second[0], "plans differ beyond TensorRT-RTX's internal symbol numbers"
