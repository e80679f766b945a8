"""depth_to_space / space_to_depth as two shuffles, gather_nd (GatherMode.ND), is_inf,
scatter_elements / scatter_nd (IScatterLayer ELEMENT / ND, no reduction), one_hot (IOneHotLayer:
int32 indices, values [off, on], constant depth), shrink (two selects), trilu (a constant
triangular mask on static last two dims, then a select), hardmax (one_hot of the top-1 index).

depth_to_space, block b, on (N, C, H, W) with static C, H, W:
DCR: reshape (N, b, b, C/b², H, W), transpose (0, 3, 4, 1, 5, 2), reshape (N, C/b², H·b, W·b);
CRD: reshape (N, C/b², b, b, H, W), transpose (0, 1, 4, 2, 5, 3), same final reshape.
space_to_depth: reshape (N, C, H/b, b, W/b, b), transpose (0, 3, 5, 1, 2, 4),
reshape (N, C·b², H/b, W/b). A 0 in `reshape_dims` copies N (symbolic batch allowed).
is_inf = ISINF, and-ed with x > 0 / x < 0 when only one sign is detected.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from backends.tensorrt.emitter import Emitter
from backends.tensorrt.hostvalue import host_value
from backends.tensorrt.registry import converter
from compiler.ir import Node
from compiler.types import DType


def _static_chw(node: Node) -> str | None:
    x = node.inputs[0]
    shape = () if x is None or x.type.shape is None else x.type.shape
    if len(shape) != 4 or not all(isinstance(d, int) for d in shape[1:]):
        return f"{node.op} needs a rank-4 input with static C, H, W"
    return None


def _two_shuffles(em: Emitter, t: Any, first: tuple[int, ...], perm: tuple[int, ...],
                  last: tuple[int, ...]) -> Any:  # fmt: skip
    a = em.reshape(t, first)
    layer = em.network.add_shuffle(a)
    layer.first_transpose = perm
    layer.reshape_dims = last
    return em.out(layer)


@converter("depth_to_space", check=_static_chw)
def convert_depth_to_space(em: Emitter, node: Node) -> list[Any]:
    x = node.inputs[0]
    assert x is not None
    _, c, h, w = em.dims(x)
    b = int(node.attrs["blocksize"])
    c2 = c // (b * b)
    if node.attrs.get("mode", "DCR") == "CRD":
        first, perm = (0, c2, b, b, h, w), (0, 1, 4, 2, 5, 3)
    else:
        first, perm = (0, b, b, c2, h, w), (0, 3, 4, 1, 5, 2)
    return [_two_shuffles(em, em.tensor(x), first, perm, (0, c2, h * b, w * b))]


@converter("space_to_depth", check=_static_chw)
def convert_space_to_depth(em: Emitter, node: Node) -> list[Any]:
    x = node.inputs[0]
    assert x is not None
    _, c, h, w = em.dims(x)
    b = int(node.attrs["blocksize"])
    first, perm = (0, c, h // b, b, w // b, b), (0, 3, 5, 1, 2, 4)
    return [_two_shuffles(em, em.tensor(x), first, perm, (0, c * b * b, h // b, w // b))]


@converter("gather_nd")
def convert_gather_nd(em: Emitter, node: Node) -> list[Any]:
    x, idx = node.inputs
    assert x is not None and idx is not None
    layer = em.network.add_gather_v2(em.tensor(x), em.tensor(idx), em.trt.GatherMode.ND)
    layer.num_elementwise_dims = int(node.attrs["batch_dims"])
    return [em.out(layer)]


def _is_inf_check(node: Node) -> str | None:
    if not node.attrs.get("detect_negative") and not node.attrs.get("detect_positive"):
        return "is_inf detecting neither sign"
    return None


@converter("is_inf", check=_is_inf_check)
def convert_is_inf(em: Emitter, node: Node) -> list[Any]:
    x = node.inputs[0]
    assert x is not None
    t = em.tensor(x)
    inf = em.unary(t, "ISINF")
    if node.attrs["detect_negative"] and node.attrs["detect_positive"]:
        return [inf]
    zero = em.scalar_like(0.0, x.type.dtype, em.rank(x))
    sign = em.elementwise(t, zero, "GREATER" if node.attrs["detect_positive"] else "LESS")
    return [em.elementwise(inf, sign, "AND")]


def _scatter_check(node: Node) -> str | None:
    if node.attrs.get("reduction", "none") != "none":
        return "scatter with a reduction (TensorRT scatters overwrite)"
    return None


@converter("scatter_elements", "scatter_nd", check=_scatter_check)
def convert_scatter(em: Emitter, node: Node) -> list[Any]:
    x, idx, upd = node.inputs
    assert x is not None and idx is not None and upd is not None
    mode = em.trt.ScatterMode.ELEMENT if node.op == "scatter_elements" else em.trt.ScatterMode.ND
    layer = em.network.add_scatter(em.tensor(x), em.tensor(idx), em.tensor(upd), mode)
    if node.op == "scatter_elements":
        layer.axis = int(node.attrs["axis"]) % em.rank(x)
    return [em.out(layer)]


def _one_hot_check(node: Node) -> str | None:
    depth = node.inputs[1]
    if depth is None or host_value(depth) is None:
        return "one_hot needs a constant depth"
    return None


@converter("one_hot", check=_one_hot_check)
def convert_one_hot(em: Emitter, node: Node) -> list[Any]:
    idx, depth_v, values = node.inputs
    assert idx is not None and depth_v is not None and values is not None
    depth = np.asarray(host_value(depth_v)).reshape(()).astype(np.int32)
    axis = int(node.attrs["axis"]) % (em.rank(idx) + 1)
    indices = em.tensor(idx)
    if idx.type.dtype != DType.INT32:
        indices = em.cast(indices, DType.INT32)
    layer = em.network.add_one_hot(indices, em.tensor(values), em.constant(depth), axis)
    return [em.out(layer)]


@converter("shrink", check=lambda n: None if n.outputs[0].dtype.is_float else "integer shrink")
def convert_shrink(em: Emitter, node: Node) -> list[Any]:
    """y = x + bias where x < −λ, x − bias where x > λ, else 0 (two selects)."""
    x = node.inputs[0]
    assert x is not None
    t, rank, dtype = em.tensor(x), em.rank(x), x.type.dtype
    lam, bias = float(node.attrs["lambd"]), float(node.attrs["bias"])
    lo, hi = em.scalar_like(-lam, dtype, rank), em.scalar_like(lam, dtype, rank)
    b, zero = em.scalar_like(bias, dtype, rank), em.scalar_like(0.0, dtype, rank)
    above = em.out(em.network.add_select(em.elementwise(t, hi, "GREATER"),
                                         em.elementwise(t, b, "SUB"), zero))  # fmt: skip
    below = em.elementwise(t, lo, "LESS")
    return [em.out(em.network.add_select(below, em.elementwise(t, b, "SUM"), above))]


def _trilu_check(node: Node) -> str | None:
    x = node.inputs[0]
    k = node.inputs[1] if len(node.inputs) > 1 else None
    shape = () if x is None or x.type.shape is None else x.type.shape
    if len(shape) < 2 or not all(isinstance(d, int) for d in shape[-2:]):
        return "trilu needs static last two dims"
    if k is not None and host_value(k) is None:
        return "trilu needs a constant k"
    return None


@converter("trilu", check=_trilu_check)
def convert_trilu(em: Emitter, node: Node) -> list[Any]:
    """A constant triangular boolean mask (last two dims) selects x or 0."""
    x = node.inputs[0]
    assert x is not None
    k_v = node.inputs[1] if len(node.inputs) > 1 else None
    k = 0 if k_v is None else int(np.asarray(host_value(k_v)).reshape(()))
    rows, cols = em.dims(x)[-2:]
    ones = np.ones((rows, cols), bool)
    mask = np.triu(ones, k) if node.attrs["upper"] else np.tril(ones, k)
    rank = em.rank(x)
    keep = em.constant(mask.reshape((1,) * (rank - 2) + mask.shape))
    zero = em.scalar_like(0, x.type.dtype, rank)
    return [em.out(em.network.add_select(keep, em.tensor(x), zero))]


def _hardmax_check(node: Node) -> str | None:
    x = node.inputs[0]
    shape = () if x is None or x.type.shape is None else x.type.shape
    axis = int(node.attrs["axis"]) % max(len(shape), 1)
    if not shape or not isinstance(shape[axis], int):
        return "hardmax needs a static dim on its axis"
    return None


@converter("hardmax", check=_hardmax_check)
def convert_hardmax(em: Emitter, node: Node) -> list[Any]:
    """one_hot(top-1 index along axis): 1 at the maximum, 0 elsewhere. ONNX picks the first of
    tied maxima; TensorRT's top-k tie order is unspecified (unverified for ties)."""
    x = node.inputs[0]
    assert x is not None
    rank = em.rank(x)
    axis = int(node.attrs["axis"]) % rank
    top = em.network.add_topk(em.tensor(x), em.trt.TopKOperation.MAX, 1, 1 << axis)
    em.name(top)
    idx = em.out(em.network.add_squeeze(top.get_output(1), em.constant(np.array([axis]))))
    values = em.constant(np.array([0, 1], x.type.dtype.to_numpy()))
    depth = em.constant(np.array(em.dims(x)[axis], np.int32))
    return [em.out(em.network.add_one_hot(idx, values, depth, axis))]
