"""`fuse-pad-conv` on the odd graphs the fuzzer found (the golden files cover the plain fusion)."""

from __future__ import annotations

import numpy as np
import pytest

import compiler
from compiler.errors import CompilerError
from compiler.graph import Graph
from compiler.types import DType, TensorType
from compiler.verifier import verify


def _pad_conv(pads: np.ndarray) -> tuple[Graph, list]:
    graph = Graph()
    x = graph.add_input("x", TensorType(DType.FLOAT32, ("N", 3, "H", "W")))
    b = graph.builder()
    w = b.const(np.ones((8, 3, 3, 3), np.float32))
    # Stored types as the importer leaves them when the pads become constant only later.
    inputs = [x, b.const(pads), b.const(np.array(0, np.float32))]
    pad_t = TensorType(DType.FLOAT32, ("N", 3, "unk_0", "unk_1"))
    padded = b.insert(graph.create_node("pad", inputs, output_types=[pad_t])).output
    attrs = {"kernel_shape": (3, 3), "pads": (0, 0, 0, 0)}
    conv_t = TensorType(DType.FLOAT32, ("N", 8, "unk_2", "unk_3"))
    y = b.insert(graph.create_node("conv", [padded, w], attrs, output_types=[conv_t])).output
    return graph, [padded, y, b.relu(y)]


def test_fused_conv_output_types_follow_the_unpadded_input() -> None:
    graph, (_, _, out) = _pad_conv(np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64))
    assert out.type.shape == ("N", 8, "unk_2", "unk_3")
    graph.outputs = [out]
    verify(graph)
    compiler.optimize(graph, "fuse-pad-conv", verify_each=True)
    assert graph.outputs[0].producer.inputs[0].producer.inputs[0] is graph.inputs[0]
    assert graph.outputs[0].type.shape == ("N", 8, "H", "W")


def test_pad_with_float_pads_is_refused_by_inference() -> None:
    # ONNX pads are int64; float pads used to reach the fusion, which truncated them.
    graph, (_, _, out) = _pad_conv(np.array([0, 0, 1, 1, 0, 0, 1, 1], np.float32))
    graph.outputs = [out]
    with pytest.raises(CompilerError, match="pads must be an integer tensor"):
        verify(graph)
