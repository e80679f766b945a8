"""Choosing the default export opset.

The base is `max(17, max since over the graph's ops)`. Some nodes need a newer opset than their
op's `since` because an attribute (QuantizeLinear `block_size`) or an element type (Celu float16)
arrived later without changing the op's form; the default opset is raised to the first opset
whose schema accepts every node.
"""

from __future__ import annotations

from functools import cache

import onnx
from onnx import defs

from compiler.frontend.onnx_data import DTYPE_TO_ONNX
from compiler.graph import Graph
from compiler.ir import Node
from compiler.registry import AttrSpec, get_op
from compiler.types import DType

MIN_DEFAULT_OPSET = 17


@cache
def _versions(op_type: str, domain: str) -> tuple[int, ...]:
    """The opsets at which `op_type` got a new schema, ascending."""
    found = {s.since_version for s in defs.get_all_schemas_with_history()
             if s.name == op_type and s.domain == domain}  # fmt: skip
    return tuple(sorted(found))


@cache
def _type_str(dtype: DType) -> str:
    elem = DTYPE_TO_ONNX[dtype]
    return f"tensor({onnx.helper.tensor_dtype_to_string(elem).split('.')[-1].lower()})"


def _accepts(
    schema: defs.OpSchema, attrs: tuple[str, ...], dtypes: tuple[DType | None, ...]
) -> bool:
    if any(key not in schema.attributes for key in attrs):
        return False
    allowed = {c.type_param_str: set(c.allowed_type_strs) for c in schema.type_constraints}
    formal = schema.inputs
    for i, dtype in enumerate(dtypes):
        if dtype is None or not formal:
            continue
        param = formal[min(i, len(formal) - 1)].type_str
        if param in allowed and _type_str(dtype) not in allowed[param]:
            return False
    return True


@cache
def _needed(op_type: str, domain: str, base: int, attrs: tuple[str, ...],
            dtypes: tuple[DType | None, ...]) -> int:  # fmt: skip
    for version in (base, *(v for v in _versions(op_type, domain) if v > base)):
        try:
            schema = defs.get_schema(op_type, version, domain)
        except defs.SchemaError:
            continue
        if _accepts(schema, attrs, dtypes):
            return version
    return base


def _non_default(attrs: dict[str, object], specs: dict[str, AttrSpec]) -> tuple[str, ...]:
    keys = []
    for key, value in attrs.items():
        spec = specs.get(key)
        default = spec.default if spec is not None else None
        if default is None or hasattr(value, "shape") or value != default:
            keys.append(key)
    return tuple(sorted(keys))


def node_opset(node: Node, base: int) -> int:
    """The first opset at or above `base` whose schema accepts this node's attributes and types."""
    opdef = get_op(node.op)
    if opdef.onnx is None or opdef.domain:
        return base
    dtypes = tuple(None if v is None else v.type.dtype for v in node.inputs)
    # a fused activation is written as its own node after the plain op (see export.py)
    activation = node.attrs.get("activation")
    floor = max(base, get_op(activation).since) if activation else base
    attrs = {k: v for k, v in node.attrs.items() if k not in ("activation", "activation_params")}
    try:
        return max(floor, _needed(opdef.onnx, "", base, _non_default(attrs, opdef.attrs), dtypes))
    except KeyError:  # a dtype without an ONNX type: the exporter reports it
        return floor


def default_opset(graph: Graph) -> int:
    """The default export opset of a graph (see the module docstring)."""
    base = MIN_DEFAULT_OPSET
    for op in graph.op_histogram():
        opdef = get_op(op)
        if opdef.onnx is not None and opdef.domain == "":
            base = max(base, opdef.since)
    opset = base
    for node in graph.nodes:
        if node.op != "const":
            opset = max(opset, node_opset(node, base))
    return opset
