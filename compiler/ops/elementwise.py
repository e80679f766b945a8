"""Elementwise arithmetic and math ops, `cast`, `cast_like` and `identity`.

Binary ops broadcast numpy-style (ONNX multidirectional broadcasting). `add`, `sub`, `mul`, `div`,
`cast` and `identity` also partially evaluate shape vectors (`shape_fn`) so that shape arithmetic
such as `Shape -> Gather -> Mul -> Concat -> Reshape` keeps static dims and symbols.
Comparison, logical and bitwise ops live in `compiler.ops.logic` (imported at the end).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from functools import reduce
from typing import Any

import numpy as np

from compiler.ir import AttrValue
from compiler.ops.common import broadcast_infer, require_same_dtype
from compiler.registry import InferContext, ShapeValue, attr, defop, kernel
from compiler.types import DType, TensorType

Arrays = list[Any]

# ONNX type sets used by the schemas.
FLOATS = frozenset({DType.FLOAT16, DType.BFLOAT16, DType.FLOAT32, DType.FLOAT64})
SIGNED_INTS = frozenset({DType.INT8, DType.INT16, DType.INT32, DType.INT64})
UNSIGNED_INTS = frozenset({DType.UINT8, DType.UINT16, DType.UINT32, DType.UINT64})
INTS = SIGNED_INTS | UNSIGNED_INTS
NUMERIC = FLOATS | INTS
SIGNED = FLOATS | SIGNED_INTS


def check_dtype(ctx: InferContext, i: int, allowed: frozenset[DType]) -> DType:
    """Input `i`'s dtype, failing when it is not one the ONNX schema allows."""
    dtype = ctx.dtype(i)
    if dtype not in allowed:
        raise ctx.fail(f"input {i} has unsupported element type {dtype.short}")
    return dtype


def binary_infer(ctx: InferContext, allowed: frozenset[DType]) -> list[TensorType]:
    """Two same-typed inputs, broadcast; output has their dtype."""
    check_dtype(ctx, 0, allowed)
    require_same_dtype(ctx, 0, 1)
    return broadcast_infer(ctx)


def unary_infer(ctx: InferContext, allowed: frozenset[DType]) -> list[TensorType]:
    check_dtype(ctx, 0, allowed)
    return [ctx.type(0)]


# -- shape-value partial evaluation ---------------------------------------------------------------


def _int_dim_fn(fn: Callable[[int, int], int], unit: int | None) -> Callable[[Any, Any], Any]:
    """Combine two dims: exact on ints; `x op unit` keeps a symbol (x*1, x+0, x-0, x/1)."""

    def combine(a: Any, b: Any) -> Any:
        if isinstance(a, int) and isinstance(b, int):
            return fn(a, b)
        if unit is not None and b == unit and a is not None:
            return a
        return None

    return combine


def _binary_shape_fn(fn: Callable[[int, int], int], unit: int | None) -> Callable[..., Any]:
    combine = _int_dim_fn(fn, unit)

    def shape_fn(ctx: InferContext) -> ShapeValue | None:
        if not ctx.dtype(0).is_int or len(ctx.shape(0)) > 1 or len(ctx.shape(1)) > 1:
            return None
        a, b = ctx.shape_value(0), ctx.shape_value(1)
        if a is None or b is None:
            return None
        if len(a) == 1 and len(b) != 1:
            a = a * len(b)
        if len(b) == 1 and len(a) != 1:
            b = b * len(a)
        if len(a) != len(b):
            return None
        out = tuple(combine(x, y) for x, y in zip(a, b, strict=True))
        return None if all(d is None for d in out) and out else out

    return shape_fn


def _trunc_div(a: int, b: int) -> int:
    if b == 0:
        return 0
    q = abs(a) // abs(b)
    return q if (a < 0) == (b < 0) else -q


def _passthrough_shape_fn(ctx: InferContext) -> ShapeValue | None:
    return ctx.shape_value(0)


def _negate_shape_fn(ctx: InferContext) -> ShapeValue | None:
    """Neg of a static int vector (the expanded LayerNorm negates its axis to count dims)."""
    value = ctx.shape_value(0)
    if value is None or not ctx.dtype(0).is_int or not all(isinstance(d, int) for d in value):
        return None
    return tuple(-d for d in value)  # type: ignore[operator]


