"""The IR verifier.

Checks: program order is topological; use lists agree with node inputs both ways; every value
used belongs to the graph; ops are registered with valid arity and attributes; re-inferred types
equal the stored types (a dim that inference cannot know, `None`, matches any stored dim). Errors
print the IR with the offending node marked.
"""

from __future__ import annotations

from compiler.errors import CompilerError, VerifyError
from compiler.graph import Graph
from compiler.ir import Node, Use, Value
from compiler.registry import (
    InferContext,
    ShapeValue,
    canonical_attrs,
    check_arity,
    find_op,
    infer_types,
)
from compiler.types import TensorType


def verify(graph: Graph) -> None:
    """Raise `VerifyError` at the first broken invariant, showing the IR with the node marked."""
    defined: set[Value] = set(graph.inputs)
    shape_values: dict[Value, ShapeValue] = {}
    for i, value in enumerate(graph.inputs):
        if value.producer is not None or value.index != i:
            raise VerifyError(f"graph input %{value.name} has a producer or a wrong index")
        problem = _check_uses(graph, value)
        if problem:
            raise VerifyError(f"verifier: graph input: {problem}")
    for node in graph.nodes:
        problem = _check_node(node, defined, shape_values)
        if problem:
            raise _error(graph, node, problem)
        defined.update(node.outputs)
    for value in graph.outputs:
        if value not in defined:
            raise VerifyError(f"graph output %{value.name} is not defined in the graph")


def _check_node(node: Node, defined: set[Value], shape_values: dict[Value, ShapeValue]) -> str:
    for i, value in enumerate(node.inputs):
        if value is None:
            continue
        if value not in defined:
            where = "later in program order" if _owned_later(node, value) else "outside the graph"
            return f"input {i} (%{value.name}) is defined {where}"
        if Use(node, i) not in value._uses:
            return f"input {i} (%{value.name}) does not list this node among its uses"
    for j, value in enumerate(node.outputs):
        if value.producer is not node or value.index != j:
            return f"output {j} (%{value.name}) does not point back at this node"
        bad = _check_uses(node.graph, value)
        if bad:
            return bad
    return _check_op(node, shape_values)


def _owned_later(node: Node, value: Value) -> bool:
    producer = value.producer
    return producer is not None and producer.graph is node.graph


def _check_uses(graph: Graph | None, value: Value) -> str:
    for use in value._uses:
        if use.node.graph is not graph:
            return f"%{value.name} lists a use by {use.node.op} outside the graph"
        if use.node.input(use.input_index) is not value:
            return f"%{value.name} lists a stale use by {use.node.op} (input {use.input_index})"
    return ""


def _check_op(node: Node, shape_values: dict[Value, ShapeValue]) -> str:
    opdef = find_op(node.op)
    if opdef is None:
        return f"unknown op {node.op!r}"
    problem = check_arity(opdef, node.num_inputs, len(node.outputs))
    if problem:
        return problem
    try:
        ctx = InferContext(node.op, {}, node.inputs, len(node.outputs))
        canon = canonical_attrs(opdef, node.attrs, ctx)
        if not _same_attrs(canon, node.attrs):
            return "attributes are not canonical (defaults missing or values not normalized)"
        types, shape_value = infer_types(opdef, node.attrs, node.inputs, len(node.outputs),
                                         shape_values)  # fmt: skip
    except CompilerError as exc:
        return f"inference failed: {exc.message}"
    except Exception as exc:  # noqa: BLE001  an inference bug on odd attributes still names the node
        return f"inference failed with {type(exc).__name__}: {exc}"
    if shape_value is not None:
        shape_values[node.outputs[0]] = shape_value
    for value, inferred in zip(node.outputs, types, strict=True):
        if not type_matches(inferred, value.type):
            return f"stored type {value.type} of %{value.name} differs from inferred {inferred}"
    return ""


def _same_attrs(a: dict[str, object], b: dict[str, object]) -> bool:
    if a.keys() != b.keys():
        return False
    for key, x in a.items():
        y = b[key]
        if hasattr(x, "shape") or hasattr(y, "shape"):
            if x is not y and not _same_array(x, y):
                return False
        elif not _same_value(x, y):
            return False
    return True


def _same_value(x: object, y: object) -> bool:
    """Equal values of the same type; NaN equals NaN (an attribute may be NaN, e.g. epsilon)."""
    if type(x) is not type(y):
        return False
    if isinstance(x, float):
        return x == y or (x != x and y != y)  # type: ignore[operator]
    if isinstance(x, tuple):
        assert isinstance(y, tuple)  # same type as x (checked above)
        return len(x) == len(y) and all(_same_value(a, b) for a, b in zip(x, y, strict=True))
    return x == y


def _same_array(x: object, y: object) -> bool:
    import numpy as np

    if not (isinstance(x, np.ndarray) and isinstance(y, np.ndarray)):
        return False
    if x.dtype != y.dtype or x.shape != y.shape:
        return False
    return bool(np.array_equal(x, y, equal_nan=x.dtype.kind in "fc"))


def type_matches(inferred: TensorType, stored: TensorType) -> bool:
    """Whether a stored type agrees with an inferred one (`None` dims match anything)."""
    if inferred.dtype != stored.dtype:
        return False
    if inferred.shape is None or stored.shape is None:
        return inferred.shape is None and stored.shape is None
    if len(inferred.shape) != len(stored.shape):
        return False
    return all(a is None or a == b for a, b in zip(inferred.shape, stored.shape, strict=True))


def _error(graph: Graph, node: Node, problem: str) -> VerifyError:
    notes: list[str] = []
    try:
        from compiler.text import print_graph

        marked = print_graph(graph, mark=node)
        notes = ["", marked]
    except Exception as exc:  # noqa: BLE001  printing must never hide the real problem
        notes = [f"(the IR could not be printed: {exc})"]
    return VerifyError(f"verifier: {node.op}: {problem}", node.loc, notes)


__all__ = ["type_matches", "verify"]
