"""A PyTorch TransformerEncoderLayer (torch.onnx dynamo export) through the TensorRT backend in
fp32 (`O0` and `default`) and fp16 (`trt-fp16`): built by the real builder, interpreted, and
compared with the reference (fp16 within fp16-derived tolerances)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from _trtcheck import compare, requires_trt
from test_trt_fp16 import _check_fp16

import compiler
from backends.tensorrt.build import build_plan
from backends.tensorrt.interpreter import interpret

pytestmark = requires_trt


@pytest.fixture(scope="module")
def encoder(tmp_path_factory: Any) -> tuple[Path, Any]:
    pytest.importorskip("torch", reason="needs torch (pip install irforge[torch])")
    from torch_models import export_onnx, transformer

    module, x = transformer()
    path = export_onnx(module, x, tmp_path_factory.mktemp("enc") / "encoder.onnx", "dynamo")
    return path, x.numpy()


@pytest.mark.parametrize("pipeline", ["O0", "default"])
def test_encoder_layer_fp32(pipeline: str, encoder: tuple[Path, Any]) -> None:
    path, x = encoder
    graph = compiler.load(path)
    compiler.optimize(graph, pipeline)
    ops = graph.op_histogram()
    assert ops.get("layer_normalization") == 2 and ops.get("softmax") == 1
    result = build_plan(graph)
    assert not result.emission.logger.errors
    feeds = {graph.inputs[0].name: x}
    compare(graph, feeds, interpret(result.emission.network, feeds))


def test_encoder_layer_fp16(encoder: tuple[Path, Any]) -> None:
    path, x = encoder
    graph32, graph16 = compiler.load(path), compiler.load(path)
    compiler.optimize(graph32, "default")
    compiler.optimize(graph16, "trt-fp16")
    _check_fp16(graph32, graph16, {graph32.inputs[0].name: x})
