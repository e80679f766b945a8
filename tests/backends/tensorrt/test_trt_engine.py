"""Engine execution on a GPU: the built engine's outputs match the reference. Runs only where
NVIDIA's tensorrt and a CUDA GPU exist; elsewhere it skips with the reason (TENSORRT.md §11)."""

from __future__ import annotations

from typing import Any

import pytest
from _trtcheck import compare, requires_trt
from test_trt_models import feeds_for

import compiler
from backends.tensorrt.runtime import engine_execution_skip

pytestmark = requires_trt
SKIP = engine_execution_skip()


@pytest.mark.skipif(SKIP is not None, reason=SKIP or "")
@pytest.mark.parametrize("name", ["mnist_cnn", "resnet200"])
def test_engine_matches_reference(name: str, material: Any) -> None:
    from backends.tensorrt.build import build_plan
    from backends.tensorrt.runtime import EngineRunner

    graph = compiler.load(material(name))
    compiler.optimize(graph, "default")
    runner = EngineRunner(build_plan(graph).plan)
    try:
        for seed in (0, 1):  # buffers are reused across calls
            feeds = feeds_for(graph, seed)
            compare(graph, feeds, runner(feeds), factor=64.0)  # kernels differ from numpy's
    finally:
        runner.close()