def _cast_shape_fn(ctx: InferContext) -> ShapeValue | None:
    to = ctx.attr("to")
    if not isinstance(to, DType) or not to.is_int or not ctx.dtype(0).is_int:
        return None
    return ctx.shape_value(0)


# -- binary arithmetic ----------------------------------------------------------------------------

_ARITH: dict[str, tuple[str, Callable[[int, int], int], int | None]] = {
    "add": ("Add", lambda a, b: a + b, 0),
    "sub": ("Sub", lambda a, b: a - b, 0),
    "mul": ("Mul", lambda a, b: a * b, 1),
    "div": ("Div", _trunc_div, 1),
}


def _def_arith(name: str, onnx: str, fn: Callable[[int, int], int], unit: int | None) -> None:
    @defop(name, onnx=onnx, inputs=2, since=7, shape_fn=_binary_shape_fn(fn, unit))
    def _infer(ctx: InferContext) -> list[TensorType]:
        return binary_infer(ctx, NUMERIC)

    _infer.__doc__ = f"Elementwise {onnx} with broadcasting."


for _name, (_onnx, _fn, _unit) in _ARITH.items():
    _def_arith(_name, _onnx, _fn, _unit)


@kernel("add")
def _add(inputs: Arrays, attrs: Mapping[str, AttrValue]) -> Arrays:
    return [np.add(inputs[0], inputs[1])]


@kernel("sub")
def _sub(inputs: Arrays, attrs: Mapping[str, AttrValue]) -> Arrays:
    return [np.subtract(inputs[0], inputs[1])]


@kernel("mul")
def _mul(inputs: Arrays, attrs: Mapping[str, AttrValue]) -> Arrays:
    return [np.multiply(inputs[0], inputs[1])]


def _def_inplace_arith(name: str, ufunc: np.ufunc) -> None:
    """The in-place form of add/sub/mul: into the donated input 0 when the result has its shape
    and dtype (no broadcast widening it, no integer promotion), else the out-of-place kernel."""

    @kernel(name, variant="inplace")
    def _inplace(inputs: Arrays, attrs: Mapping[str, AttrValue]) -> Arrays:
        x, y = inputs
        if x.dtype == y.dtype and y.ndim <= x.ndim and y.size <= x.size:
            try:
                return [ufunc(x, y, out=x)]
            except ValueError:  # y broadcasts x wider: fall through
                pass
        return [ufunc(x, y)]


for _name, _ufunc in (("add", np.add), ("sub", np.subtract), ("mul", np.multiply)):
    _def_inplace_arith(_name, _ufunc)


@kernel("div")
def _div(inputs: Arrays, attrs: Mapping[str, AttrValue]) -> Arrays:
    a, b = inputs
    if a.dtype.kind not in "iu":
        return [np.divide(a, b)]
    # ONNX integer division truncates toward zero (C semantics); numpy floors.
    with np.errstate(divide="ignore"):
        q = np.floor_divide(a, b)
        r = np.remainder(a, b)
    fix = (r != 0) & ((a < 0) != (b < 0))
    return [(q + fix.astype(q.dtype)).astype(a.dtype)]


@defop("pow", onnx="Pow", inputs=2, since=7)
def _pow_infer(ctx: InferContext) -> list[TensorType]:
    """Elementwise power; the exponent may have another numeric type; output has X's type."""
    check_dtype(ctx, 0, FLOATS | {DType.INT32, DType.INT64})
    check_dtype(ctx, 1, NUMERIC)
    return broadcast_infer(ctx)


@kernel("pow")
def _pow(inputs: Arrays, attrs: Mapping[str, AttrValue]) -> Arrays:
    x, y = inputs
    with np.errstate(all="ignore"):
        return [np.power(x, y).astype(x.dtype)]


@defop("mod", onnx="Mod", inputs=2, attrs={"fmod": attr("int", 0)}, since=10)
def _mod_infer(ctx: InferContext) -> list[TensorType]:
    """Elementwise remainder: sign of the divisor (fmod=0, numpy `mod`, also for floats since the
    ONNX spec defines it) or of the dividend (fmod=1, C fmod)."""
    if ctx.attr("fmod") not in (0, 1):
        raise ctx.fail(f"fmod must be 0 or 1, got {ctx.attr('fmod')}")
    return binary_infer(ctx, NUMERIC)


