"""Which ONNX models the IR can represent: the one coverage rule of the conformance and round-trip
sweeps (a case is "covered" when every op is registered and every value is a tensor of an element
type the IR has)."""

from __future__ import annotations

import onnx

from compiler.frontend.onnx_data import ONNX_TO_DTYPE
from compiler.frontend.onnx_upgrade import renamed_op
from compiler.registry import find_onnx_op


def coverage_gaps(model: onnx.ModelProto) -> list[str]:
    """Why the IR cannot represent `model` (unsupported ops, non-tensor values, element types)."""
    graph = model.graph
    gaps = sorted({f"op {n.domain + '.' if n.domain else ''}{n.op_type}" for n in graph.node
                   if not (n.op_type == "Constant" and n.domain in ("", "ai.onnx"))
                   and find_onnx_op(renamed_op(n.op_type), n.domain) is None})  # fmt: skip
    for vi in (*graph.input, *graph.output):
        kind = vi.type.WhichOneof("value")
        if kind != "tensor_type":
            gaps.append(f"{kind} value {vi.name!r}")
        elif vi.type.tensor_type.elem_type not in ONNX_TO_DTYPE:
            gaps.append(f"element type {_type_name(vi.type.tensor_type.elem_type)} of {vi.name!r}")
    for node in graph.node:
        to = next((a.i for a in node.attribute if a.name == "to"), None)
        if node.op_type == "Cast" and to is not None and to not in ONNX_TO_DTYPE:
            gaps.append(f"cast to element type {_type_name(to)}")
    return gaps


def _type_name(elem_type: int) -> str:
    return onnx.TensorProto.DataType.Name(elem_type)
