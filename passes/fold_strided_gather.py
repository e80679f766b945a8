"""`fold-strided-gather`: a Gather of row-major indices from a flat vector is a reshape.

The dynamo exporter writes `as_strided(x, size, stride)` as a flat gather: x is reshaped to 1-D
and an index tensor `I` is built from `Range`, `Mul`, `Unsqueeze` and `Add` of constants, with
`I[i₀, …, iₖ] = offset + Σ stride_j · i_j`. When the offset is 0 and every stride is the
row-major one of I's shape, `stride_j = Π_{m>j} size_m` (size-1 axes are free), and I has as
many elements as the flat vector, `I` enumerates 0 … n−1 in order and

    gather(reshape(x, [-1]), I) {axis = 0}  ==  reshape(x, shape(I))

The pass evaluates I symbolically ("affine index form": sizes, strides, offset) through
`const` (any integer array that is affine in its indices; checked element by element),
`range(0, n, 1)` (n a constant or a dim read from a shape: `squeeze(shape(v){start = d,
end = d+1})`, `gather(shape(v), d)`), `mul` by a scalar constant, broadcasting `add` and
`unsqueeze`. Sizes may be symbols when the stride arithmetic does not depend on them (the
leading axis). The element counts are compared exactly (int product and the multiset of
symbols).

Before (EfficientNet-Lite0 via `torch.onnx.export(dynamo=True)`, batch `N`):

```
%m = reduce_mean(%h, %axes) {keepdims = 1} : f32[N,1280,1,1]
%f = reshape(%m, %minus1) : f32[unk_0]
%s = shape(%x) {end = 1, start = 0} : i64[1]         %n = squeeze(%s) : i64[]
%r = range(%zero, %n, %one) : i64[unk_1]             %a = mul(%r, %c1280) : i64[unk_1]
%u = unsqueeze(%a, %axes123) : i64[unk_1,1,1,1]
%i = add(%u, %iota1280) : i64[unk_1,1280,1,1]        # iota1280: [0..1279] as [1,1280,1,1]
%g = gather(%f, %i) {axis = 0} : f32[unk_1,1280,1,1]
```

After: the uses of `%g` read `%m` (its shape equals the index shape, `unk_1` being `N`); a
different shape becomes `reshape(%f, [sizes])`. Types after it are re-inferred (`unk_1` → `N`).

Numerics: exact (the same elements in the same order).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from compiler.graph import Graph
from compiler.ir import Node, Value
from compiler.passmanager import Pass, register_pass
from compiler.passmanager.rewrite import Match, P, RewriteBuilder, RewriteRule, apply_rules
from compiler.registry import ShapeValue, get_op, infer_types
from compiler.types import TensorType
from passes.common import forward, refine_types

Dim = int | str
MAX_DEPTH = 8
MAX_CONST = 1 << 16  # integer constants checked element by element up to this size


@dataclass(frozen=True)
class Affine:
    """An integer tensor `I[i₀, …] = offset + Σ strides[j] · i_j` of shape `sizes`."""

    sizes: tuple[Dim, ...]
    strides: tuple[int, ...]
    offset: int

    def scaled(self, k: int) -> Affine:
        return Affine(self.sizes, tuple(s * k for s in self.strides), self.offset * k)


def _int_scalar(value: Value | None) -> int | None:
    array = None if value is None else value.const_value()
    if array is None or array.size != 1 or array.dtype.kind not in "iu":
        return None
    return int(array.reshape(-1)[0])


def _const_form(array: np.ndarray) -> Affine | None:
    """The affine form of an integer constant, or None when it is not affine."""
    if array.dtype.kind not in "iu" or array.size == 0 or array.size > MAX_CONST:
        return None
    a = np.asarray(array, dtype=np.int64)
    offset = int(a[(0,) * a.ndim])
    strides = []
    for axis, size in enumerate(a.shape):
        step = [0] * a.ndim
        step[axis] = 1 if size > 1 else 0
        strides.append(int(a[tuple(step)]) - offset if size > 1 else 0)
    expected = offset + sum(
        s * np.arange(n).reshape([-1 if j == i else 1 for j in range(a.ndim)])
        for i, (s, n) in enumerate(zip(strides, a.shape, strict=True))
    )
    if not np.array_equal(np.broadcast_to(expected, a.shape), a):
        return None
    return Affine(tuple(int(n) for n in a.shape), tuple(strides), offset)


def dim_of(value: Value | None, depth: int = 0) -> Dim | None:
    """The dim a scalar (or 1-element) int64 value holds: a constant or a dim read from a
    shape (`shape(v){start=d, end=d+1}`, `gather(shape(v), d)`, squeezed or reshaped)."""
    if value is None or depth > MAX_DEPTH:
        return None
    constant = _int_scalar(value)
    node = value.producer
    if constant is not None or node is None:
        return constant
    if node.op in ("squeeze", "reshape", "unsqueeze", "identity"):
        return dim_of(node.inputs[0], depth + 1)
    if node.op == "shape":
        return _shape_dim(node, 0)
    if node.op == "gather" and node.inputs[0] is not None:
        index = _int_scalar(node.inputs[1])
        inner = node.inputs[0].producer
        if index is not None and inner is not None and inner.op == "shape":
            return _shape_dim(inner, index)
    return None


def _shape_dim(shape: Node, index: int) -> Dim | None:
    """Element `index` of `shape(v){start, end}`, or None."""
    v = shape.inputs[0]
    if v is None or v.type.shape is None:
        return None
    dims = v.type.shape
    start, end = shape.attrs.get("start", 0), shape.attrs.get("end")
    picked = dims[slice(start, end)]
    if not -len(picked) <= index < len(picked):
        return None
    dim = picked[index]
    return dim if isinstance(dim, (int, str)) else None


def form_of(value: Value | None, depth: int = 0) -> Affine | None:
    """The affine form of an integer index tensor, or None."""
    if value is None or depth > MAX_DEPTH:
        return None
    array = value.const_value()
    if array is not None:
        return _const_form(array)
    node = value.producer
    if node is None:
        return None
    if node.op == "range":
        return _range_form(node)
    if node.op == "mul":
        return _mul_form(node, depth)
    if node.op == "add":
        a, b = (form_of(v, depth + 1) for v in node.inputs)
        return None if a is None or b is None else _add(a, b)
    if node.op == "unsqueeze":
        return _unsqueeze_form(node, depth)
    return None


def _range_form(node: Node) -> Affine | None:
    start, limit, delta = node.inputs
    first, step = _int_scalar(start), _int_scalar(delta)
    n = dim_of(limit)
    if first is None or step is None or step == 0 or n is None:
        return None
    if isinstance(n, int):
        return Affine((max(0, -(-(n - first) // step)),), (step,), first)
    return Affine((n,), (1,), 0) if (first, step) == (0, 1) else None


def _mul_form(node: Node, depth: int) -> Affine | None:
    a, b = node.inputs
    for form_in, scale_in in ((a, b), (b, a)):
        k = _int_scalar(scale_in)
        if k is not None and scale_in is not None and not scale_in.type.shape:
            form = form_of(form_in, depth + 1)
            return None if form is None else form.scaled(k)
    return None


def _add(a: Affine, b: Affine) -> Affine | None:
    """Broadcasting sum of two forms (numpy rules; a size-1 axis contributes nothing)."""
    rank = max(len(a.sizes), len(b.sizes))
    pa, pb = _pad(a, rank), _pad(b, rank)
    sizes, strides = [], []
    for (na, sa), (nb, sb) in zip(pa, pb, strict=True):
        if na == 1 or na == nb:
            sizes.append(nb)
            strides.append((0 if na == 1 else sa) + sb)
        elif nb == 1:
            sizes.append(na)
            strides.append(sa)
        else:
            return None
    return Affine(tuple(sizes), tuple(strides), a.offset + b.offset)


def _pad(form: Affine, rank: int) -> list[tuple[Dim, int]]:
    lead: list[tuple[Dim, int]] = [(1, 0)] * (rank - len(form.sizes))
    return lead + list(zip(form.sizes, form.strides, strict=True))


def _unsqueeze_form(node: Node, depth: int) -> Affine | None:
    form = form_of(node.inputs[0], depth + 1)
    axes_in = node.inputs[1]
    axes = None if axes_in is None else axes_in.const_value()
    if form is None or axes is None:
        return None
    rank = len(form.sizes) + axes.size
    new = sorted(int(a) % rank for a in axes.reshape(-1))
    sizes, strides = list(form.sizes), list(form.strides)
    for axis in new:
        sizes.insert(axis, 1)
        strides.insert(axis, 0)
    return Affine(tuple(sizes), tuple(strides), form.offset)


def is_row_major(form: Affine) -> bool:
    """Offset 0 and every stride the row-major one. A symbolic size is allowed only where no
    stride depends on it: no axis before it has a size other than 1."""
    if form.offset != 0:
        return False
    expected, symbolic = 1, False
    for size, stride in zip(reversed(form.sizes), reversed(form.strides), strict=True):
        if size == 1:
            continue
        if symbolic or stride != expected:
            return False
        if isinstance(size, str):
            symbolic = True
        else:
            expected *= size
    return True


def _count(sizes: tuple[Dim, ...]) -> tuple[int, Counter[str]]:
    ints = math.prod(d for d in sizes if isinstance(d, int))
    return ints, Counter(d for d in sizes if isinstance(d, str))


def _flat_source(data: Value) -> tuple[Value, tuple[Dim, ...]] | None:
    """(the tensor `data` flattens, its sizes): `data` itself when 1-D, or a reshape's input."""
    node = data.producer
    if node is not None and node.op == "reshape" and node.inputs[0] is not None:
        src = node.inputs[0]
        if src.type.shape is not None and all(d is not None for d in src.type.shape):
            return src, tuple(src.type.shape)  # type: ignore[arg-type]
    shape = data.type.shape
    if shape is not None and len(shape) == 1 and shape[0] is not None:
        return data, (shape[0],)
    return None


