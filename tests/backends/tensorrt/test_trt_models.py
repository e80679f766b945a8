"""MATERIAL models through the TensorRT backend: emitted, built by the real TensorRT(-RTX)
builder with no logged error, and the built network (interpreted in NumPy) matches the
reference backend within derived tolerances. Builds are cached per module."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from _trtcheck import compare, requires_trt

import compiler
from backends.numpy import run
from compiler.graph import Graph

pytestmark = [requires_trt]

# (model, pipeline): after `default` and, for the models whose raw form has other ops, before it.
# The light_* models (every intermediate, fp32 and fp16) are in test_models_light.py,
# transformer64 and mlp2000 in test_models_large.py, int8 in test_models_int8*.py.
CASES = [
    ("mnist_cnn", "default"), ("resnet200", "default"), ("effnet_lite0", "default"),
    ("effnet_lite0_legacy", "default"), ("effnet_lite0_raw", "O0"), ("mnist_cnn_raw", "O0"),
]  # fmt: skip
BATCH = 2  # symbolic dims in the feeds (the default profile covers 1..16)


def feeds_for(graph: Graph, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    out = {}
    for v in graph.inputs:
        shape = [d if isinstance(d, int) else BATCH for d in v.type.shape or ()]
        out[v.name] = rng.standard_normal(shape).astype(v.type.dtype.to_numpy())
    return out


@pytest.fixture(scope="module")
def built(request: Any) -> Any:
    cache: dict[tuple[str, str], Any] = {}

    def get(name: str, pipeline: str, material: Any) -> Any:
        if (name, pipeline) not in cache:
            from backends.tensorrt.build import build_plan

            graph = compiler.load(material(name))
            compiler.optimize(graph, pipeline)
            cache[name, pipeline] = (graph, build_plan(graph))
        return cache[name, pipeline]

    return get


@pytest.mark.parametrize(("name", "pipeline"), CASES, ids=[f"{m}-{p}" for m, p in CASES])
def test_model_builds_and_matches_reference(name: str, pipeline: str, built: Any,
                                            material: Any) -> None:  # fmt: skip
    from backends.tensorrt.interpreter import interpret

    graph, result = built(name, pipeline, material)
    assert len(result.plan) > 0 and not result.emission.logger.errors
    assert result.emission.network.num_layers > 0
    feeds = feeds_for(graph)
    got = interpret(result.emission.network, feeds)
    compare(graph, feeds, got, run(graph, feeds).outputs)
