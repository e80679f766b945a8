"""Small ONNX models built in code for frontend/backend tests; a bitwise ORT round-trip check."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from compiler.registry import find_onnx_op

F = TensorProto.FLOAT


def model(
    nodes: Sequence[onnx.NodeProto],
    inputs: Sequence[onnx.ValueInfoProto],
    outputs: Sequence[onnx.ValueInfoProto],
    inits: Sequence[onnx.TensorProto] = (),
    opset: int = 17,
    ir_version: int | None = None,
) -> onnx.ModelProto:
    graph = helper.make_graph(list(nodes), "g", list(inputs), list(outputs), list(inits))
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = ir_version or (3 if opset < 7 else 7)
    return m


def vi(name: str, shape: Sequence[Any] | None, elem: int = F) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, elem, shape)


def init(name: str, array: np.ndarray) -> onnx.TensorProto:
    return numpy_helper.from_array(np.asarray(array), name)


def need_ops(*op_types: str) -> None:
    """Skip the test when an op is not registered yet."""
    missing = [op for op in op_types if find_onnx_op(op) is None]
    if missing:
        pytest.skip(f"ops not registered yet: {', '.join(missing)}")


def ort_bitwise(original: onnx.ModelProto, exported: onnx.ModelProto, seed: int = 0) -> None:
    """Run both models in ORT (no optimizations, 1 thread) on seeded inputs; assert same bits."""
    from backends.onnx.roundtrip import compare_bitwise, feeds_for
    from backends.onnx.runtime import session

    rng = np.random.default_rng(seed)
    inits = {t.name for t in original.graph.initializer}
    arrays = []
    for v in original.graph.input:
        if v.name in inits:
            continue
        tt = v.type.tensor_type
        shape = [d.dim_value if d.HasField("dim_value") else 2 for d in tt.shape.dim]
        dtype = helper.tensor_dtype_to_np_dtype(tt.elem_type)
        arrays.append(rng.standard_normal(shape).astype(dtype))
    got = [session(m).run(None, feeds_for(m, arrays)) for m in (original, exported)]
    problem = compare_bitwise(got[0], got[1])
    assert not problem, problem
