"""`fold-constants`: evaluate nodes whose results are known at compile time.

A node folds when

* every input is a constant: the op's registered kernel computes the result (`Expand` and
  `ConstantOfShape` become read-only broadcast views, so a 400 MB splat costs one element);
* its result depends only on input *types*: `Shape` / `Size` of statically shaped dims,
  `CastLike(a, b)` (rewritten to `Cast(a, to=dtype(b))`, which then folds when `a` is constant);
* it is shape arithmetic (`Gather`/`Slice`/`Concat`/`Unsqueeze`/`Cast`/`Add`/`Mul`/...) whose
  registered shape function evaluates to a fully known integer vector, e.g. `Gather(Shape(x), 1)`
  of `x: f32[N,3]` even though `N` is symbolic.

Each folded output becomes a `const` with the output's name and the node's location.

Size budget (folding never grows the model): a result holding more than `size-limit` bytes is not
folded, nor one larger than the constants it consumes while those have other users (both copies
would stay; results up to 16 KiB, such as index vectors, always fold). Skipped folds are
reported with `compiler.passmanager.note`.

Before:

```
graph @main(%x: f32[N,3]) -> (f32[N,3]) {
  %s = shape(%x) {start = 0} : i64[2]
  %i = const() {value = dense<i64[]: [1]>} : i64[]
  %c = gather(%s, %i) {axis = 0} : i64[]
  %h = const() {value = dense<f16[]: [2.0]>} : f16[]
  %k = cast_like(%h, %x) {round_mode = "up", saturate = 1} : f32[]
  %y = mul(%x, %k) : f32[N,3]
  ...
```

After: `%c = const() {value = dense<i64[]: [3]>}` and `%k = const() {value = dense<f32[]: [2.0]>}`
(the shape, gather and cast-like nodes are gone; their inputs die once unused).

Numerics: identical to running the kernels at run time (the same kernels run, once).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from compiler.graph import Graph
from compiler.ir import Node, Value, frozen_array
from compiler.passmanager import Pass, note, register_pass
from compiler.registry import InferContext, ShapeValue, get_op
from compiler.types import tensor_type_of
from passes.common import (
    erase_if_dead,
    forward,
    make_const,
    refine_types,
    splat,
    stored_bytes,
)

MAX_NOTES = 8  # skipped folds listed one by one; the rest are counted
# Growth always allowed per fold: index/shape tensors (a Range of 1280 ids) cost less than the
# node they replace; only bigger results must not duplicate shared constants.
SMALL_RESULT = 16 << 10


@register_pass
@dataclass(frozen=True)
class FoldConstantsPass(Pass):
    """Replace nodes with known results by constants, within a size budget."""

    name: ClassVar[str] = "fold-constants"
    size_limit: int = 64 << 20

    def __post_init__(self) -> None:
        if self.size_limit < 0:
            raise ValueError("size-limit must be >= 0")

    def run(self, graph: Graph) -> bool:
        folder = _Folder(graph, self.size_limit)
        for node in graph.nodes:
            if node.op != "const":
                folder.visit(node)
        folder.report()
        return folder.changed


class _Folder:
    def __init__(self, graph: Graph, size_limit: int) -> None:
        self.graph = graph
        self.size_limit = size_limit
        self.shape_values: dict[Value, ShapeValue] = {}
        self.changed = False
        self.skipped: list[str] = []
        self.refined: set[Value] = set()  # values whose type became more precise

    def visit(self, node: Node) -> None:
        if any(v in self.refined for v in node.inputs) and refine_types(node, self.shape_values):
            self.refined.update(node.outputs)
        if node.op == "cast_like":
            node = self._cast_like_to_cast(node)
        arrays = _const_inputs(node)
        if arrays is not None:
            self._fold_evaluated(node, arrays)
            return
        self._fold_shape_value(node)

    # -- all inputs constant ------------------------------------------------------------------
    def _fold_evaluated(self, node: Node, arrays: list[np.ndarray | None]) -> None:
        declared = _declared_bytes(node, arrays)  # checked before the kernel allocates anything
        if declared is not None and declared > self.size_limit:
            self._skip(node, f"result of {declared} bytes exceeds size-limit={self.size_limit}")
            return
        try:
            results = _evaluate(node, arrays)
        except Exception as exc:  # noqa: BLE001  a kernel refusing an input leaves the node be
            self._skip(node, f"kernel failed: {exc}")
            return
        if not self._within_budget(node, arrays, results):
            return
        if not all(_fits(out, arr) for out, arr in zip(node.outputs, results, strict=True)):
            self._skip(node, "kernel result disagrees with the inferred type")
            return
        self._replace(node, results)

    def _within_budget(
        self, node: Node, arrays: list[np.ndarray | None], results: list[np.ndarray]
    ) -> bool:
        size = sum(stored_bytes(r) for r in results)
        if size > self.size_limit:
            self._skip(node, f"result of {size} bytes exceeds size-limit={self.size_limit}")
            return False
        consumed = sum(stored_bytes(a) for a in arrays if a is not None)
        shared = any(v is not None and len(v.users) > 1 for v in node.inputs)
        if size > max(consumed, SMALL_RESULT) and shared:
            self._skip(node, f"result of {size} bytes would duplicate shared constants "
                             f"of {consumed} bytes")  # fmt: skip
            return False
        return True

    # -- type-only dependencies -----------------------------------------------------------------
    def _cast_like_to_cast(self, node: Node) -> Node:
        """`CastLike(a, b)` depends only on b's dtype: it is `Cast(a, to=dtype(b))`."""
        source, like = node.inputs
        assert source is not None and like is not None
        attrs = {"to": like.dtype, "saturate": node.attrs.get("saturate", 1),
                 "round_mode": node.attrs.get("round_mode", "up")}  # fmt: skip
        cast = self.graph.create_node("cast", [source], attrs, loc=node.loc,
                                      names=[node.output.name],
                                      output_types=[node.output.type])  # fmt: skip
        self.graph.insert_before(node, cast)
        forward(node.output, cast.output)
        self.graph.erase(node)
        self.changed = True
        return cast

    def _fold_shape_value(self, node: Node) -> None:
        opdef = get_op(node.op)
        if opdef.shape_fn is None or len(node.outputs) != 1:
            return
        ctx = InferContext(node.op, node.attrs, node.inputs, 1, self.shape_values)
        try:
            dims = opdef.shape_fn(ctx)
        except Exception:  # noqa: BLE001  partial evaluation is best effort
            return
        if dims is None:
            return
        out = node.output
        array = _shape_array(out, dims)
        if array is None:
            self.shape_values[out] = dims
            return
        self._replace(node, [array])

    # -- replacing ----------------------------------------------------------------------------
    def _replace(self, node: Node, results: list[np.ndarray]) -> None:
        for out, array in zip(node.outputs, results, strict=True):
            if not out.num_uses and not out.is_graph_output:
                continue
            const = self.graph.insert_before(node, make_const(array, out.name, node))
            forward(out, const.output)
            self.refined.add(const.output)
        erase_if_dead(self.graph, node)
        self.changed = True

    def _skip(self, node: Node, reason: str) -> None:
        self.skipped.append(f"{node.op} %{node.outputs[0].name}: {reason}")

    def report(self) -> None:
        for line in self.skipped[:MAX_NOTES]:
            note(f"not folded: {line}")
        if len(self.skipped) > MAX_NOTES:
            note(f"not folded: {len(self.skipped) - MAX_NOTES} more")