class StridedGatherToReshape(RewriteRule):
    """gather(flat(x), row-major indices) {axis = 0} -> x or reshape(x, sizes)."""

    name = "strided-gather-to-reshape"
    pattern = P("gather", where=lambda n: _candidate(n))

    def check(self, match: Match) -> str | None:
        gather = match.root
        form = form_of(gather.inputs[1])
        if form is None:
            return "the indices are not an affine range/mul/unsqueeze/add/const expression"
        if not is_row_major(form):
            return f"the indices are not row-major: sizes {form.sizes}, strides {form.strides}"
        source = _flat_source(gather.inputs[0])  # type: ignore[arg-type]
        if source is None or _count(source[1]) != _count(form.sizes):
            return f"the indices {form.sizes} do not cover the flat input exactly"
        if source[1] != form.sizes and sum(isinstance(d, str) for d in form.sizes) > 1:
            return f"a reshape to {form.sizes} would need more than one -1"
        return None

    def rewrite(self, match: Match, b: RewriteBuilder) -> None:
        gather = match.root
        form = form_of(gather.inputs[1])
        source = _flat_source(gather.inputs[0])  # type: ignore[arg-type]
        assert form is not None and source is not None
        src, sizes = source
        out_type = TensorType(gather.output.type.dtype, form.sizes)
        if sizes == form.sizes:
            new = src
        else:
            new = _reshape(src, form.sizes, out_type, gather.output.name, b)
        forward(gather.output, new)
        self.forwarded.add(new)

    def __init__(self) -> None:
        self.forwarded: set[Value] = set()  # values whose users' types need re-inference


