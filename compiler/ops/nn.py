"""Neural-network ops: Conv and ConvTranspose.

Gemm/MatMul/Einsum/Dropout/DepthToSpace/SpaceToDepth live in `nn_linalg`, pooling in `nn_pool`,
normalization in `nn_norm`, Resize in `nn_resize` (all imported at the end).
`conv_output_shape` and `resolve_pads` are the shared conv/pool window arithmetic (also used by the
quantized conv ops).
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Sequence
from typing import Any, cast

import numpy as np

from compiler.ops import conv_kernels
from compiler.ops.common import require_same_dtype
from compiler.ops.epilogue import ACTIVATION_ATTRS, apply_activation, check_activation
from compiler.registry import InferContext, InferDim, InferError, attr, defop, kernel
from compiler.types import Dim, DType, TensorType

AUTO_PADS = ("NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID")


# -- window arithmetic (shared with pooling and quantized convs) ---------------------------------


def conv_output_shape(
    in_spatial: Sequence[InferDim],
    kernel_shape: Sequence[InferDim],
    strides: Sequence[int],
    dilations: Sequence[int],
    pads: Sequence[int] | None,
    auto_pad: str = "NOTSET",
    ceil_mode: bool = False,
    op: str = "conv",
) -> tuple[InferDim, ...]:
    """Output spatial dims of a conv/pool window sweep (ONNX formulas).

    Symbolic or unknown input dims give `None`, except where the result provably equals the input
    (stride 1 with "same" padding), in which case the symbol is kept.

    Args:
        in_spatial: Input spatial dims.
        kernel_shape: Kernel spatial dims (None/symbol when unknown).
        strides, dilations: One per spatial dim.
        pads: `[b1, b2, ..., e1, e2, ...]`; ignored unless `auto_pad` is NOTSET.
        auto_pad: NOTSET, SAME_UPPER, SAME_LOWER or VALID.
        ceil_mode: Pooling's ceil mode (the last window must start inside input + begin pad).
        op: Op name for error messages.

    Raises:
        InferError: when the window does not fit in the padded input.
    """
    n = len(in_spatial)
    pads = tuple(pads) if pads is not None and auto_pad == "NOTSET" else (0,) * (2 * n)
    return tuple(
        _out_dim(
            in_spatial[i],
            kernel_shape[i],
            strides[i],
            dilations[i],
            pads[i],
            pads[i + n],
            auto_pad,
            ceil_mode,
            op,
        )  # fmt: skip
        for i in range(n)
    )


def _out_dim(
    size: InferDim,
    k: InferDim,
    s: int,
    d: int,
    pb: int,
    pe: int,
    auto_pad: str,
    ceil: bool,
    op: str,
) -> InferDim:
    if s <= 0 or d <= 0:  # a hand-written or parsed graph skips the frontend's checks
        raise InferError(f"{op}: strides and dilations must be positive, got {s} and {d}")
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        if s == 1 or not isinstance(size, int):
            return size if s == 1 else None
        return -(-size // s)
    if not isinstance(k, int):
        return None
    span = d * (k - 1) + 1
    if not isinstance(size, int):
        return size if s == 1 and pb + pe == span - 1 else None
    num = size + pb + pe - span
    if num < 0:
        raise InferError(f"{op}: window of {span} does not fit input {size} with pads {pb}+{pe}")
    if not ceil:
        return num // s + 1
    out = -(-num // s) + 1
    return out - 1 if (out - 1) * s >= size + pb else out


def resolve_pads(
    in_spatial: Sequence[int],
    kernel_shape: Sequence[int],
    strides: Sequence[int],
    dilations: Sequence[int],
    pads: Sequence[int] | None,
    auto_pad: str,
) -> list[int]:
    """Explicit `[begins..., ends...]` pads for static shapes (SAME_* spread the total padding)."""
    n = len(in_spatial)
    if auto_pad == "NOTSET":
        return list(pads) if pads is not None else [0] * (2 * n)
    if auto_pad == "VALID":
        return [0] * (2 * n)
    begins, ends = [], []
    for size, k, s, d in zip(in_spatial, kernel_shape, strides, dilations, strict=False):
        out = -(-size // s)
        total = max((out - 1) * s + d * (k - 1) + 1 - size, 0)
        small, big = total // 2, total - total // 2
        begins.append(small if auto_pad == "SAME_UPPER" else big)
        ends.append(big if auto_pad == "SAME_UPPER" else small)
    return begins + ends


def ints_attr(ctx: InferContext, name: str, n: int, fill: int) -> tuple[int, ...]:
    """An ints attribute of length `n` (filled with `fill` when absent); fails on a wrong length."""
    value = ctx.attr(name)
    if value is None:
        return (fill,) * n
    if len(value) != n:
        raise ctx.fail(f"{name} has {len(value)} values, expected {n}")
    return tuple(value)


def check_auto_pad(ctx: InferContext) -> str:
    auto_pad = ctx.attr("auto_pad") or "NOTSET"
    if auto_pad not in AUTO_PADS:
        raise ctx.fail(f"auto_pad must be one of {', '.join(AUTO_PADS)}, got {auto_pad!r}")
    return str(auto_pad)


def fill_window_attrs(attrs: dict[str, Any], nsp: int, pads: bool = True) -> None:
    """Rank-dependent defaults: strides/dilations 1s, pads 0s (only without auto_pad)."""
    attrs.setdefault("strides", (1,) * nsp)
    attrs.setdefault("dilations", (1,) * nsp)
    if pads and attrs.get("auto_pad", "NOTSET") == "NOTSET":
        attrs.setdefault("pads", (0,) * (2 * nsp))


def window_patches(
    x: np.ndarray, kernel_shape: Sequence[int], strides: Sequence[int],
    dilations: Sequence[int], out_spatial: Sequence[int],
) -> list[np.ndarray]:  # fmt: skip
    """Strided views `[N, C, *out]`, one per kernel offset (C order) of an already padded input."""
    views = []
    for offset in itertools.product(*(range(k) for k in kernel_shape)):
        index: list[slice] = [slice(None), slice(None)]
        for o, s, d, n in zip(offset, strides, dilations, out_spatial, strict=False):
            index.append(slice(o * d, o * d + s * (n - 1) + 1, s))
        views.append(x[tuple(index)])
    return views


def accum_dtype(dtype: np.dtype) -> np.dtype:
    """Accumulate half-precision math in float32; everything else in its own type."""
    if dtype.kind == "V" and dtype.name.startswith(("bfloat16", "float8")):  # ml_dtypes floats
        return np.dtype(np.float32)
    return np.dtype(np.float32) if dtype.kind == "f" and dtype.itemsize < 4 else dtype


# -- Conv ------------------------------------------------------------------------------------------

CONV_WINDOW_ATTRS = {
    "auto_pad": attr("str", "NOTSET"),
    "dilations": attr("ints"),
    "group": attr("int", 1),
    "kernel_shape": attr("ints"),
    "pads": attr("ints"),
    "strides": attr("ints"),
}
"""The window attributes every convolution shares (conv, conv_transpose, the quantized convs)."""
_CONV_ATTRS = {**CONV_WINDOW_ATTRS, **ACTIVATION_ATTRS}


def _complete_conv(attrs: dict[str, Any], ctx: InferContext) -> None:
    _complete_window(attrs, ctx, pads=True)


def _complete_window(attrs: dict[str, Any], ctx: InferContext, *, pads: bool) -> int:
    """Fill kernel_shape from W and the window defaults; returns the number of spatial dims."""
    if not ctx.has(1):
        return -1
    w = ctx.shape(1)
    nsp = max(len(w) - 2, 0)
    if "kernel_shape" not in attrs and all(isinstance(d, int) for d in w[2:]):
        attrs["kernel_shape"] = tuple(int(d) for d in w[2:])
    fill_window_attrs(attrs, nsp, pads=pads)
    return nsp


def _conv_kernel_shape(ctx: InferContext, w: Sequence[InferDim]) -> tuple[InferDim, ...]:
    given = ctx.attr("kernel_shape")
    if given is None:
        return tuple(w[2:])
    if len(given) != len(w) - 2:
        raise ctx.fail(f"kernel_shape {given} does not match weight rank {len(w)}")
    for k, wd in zip(given, w[2:], strict=False):
        if isinstance(wd, int) and k != wd:
            raise ctx.fail(f"kernel_shape {given} does not match weight shape {tuple(w)}")
    return tuple(given)


def _conv_operands(ctx: InferContext) -> tuple[tuple[Dim, ...], tuple[Dim, ...], DType, int]:
    """X and W shapes, the element type and `group` of a (transposed) convolution, checked."""
    x, w = ctx.shape(0), ctx.shape(1)
    dtype = require_same_dtype(ctx, 0, 1, 2)
    check_activation(ctx)
    if len(x) < 3 or len(w) != len(x):
        raise ctx.fail(f"expected X of rank >= 3 and W of the same rank, got {len(x)} and {len(w)}")
    return x, w, dtype, int(ctx.attr("group"))


@defop("conv", onnx="Conv", inputs=(2, 3), attrs=_CONV_ATTRS, since=1, complete=_complete_conv)
def _conv(ctx: InferContext) -> list[TensorType]:
    """N-D convolution (NCHW), with groups, dilations, strides, pads or auto_pad."""
    x, w, dtype, group = _conv_operands(ctx)
    _check_channels(ctx, x[1], w[1], w[0], group)
    bias = ctx.shape(2) if ctx.has(2) else (w[0],)
    if len(bias) != 1 or not _agrees(bias[0], w[0]):
        raise ctx.fail(f"bias shape {list(bias)} does not match {w[0]} output channels")
    nsp = len(x) - 2
    spatial = conv_output_shape(
        x[2:], _conv_kernel_shape(ctx, w), ints_attr(ctx, "strides", nsp, 1),
        ints_attr(ctx, "dilations", nsp, 1),
        ctx.attr("pads") and ints_attr(ctx, "pads", 2 * nsp, 0), check_auto_pad(ctx), op=ctx.op,
    )  # fmt: skip
    return [TensorType(dtype, (x[0], w[0], *spatial))]


def _agrees(a: InferDim, b: InferDim) -> bool:
    return not (isinstance(a, int) and isinstance(b, int) and a != b)


def _check_channels(ctx: InferContext, c: InferDim, wc: InferDim, m: InferDim, group: int) -> None:
    if group < 1:
        raise ctx.fail(f"group must be >= 1, got {group}")
    if isinstance(c, int) and isinstance(wc, int) and c != wc * group:
        raise ctx.fail(f"input has {c} channels but weight expects {wc} x group {group}")
    if isinstance(m, int) and m % group:
        raise ctx.fail(f"{m} output channels are not divisible by group {group}")


@kernel("conv")
def _conv_kernel(inputs: list[Any], attrs: dict[str, Any]) -> list[np.ndarray]:
    x, w, b = inputs[0], inputs[1], inputs[2] if len(inputs) > 2 else None
    strides, dil = attrs["strides"], attrs["dilations"]
    pads, out = _conv_geometry(x.shape[2:], w.shape[2:], tuple(strides), tuple(dil),
                               _tuple(attrs.get("pads")), attrs["auto_pad"])  # fmt: skip
    acc = accum_dtype(x.dtype)
    y = conv_kernels.conv(
        x.astype(acc, copy=False), np.ascontiguousarray(w, dtype=acc),
        None if b is None else b.astype(acc, copy=False), strides, dil, pads, attrs["group"], out,
    )  # fmt: skip
    return [apply_activation(y.astype(x.dtype, copy=False), attrs)]


def _tuple(value: Sequence[int] | None) -> tuple[int, ...] | None:
    return None if value is None else tuple(value)


@functools.lru_cache(maxsize=4096)
def _conv_geometry(
    spatial: tuple[int, ...], ks: tuple[int, ...], strides: tuple[int, ...],
    dil: tuple[int, ...], pads: tuple[int, ...] | None, auto_pad: str,
) -> tuple[list[int], list[int]]:  # fmt: skip
    """Explicit pads and output spatial size of a conv (memoized: the same per node each run;
    callers must not mutate the lists)."""
    explicit = resolve_pads(spatial, ks, strides, dil, pads, auto_pad)
    dims = conv_output_shape(spatial, ks, strides, dil, explicit)
    return explicit, [int(cast(int, d)) for d in dims]  # concrete: runtime shapes are ints


# -- ConvTranspose ---------------------------------------------------------------------------------


def _complete_conv_transpose(attrs: dict[str, Any], ctx: InferContext) -> None:
    nsp = _complete_window(attrs, ctx, pads="output_shape" not in attrs)
    if nsp >= 0:
        attrs.setdefault("output_padding", (0,) * nsp)


@defop(
    "conv_transpose", onnx="ConvTranspose", inputs=(2, 3), since=11,
    attrs={**_CONV_ATTRS, "output_padding": attr("ints"), "output_shape": attr("ints")},
    complete=_complete_conv_transpose,
)  # fmt: skip
def _conv_transpose(ctx: InferContext) -> list[TensorType]:
    """Transposed convolution (gradient of conv w.r.t. its input); W is [C, M/group, k...]."""
    x, w, dtype, group = _conv_operands(ctx)
    if isinstance(x[1], int) and isinstance(w[0], int) and x[1] != w[0]:
        raise ctx.fail(f"input has {x[1]} channels but weight has {w[0]}")
    m = w[1] * group if isinstance(w[1], int) else None
    return [TensorType(dtype, (x[0], m, *_conv_transpose_spatial(ctx, x[2:], w)))]


def _conv_transpose_spatial(
    ctx: InferContext, x: Sequence[InferDim], w: Sequence[InferDim]
) -> tuple[InferDim, ...]:
    nsp = len(x)
    given = ctx.attr("output_shape")
    if given is not None:
        if len(given) not in (nsp, nsp + 2):
            raise ctx.fail(f"output_shape {given} does not have {nsp} spatial dims")
        return tuple(given[-nsp:])
    ks = _conv_kernel_shape(ctx, w)
    strides, dil = ints_attr(ctx, "strides", nsp, 1), ints_attr(ctx, "dilations", nsp, 1)
    out_pad, pads = ints_attr(ctx, "output_padding", nsp, 0), ints_attr(ctx, "pads", 2 * nsp, 0)
    auto_pad = check_auto_pad(ctx)
    out: list[InferDim] = []
    for i, size in enumerate(x):
        k = ks[i]
        if not isinstance(size, int) or not isinstance(k, int):
            out.append(None)
        elif auto_pad in ("SAME_UPPER", "SAME_LOWER"):
            out.append(size * strides[i])
        else:
            total = 0 if auto_pad == "VALID" else pads[i] + pads[i + nsp]
            out.append(strides[i] * (size - 1) + out_pad[i] + dil[i] * (k - 1) + 1 - total)
    return tuple(out)


def conv_transpose_pads(attrs: dict[str, Any], x: Sequence[int], ks: Sequence[int]) -> list[int]:
    """Explicit pads of a ConvTranspose (from output_shape / auto_pad when given)."""
    nsp = len(x)
    strides, dil, out_pad = attrs["strides"], attrs["dilations"], attrs["output_padding"]
    auto_pad, shape = attrs["auto_pad"], attrs.get("output_shape")
    if shape is None and auto_pad in ("NOTSET", "VALID"):
        return list(attrs.get("pads") or (0,) * (2 * nsp))
    if shape is None:
        shape = [x[i] * strides[i] for i in range(nsp)]
    shape = list(shape)[-nsp:]
    begins, ends = [], []
    for i in range(nsp):
        total = strides[i] * (x[i] - 1) + out_pad[i] + (ks[i] - 1) * dil[i] + 1 - shape[i]
        small, big = total // 2, total - total // 2
        # the spec puts the odd cell at the end only for SAME_UPPER (also with output_shape)
        begins.append(small if auto_pad == "SAME_UPPER" else big)
        ends.append(big if auto_pad == "SAME_UPPER" else small)
    return begins + ends


@kernel("conv_transpose")
def _conv_transpose_kernel(inputs: list[Any], attrs: dict[str, Any]) -> list[np.ndarray]:
    x, w, b = inputs[0], inputs[1], inputs[2] if len(inputs) > 2 else None
    nsp, g, ks = x.ndim - 2, attrs["group"], w.shape[2:]
    strides, dil, out_pad = attrs["strides"], attrs["dilations"], attrs["output_padding"]
    n, c, mg = x.shape[0], x.shape[1], w.shape[1]
    acc = accum_dtype(x.dtype)
    xs = x.astype(acc).reshape(n, g, c // g, -1)  # N, G, Cg, P
    wk = w.astype(acc).reshape(g, c // g, mg, -1)  # G, Cg, Mg, K
    cols = np.matmul(wk.transpose(3, 0, 2, 1)[None], xs[:, None])  # N, K, G, Mg, P
    full = [(x.shape[2 + i] - 1) * strides[i] + (ks[i] - 1) * dil[i] + 1 + out_pad[i]
            for i in range(nsp)]  # fmt: skip
    y = np.zeros((n, g * mg, *full), dtype=acc)
    for j, offset in enumerate(itertools.product(*(range(k) for k in ks))):
        index: list[slice] = [slice(None), slice(None)]
        for o, s, d, size in zip(offset, strides, dil, x.shape[2:], strict=False):
            index.append(slice(o * d, o * d + s * (size - 1) + 1, s))
        y[tuple(index)] += cols[:, j].reshape(n, g * mg, *x.shape[2:])
    y = _crop(y, conv_transpose_pads(attrs, x.shape[2:], ks))
    if b is not None:
        y = y + b.astype(acc).reshape(-1, *([1] * nsp))
    return [apply_activation(y.astype(x.dtype), attrs)]


def _crop(y: np.ndarray, pads: list[int]) -> np.ndarray:
    """Remove `pads` from the spatial borders; a negative pad appends zeros instead."""
    nsp = y.ndim - 2
    grow = [(0, 0), (0, 0)] + [(max(-pads[i], 0), max(-pads[i + nsp], 0)) for i in range(nsp)]
    y = np.pad(y, grow)
    index = [slice(None), slice(None)]
    for i in range(nsp):
        index.append(slice(max(pads[i], 0), y.shape[2 + i] - max(pads[i + nsp], 0)))
    return y[tuple(index)]


from compiler.ops import nn_linalg, nn_norm, nn_pool, nn_resize  # noqa: E402,F401
