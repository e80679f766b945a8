"""Shape ops: Reshape, Flatten, Transpose, Squeeze, Unsqueeze, Concat, Split.

The shape functions (`shape_fn`) partially evaluate shape arithmetic on 0-/1-D int vectors, so
that the `Shape -> Gather -> Concat -> Reshape` chains of exported graphs infer static shapes.
Indexing ops live in `gather`, the rest (Shape, Size, Expand, Tile, Pad, ConstantOfShape, Range,
...) in `shape2` (both imported at the end).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from compiler.ops.common import normalize_axes, normalize_axis
from compiler.registry import REQUIRED, InferContext, InferDim, ShapeValue, attr, defop, kernel
from compiler.types import TensorType


def prod_dim(dims: Sequence[InferDim]) -> InferDim:
    """Product of dims: an int, a lone symbol (times 1s), 0 if any static 0, else None."""
    n, syms = 1, []
    for d in dims:
        if d is None:
            return None
        if isinstance(d, int):
            n *= d
        else:
            syms.append(d)
    if not syms or n == 0:
        return n
    return syms[0] if len(syms) == 1 and n == 1 else None


def const_ints(ctx: InferContext, i: int, what: str) -> tuple[int, ...] | None:
    """A constant int vector input (None when absent or not constant)."""
    if not ctx.has(i):
        return None
    value = ctx.shape_value(i)
    if value is None or not all(isinstance(v, int) for v in value):
        return None
    return tuple(int(v) for v in value)  # type: ignore[arg-type]


def vector_len(ctx: InferContext, i: int, what: str) -> int:
    """The static length of a 1-D input (e.g. a shape vector): needed to know an output rank."""
    shape = ctx.shape(i)
    if len(shape) != 1 or not isinstance(shape[0], int):
        raise ctx.fail(f"{what} must be a 1-D tensor of static length, got shape {list(shape)}")
    return shape[0]


def vector_value(ctx: InferContext, i: int) -> ShapeValue | None:
    """Input `i`'s elements as dims; for a 1-D int vector of unknown values but static length n,
    `(None,) * n`, so that shape arithmetic keeps the lengths (and Reshape the rank)."""
    value = ctx.shape_value(i)
    if value is not None:
        return value
    shape = ctx.shape(i)
    if len(shape) == 1 and isinstance(shape[0], int) and ctx.dtype(i).is_int:
        return (None,) * shape[0]
    return None


def _same_elements(ctx: InferContext) -> ShapeValue | None:
    """Shape value of a 0-/1-D result holding the input's elements in order."""
    return ctx.shape_value(0)


# -- Reshape / Flatten -----------------------------------------------------------------------------


def _reshape_shape_fn(ctx: InferContext) -> ShapeValue | None:
    target = ctx.shape_value(1)
    return ctx.shape_value(0) if target is not None and len(target) <= 1 else None


@defop("reshape", onnx="Reshape", inputs=2, attrs={"allowzero": attr("int", 0)}, since=14,
       shape_fn=_reshape_shape_fn)  # fmt: skip
def _reshape(ctx: InferContext) -> list[TensorType]:
    """Reshape to the `shape` input (0 copies the input dim unless allowzero, -1 is inferred)."""
    x = ctx.shape(0)
    target = ctx.shape_value(1)
    if target is None:
        return [ctx.type(0).with_shape((None,) * vector_len(ctx, 1, "shape"))]  # type: ignore[arg-type]
    out: list[InferDim] = []
    for i, d in enumerate(target):
        if d == 0 and not ctx.attr("allowzero"):
            if i >= len(x):
                raise ctx.fail(f"shape {list(target)} copies dim {i} of a rank-{len(x)} input")
            d = x[i]
        out.append(d)
    holes = [i for i, d in enumerate(out) if d == -1]
    if len(holes) > 1 or any(isinstance(d, int) and d < -1 for d in out):
        raise ctx.fail(f"invalid target shape {list(target)}")
    if holes:
        out[holes[0]] = _solve_hole(ctx, x, out[: holes[0]] + out[holes[0] + 1 :])
    elif isinstance(prod_dim(x), int) and isinstance(prod_dim(out), int):
        if prod_dim(x) != prod_dim(out):
            raise ctx.fail(f"cannot reshape {list(x)} to {out}")
    return [ctx.type(0).with_shape(tuple(out))]  # type: ignore[arg-type]


def _solve_hole(ctx: InferContext, x: Sequence[InferDim], known: Sequence[InferDim]) -> InferDim:
    """The -1 dim: input size over the other output dims, cancelling matching symbols."""
    if any(d is None for d in (*x, *known)):
        return None
    in_syms = Counter(d for d in x if isinstance(d, str))
    out_syms = Counter(d for d in known if isinstance(d, str))
    if out_syms - in_syms:
        return None
    rest = in_syms - out_syms
    n_in = int(np.prod([d for d in x if isinstance(d, int)], dtype=np.int64))
    n_out = int(np.prod([d for d in known if isinstance(d, int)], dtype=np.int64))
    if n_out == 0:
        return None if n_in else 0
    if not rest:
        if n_in % n_out:
            raise ctx.fail(f"cannot reshape {list(x)} with known dims {list(known)}")
        return n_in // n_out
    return next(iter(rest)) if sum(rest.values()) == 1 and n_in == n_out else None


