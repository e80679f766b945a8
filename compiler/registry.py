"""The op registry: one definition per op.

Each `OpDef` holds the op's attribute schema (with defaults, filled at construction so the IR is
canonical and opset-independent), its arity, its type/shape inference, an optional *shape-value*
function (partial evaluation of shape arithmetic such as `Shape -> Gather -> Concat`), and its NumPy
kernel. Constant folding and the reference backend both call that kernel.

Inference functions receive an `InferContext` and return one `TensorType` per output. A dim may be
`None` when it depends on data; the frontend then names it with a fresh symbol and the verifier
accepts any stored dim there. An unknown *rank* is an error.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from compiler.errors import CompilerError
from compiler.ir import AttrValue, Value, frozen_array
from compiler.types import Dim, DType, InferDim, TensorType

# A dim as produced by inference: int, symbol, or None (data-dependent, not inferable).
ShapeValue = tuple[InferDim, ...]
Kernel = Callable[[list[Any], Any], list[np.ndarray]]  # (inputs, attrs mapping) -> outputs


class InferError(CompilerError):
    """Type/shape inference failed for a node (the caller adds the node and location)."""


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()
ATTR_KINDS = ("int", "float", "str", "ints", "floats", "strs", "dtype", "tensor")


@dataclass(frozen=True)
class AttrSpec:
    """Schema of one attribute.

    Args:
        kind: One of `int`, `float`, `str`, `ints`, `floats`, `strs`, `dtype`, `tensor`.
        default: The value filled in when absent; `REQUIRED` to demand it; `None` to leave it
            absent (an optional attribute whose absence means something, or that `complete` fills).
    """

    kind: str
    default: Any = None

    def __post_init__(self) -> None:
        assert self.kind in ATTR_KINDS, self.kind


def attr(kind: str, default: Any = None) -> AttrSpec:
    return AttrSpec(kind, default)


class InferContext:
    """What an inference function may look at for one node.

    `read_data` records whether inference looked at input *data* (`const`, `shape_value`) rather
    than only at types and attributes; results that did not may be reused for identical nodes.
    """

    __slots__ = ("op", "attrs", "values", "num_outputs", "_shape_values", "read_data")

    def __init__(
        self,
        op: str,
        attrs: Mapping[str, AttrValue],
        values: Sequence[Value | None],
        num_outputs: int,
        shape_values: Mapping[Value, ShapeValue] | None = None,
    ) -> None:
        self.op = op
        self.attrs = attrs
        self.values = values
        self.num_outputs = num_outputs
        self._shape_values = shape_values
        self.read_data = False

    @property
    def num_inputs(self) -> int:
        return len(self.values)

    def has(self, i: int) -> bool:
        return i < len(self.values) and self.values[i] is not None

    def type(self, i: int) -> TensorType:
        value = self.values[i] if i < len(self.values) else None
        if value is None:
            raise InferError(f"{self.op}: input {i} is required")
        return value.type

    def shape(self, i: int) -> tuple[Dim, ...]:
        shape = self.type(i).shape
        if shape is None:
            raise InferError(f"{self.op}: input {i} has unknown rank")
        return shape

    def dtype(self, i: int) -> DType:
        return self.type(i).dtype

    def const(self, i: int) -> np.ndarray | None:
        """The input's array when it is produced by a `const` node."""
        self.read_data = True
        value = self.values[i] if i < len(self.values) else None
        return None if value is None else value.const_value()

    def shape_value(self, i: int) -> ShapeValue | None:
        """A 0-/1-D integer input's elements as dims, where known (constants and shape math)."""
        self.read_data = True
        value = self.values[i] if i < len(self.values) else None
        if value is None:
            return None
        array = value.const_value()
        if array is not None:
            if array.dtype.kind not in "iu" or array.ndim > 1:
                return None
            return tuple(array.reshape(-1).tolist())  # Python ints, like int(x) per element
        if self._shape_values is None:
            return None
        return self._shape_values.get(value)

    def attr(self, name: str) -> Any:
        return self.attrs.get(name)

    def fail(self, message: str) -> InferError:
        return InferError(f"{self.op}: {message}")


InferFn = Callable[[InferContext], list[TensorType]]
ShapeFn = Callable[[InferContext], ShapeValue | None]
CompleteFn = Callable[[dict[str, AttrValue], InferContext], None]


