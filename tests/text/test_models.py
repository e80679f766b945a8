"""Text round trip `print(parse(print(g))) == print(g)` on every material model and on every ONNX
node-test case the registry covers; the parsed graph verifies. (Speed lives in benchmarks/.)"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from material import LIGHT, REAL, SYNTHETIC, light_model_path

import compiler
from compiler.text import parse_graph, print_graph, print_graph_with_resources
from compiler.verifier import verify


def _check(graph: compiler.Graph, filename: str) -> None:
    text, resources = print_graph_with_resources(graph)
    parsed = parse_graph(text, resources=resources, filename=filename)
    assert print_graph(parsed) == text
    verify(parsed)


@pytest.mark.parametrize("name", LIGHT)
def test_light_models_round_trip(name: str) -> None:
    path = light_model_path(name)
    _check(compiler.load(path), path.name)


@pytest.mark.parametrize("name", SYNTHETIC + REAL)
def test_material_models_round_trip(name: str, material: Callable[[str], Path]) -> None:
    path = material(name)
    _check(compiler.load(path), path.name)


def test_node_cases_round_trip() -> None:
    from onnx.backend.test.loader import load_node_model_tests

    covered = 0
    for case in load_node_model_tests():
        try:
            graph = compiler.load(case.model)
        except compiler.CompilerError:  # not covered: the import tests say why
            continue
        _check(graph, case.name)
        covered += 1
    assert covered > 1000, covered