@kernel("reshape")
def _reshape_kernel(inputs: list[Any], attrs: dict[str, Any]) -> list[np.ndarray]:
    x, shape = inputs[0], [int(d) for d in inputs[1]]
    if not attrs["allowzero"]:
        shape = [x.shape[i] if d == 0 else d for i, d in enumerate(shape)]
    return [x.reshape(shape)]


@defop("flatten", onnx="Flatten", attrs={"axis": attr("int", 1)}, since=11)
def _flatten(ctx: InferContext) -> list[TensorType]:
    """Flatten to 2-D: [prod(dims[:axis]), prod(dims[axis:])]."""
    x = ctx.shape(0)
    axis = int(ctx.attr("axis"))
    if not -len(x) <= axis <= len(x):
        raise ctx.fail(f"axis {axis} is out of range for rank {len(x)}")
    axis = axis + len(x) if axis < 0 else axis
    return [ctx.type(0).with_shape((prod_dim(x[:axis]), prod_dim(x[axis:])))]  # type: ignore[arg-type]


@kernel("flatten")
def _flatten_kernel(inputs: list[Any], attrs: dict[str, Any]) -> list[np.ndarray]:
    x = inputs[0]
    axis = attrs["axis"] + x.ndim if attrs["axis"] < 0 else attrs["axis"]
    return [x.reshape(int(np.prod(x.shape[:axis], dtype=np.int64)), -1)]


# -- Transpose -------------------------------------------------------------------------------------


@defop("transpose", onnx="Transpose", attrs={"perm": attr("ints")}, since=1)
def _transpose(ctx: InferContext) -> list[TensorType]:
    """Permute dims (default: reverse them)."""
    x = ctx.shape(0)
    perm = ctx.attr("perm")
    perm = tuple(range(len(x) - 1, -1, -1)) if perm is None else tuple(perm)
    if sorted(perm) != list(range(len(x))):
        raise ctx.fail(f"perm {perm} is not a permutation of {len(x)} dims")
    return [ctx.type(0).with_shape(tuple(x[p] for p in perm))]


@kernel("transpose")
def _transpose_kernel(inputs: list[Any], attrs: dict[str, Any]) -> list[np.ndarray]:
    return [np.transpose(inputs[0], attrs.get("perm"))]


# -- Squeeze / Unsqueeze ---------------------------------------------------------------------------


@defop("squeeze", onnx="Squeeze", inputs=(1, 2), since=13, shape_fn=_same_elements)
def _squeeze(ctx: InferContext) -> list[TensorType]:
    """Remove size-1 dims (the `axes` input, or every static 1 when absent)."""
    x = ctx.shape(0)
    axes = const_ints(ctx, 1, "axes")
    if ctx.has(1) and axes is None:  # runtime axes: only the rank is known
        rank = len(x) - vector_len(ctx, 1, "axes")
        return [ctx.type(0).with_shape((None,) * rank)]  # type: ignore[arg-type]
    if axes is None:
        if any(not isinstance(d, int) for d in x):
            raise ctx.fail(f"cannot squeeze symbolic dims of {list(x)} without axes")
        return [ctx.type(0).with_shape(tuple(d for d in x if d != 1))]
    drop = normalize_axes(axes, len(x), ctx.op)
    for a in drop:
        if isinstance(x[a], int) and x[a] != 1:
            raise ctx.fail(f"cannot squeeze dim {a} of size {x[a]}")
    return [ctx.type(0).with_shape(tuple(d for i, d in enumerate(x) if i not in drop))]


@kernel("squeeze")
def _squeeze_kernel(inputs: list[Any], attrs: dict[str, Any]) -> list[np.ndarray]:
    x = inputs[0]
    axes = inputs[1] if len(inputs) > 1 else None
    if axes is None:
        return [np.squeeze(x)]
    return [np.squeeze(x, axis=tuple(int(a) for a in axes))]


@defop("unsqueeze", onnx="Unsqueeze", inputs=2, since=13, shape_fn=_same_elements)
def _unsqueeze(ctx: InferContext) -> list[TensorType]:
    """Insert size-1 dims at the `axes` input's positions (of the result)."""
    x = ctx.shape(0)
    axes = const_ints(ctx, 1, "axes")
    if axes is None:  # runtime axes: only the rank is known
        rank = len(x) + vector_len(ctx, 1, "axes")
        return [ctx.type(0).with_shape((None,) * rank)]  # type: ignore[arg-type]
    rank = len(x) + len(axes)
    new = normalize_axes(axes, rank, ctx.op)
    rest = iter(x)
    return [ctx.type(0).with_shape(tuple(1 if i in new else next(rest) for i in range(rank)))]


@kernel("unsqueeze")
def _unsqueeze_kernel(inputs: list[Any], attrs: dict[str, Any]) -> list[np.ndarray]:
    return [np.expand_dims(inputs[0], tuple(int(a) for a in inputs[1]))]


