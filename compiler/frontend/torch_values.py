"""The value side of the PyTorch frontend: FX arguments -> IR values, node emission, dims.

A lowering (see `torch_ops`) reads its FX arguments through these helpers: `value` for a tensor
argument, `like` for a Python scalar that must take a tensor's dtype, `ints` for an int list that
may hold symbolic sizes (built as a 1-D int64 vector), and `emit` to add an IR node whose types
the registry infers. Symbolic sizes (`SymInt` FX nodes) are 1-D int64 vectors of one element.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from compiler.errors import FrontendError
from compiler.graph import Graph
from compiler.ir import Node, Value, frozen_array
from compiler.location import UNKNOWN, Location
from compiler.registry import InferContext, InferError, ShapeValue, canonical_attrs, get_op
from compiler.types import DType, TensorType, tensor_type_of

_DTYPES = {
    "float32": DType.FLOAT32, "float16": DType.FLOAT16, "bfloat16": DType.BFLOAT16,
    "float64": DType.FLOAT64, "int8": DType.INT8, "uint8": DType.UINT8, "int16": DType.INT16,
    "int32": DType.INT32, "int64": DType.INT64, "bool": DType.BOOL,
}  # fmt: skip

Lowering = Callable[["TorchValues", Any, tuple[Any, ...], dict[str, Any]], Any]
LOWERINGS: dict[str, Lowering] = {}  # ATen op name (`convolution.default`) -> lowering
# Ops with no IR meaning in inference: runtime assertions (shapes, index ranges).
IGNORED = {
    "_assert_tensor_metadata.default", "_assert_scalar.default", "_assert_async.msg",
    "sym_constrain_range.default", "sym_constrain_range_for_size.default", "_operator.ge",
    "_operator.le", "_operator.eq",
}  # fmt: skip


def lowering(*names: str) -> Callable[[Lowering], Lowering]:
    """Register a lowering for the ATen ops `names` (`"add.Tensor"`, `"_operator.mul"`)."""

    def register(fn: Lowering) -> Lowering:
        for name in names:
            LOWERINGS[name] = fn
        return fn

    return register


def target_name(target: Any) -> str:
    """`aten.convolution.default` -> `convolution.default`; `getitem` -> `_operator.getitem`."""
    text = str(target)
    if text.startswith("aten."):
        return text[len("aten.") :]
    return f"{getattr(target, '__module__', '')}.{getattr(target, '__name__', text)}"


class TorchValues:
    """Graph under construction, the FX-node -> value map, and the helpers lowerings use."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.values: dict[Any, Any] = {}  # FX node -> Value, or a tuple of them
        self.shape_values: dict[Value, ShapeValue] = {}
        self.loc: Location = UNKNOWN
        self.fx_node: Any = None
        self.dim_names: dict[str, str] = {}
        self._fresh: dict[str, str] = {}

    # -- dtypes and dims ---------------------------------------------------------------------------
    def dtype_of(self, torch_dtype: Any, what: str = "value") -> DType:
        key = str(torch_dtype).removeprefix("torch.")
        if key not in _DTYPES:
            raise FrontendError(f"{what}: element type {torch_dtype} is not supported", self.loc)
        return _DTYPES[key]

    def torch_dims(self, shape: Any) -> tuple[int | str, ...]:
        return tuple(self.torch_dim(d) for d in shape)

    def torch_dim(self, dim: Any) -> int | str:
        """An IR dim for a torch size: an int, the user's `Dim` name, or a stable symbol."""
        if isinstance(dim, int):
            return dim
        expr = str(dim.node.expr) if hasattr(dim, "node") else str(dim)
        if expr.isdigit():
            return int(expr)
        if expr in self.dim_names:
            return self.dim_names[expr]
        if expr.isidentifier():
            return expr
        if expr not in self._fresh:
            self._fresh[expr] = f"unk_{len(self._fresh)}"
        return self._fresh[expr]

    def out_dtype(self, node: Any = None) -> DType:
        """The dtype torch computed for the current FX node (or `node`)."""
        val = (node or self.fx_node).meta["val"]
        return self.dtype_of(val.dtype, (node or self.fx_node).name)

    # -- arguments ---------------------------------------------------------------------------------
    def value(self, arg: Any) -> Value:
        """The IR value of a tensor (or SymInt) FX argument."""
        got = self.values.get(arg)
        if got is None:
            raise FrontendError(f"argument {arg!r} has no IR value", self.loc)
        if isinstance(got, tuple):
            raise FrontendError(f"argument {arg!r} is a tuple; expected one tensor", self.loc)
        return got  # type: ignore[no-any-return]

    def is_tensor(self, arg: Any) -> bool:
        return arg in self.values if _hashable(arg) else False

    def like(self, arg: Any, ref: Value, dtype: DType | None = None) -> Value:
        """A tensor argument, or a Python scalar as a 0-D constant of `ref`'s (or `dtype`'s)."""
        if self.is_tensor(arg):
            return self.value(arg)
        return self.scalar(arg, dtype or ref.type.dtype)

    def scalar(self, number: Any, dtype: DType) -> Value:
        return self.const(np.array(number, dtype=dtype.to_numpy()))

    def ints(self, items: Any) -> Value:
        """A 1-D int64 vector from a list of ints and SymInt FX nodes."""
        items = list(items)
        if not any(self.is_tensor(x) for x in items):
            return self.const(np.array([int(x) for x in items], dtype=np.int64))
        parts = [self.value(x) if self.is_tensor(x) else self.const(np.array([int(x)], np.int64))
                 for x in items]  # fmt: skip
        return parts[0] if len(parts) == 1 else self.emit("concat", parts, axis=0)

    def cast(self, value: Value, dtype: DType) -> Value:
        return value if value.type.dtype == dtype else self.emit("cast", [value], to=dtype)

    # -- building ----------------------------------------------------------------------------------
    def const(self, array: np.ndarray, name: str = "") -> Value:
        arr = frozen_array(np.asarray(array, order="C"))
        node = Node.make_const(arr, tensor_type_of(arr), self.loc, name)
        self.graph.append(node)
        return node.outputs[0]

    def emit(self, op: str, inputs: Sequence[Value | None], n_out: int = 1, **attrs: Any) -> Any:
        """Add one node; returns its value (or the tuple of values when `n_out` > 1)."""
        opdef = get_op(op)
        inputs = list(inputs)
        while inputs and inputs[-1] is None:
            inputs.pop()
        ctx = InferContext(op, {}, inputs, n_out, self.shape_values)
        canon = canonical_attrs(opdef, attrs, ctx)
        ctx.attrs = canon
        types = opdef.infer(ctx)
        if len(types) != n_out:
            raise InferError(f"{op}: inference gave {len(types)} types for {n_out} outputs")
        shape_value = opdef.shape_fn(ctx) if opdef.shape_fn is not None else None
        named = [self._named(t, i, n_out) for i, t in enumerate(types)]
        node = Node(op, inputs, named, canon, self.loc, None)
        self.graph.append(node)
        if shape_value is not None:
            self.shape_values[node.outputs[0]] = shape_value
        return node.outputs[0] if n_out == 1 else node.outputs

    def _named(self, t: TensorType, index: int, n_out: int) -> TensorType:
        """Inferred type with unknown dims taken from torch's shape of the same value."""
        if t.shape is None:
            raise InferError("cannot infer the rank of a result")
        if None not in t.shape:
            return t
        torch_shape = self._torch_shape(index, n_out)
        dims: list[int | str] = []
        for axis, d in enumerate(t.shape):
            if d is not None:
                dims.append(d)
            elif torch_shape is not None and len(torch_shape) == len(t.shape):
                dims.append(self.torch_dim(torch_shape[axis]))
            else:
                dims.append(self.torch_dim(f"{self.loc.text()}#{len(self._fresh)}"))
        return TensorType(t.dtype, tuple(dims))

    def _torch_shape(self, index: int, n_out: int) -> Any:
        val = self.fx_node.meta.get("val") if self.fx_node is not None else None
        if isinstance(val, (list, tuple)):
            val = val[index] if index < len(val) and n_out > 1 else None
        return getattr(val, "shape", None)


def _hashable(arg: Any) -> bool:
    try:
        hash(arg)
    except TypeError:
        return False
    return True
