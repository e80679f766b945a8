"""Shared helpers for op definitions: broadcasting, axes, simple inference shapes."""

from __future__ import annotations

from collections.abc import Sequence

from compiler.registry import InferContext, InferDim, InferError
from compiler.types import Dim, DType, TensorType


def broadcast_dims(a: InferDim, b: InferDim, op: str) -> InferDim:
    """Numpy-style broadcast of two dims; symbols broadcast with 1 and with themselves."""
    if a == 1:
        return b
    if b == 1 or a == b:
        return a
    if isinstance(a, int) and isinstance(b, int):
        raise InferError(f"{op}: cannot broadcast dims {a} and {b}")
    if a is None or b is None:
        return None
    if isinstance(a, int):  # static vs symbol: the static one wins (the symbol must equal it)
        return a
    if isinstance(b, int):
        return b
    return None  # two different symbols: data-dependent


def broadcast_shapes(shapes: Sequence[Sequence[InferDim]], op: str) -> tuple[InferDim, ...]:
    """Multidirectional (numpy) broadcasting of several shapes."""
    rank = max((len(s) for s in shapes), default=0)
    out: list[InferDim] = [1] * rank
    for shape in shapes:
        padded = [1] * (rank - len(shape)) + list(shape)
        out = [broadcast_dims(x, y, op) for x, y in zip(out, padded, strict=True)]
    return tuple(out)


def normalize_axis(axis: int, rank: int, op: str) -> int:
    """Map a possibly negative axis into [0, rank)."""
    if not -rank <= axis < max(rank, 1):
        raise InferError(f"{op}: axis {axis} is out of range for rank {rank}")
    return axis + rank if axis < 0 else axis


def normalize_axes(axes: Sequence[int], rank: int, op: str) -> tuple[int, ...]:
    out = tuple(normalize_axis(a, rank, op) for a in axes)
    if len(set(out)) != len(out):
        raise InferError(f"{op}: repeated axis in {tuple(axes)}")
    return out


def same_as_input(ctx: InferContext) -> list[TensorType]:
    """Output 0 has the type of input 0 (unary elementwise ops)."""
    return [ctx.type(0)]


def broadcast_infer(ctx: InferContext, dtype: DType | None = None) -> list[TensorType]:
    """Elementwise op over all present inputs with numpy broadcasting."""
    shapes = [ctx.shape(i) for i in range(ctx.num_inputs) if ctx.has(i)]
    out_dtype = dtype if dtype is not None else ctx.dtype(0)
    return [TensorType(out_dtype, broadcast_shapes(shapes, ctx.op))]


def require_same_dtype(ctx: InferContext, *indices: int) -> DType:
    dtypes = {ctx.dtype(i) for i in indices if ctx.has(i)}
    if len(dtypes) > 1:
        names = ", ".join(sorted(d.short for d in dtypes))
        raise InferError(f"{ctx.op}: inputs must share one element type, got {names}")
    return ctx.dtype(indices[0])


def mul_dims(dims: Sequence[InferDim]) -> InferDim:
    """Product of dims, or None when any is not static."""
    n = 1
    for d in dims:
        if not isinstance(d, int):
            return None
        n *= d
    return n


def as_dims(shape: Sequence[Dim]) -> tuple[InferDim, ...]:
    return tuple(shape)