@kernel("mod")
def _mod(inputs: Arrays, attrs: Mapping[str, AttrValue]) -> Arrays:
    a, b = inputs
    with np.errstate(all="ignore"):
        out = np.fmod(a, b) if attrs["fmod"] == 1 else np.mod(a, b)
    return [out.astype(a.dtype)]


# -- unary math -----------------------------------------------------------------------------------


def _erf(x: np.ndarray) -> np.ndarray:
    # math.erf is correctly rounded in double precision; numpy has no erf.
    return np.vectorize(math.erf, otypes=[np.float64])(x.astype(np.float64)).astype(x.dtype)


# name -> (ONNX type, since, allowed dtypes, numpy function)
_UNARY: dict[str, tuple[str, int, frozenset[DType], Callable[[np.ndarray], np.ndarray]]] = {
    "sqrt": ("Sqrt", 6, FLOATS, np.sqrt),
    "reciprocal": ("Reciprocal", 6, FLOATS, np.reciprocal),
    "exp": ("Exp", 6, FLOATS, np.exp),
    "log": ("Log", 6, FLOATS, np.log),
    "neg": ("Neg", 6, SIGNED, np.negative),
    "abs": ("Abs", 6, NUMERIC, np.abs),
    "floor": ("Floor", 6, FLOATS, np.floor),
    "ceil": ("Ceil", 6, FLOATS, np.ceil),
    "round": ("Round", 11, FLOATS, np.rint),  # half to even
    "sign": ("Sign", 9, NUMERIC, np.sign),
    "sin": ("Sin", 7, FLOATS, np.sin),
    "cos": ("Cos", 7, FLOATS, np.cos),
    "tan": ("Tan", 7, FLOATS, np.tan),
    "asin": ("Asin", 7, FLOATS, np.arcsin),
    "acos": ("Acos", 7, FLOATS, np.arccos),
    "atan": ("Atan", 7, FLOATS, np.arctan),
    "sinh": ("Sinh", 9, FLOATS, np.sinh),
    "cosh": ("Cosh", 9, FLOATS, np.cosh),
    "erf": ("Erf", 9, FLOATS, _erf),
}


def _def_unary(
    name: str, onnx: str, since: int, allowed: frozenset[DType], fn: Callable[..., Any]
) -> None:
    shape_fn = _negate_shape_fn if name == "neg" else None

    @defop(name, onnx=onnx, since=since, shape_fn=shape_fn)
    def _infer(ctx: InferContext) -> list[TensorType]:
        return unary_infer(ctx, allowed)

    _infer.__doc__ = f"Elementwise {onnx}."

    @kernel(name)
    def _kernel(inputs: Arrays, attrs: Mapping[str, AttrValue]) -> Arrays:
        x = inputs[0]
        with np.errstate(all="ignore"):
            return [np.asarray(fn(x)).astype(x.dtype, copy=False)]


for _name, _spec in _UNARY.items():
    _def_unary(_name, *_spec)


# -- variadic -------------------------------------------------------------------------------------


def _variadic_infer(ctx: InferContext, allowed: frozenset[DType]) -> list[TensorType]:
    check_dtype(ctx, 0, allowed)
    require_same_dtype(ctx, *range(ctx.num_inputs))
    return broadcast_infer(ctx)


_VARIADIC: dict[str, tuple[str, frozenset[DType]]] = {
    "max": ("Max", NUMERIC),
    "min": ("Min", NUMERIC),
    "sum": ("Sum", FLOATS),
    "mean": ("Mean", FLOATS),
}


def _def_variadic(name: str, onnx: str, allowed: frozenset[DType]) -> None:
    @defop(name, onnx=onnx, inputs=(1, None), since=8)
    def _infer(ctx: InferContext) -> list[TensorType]:
        return _variadic_infer(ctx, allowed)

    _infer.__doc__ = f"Elementwise {onnx} of any number of inputs, with broadcasting."


for _name, (_onnx, _allowed) in _VARIADIC.items():
    _def_variadic(_name, _onnx, _allowed)


@kernel("max")
def _max(inputs: Arrays, attrs: Mapping[str, AttrValue]) -> Arrays:
    return [np.asarray(reduce(np.maximum, inputs))]