# -- Concat / Split --------------------------------------------------------------------------------


def _concat_shape_fn(ctx: InferContext) -> ShapeValue | None:
    if len(ctx.shape(0)) != 1:
        return None
    parts = [vector_value(ctx, i) for i in range(ctx.num_inputs)]
    if any(p is None for p in parts):
        return None
    out = tuple(d for p in parts for d in p)  # type: ignore[union-attr]
    return None if out and all(d is None for d in out) else out


@defop("concat", onnx="Concat", inputs=(1, None), attrs={"axis": attr("int", REQUIRED)}, since=11,
       shape_fn=_concat_shape_fn)  # fmt: skip
def _concat(ctx: InferContext) -> list[TensorType]:
    """Join tensors along `axis`; the other dims must agree."""
    shapes = [ctx.shape(i) for i in range(ctx.num_inputs)]
    dtypes = {ctx.dtype(i) for i in range(ctx.num_inputs)}
    if len(dtypes) > 1 or len({len(s) for s in shapes}) > 1:
        raise ctx.fail("inputs must share element type and rank")
    axis = normalize_axis(int(ctx.attr("axis")), len(shapes[0]), ctx.op)
    out: list[InferDim] = list(shapes[0])
    for s in shapes[1:]:
        for i, d in enumerate(s):
            if i != axis:
                out[i] = _agree(ctx, out[i], d)
    along = [s[axis] for s in shapes]
    out[axis] = sum(along) if all(isinstance(d, int) for d in along) else _lone(along)  # type: ignore[arg-type]
    return [ctx.type(0).with_shape(tuple(out))]  # type: ignore[arg-type]


def _agree(ctx: InferContext, a: InferDim, b: InferDim) -> InferDim:
    if isinstance(a, int) and isinstance(b, int) and a != b:
        raise ctx.fail(f"dims {a} and {b} differ")
    if a == b or isinstance(a, int):
        return a
    return b if isinstance(b, int) else None


def _lone(dims: Sequence[InferDim]) -> InferDim:
    """A single symbolic dim among zeros stays that symbol; anything else is unknown."""
    rest = [d for d in dims if d != 0]
    return rest[0] if len(rest) == 1 else None


@kernel("concat")
def _concat_kernel(inputs: list[Any], attrs: dict[str, Any]) -> list[np.ndarray]:
    return [np.concatenate(inputs, axis=attrs["axis"])]


def _complete_split(attrs: dict[str, Any], ctx: InferContext) -> None:
    # Without a `split` input the kernel needs the part count: keep it explicit in the IR.
    if not ctx.has(1):
        attrs.setdefault("num_outputs", ctx.num_outputs)


@defop("split", onnx="Split", inputs=(1, 2), outputs=(1, None), since=13, complete=_complete_split,
       attrs={"axis": attr("int", 0), "num_outputs": attr("int")})  # fmt: skip
def _split(ctx: InferContext) -> list[TensorType]:
    """Split along `axis` into the `split` sizes, or into equal parts (last one smaller)."""
    x = ctx.shape(0)
    axis = normalize_axis(int(ctx.attr("axis")), len(x), ctx.op)
    n = ctx.num_outputs
    if ctx.attr("num_outputs") is not None and ctx.attr("num_outputs") != n:
        raise ctx.fail(f"num_outputs={ctx.attr('num_outputs')} but the node has {n} outputs")
    sizes = _split_sizes(ctx, x[axis], n)
    return [ctx.type(0).with_shape((*x[:axis], s, *x[axis + 1 :])) for s in sizes]


def _split_sizes(ctx: InferContext, dim: InferDim, n: int) -> list[InferDim]:
    if ctx.has(1):
        split = const_ints(ctx, 1, "split")
        if split is None:
            return [None] * n
        if len(split) != n or (isinstance(dim, int) and sum(split) != dim):
            raise ctx.fail(f"split {list(split)} does not cut a dim of {dim} into {n} parts")
        return list(split)
    if not isinstance(dim, int):
        return [dim] if n == 1 else [None] * n
    sizes = equal_split(dim, n)
    if sizes[-1] < 0:
        raise ctx.fail(f"dim {dim} cannot split into {n} outputs")
    return list(sizes)


def equal_split(dim: int, n: int) -> list[int]:
    """ONNX 18 equal split: ceil(dim / n) each, the last part takes the remainder."""
    chunk = -(-dim // n)
    return [chunk] * (n - 1) + [dim - chunk * (n - 1)]


@kernel("split")
def _split_kernel(inputs: list[Any], attrs: dict[str, Any]) -> list[np.ndarray]:
    x, axis = inputs[0], attrs["axis"]
    split = inputs[1] if len(inputs) > 1 else None
    if split is None:
        split = equal_split(x.shape[axis], attrs["num_outputs"])
    cuts = np.cumsum([int(s) for s in split])[:-1]
    return list(np.split(x, cuts, axis=axis))


from compiler.ops import gather, shape2  # noqa: E402,F401
