"""Values the backend can compute on the host at build time (as the ONNX parser does).

A value is host-computable when it is a constant, the `shape` of a value whose dims are static,
or the result of a cheap shape-arithmetic op whose inputs are all host-computable; its array
comes from the op's registry kernel. Converters ask `host_value(v)` wherever TensorRT needs a
build-time constant (reduction axes, reshape targets, slice bounds, conv bias, ...), so graphs
that were not constant-folded (`O0`) still convert. Results larger than `MAX_ELEMENTS` are not
computed (they stay run-time tensors).
"""

from __future__ import annotations

import math

import numpy as np

from compiler.ir import Value

MAX_ELEMENTS = 1 << 16
SHAPE_OPS = frozenset({
    "gather", "concat", "unsqueeze", "squeeze", "expand", "cast", "cast_like", "add", "sub",
    "mul", "div", "slice", "reshape", "range", "constant_of_shape", "identity", "reduce_prod",
    "reduce_sum", "reduce_max", "reduce_min", "equal", "where", "neg", "abs", "max", "min",
    "size", "flatten", "transpose", "sqrt", "pow", "floor", "ceil",
})  # fmt: skip

_cache: dict[int, tuple[Value, np.ndarray | None]] = {}


def reset() -> None:
    """Forget cached values (called at the start of each emission / report)."""
    _cache.clear()


def host_value(value: Value | None) -> np.ndarray | None:
    """The build-time array of `value`, or None when it is only known at run time."""
    if value is None:
        return None
    hit = _cache.get(id(value))
    if hit is not None and hit[0] is value:
        return hit[1]
    array = _compute(value)
    _cache[id(value)] = (value, array)
    return array


def _compute(value: Value) -> np.ndarray | None:
    array = value.const_value()
    if array is not None:
        return array
    node = value.producer
    if node is None or _too_big(value):
        return None
    if node.op == "shape":
        return _static_shape(node.inputs[0], node.attrs)
    if node.op not in SHAPE_OPS:
        return None
    inputs = [host_value(v) if v is not None else None for v in node.inputs]
    if any(a is None for a, v in zip(inputs, node.inputs, strict=True) if v is not None):
        return None
    from compiler.registry import get_op

    kernel = get_op(node.op).kernel
    if kernel is None:
        return None
    out = kernel(inputs, dict(node.attrs))[value.index]
    return np.asarray(out)


def _too_big(value: Value) -> bool:
    shape = value.type.shape
    if shape is None or not all(isinstance(d, int) for d in shape):
        return True
    return math.prod(int(d) for d in shape) > MAX_ELEMENTS


def _static_shape(x: Value | None, attrs: dict) -> np.ndarray | None:  # type: ignore[type-arg]
    if x is None or x.type.shape is None:
        return None
    if not all(isinstance(d, int) for d in x.type.shape):
        return None
    dims = np.array(x.type.shape, np.int64)
    return dims[slice(attrs.get("start") or 0, attrs.get("end"))]
