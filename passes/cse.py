"""`cse`: common-subexpression elimination and constant deduplication, hash based, linear.

Two nodes compute the same values when they have the same op, the same attributes and the very
same input values (by identity). Walking in program order, every input is already canonical, so
one dictionary from that key to the first such node finds all duplicates in one pass; users of
a duplicate move to the first node's outputs and the duplicate is erased.

Constants are equal when dtype, shape and bytes are bitwise equal (so `-0.0` and `0.0`, or
NaNs with different payloads, stay apart). They are bucketed by a cheap fingerprint (dtype,
shape and a few sampled elements) and compared exactly only within a bucket, so the pass stays
linear in the weight bytes; broadcast splats compare by their one element.

Before:

```
graph @main(%x: f32[4]) -> (f32[4]) {
  %a = const() {value = dense<f32[]: [2.0]>} : f32[]
  %b = const() {value = dense<f32[]: [2.0]>} : f32[]
  %p = mul(%x, %a) : f32[4]
  %q = mul(%x, %b) : f32[4]
  %y = add(%p, %q) : f32[4]
  return %y
}
```

After: `%b` and `%q` are gone and `%y = add(%p, %p)`.

With `constants=false` only computations merge: fusions that rewrite weights in place refuse
weights shared by several nodes, so the pipeline deduplicates constants after them.

Numerics: exact (the kernels are deterministic; ops without inputs are never merged).
"""

from __future__ import annotations

import functools
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from compiler.graph import Graph
from compiler.ir import Node, Value
from compiler.passmanager import Pass, register_pass
from passes.common import forward, is_splat

SAMPLES = 16  # elements sampled per constant for its fingerprint


@register_pass
@dataclass(frozen=True)
class CsePass(Pass):
    """Merge duplicate constants and duplicate computations."""

    name: ClassVar[str] = "cse"
    constants: bool = True  # also merge equal constants (off before weight-rewriting fusions)

    def run(self, graph: Graph) -> bool:
        seen: dict[Hashable, list[Node]] = {}
        consts: dict[Hashable, list[Node]] = {}
        changed = False
        for node in graph.nodes:
            if node.op == "const":
                first = _find_const(consts, node) if self.constants else None
            else:
                first = _find_node(seen, node)
            if first is not None and _merge(graph, node, first):
                changed = True
        return changed


def _merge(graph: Graph, node: Node, first: Node) -> bool:
    if any(v.is_graph_output for v in node.outputs):
        return False  # keep both named outputs
    for old, new in zip(node.outputs, first.outputs, strict=True):
        forward(old, new)
    graph.erase(node)
    return True


def _find_node(seen: dict[Hashable, list[Node]], node: Node) -> Node | None:
    """An earlier node computing the same values, else None (and `node` is remembered).

    Keyed on op and input identities only: most nodes have inputs no other node shares, so
    their attributes (arrays, nested tuples) are compared only on a collision, never hashed.
    """
    inputs = node._inputs  # noqa: SLF001  read-only; `inputs` would copy it for every node
    if not inputs:
        return None
    key = (node.op, len(node.outputs), *map(id, inputs))
    bucket = seen.get(key)
    if bucket is None:
        seen[key] = [node]
        return None
    for first in bucket:
        if first.graph is node.graph and _attrs_equal(first.attrs, node.attrs):
            return first
    bucket.append(node)
    return None


def _attrs_equal(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return a.keys() == b.keys() and all(_freeze(a[k]) == _freeze(b[k]) for k in a)


def _freeze(value: Any) -> Hashable:
    if isinstance(value, np.ndarray):
        return ("array", value.dtype.str, value.shape, _bytes(value))
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(v) for v in value)
    return value


def _find_const(consts: dict[Hashable, list[Node]], node: Node) -> Node | None:
    array: np.ndarray = node.attrs["value"]
    bucket = consts.setdefault(_fingerprint(array), [])
    for other in bucket:
        if other.graph is node.graph and _bitwise_equal(array, other.attrs["value"]):
            return other
    bucket.append(node)
    return None


def _fingerprint(array: np.ndarray) -> Hashable:
    if is_splat(array):
        return (array.dtype.str, array.shape, True, _first_bytes(array))
    if array.size <= SAMPLES:
        sample = _bytes(array)
    else:
        # `flat` indexes any strided view in place (a reshape would copy a broadcast view)
        sample = _bytes(array.flat[_sample_indices(array.size)])
    return (array.dtype.str, array.shape, False, sample)


@functools.lru_cache(maxsize=256)
def _sample_indices(size: int) -> np.ndarray:
    """The first and the last SAMPLES // 2 flat indices (weights of one layer shape share them).

    Two clusters, not samples spread over the array: each sampled page of a memory-mapped weight
    becomes resident (with its whole page-cache folio, up to 2 MB), so spread samples would pull
    half of a 64 MB weight into memory; two clusters cost at most two folios per constant.
    """
    half = SAMPLES // 2
    return np.concatenate([np.arange(half), np.arange(size - half, size)]).astype(np.int64)


def _bitwise_equal(a: np.ndarray, b: np.ndarray) -> bool:
    if a is b:
        return True
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    if is_splat(a) and is_splat(b):
        return _first_bytes(a) == _first_bytes(b)
    return _bytes(a) == _bytes(b)


def _first_bytes(array: np.ndarray) -> bytes:
    """The bytes of element [0, ..., 0] (no copy of a broadcast view)."""
    return np.asarray(array[(0,) * array.ndim]).tobytes()


def _bytes(array: np.ndarray) -> bytes:
    return np.ascontiguousarray(array).tobytes()


def values_equal(a: Value, b: Value) -> bool:
    """True when two constant values are bitwise equal (helper for tests)."""
    x, y = a.const_value(), b.const_value()
    return x is not None and y is not None and _bitwise_equal(x, y)


__all__ = ["CsePass", "values_equal"]