def _candidate(gather: Node) -> bool:
    """Axis 0 of a 1-D tensor that is not a shape vector, with indices of rank 1 or more."""
    data, index = gather.inputs
    if data is None or index is None or gather.attrs.get("axis", 0) != 0:
        return False
    if data.type.rank != 1 or not index.type.rank:
        return False
    return data.producer is None or data.producer.op != "shape"


def _reshape(src: Value, sizes: tuple[Dim, ...], out_type: TensorType, name: str,
             b: RewriteBuilder) -> Value:  # fmt: skip
    vector = [d if isinstance(d, int) else -1 for d in sizes]  # at most one -1 (checked)
    shape = b.const(np.array(vector, dtype=np.int64), f"{name}_shape")
    reshape = b.graph.create_node("reshape", [src, shape], {"allowzero": 0}, loc=b.loc,
                                  names=[name], output_types=[out_type])  # fmt: skip
    return b.insert(reshape).output


@register_pass
@dataclass(frozen=True)
class FoldStridedGatherPass(Pass):
    """Replace a Gather of row-major indices from a flattened tensor by a reshape."""

    name: ClassVar[str] = "fold-strided-gather"

    def run(self, graph: Graph) -> bool:
        rule = StridedGatherToReshape()
        if not apply_rules(graph, [rule]):
            return False
        _refine_after(graph, rule.forwarded)
        return True


def _shape_like(node: Node) -> bool:
    """Whether `node` may compute a shape value (an integer vector) later inference reads."""
    if len(node.outputs) != 1 or node.op == "const":  # inference reads constants directly
        return False
    t = node.outputs[0].type
    return t.dtype.is_int and t.shape is not None and len(t.shape) <= 1


def _refine_after(graph: Graph, seeds: set[Value]) -> None:
    """Re-infer the types downstream of `seeds` (a reshape whose shape is computed from the
    batch dim needs the shape values, so the whole graph is walked in order)."""
    shape_values: dict[Value, ShapeValue] = {}
    refined = set(seeds)
    for node in graph.nodes:
        if any(v in refined for v in node.inputs) and refine_types(node, shape_values):
            refined.update(node.outputs)
        if not _shape_like(node):
            continue
        try:
            _, value = infer_types(get_op(node.op), node.attrs, node.inputs, len(node.outputs),
                                   shape_values)  # fmt: skip
        except Exception:  # noqa: BLE001  as in refine_types: keep going without a shape value
            continue
        if value is not None:
            shape_values[node.outputs[0]] = value


__all__ = ["Affine", "FoldStridedGatherPass", "StridedGatherToReshape", "dim_of", "form_of",
           "is_row_major"]  # fmt: skip
