"""One-node graph helpers for op tests: build, verify, run kernels, compare with onnx.reference."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
import onnx.helper as oh
import onnx.numpy_helper as onh
from onnx.reference import ReferenceEvaluator

from compiler.graph import Graph
from compiler.ir import Node, Value
from compiler.registry import InferContext, canonical_attrs, get_op, infer_types
from compiler.types import DType, TensorType, tensor_type_of
from compiler.verifier import verify


@dataclass(frozen=True)
class Const:
    """An input that becomes a `const` node (inference may read it)."""

    value: Any


Input = np.ndarray | Const | TensorType | None


def rand(*shape: int, dtype: Any = np.float32, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def _graph_of(inputs: Sequence[Input]) -> tuple[Graph, list[Value | None]]:
    """A graph whose inputs and constants stand for `inputs` (None stays an absent input)."""
    graph = Graph()
    b = graph.builder()
    values: list[Value | None] = []
    for i, x in enumerate(inputs):
        if x is None:
            values.append(None)
        elif isinstance(x, Const):
            values.append(b.const(np.asarray(x.value), f"c{i}"))
        else:
            t = x if isinstance(x, TensorType) else tensor_type_of(np.asarray(x))
            values.append(graph.add_input(f"x{i}", t))
    return graph, values


def one_node(
    op: str, inputs: Sequence[Input], attrs: Mapping[str, Any] | None = None, num_outputs: int = 1
) -> tuple[Graph, Node]:
    """A verified graph holding one `op` node fed by graph inputs and constants."""
    graph, values = _graph_of(inputs)
    b = graph.builder()
    # create_node, not b.node: Split's `num_outputs` attribute clashes with the builder keyword
    node = b.insert(graph.create_node(op, values, dict(attrs or {}), num_outputs=num_outputs))
    graph.outputs = list(node.outputs)
    verify(graph)
    return graph, node


def infer(op: str, inputs: Sequence[Input], attrs: Mapping[str, Any] | None = None,
          num_outputs: int = 1) -> list[TensorType]:  # fmt: skip
    """The verified output types of a one-node graph."""
    _, node = one_node(op, inputs, attrs, num_outputs)
    return [v.type for v in node.outputs]


def infer_raw(op: str, inputs: Sequence[Input], attrs: Mapping[str, Any] | None = None,
              num_outputs: int = 1) -> list[TensorType]:  # fmt: skip
    """Inferred output types where dims may be `None` (data-dependent), without building a node."""
    graph, values = _graph_of(inputs)
    opdef = get_op(op)
    ctx = InferContext(op, {}, values, num_outputs)
    canon = canonical_attrs(opdef, dict(attrs or {}), ctx)
    types, _ = infer_types(opdef, canon, values, num_outputs)
    return types


def tensor(dtype: DType, *shape: int | str) -> TensorType:
    return TensorType(dtype, tuple(shape))


def f32(*shape: int | str) -> TensorType:
    return tensor(DType.FLOAT32, *shape)


def _array(x: Input) -> np.ndarray | None:
    if x is None:
        return None
    return np.asarray(x.value if isinstance(x, Const) else x)


def _onnx_attr(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return onh.from_array(value)
    return value


def reference(
    onnx_op: str, inputs: Sequence[Input], attrs: Mapping[str, Any], num_outputs: int, opset: int
) -> list[np.ndarray]:
    """Run the one-node ONNX model through `onnx.reference.ReferenceEvaluator`."""
    names = ["" if x is None else f"i{i}" for i, x in enumerate(inputs)]
    feeds = {n: _array(x) for n, x in zip(names, inputs, strict=True) if x is not None}
    outs = [f"o{j}" for j in range(num_outputs)]
    node = oh.make_node(onnx_op, names, outs, **{k: _onnx_attr(v) for k, v in attrs.items()})
    graph = oh.make_graph(
        [node], "g",
        [oh.make_tensor_value_info(n, oh.np_dtype_to_tensor_dtype(a.dtype), a.shape)
         for n, a in feeds.items()],
        [oh.make_tensor_value_info(o, onnx.TensorProto.UNDEFINED, None) for o in outs],
    )  # fmt: skip
    model = oh.make_model(graph, opset_imports=[oh.make_opsetid("", opset)])
    return list(ReferenceEvaluator(model).run(None, feeds))


def tolerance(dtype: np.dtype, depth: int = 1) -> float:
    """Relative tolerance from the dtype's epsilon and the reduction depth (0 for exact types)."""
    if np.dtype(dtype).kind != "f":
        return 0.0
    return float(8 * np.finfo(dtype).eps * max(depth, 1) ** 0.5 * 4)


def check(
    op: str,
    onnx_op: str,
    inputs: Sequence[Input],
    attrs: Mapping[str, Any] | None = None,
    *,
    onnx_attrs: Mapping[str, Any] | None = None,
    num_outputs: int = 1,
    depth: int = 1,
    opset: int = 22,
) -> list[np.ndarray]:
    """Build + verify the node, run its kernel and compare with the ONNX reference evaluator.

    Also checks that each kernel result has the inferred dtype and (static) shape.
    """
    _, node = one_node(op, inputs, attrs, num_outputs)
    arrays = [_array(x) for x in inputs]
    while arrays and arrays[-1] is None:
        arrays.pop()
    kernel = get_op(op).kernel
    assert kernel is not None, op
    got = kernel(arrays, node.attrs)[:num_outputs]
    want = reference(onnx_op, inputs, onnx_attrs if onnx_attrs is not None else dict(attrs or {}),
                     num_outputs, opset)  # fmt: skip
    for value, g, w in zip(node.outputs, got, want, strict=True):
        assert g.dtype == value.type.dtype.to_numpy(), (g.dtype, value.type)
        stored = value.type.shape
        assert stored is not None and len(stored) == g.ndim
        assert all(not isinstance(d, int) or d == s for d, s in zip(stored, g.shape, strict=True))
        assert g.shape == w.shape, (g.shape, w.shape)
        tol = tolerance(g.dtype, depth)
        if tol == 0.0:
            np.testing.assert_array_equal(g, w)
        else:
            scale = max(float(np.max(np.abs(w.astype(np.float64)), initial=0.0)), 1.0)
            np.testing.assert_allclose(g, w, rtol=tol, atol=tol * scale)
    return got
