"""ONNX attributes to IR attribute values.

Attributes are decoded straight to the IR's canonical immutable forms (tuples for lists, read-only
arrays for tensors), and each value's kind (`int`, `ints`, `tensor`, ...) is reported beside it, so
`registry.canonical_attrs` can skip coercing values whose kind already matches the op's schema.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
from onnx import AttributeProto

from compiler.errors import FrontendError
from compiler.frontend.onnx_data import TensorReader, onnx_dtype, sparse_to_array
from compiler.location import OnnxLoc
from compiler.registry import OpDef

_INT, _FLOAT, _STRING = AttributeProto.INT, AttributeProto.FLOAT, AttributeProto.STRING
_INTS, _FLOATS, _STRINGS = AttributeProto.INTS, AttributeProto.FLOATS, AttributeProto.STRINGS


def decode_attrs(
    node: onnx.NodeProto, reader: TensorReader, label: str, loc: OnnxLoc
) -> tuple[dict[str, Any], dict[str, str]]:
    """A node's attributes as canonical values, and the IR attribute kind of each."""
    attrs: dict[str, Any] = {}
    kinds: dict[str, str] = {}
    for a in node.attribute:
        t, name = a.type, a.name
        if t == _INT:
            attrs[name], kinds[name] = a.i, "int"
        elif t == _INTS:
            attrs[name], kinds[name] = tuple(a.ints), "ints"
        elif t == _FLOAT:
            attrs[name], kinds[name] = a.f, "float"
        else:
            attrs[name], kinds[name] = _decode_other(a, reader, label, loc)
    return attrs, kinds


def _decode_other(
    a: AttributeProto, reader: TensorReader, label: str, loc: OnnxLoc
) -> tuple[Any, str]:
    t = a.type
    if t == _STRING:
        return a.s.decode("utf-8", errors="replace"), "str"
    if t == _FLOATS:
        return tuple(a.floats), "floats"
    if t == _STRINGS:
        return tuple(s.decode("utf-8", errors="replace") for s in a.strings), "strs"
    what = f"attribute {a.name!r} of node {label!r}"
    try:
        if t == AttributeProto.TENSOR:
            return reader.read(a.t, what), "tensor"
        if t == AttributeProto.SPARSE_TENSOR:
            return sparse_to_array(reader, a.sparse_tensor, what), "tensor"
    except FrontendError as exc:
        raise FrontendError(exc.message, loc) from exc
    kind = AttributeProto.AttributeType.Name(t) if t in AttributeProto.AttributeType.values() \
        else str(t)  # fmt: skip
    raise FrontendError(f"{what} has unsupported kind {kind}", loc)


def dtype_attrs(opdef: OpDef, attrs: dict[str, Any], label: str, loc: OnnxLoc) -> dict[str, Any]:
    """ONNX stores dtype attributes (Cast.to) as element-type ints: map them to DType."""
    for key, value in attrs.items():
        spec = opdef.attrs.get(key)
        if spec is not None and spec.kind == "dtype" and isinstance(value, int):
            try:
                attrs[key] = onnx_dtype(value, f"attribute {key!r} of node {label!r}")
            except FrontendError as exc:
                raise FrontendError(exc.message, loc) from exc
    return attrs


_CONSTANT_KINDS = {
    "value": "tensor", "sparse_value": "tensor", "value_float": "float", "value_floats": "floats",
    "value_int": "int", "value_ints": "ints", "value_string": "str", "value_strings": "strs",
}  # fmt: skip
_CONSTANT_NUMPY = {"float": np.float32, "floats": np.float32, "int": np.int64, "ints": np.int64,
                   "str": object, "strs": object}  # fmt: skip


def constant_array(key: str, value: Any, kind: str | None = None) -> np.ndarray | None:
    """The value of a Constant node's attribute `key` as a read-only array (None: unknown key,
    or a value whose decoded `kind` is not the one ONNX defines for `key`)."""
    expected = _CONSTANT_KINDS.get(key)
    if expected is None or (kind is not None and kind != expected):
        return None
    if expected == "tensor":
        return value if isinstance(value, np.ndarray) else None
    array = np.array(value, dtype=_CONSTANT_NUMPY[expected])
    array.flags.writeable = False
    return array
