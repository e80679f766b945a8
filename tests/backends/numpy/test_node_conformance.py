"""ONNX backend node tests (`onnx.backend.test`) through the NumPy interpreter.

Every node case runs as `<case>_cpu` (the `_cuda` copies are skipped: CPU only). A case that uses
an op or a value the IR does not support is skipped with the reason (not covered); every other
case must match the stored outputs within the case's tolerances.
"""

from __future__ import annotations

import warnings

import onnx.backend.test
import pytest

from backends.numpy.conformance import NumpyBackend, coverage_gaps

pytestmark = pytest.mark.slow

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    _suite = onnx.backend.test.BackendTest(NumpyBackend, __name__)
    _suite.include(r"_cpu$")
    OnnxBackendNodeModelTest = _suite.test_cases["OnnxBackendNodeModelTest"]


def test_suite_has_node_cases() -> None:
    names = [n for n in dir(OnnxBackendNodeModelTest) if n.startswith("test_")]
    assert len(names) > 1800


def test_uncovered_reasons_name_the_gap() -> None:
    from onnx import TensorProto, helper

    node = helper.make_node("Cast", ["x"], ["y"], to=TensorProto.FLOAT4E2M1)
    graph = helper.make_graph(
        [node, helper.make_node("Adagrad", ["x"], ["z"], domain="ai.onnx.preview.training")],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT4E2M1, [2])],
    )
    gaps = coverage_gaps(helper.make_model(graph))
    assert gaps == [
        "op ai.onnx.preview.training.Adagrad",
        "element type FLOAT4E2M1 of 'y'",
        "cast to element type FLOAT4E2M1",
    ]