@kernel("min")
def _min(inputs: Arrays, attrs: Mapping[str, AttrValue]) -> Arrays:
    return [np.asarray(reduce(np.minimum, inputs))]


@kernel("sum")
def _sum(inputs: Arrays, attrs: Mapping[str, AttrValue]) -> Arrays:
    if len(inputs) == 1:
        return [np.asarray(inputs[0])]
    return [np.asarray(_add_into(np.add(inputs[0], inputs[1]), inputs[2:]))]


@kernel("sum", variant="inplace")
def _sum_inplace(inputs: Arrays, attrs: Mapping[str, AttrValue]) -> Arrays:
    return [np.asarray(_add_into(inputs[0], inputs[1:]))]


def _add_into(total: Any, rest: Arrays) -> Any:
    """`total + r0 + r1 + ...` left to right (as `reduce(np.add)`), in place into `total` (a fresh
    or donated buffer) wherever the sum keeps its shape and dtype."""
    for x in rest:
        if isinstance(total, np.ndarray) and x.dtype == total.dtype and x.ndim <= total.ndim:
            try:
                total = np.add(total, x, out=total)
                continue
            except ValueError:  # x broadcasts the sum wider
                pass
        total = np.add(total, x)
    return total


@kernel("mean")
def _mean(inputs: Arrays, attrs: Mapping[str, AttrValue]) -> Arrays:
    total = np.asarray(reduce(np.add, inputs))
    return [(total / len(inputs)).astype(inputs[0].dtype)]


# -- cast and identity ----------------------------------------------------------------------------


@defop(
    "cast",
    onnx="Cast",
    attrs={
        "to": attr("dtype", None),
        "saturate": attr("int", 1),
        "round_mode": attr("str", "up"),
    },
    since=6,
    shape_fn=_cast_shape_fn,
)
def _cast_infer(ctx: InferContext) -> list[TensorType]:
    """Convert to the element type `to` (float8 targets saturate when `saturate` is 1)."""
    to = ctx.attr("to")
    if not isinstance(to, DType):
        raise ctx.fail("attribute 'to' is required")
    return [ctx.type(0).with_dtype(to)]


@kernel("cast")
def _cast(inputs: Arrays, attrs: Mapping[str, AttrValue]) -> Arrays:
    return [cast_array(inputs[0], attrs["to"], bool(attrs["saturate"]))]


@defop(
    "cast_like",
    onnx="CastLike",
    inputs=2,
    attrs={"saturate": attr("int", 1), "round_mode": attr("str", "up")},
    since=15,
)
def _cast_like_infer(ctx: InferContext) -> list[TensorType]:
    """Convert input 0 to the element type of input 1."""
    return [ctx.type(0).with_dtype(ctx.dtype(1))]


@kernel("cast_like")
def _cast_like(inputs: Arrays, attrs: Mapping[str, AttrValue]) -> Arrays:
    to = DType.from_numpy(inputs[1].dtype)
    return [cast_array(inputs[0], to, bool(attrs["saturate"]))]


_FLOAT8 = frozenset(
    {DType.FLOAT8E4M3FN, DType.FLOAT8E4M3FNUZ, DType.FLOAT8E5M2, DType.FLOAT8E5M2FNUZ}
)


def cast_array(x: np.ndarray, to: DType, saturate: bool) -> np.ndarray:
    """ONNX Cast: plain conversion; float8 targets clamp to the finite range when saturating."""
    if to == DType.STRING:
        return x.astype(np.str_).astype(object)
    target = to.to_numpy()
    if to in _FLOAT8 and saturate:
        import ml_dtypes

        limit = float(ml_dtypes.finfo(target).max)
        x = np.clip(x, -limit, limit)  # NaN stays NaN; +-inf become +-max
    return x.astype(target)


@defop("identity", onnx="Identity", since=1, shape_fn=_passthrough_shape_fn)
def _identity_infer(ctx: InferContext) -> list[TensorType]:
    """Output equals input."""
    return [ctx.type(0)]


@kernel("identity")
def _identity(inputs: Arrays, attrs: Mapping[str, AttrValue]) -> Arrays:
    return [inputs[0]]


import compiler.ops.logic  # noqa: E402, F401  (registers comparison / logical / bitwise ops)
