"""Helpers shared by the clean-up passes: constant inspection, forwarding values, making consts.

Not a pass (it registers nothing); the pass modules import it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from compiler.graph import Graph
from compiler.ir import Node, Value, frozen_array
from compiler.registry import ShapeValue, get_op, infer_types
from compiler.types import TensorType, tensor_type_of


def stored_bytes(array: np.ndarray) -> int:
    """Bytes an array really holds: a broadcast view (stride 0) counts only its distinct data."""
    if array.ndim == 0 or all(s != 0 for s in array.strides):
        return int(array.nbytes)
    distinct = math.prod(n for n, s in zip(array.shape, array.strides, strict=True) if s != 0)
    return int(distinct * array.itemsize)


def is_splat(array: np.ndarray) -> bool:
    """True for a read-only broadcast of one element (every stride 0), e.g. a folded
    `ConstantOfShape`; such arrays are compared and hashed by their one element."""
    return array.ndim > 0 and array.size > 0 and all(s == 0 for s in array.strides)


def splat(value: np.ndarray, shape: Iterable[int]) -> np.ndarray:
    """A read-only view of `value`'s one element broadcast to `shape` (no memory materialised)."""
    scalar = np.array(value[(0,) * value.ndim], dtype=value.dtype)
    return frozen_array(np.broadcast_to(scalar, tuple(int(d) for d in shape)))


def uniform_value(array: np.ndarray) -> np.ndarray | None:
    """The 0-d array of the one value every element equals (bitwise), or None."""
    if array.size == 0:
        return None
    first = np.asarray(array[(0,) * array.ndim])
    if is_splat(array) or array.size == 1:
        return first
    flat = np.ascontiguousarray(array).reshape(-1)
    bits = flat.view(np.uint8).reshape(flat.size, flat.itemsize)
    if not (bits == bits[:1]).all():
        return None
    return first


def all_equal_to(array: np.ndarray | None, number: float) -> bool:
    """True when every element of a non-empty constant equals `number` (NaN never does)."""
    if array is None or array.size == 0:
        return False
    if not array.flat[0] == number:  # cheap refusal before the full bitwise comparison
        return False
    value = uniform_value(array)
    return value is not None and bool(value == number)


def same_shape(a: Value, b: Value) -> bool:
    """True when two values have the same known shape (ints equal, symbols equal by name)."""
    return a.type.shape is not None and a.type.shape == b.type.shape


def static_shape(value: Value) -> tuple[int, ...] | None:
    """The shape when every dim is a known int, else None."""
    shape = value.type.shape
    if shape is None or not all(isinstance(d, int) for d in shape):
        return None
    return tuple(int(d) for d in shape)  # type: ignore[arg-type]


def forward(old: Value, new: Value) -> None:
    """Replace every use of `old` by `new`, graph outputs included.

    When `old` is a graph output and `new` is an interior value that is not one, `new` takes
    `old`'s name so exported models keep their output names.
    """
    if old.is_graph_output and not new.is_graph_output and new.producer is not None:
        if new.producer.op != "const":
            new.name = old.name
    old.replace_all_uses_with(new, include_graph_outputs=True)


def erase_if_dead(graph: Graph, node: Node) -> bool:
    """Erase `node` when none of its outputs is used; True when erased."""
    if node.graph is not graph or node.has_uses():
        return False
    graph.erase(node)
    return True


def make_const(array: np.ndarray, name: str, like: Node) -> Node:
    """A `const` node (not inserted) holding `array`, with `like`'s location."""
    arr = frozen_array(np.asarray(array))
    return Node("const", (), [tensor_type_of(arr)], {"value": arr}, like.loc, [name])


def insert_const(graph: Graph, array: np.ndarray, name: str, before: Node) -> Value:
    """Insert a const before `before` and return its value."""
    return graph.insert_before(before, make_const(array, name, before)).output


def refine_types(node: Node, shape_values: dict[Value, ShapeValue] | None = None) -> bool:
    """Re-infer `node`'s output types after an input became more precise (e.g. constant).

    A dim inference now knows replaces the stored one (a symbol such as `unk_2` becomes 1280);
    dims it cannot know stay as stored. True when any output type changed.
    """
    try:
        types, _ = infer_types(get_op(node.op), node.attrs, node.inputs, len(node.outputs),
                               shape_values)  # fmt: skip
    except Exception:  # noqa: BLE001  keep the stored types when inference cannot run
        return False
    changed = False
    for value, inferred in zip(node.outputs, types, strict=True):
        merged = _merge(value.type, inferred)
        if merged != value.type:
            value.type = merged
            changed = True
    return changed


def refine_from(node: Node) -> None:
    """Re-infer `node`'s outputs and, while types change, those of the nodes that use them.

    For a rewrite that lets inference see more of `node` (a fused conv now reads the unpadded
    input): its stored output types, and every type derived from them, must follow.
    """
    work = [node]
    while work:
        current = work.pop()
        if refine_types(current):
            work.extend(user for value in current.outputs for user in value.users)


def _merge(stored: TensorType, inferred: TensorType) -> TensorType:
    if stored.shape is None or inferred.shape is None or len(stored.shape) != len(inferred.shape):
        return stored
    dims = tuple(s if i is None else i for s, i in zip(stored.shape, inferred.shape, strict=True))
    return stored if dims == stored.shape else stored.with_shape(dims)


__all__ = [
    "all_equal_to", "erase_if_dead", "forward", "insert_const", "is_splat", "make_const",
    "refine_from", "refine_types",
    "same_shape", "splat", "static_shape", "stored_bytes", "uniform_value",
]  # fmt: skip