@dataclass
class OpDef:
    """The single definition of an op.

    Attributes:
        name: IR op name (lowercase snake case).
        infer: Type/shape inference.
        inputs: (min, max) input count; max None = variadic. Absent optional inputs are `None`.
        outputs: (min, max) output count.
        attrs: Attribute schema.
        onnx: The ONNX op type this op maps to (None for IR-only ops such as `const`).
        since: The ONNX opset where the op's current form (inputs vs attributes) was introduced.
        domain: The ONNX domain ("" for the default domain).
        kernel: NumPy kernel `(inputs, attrs) -> outputs`, or None until written.
        kernel_first: Optional kernel that computes only the first output, for nodes that have
            one (MaxPool without Indices, Dropout without mask): the interpreter prefers it there.
        kernel_inplace: Optional kernel that may overwrite `inputs[0]` with the first output;
            the interpreter calls it only when input 0 is dead after the node and no other
            reference to its buffer exists (see `backends/numpy/plan.py`, donation).
        shape_fn: Optional partial evaluation of shape arithmetic.
        complete: Optional hook filling defaults that depend on input types (e.g. conv pads).
        doc: One line for generated op tables.
    """

    name: str
    infer: InferFn
    inputs: tuple[int, int | None] = (1, 1)
    outputs: tuple[int, int | None] = (1, 1)
    attrs: dict[str, AttrSpec] = field(default_factory=dict)
    onnx: str | None = None
    since: int = 1
    domain: str = ""
    kernel: Kernel | None = None
    kernel_first: Kernel | None = None
    kernel_inplace: Kernel | None = None
    shape_fn: ShapeFn | None = None
    complete: CompleteFn | None = None
    doc: str = ""


_REGISTRY: dict[str, OpDef] = {}
_BY_ONNX: dict[tuple[str, str], OpDef] = {}


def register(opdef: OpDef) -> OpDef:
    """Add an op definition; names and ONNX types must be unique."""
    if opdef.name in _REGISTRY:
        raise ValueError(f"op {opdef.name!r} is defined twice")
    _REGISTRY[opdef.name] = opdef
    if opdef.onnx is not None:
        key = (opdef.domain, opdef.onnx)
        if key in _BY_ONNX:
            raise ValueError(f"ONNX op {opdef.onnx!r} maps to two ops")
        _BY_ONNX[key] = opdef
    return opdef


def defop(
    name: str,
    *,
    onnx: str | None = None,
    inputs: int | tuple[int, int | None] = 1,
    outputs: int | tuple[int, int | None] = 1,
    attrs: Mapping[str, AttrSpec] | None = None,
    since: int = 1,
    domain: str = "",
    shape_fn: ShapeFn | None = None,
    complete: CompleteFn | None = None,
    doc: str = "",
) -> Callable[[InferFn], OpDef]:
    """Decorator registering an op whose inference is the decorated function.

    Example:
        @defop("relu", onnx="Relu", since=14)
        def _relu(ctx):
            return [ctx.type(0)]
    """

    def wrap(infer: InferFn) -> OpDef:
        return register(
            OpDef(
                name=name,
                infer=infer,
                inputs=inputs if isinstance(inputs, tuple) else (inputs, inputs),
                outputs=outputs if isinstance(outputs, tuple) else (outputs, outputs),
                attrs=dict(attrs or {}),
                onnx=onnx,
                since=since,
                domain=domain,
                shape_fn=shape_fn,
                complete=complete,
                doc=doc or (infer.__doc__ or "").strip().split("\n")[0],
            )
        )

    return wrap


KernelVariant = Literal["all", "first", "inplace"]


def kernel(name: str, variant: KernelVariant = "all") -> Callable[[Kernel], Kernel]:
    """Decorator attaching a NumPy kernel to an already defined op.

    `variant` "all" is the kernel (every output, inputs never written); "first" and "inplace" are
    the optional fast forms described on `OpDef.kernel_first` / `OpDef.kernel_inplace`. Each
    variant must give the same first output as the kernel, bit for bit.
    """

    def wrap(fn: Kernel) -> Kernel:
        opdef = get_op(name)
        if variant == "all":
            opdef.kernel = fn
        elif variant == "first":
            opdef.kernel_first = fn
        else:
            opdef.kernel_inplace = fn
        return fn

    return wrap


def _ensure_loaded() -> None:
    if not _REGISTRY:
        import compiler.ops  # noqa: F401  (registers every op)


def get_op(name: str) -> OpDef:
    """The definition of `name`; raises CompilerError naming close matches when unknown."""
    _ensure_loaded()
    opdef = _REGISTRY.get(name)
    if opdef is None:
        raise CompilerError(f"unknown op {name!r}")
    return opdef


def find_op(name: str) -> OpDef | None:
    _ensure_loaded()
    return _REGISTRY.get(name)


def find_onnx_op(op_type: str, domain: str = "") -> OpDef | None:
    _ensure_loaded()
    return _BY_ONNX.get(("" if domain == "ai.onnx" else domain, op_type))


