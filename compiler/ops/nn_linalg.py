"""Linear algebra and data-rearranging NN ops: Gemm, MatMul, Einsum, Dropout, DepthToSpace,
SpaceToDepth."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from compiler.ops.common import broadcast_dims, broadcast_shapes, require_same_dtype
from compiler.ops.epilogue import ACTIVATION_ATTRS, apply_activation, check_activation
from compiler.ops.nn import accum_dtype
from compiler.registry import REQUIRED, InferContext, InferDim, attr, defop, kernel
from compiler.types import DType, TensorType


def _same_dim(ctx: InferContext, a: InferDim, b: InferDim, what: str) -> None:
    if isinstance(a, int) and isinstance(b, int) and a != b:
        raise ctx.fail(f"{what}: {a} != {b}")


# -- Gemm ------------------------------------------------------------------------------------------

_GEMM_ATTRS = {
    "alpha": attr("float", 1.0),
    "beta": attr("float", 1.0),
    "transA": attr("int", 0),
    "transB": attr("int", 0),
    **ACTIVATION_ATTRS,
}


@defop("gemm", onnx="Gemm", inputs=(2, 3), attrs=_GEMM_ATTRS, since=11)
def _gemm(ctx: InferContext) -> list[TensorType]:
    """alpha * A' @ B' + beta * C, with A' / B' optionally transposed and C broadcast."""
    a, b = ctx.shape(0), ctx.shape(1)
    dtype = require_same_dtype(ctx, 0, 1, 2)
    check_activation(ctx)
    if len(a) != 2 or len(b) != 2:
        raise ctx.fail(f"A and B must be 2-D, got ranks {len(a)} and {len(b)}")
    m, k = (a[1], a[0]) if ctx.attr("transA") else (a[0], a[1])
    k2, n = (b[1], b[0]) if ctx.attr("transB") else (b[0], b[1])
    _same_dim(ctx, k, k2, "inner dims differ")
    c = ctx.shape(2) if ctx.has(2) else ()
    pairs = zip(c[::-1], (n, m), strict=False)
    bad = [d for d, t in pairs if isinstance(d, int) and isinstance(t, int) and d not in (1, t)]
    if len(c) > 2 or bad:
        raise ctx.fail(f"C of shape {c} does not broadcast to ({m}, {n})")
    return [TensorType(dtype, (m, n))]


@kernel("gemm")
def _gemm_kernel(inputs: list[Any], attrs: dict[str, Any]) -> list[np.ndarray]:
    a, b = inputs[0], inputs[1]
    c = inputs[2] if len(inputs) > 2 else None
    acc = accum_dtype(a.dtype)
    a = a.T if attrs["transA"] else a
    b = b.T if attrs["transB"] else b
    y = np.matmul(a.astype(acc, copy=False), b.astype(acc, copy=False))  # BLAS reads a.T as is
    if attrs["alpha"] != 1.0:
        y *= np.asarray(attrs["alpha"], acc)
    if c is not None and attrs["beta"] != 0.0:  # y is fresh and (m, n): C broadcasts into it
        cb = c.astype(acc, copy=False)
        y += cb if attrs["beta"] == 1.0 else cb * np.asarray(attrs["beta"], acc)
    return [apply_activation(y.astype(inputs[0].dtype), attrs)]


# -- MatMul ----------------------------------------------------------------------------------------


@defop("matmul", onnx="MatMul", inputs=2, attrs=ACTIVATION_ATTRS, since=1)
def _matmul(ctx: InferContext) -> list[TensorType]:
    """Matrix product with numpy semantics (batch broadcasting, 1-D operands promoted)."""
    check_activation(ctx)
    return [
        TensorType(require_same_dtype(ctx, 0, 1), matmul_shape(ctx, ctx.shape(0), ctx.shape(1)))
    ]


def matmul_shape(
    ctx: InferContext, a: Sequence[InferDim], b: Sequence[InferDim]
) -> tuple[InferDim, ...]:
    """Result shape of `numpy.matmul(a, b)`; shared with the quantized matmuls."""
    if not a or not b:
        raise ctx.fail("matmul operands must have rank >= 1")
    a2 = (1, *a) if len(a) == 1 else tuple(a)
    b2 = (*b, 1) if len(b) == 1 else tuple(b)
    _same_dim(ctx, a2[-1], b2[-2], "inner dims differ")
    batch = broadcast_shapes([a2[:-2], b2[:-2]], ctx.op)
    out = (*batch, a2[-2], b2[-1])
    if len(a) == 1:
        out = out[:-2] + out[-1:]
    if len(b) == 1:
        out = out[:-1]
    return out


@kernel("matmul")
def _matmul_kernel(inputs: list[Any], attrs: dict[str, Any]) -> list[np.ndarray]:
    a, b = inputs
    acc = accum_dtype(a.dtype)
    # Contiguous operands: numpy falls back to a slow non-BLAS loop for transposed views.
    y = np.matmul(np.ascontiguousarray(a, dtype=acc), np.ascontiguousarray(b, dtype=acc))
    return [apply_activation(y.astype(a.dtype, copy=False), attrs)]


# -- Einsum ----------------------------------------------------------------------------------------


@defop("einsum", onnx="Einsum", inputs=(1, None), attrs={"equation": attr("str", REQUIRED)},
       since=12)  # fmt: skip
def _einsum(ctx: InferContext) -> list[TensorType]:
    """Einstein summation (numpy `einsum` equation syntax, with `...` broadcasting)."""
    dtype = require_same_dtype(ctx, *range(ctx.num_inputs))
    eq = str(ctx.attr("equation")).replace(" ", "")
    lhs, _, rhs = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) != ctx.num_inputs:
        raise ctx.fail(f"equation {eq!r} has {len(terms)} operands, got {ctx.num_inputs} inputs")
    letters: dict[str, InferDim] = {}
    ellipses: list[Sequence[InferDim]] = []
    for i, term in enumerate(terms):
        ellipses.append(_bind_term(ctx, term, ctx.shape(i), letters))
    ell = broadcast_shapes(ellipses, ctx.op)
    if "->" not in eq:
        counts = {c: lhs.count(c) for c in letters}
        rhs = ("..." if "..." in lhs else "") + "".join(
            sorted(c for c in letters if counts[c] == 1)
        )
    unknown = set(rhs.replace("...", "")) - set(letters)
    if unknown:
        raise ctx.fail(f"output labels {sorted(unknown)} do not appear in the inputs")
    return [TensorType(dtype, _einsum_out(rhs, letters, ell))]


def _bind_term(
    ctx: InferContext, term: str, shape: Sequence[InferDim], letters: dict[str, InferDim]
) -> Sequence[InferDim]:
    """Bind each label of one operand to its dim; returns the dims covered by `...`."""
    head, dots, tail = term.partition("...")
    if (not dots and len(head) != len(shape)) or len(head) + len(tail) > len(shape):
        raise ctx.fail(f"operand {term!r} does not match rank {len(shape)}")
    ell = shape[len(head) : len(shape) - len(tail)] if dots else ()
    bound = list(zip(head, shape[: len(head)], strict=False)) + list(
        zip(tail, shape[len(shape) - len(tail) :], strict=False)
    )
    for c, d in bound:
        letters[c] = broadcast_dims(letters.get(c, 1), d, ctx.op) if c in letters else d
    return ell


def _einsum_out(rhs: str, letters: dict[str, InferDim], ell: Sequence[InferDim]) -> tuple:
    head, dots, tail = rhs.partition("...")
    return (*(letters[c] for c in head), *(ell if dots else ()), *(letters[c] for c in tail))


@kernel("einsum")
def _einsum_kernel(inputs: list[Any], attrs: dict[str, Any]) -> list[np.ndarray]:
    acc = accum_dtype(inputs[0].dtype)
    y = np.einsum(attrs["equation"], *(x.astype(acc) for x in inputs))
    return [np.asarray(y).astype(inputs[0].dtype)]


# -- Dropout ---------------------------------------------------------------------------------------


@defop("dropout", onnx="Dropout", inputs=(1, 3), outputs=(1, 2), attrs={"seed": attr("int")},
       since=12)  # fmt: skip
def _dropout(ctx: InferContext) -> list[TensorType]:
    """Dropout (identity unless training_mode is true); optional boolean mask output."""
    x = ctx.type(0)
    if ctx.has(1) and ctx.shape(1) != ():
        raise ctx.fail(f"ratio must be a scalar, got shape {ctx.shape(1)}")
    if ctx.has(2) and (ctx.shape(2) != () or ctx.dtype(2) != DType.BOOL):
        raise ctx.fail("training_mode must be a bool scalar")
    return [x, TensorType(DType.BOOL, x.shape)][: ctx.num_outputs]


@kernel("dropout", variant="first")
def _dropout_output(inputs: list[Any], attrs: dict[str, Any]) -> list[np.ndarray]:
    """Dropout without its mask output: no all-true mask to build in inference."""
    training = len(inputs) > 2 and inputs[2] is not None and bool(inputs[2])
    if not training:
        return [inputs[0]]
    return _dropout_kernel(inputs, attrs)[:1]


@kernel("dropout")
def _dropout_kernel(inputs: list[Any], attrs: dict[str, Any]) -> list[np.ndarray]:
    x = inputs[0]
    ratio = float(inputs[1]) if len(inputs) > 1 and inputs[1] is not None else 0.5
    training = len(inputs) > 2 and inputs[2] is not None and bool(inputs[2])
    if not training or ratio == 0.0:
        return [x, np.ones(x.shape, dtype=bool)]
    seed = attrs.get("seed")
    # With a seed, draw like the ONNX reference (legacy MT19937 seeded with it) so runs reproduce.
    uniform = (
        np.random.default_rng().uniform if seed is None else np.random.RandomState(seed).uniform
    )
    mask = uniform(0.0, 1.0, x.shape) >= ratio
    scale = np.asarray(1.0 / (1.0 - ratio), dtype=x.dtype)
    return [(x * mask * scale).astype(x.dtype), mask]


# -- DepthToSpace / SpaceToDepth -------------------------------------------------------------------


def _div_dim(ctx: InferContext, d: InferDim, by: int) -> InferDim:
    if not isinstance(d, int):
        return d if by == 1 else None
    if d % by:
        raise ctx.fail(f"dim {d} is not divisible by {by}")
    return d // by


def _mul_dim(d: InferDim, by: int) -> InferDim:
    return d * by if isinstance(d, int) else (d if by == 1 else None)


def _check_block(ctx: InferContext) -> tuple[tuple[InferDim, ...], int, str]:
    x = ctx.shape(0)
    if len(x) != 4:
        raise ctx.fail(f"expected a 4-D input, got rank {len(x)}")
    block, mode = int(ctx.attr("blocksize")), str(ctx.attr("mode") or "DCR")
    if block < 1 or mode not in ("DCR", "CRD"):
        raise ctx.fail(f"bad blocksize {block} or mode {mode!r}")
    return x, block, mode


@defop("depth_to_space", onnx="DepthToSpace", since=11,
       attrs={"blocksize": attr("int", REQUIRED), "mode": attr("str", "DCR")})  # fmt: skip
def _depth_to_space(ctx: InferContext) -> list[TensorType]:
    """Move channel blocks into spatial blocks: [N, C, H, W] -> [N, C/b^2, H*b, W*b]."""
    (n, c, h, w), b, _ = _check_block(ctx)
    return [ctx.type(0).with_shape((n, _div_dim(ctx, c, b * b), _mul_dim(h, b), _mul_dim(w, b)))]


@kernel("depth_to_space")
def _depth_to_space_kernel(inputs: list[Any], attrs: dict[str, Any]) -> list[np.ndarray]:
    x, b = inputs[0], attrs["blocksize"]
    n, c, h, w = x.shape
    if attrs.get("mode", "DCR") == "CRD":
        y = x.reshape(n, c // (b * b), b, b, h, w).transpose(0, 1, 4, 2, 5, 3)
    else:
        y = x.reshape(n, b, b, c // (b * b), h, w).transpose(0, 3, 4, 1, 5, 2)
    return [y.reshape(n, c // (b * b), h * b, w * b)]


# SpaceToDepth takes `mode` only from opset 28: absent means DCR, so it is not filled by default.
@defop("space_to_depth", onnx="SpaceToDepth", since=1,
       attrs={"blocksize": attr("int", REQUIRED), "mode": attr("str")})  # fmt: skip
def _space_to_depth(ctx: InferContext) -> list[TensorType]:
    """Move spatial blocks into channels: [N, C, H, W] -> [N, C*b^2, H/b, W/b]."""
    (n, c, h, w), b, _ = _check_block(ctx)
    return [
        ctx.type(0).with_shape((n, _mul_dim(c, b * b), _div_dim(ctx, h, b), _div_dim(ctx, w, b)))
    ]


@kernel("space_to_depth")
def _space_to_depth_kernel(inputs: list[Any], attrs: dict[str, Any]) -> list[np.ndarray]:
    x, b = inputs[0], attrs["blocksize"]
    n, c, h, w = x.shape
    y = x.reshape(n, c, h // b, b, w // b, b)
    if attrs.get("mode", "DCR") == "CRD":
        y = y.transpose(0, 1, 3, 5, 2, 4)
    else:
        y = y.transpose(0, 3, 5, 1, 2, 4)
    return [y.reshape(n, c * b * b, h // b, w // b)]