def _const_inputs(node: Node) -> list[np.ndarray | None] | None:
    """The input arrays when every present input is a constant (and there is one), else None."""
    if not node.inputs:
        return None
    arrays: list[np.ndarray | None] = []
    for value in node.inputs:
        if value is None:
            arrays.append(None)
            continue
        array = value.const_value()
        if array is None:
            return None
        arrays.append(array)
    return arrays


def _declared_bytes(node: Node, arrays: list[np.ndarray | None]) -> int | None:
    """Bytes the kernel would allocate, from the stored output types; None when a dim is symbolic,
    or where the result may be a broadcast view: the broadcasting ops (`_evaluate`) and any op
    on a broadcast input (a reshaped splat), which the check after evaluation measures."""
    if node.op in ("constant_of_shape", "expand"):
        return None
    if any(a is not None and stored_bytes(a) < a.nbytes for a in arrays):
        return None
    total = 0
    for out in node.outputs:
        shape = out.type.shape
        dims = [d for d in shape if isinstance(d, int)] if shape is not None else []
        if shape is None or len(dims) != len(shape):
            return None
        total += math.prod(dims) * out.dtype.to_numpy().itemsize
    return total


def _evaluate(node: Node, arrays: list[np.ndarray | None]) -> list[np.ndarray]:
    """The node's results; broadcasting ops give read-only views instead of copies."""
    if node.op == "constant_of_shape":
        assert arrays[0] is not None
        return [splat(node.attrs["value"], arrays[0].reshape(-1).tolist())]
    if node.op == "expand":
        data, shape = arrays
        assert data is not None and shape is not None
        target = np.broadcast_shapes(data.shape, tuple(int(d) for d in shape.reshape(-1)))
        return [frozen_array(np.broadcast_to(data, target))]
    kernel = get_op(node.op).kernel
    assert kernel is not None
    results = kernel(list(arrays), node.attrs)
    return [np.asarray(r) for r in results]


def _fits(out: Value, array: Any) -> bool:
    """True when `array` has exactly the dtype and a shape compatible with `out`'s type."""
    actual = tensor_type_of(np.asarray(array))
    shape = out.type.shape
    if actual.dtype != out.type.dtype or shape is None or len(shape) != array.ndim:
        return False
    return all(not isinstance(d, int) or d == n for d, n in zip(shape, array.shape, strict=True))


def _shape_array(out: Value, dims: ShapeValue) -> np.ndarray | None:
    """A fully known shape value as the output's array, or None while any dim is unknown."""
    shape = out.type.shape
    if shape is None or len(shape) > 1 or not out.dtype.is_int:
        return None
    if not all(isinstance(d, int) and not isinstance(d, bool) for d in dims):
        return None
    expected = 1 if len(shape) == 0 else shape[0]
    if expected != len(dims):
        return None
    return np.array(dims, dtype=out.dtype.to_numpy()).reshape(shape)  # type: ignore[arg-type]


__all__ = ["FoldConstantsPass"]