def all_ops() -> list[OpDef]:
    _ensure_loaded()
    return sorted(_REGISTRY.values(), key=lambda d: d.name)


# -- attributes ---------------------------------------------------------------------------------


def coerce_attr(kind: str, value: Any) -> AttrValue:
    """Convert a user/frontend value to the canonical immutable form of `kind`."""
    if kind == "int":
        return int(value)
    if kind == "float":
        return float(value)
    if kind == "str":
        return value.decode() if isinstance(value, bytes) else str(value)
    if kind == "ints":
        return tuple(int(v) for v in value)
    if kind == "floats":
        return tuple(float(v) for v in value)
    if kind == "strs":
        return tuple(v.decode() if isinstance(v, bytes) else str(v) for v in value)
    if kind == "dtype":
        return value if isinstance(value, DType) else DType.from_short(str(value))
    if kind == "tensor":
        return frozen_array(np.asarray(value))
    raise ValueError(kind)


def canonical_attrs(
    opdef: OpDef,
    attrs: Mapping[str, Any],
    ctx: InferContext,
    kinds: Mapping[str, str] | None = None,
) -> dict[str, AttrValue]:
    """Validate and coerce attributes, fill defaults; raises InferError on unknown or missing ones.

    `kinds` names the attributes whose values are already in the canonical form of a kind (a
    frontend that decodes straight to it); those whose kind matches the schema skip coercion.
    """
    specs = opdef.attrs
    out = dict(_defaults(opdef))
    for key, value in attrs.items():
        spec = specs.get(key)
        if spec is None:
            valid = ", ".join(sorted(specs)) or "none"
            raise InferError(f"{opdef.name}: unknown attribute {key!r} (valid: {valid})")
        if kinds is not None and kinds.get(key) == spec.kind:
            out[key] = value
            continue
        try:
            out[key] = coerce_attr(spec.kind, value)
        except (TypeError, ValueError, KeyError) as exc:
            raise InferError(f"{opdef.name}: attribute {key!r} is not a valid {spec.kind}") from exc
    for key in _required(opdef):
        if key not in out:
            raise InferError(f"{opdef.name}: attribute {key!r} is required")
    if opdef.complete is not None:
        ctx.attrs = out
        opdef.complete(out, ctx)
    return dict(sorted(out.items()))


# Coerced defaults and required names per op, computed once (schemas never change after import).
_DEFAULTS: dict[str, dict[str, AttrValue]] = {}
_REQUIRED_NAMES: dict[str, tuple[str, ...]] = {}


def _defaults(opdef: OpDef) -> dict[str, AttrValue]:
    cached = _DEFAULTS.get(opdef.name)
    if cached is None:
        cached = {
            key: coerce_attr(spec.kind, spec.default)
            for key, spec in opdef.attrs.items()
            if spec.default is not None and spec.default is not REQUIRED
        }
        _DEFAULTS[opdef.name] = cached
    return cached


def _required(opdef: OpDef) -> tuple[str, ...]:
    cached = _REQUIRED_NAMES.get(opdef.name)
    if cached is None:
        cached = tuple(k for k, spec in opdef.attrs.items() if spec.default is REQUIRED)
        _REQUIRED_NAMES[opdef.name] = cached
    return cached


def check_arity(opdef: OpDef, num_inputs: int, num_outputs: int) -> str | None:
    """A message when the counts do not fit the op, else None."""
    lo, hi = opdef.inputs
    if num_inputs < lo or (hi is not None and num_inputs > hi):
        return f"{opdef.name} takes {_range(lo, hi)} inputs, got {num_inputs}"
    lo, hi = opdef.outputs
    if num_outputs < lo or (hi is not None and num_outputs > hi):
        return f"{opdef.name} has {_range(lo, hi)} outputs, got {num_outputs}"
    return None


def _range(lo: int, hi: int | None) -> str:
    if hi is None:
        return f"at least {lo}"
    return str(lo) if lo == hi else f"{lo} to {hi}"


def infer_types(
    opdef: OpDef,
    attrs: Mapping[str, AttrValue],
    values: Sequence[Value | None],
    num_outputs: int,
    shape_values: dict[Value, ShapeValue] | None = None,
) -> tuple[list[TensorType], ShapeValue | None]:
    """Run inference (and the shape-value function) for one node."""
    ctx = InferContext(opdef.name, attrs, values, num_outputs, shape_values)
    types = opdef.infer(ctx)
    if len(types) != num_outputs:
        raise InferError(
            f"{opdef.name}: inference gave {len(types)} types for {num_outputs} outputs"
        )
    shape_value = opdef.shape_fn(ctx) if opdef.shape_fn is not None else None
    return types, shape_value
