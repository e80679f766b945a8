"""Round-trip and speed of the textual IR on real and synthetic models (via the ONNX frontend)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from compiler.text import parse_graph, print_graph, print_graph_with_resources
from compiler.verifier import verify

try:
    import compiler.frontend.onnx_import  # noqa: F401

    FRONTEND = True
except ImportError:
    FRONTEND = False

needs_frontend = pytest.mark.skipif(not FRONTEND, reason="ONNX frontend not importable yet")
LIGHT = ["light_resnet50", "light_squeezenet", "light_inception_v1", "light_densenet121",
         "light_shufflenet", "light_bvlc_alexnet"]  # fmt: skip
MATERIAL = ["mnist_cnn", "effnet_lite0", "resnet200", "transformer64", "mlp2000"]


def _load(path: Path):  # type: ignore[no-untyped-def]
    import compiler

    try:
        return compiler.load(path)
    except compiler.UnsupportedOpError as exc:  # an op not defined yet is not a text-format bug
        pytest.skip(f"frontend cannot import {path.name} yet: {exc.message}")


def _check(path: Path) -> None:
    graph = _load(path)
    text, resources = print_graph_with_resources(graph)
    parsed = parse_graph(text, resources=resources, filename=path.name)
    assert print_graph(parsed) == text
    verify(parsed)


@needs_frontend
@pytest.mark.slow
@pytest.mark.parametrize("name", LIGHT)
def test_light_models_round_trip(name: str) -> None:
    from material import light_model_path

    _check(light_model_path(name))


@needs_frontend
@pytest.mark.slow
@pytest.mark.parametrize("name", MATERIAL)
def test_material_models_round_trip(name: str, material: Callable[[str], Path]) -> None:
    _check(material(name))


@needs_frontend
@pytest.mark.slow
def test_transformer64_prints_and_parses_fast(material: Callable[[str], Path]) -> None:
    graph = _load(material("transformer64"))
    assert len(graph) > 4000
    text, resources = print_graph_with_resources(graph)
    print_s = _best_of(3, lambda: print_graph(graph))
    parse_s = _best_of(3, lambda: parse_graph(text, resources=resources))
    # CPU time (~0.06 s / ~0.2 s here): wall time is meaningless under `pytest -n` contention
    assert print_s < 1.0 and parse_s < 1.0, (print_s, parse_s)


def _best_of(n: int, fn: Callable[[], object]) -> float:
    times = []
    for _ in range(n):
        start = time.process_time()
        fn()
        times.append(time.process_time() - start)
    return min(times)
