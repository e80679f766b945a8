"""Test helpers: build one-node IR graphs and compare op kernels with onnx.reference."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import onnx
from onnx import helper
from onnx.reference import ReferenceEvaluator

from compiler.graph import Graph
from compiler.ir import Node
from compiler.registry import get_op
from compiler.types import DType, TensorType, tensor_type_of
from compiler.verifier import verify

OPSET = onnx.defs.onnx_opset_version()


def onnx_attr(value: Any) -> Any:
    """IR attribute value -> what onnx.helper.make_node accepts."""
    if isinstance(value, DType):
        return helper.np_dtype_to_tensor_dtype(value.to_numpy())
    return value


def _elem(arr: np.ndarray) -> int:
    return helper.np_dtype_to_tensor_dtype(arr.dtype)


def run_reference(
    op_type: str,
    inputs: Sequence[np.ndarray | None],
    attrs: Mapping[str, Any] | None = None,
    num_outputs: int = 1,
    opset: int = OPSET,
) -> list[np.ndarray]:
    """Run one ONNX node through the reference evaluator (None = absent optional input)."""
    names = ["" if a is None else f"in{i}" for i, a in enumerate(inputs)]
    outs = [f"out{i}" for i in range(num_outputs)]
    kwargs = {k: onnx_attr(v) for k, v in (attrs or {}).items() if v is not None}
    node = helper.make_node(op_type, names, outs, **kwargs)
    g_inputs = [
        helper.make_tensor_value_info(n, _elem(a), a.shape)
        for n, a in zip(names, inputs, strict=True)
        if a is not None
    ]
    g_outputs = [helper.make_tensor_value_info(n, 0, None) for n in outs]
    graph = helper.make_graph([node], "g", g_inputs, g_outputs)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    feeds = {n: a for n, a in zip(names, inputs, strict=True) if a is not None}
    return list(ReferenceEvaluator(model).run(None, feeds))


def build(
    op: str,
    types: Sequence[TensorType | np.ndarray | None],
    attrs: Mapping[str, Any] | None = None,
    num_outputs: int | None = None,
    output_types: Sequence[TensorType] | None = None,
) -> tuple[Graph, Node]:
    """A verified one-node graph; arrays become `const` inputs, TensorTypes graph inputs."""
    graph = Graph()
    b = graph.builder()
    values = []
    for i, t in enumerate(types):
        if t is None:
            values.append(None)
        elif isinstance(t, TensorType):
            values.append(graph.add_input(f"x{i}", t))
        else:
            values.append(b.const(t, f"c{i}"))
    node = graph.create_node(op, values, attrs or {}, num_outputs=num_outputs,
                             output_types=output_types)  # fmt: skip
    graph.append(node)
    graph.outputs = list(node.outputs)
    verify(graph)
    return graph, node


def out_types(op: str, types: Sequence[TensorType | np.ndarray | None], **attrs: Any) -> list[Any]:
    """Inferred output types (as (dtype, shape) pairs) of a one-node graph."""
    _, node = build(op, types, attrs)
    return [(v.type.dtype, v.type.shape) for v in node.outputs]


def check_kernel(
    op: str,
    onnx_type: str,
    inputs: Sequence[np.ndarray | None],
    attrs: Mapping[str, Any] | None = None,
    *,
    num_outputs: int = 1,
    rtol: float = 0.0,
    atol: float = 0.0,
    const_inputs: Sequence[int] = (),
    drop_attrs: Sequence[str] = (),
) -> list[np.ndarray]:
    """Run the IR kernel and the ONNX reference on the same inputs and compare.

    Inputs listed in `const_inputs` become `const` nodes (for ops whose inference needs them).
    Exact comparison (NaN equal to NaN) unless a tolerance is given; dtypes and shapes must
    always match. `drop_attrs` are not passed to the reference (attributes it does not know yet).
    """
    types = [
        None if a is None else (a if i in const_inputs else tensor_type_of(a))
        for i, a in enumerate(inputs)
    ]
    _, node = build(op, types, attrs, num_outputs=num_outputs)
    kernel = get_op(op).kernel
    assert kernel is not None, op
    got = kernel(list(inputs), node.attrs)
    ref_attrs = {k: v for k, v in node.attrs.items() if k not in drop_attrs}
    want = run_reference(onnx_type, inputs, ref_attrs, num_outputs)
    assert len(got) == len(want) == len(node.outputs)
    for g, w, v in zip(got, want, node.outputs, strict=True):
        g, w = np.asarray(g), np.asarray(w)
        assert g.dtype == w.dtype, (op, g.dtype, w.dtype)
        assert g.shape == w.shape, (op, g.shape, w.shape)
        assert DType.from_numpy(g.dtype) == v.type.dtype
        assert all(d is None or d == s for d, s in zip(v.type.shape, g.shape, strict=True))
        if rtol or atol:
            np.testing.assert_allclose(g.astype(np.float64), w.astype(np.float64), rtol, atol)
        elif g.dtype.kind == "V" or g.dtype.type.__module__.startswith("ml_dtypes"):
            np.testing.assert_array_equal(g.astype(np.float32), w.astype(np.float32))
        else:
            np.testing.assert_array_equal(g, w)
    return got
