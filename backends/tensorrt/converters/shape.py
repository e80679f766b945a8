"""Data movement and shape ops: reshape, flatten, transpose, (un)squeeze, concat, split, slice,
gather, shape, constant_of_shape, expand, tile, range, cast, identity.

Static dims come from the IR types; a shuffle gets static `reshape_dims` whenever at most one
output dim is symbolic (-1 is inferred), else a run-time shape tensor. Slices whose size depends
on a symbolic dim get a size tensor `shape(x)·mask + fixed` (mask 1 where the dim is copied).
ONNX Slice bounds are clamped on the host (`size = max(0, ceil((end − start)/step))`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from backends.tensorrt import _trt
from backends.tensorrt.emitter import Emitter
from backends.tensorrt.hostvalue import host_value
from backends.tensorrt.registry import converter
from compiler.ir import Node, Value


def _x(node: Node) -> Value:
    x = node.inputs[0]
    assert x is not None
    return x


def reshape_to(em: Emitter, t: Any, out: Value, shape_input: Value | None = None,
               allowzero: bool = False) -> Any:  # fmt: skip
    """A shuffle of `t` to the IR type of `out` (static dims, or `shape_input` at run time)."""
    dims = em.dims(out)
    if sum(d < 0 for d in dims) <= 1:
        return em.reshape(t, dims, zero_is_placeholder=False)
    layer = em.network.add_shuffle(t)
    layer.zero_is_placeholder = not allowzero
    assert shape_input is not None
    layer.set_input(1, em.tensor(shape_input))
    return em.out(layer)


def _reshape_check(node: Node) -> str | None:
    out = node.outputs[0]
    dims = out.type.shape or ()
    if sum(not isinstance(d, int) for d in dims) > 1 and node.op != "reshape":
        return f"{node.op} with more than one symbolic output dim"
    return None


@converter("reshape", check=_reshape_check)
def convert_reshape(em: Emitter, node: Node) -> list[Any]:
    x, shape = node.inputs
    assert x is not None
    allow = bool(node.attrs.get("allowzero"))
    return [reshape_to(em, em.tensor(x), node.outputs[0], shape, allow)]


@converter("flatten", "squeeze", "unsqueeze", check=_reshape_check)
def convert_flatten(em: Emitter, node: Node) -> list[Any]:
    return [reshape_to(em, em.tensor(_x(node)), node.outputs[0])]


@converter("transpose")
def convert_transpose(em: Emitter, node: Node) -> list[Any]:
    x = _x(node)
    perm = node.attrs.get("perm") or tuple(reversed(range(em.rank(x))))
    layer = em.network.add_shuffle(em.tensor(x))
    layer.first_transpose = tuple(int(p) for p in perm)
    return [em.out(layer)]


@converter("concat")
def convert_concat(em: Emitter, node: Node) -> list[Any]:
    values = [v for v in node.inputs if v is not None]
    rank = em.rank(values[0])
    layer = em.network.add_concatenation([em.tensor(v) for v in values])
    layer.axis = int(node.attrs["axis"]) % max(rank, 1)
    return [em.out(layer)]


def slice_tensor(em: Emitter, t: Any, x: Value, start: Sequence[int], size: Sequence[int],
                 stride: Sequence[int], mode: str = "", fill: Any = None) -> Any:  # fmt: skip
    """`add_slice`; a size of -1 copies that dim of `x` at run time (for symbolic dims).
    `mode` names a SampleMode; `fill` is the FILL value tensor."""
    layer = em.network.add_slice(t, tuple(start), tuple(max(s, 0) for s in size), tuple(stride))
    if mode:
        layer.mode = getattr(em.trt.SampleMode, mode)
    if fill is not None:
        layer.set_input(4, fill)
    if any(s < 0 for s in size):
        mask = np.array([1 if s < 0 else 0 for s in size], np.int64)
        fixed = np.array([max(s, 0) for s in size], np.int64)
        scaled = em.elementwise(em.shape_of(em.tensor(x)), em.constant(mask), "PROD")
        layer.set_input(2, em.elementwise(scaled, em.constant(fixed), "SUM"))
    return em.out(layer)


def _consts(node: Node, first: int) -> str | None:
    for v in node.inputs[first:]:
        if v is not None and host_value(v) is None:
            return f"{node.op} needs constant parameters (inputs {first}..)"
    return None


def _slice_check(node: Node) -> str | None:
    problem = _consts(node, 1)
    if problem:
        return problem
    x = node.inputs[0]
    assert x is not None
    axes = _slice_axes(node, len(x.type.shape or ()))
    if any(not isinstance((x.type.shape or ())[a], int) for a in axes):
        return "slice along a symbolic dim (its bounds need the run-time size)"
    return None


def _slice_axes(node: Node, rank: int) -> list[int]:
    starts = host_value(node.inputs[1]) if node.inputs[1] is not None else None
    axes_v = node.inputs[3] if len(node.inputs) > 3 else None
    if axes_v is not None and host_value(axes_v) is not None:
        return [int(a) % rank for a in host_value(axes_v)]  # type: ignore[union-attr]
    return list(range(0 if starts is None else len(starts)))


@converter("slice", check=_slice_check)
def convert_slice(em: Emitter, node: Node) -> list[Any]:
    x = _x(node)
    dims = em.dims(x)
    start, size, stride = [0] * len(dims), [d if d >= 0 else -1 for d in dims], [1] * len(dims)
    starts, ends = em.const(node.inputs[1]), em.const(node.inputs[2])
    steps = em.const(node.inputs[4]) if len(node.inputs) > 4 else None
    assert starts is not None and ends is not None
    for i, axis in enumerate(_slice_axes(node, len(dims))):
        step = 1 if steps is None else int(steps[i])
        b, n = _clamp(int(starts[i]), int(ends[i]), step, dims[axis])
        start[axis], size[axis], stride[axis] = b, n, step
    return [slice_tensor(em, em.tensor(x), x, start, size, stride)]


def _clamp(begin: int, end: int, step: int, dim: int) -> tuple[int, int]:
    """ONNX Slice clamping: the first index and the element count along one axis."""
    begin, end = begin + dim if begin < 0 else begin, end + dim if end < 0 else end
    if step > 0:
        begin, end = min(max(begin, 0), dim), min(max(end, 0), dim)
    else:
        begin, end = min(max(begin, 0), dim - 1), min(max(end, -1), dim - 1)
    return begin, max(0, math.ceil((end - begin) / step))


def _split_check(node: Node) -> str | None:
    problem = _consts(node, 1)
    x = node.inputs[0]
    assert x is not None
    axis = int(node.attrs["axis"]) % len(x.type.shape or (0,))
    if not problem and not isinstance((x.type.shape or ())[axis], int):
        return "split along a symbolic dim"
    return problem


@converter("split", check=_split_check)
def convert_split(em: Emitter, node: Node) -> list[Any]:
    x = _x(node)
    dims = em.dims(x)
    axis = int(node.attrs["axis"]) % len(dims)
    t, begin, outs = em.tensor(x), 0, []
    for out in node.outputs:
        n = em.dims(out)[axis]
        start = [0] * len(dims)
        start[axis] = begin
        size = list(dims)
        size[axis] = n
        outs.append(slice_tensor(em, t, x, start, size, [1] * len(dims)))
        begin += n
    return outs


@converter("gather")
def convert_gather(em: Emitter, node: Node) -> list[Any]:
    x, idx = node.inputs
    assert x is not None and idx is not None
    axis = int(node.attrs["axis"]) % em.rank(x)
    indices = em.const(idx)
    dim = em.dims(x)[axis]
    if indices is not None and dim >= 0:
        fixed = np.where(indices < 0, indices + dim, indices).astype(indices.dtype)
        it = em.constant(fixed)
    else:
        it = em.tensor(idx)
    return [em.out(em.network.add_gather(em.tensor(x), it, axis))]


@converter("gather_elements")
def convert_gather_elements(em: Emitter, node: Node) -> list[Any]:
    x, idx = node.inputs
    assert x is not None and idx is not None
    layer = em.network.add_gather_v2(em.tensor(x), em.tensor(idx), em.trt.GatherMode.ELEMENT)
    layer.axis = int(node.attrs["axis"]) % em.rank(x)
    return [em.out(layer)]


@converter("shape")
def convert_shape(em: Emitter, node: Node) -> list[Any]:
    x = _x(node)
    rank = em.rank(x)
    t = em.shape_of(em.tensor(x))
    begin = int(node.attrs.get("start") or 0)
    end = node.attrs.get("end")
    begin, stop = slice(begin, end).indices(rank)[:2]
    if (begin, stop) == (0, rank):
        return [t]
    return [em.out(em.network.add_slice(t, (begin,), (max(stop - begin, 0),), (1,)))]


@converter("size")
def convert_size(em: Emitter, node: Node) -> list[Any]:
    shape = em.shape_of(em.tensor(_x(node)))
    return [em.reduce(shape, "PROD", [0], keep=False)]


@converter("constant_of_shape")
def convert_constant_of_shape(em: Emitter, node: Node) -> list[Any]:
    shape_v = _x(node)
    fill = np.asarray(node.attrs["value"]).reshape(())
    shape = em.const(shape_v)
    if shape is not None:
        return [em.constant(np.full(tuple(int(d) for d in shape), fill))]
    n = em.dims(shape_v)[0]
    one = em.constant(np.full((1,) * n, fill))
    layer = em.network.add_slice(one, (0,) * n, (1,) * n, (0,) * n)
    layer.set_input(2, em.tensor(shape_v))
    return [em.out(layer)]


def _expand_check(node: Node) -> str | None:
    x, out = node.inputs[0], node.outputs[0]
    assert x is not None
    xd, od = x.type.shape or (), out.type.shape or ()
    xd = (1,) * (len(od) - len(xd)) + tuple(xd)
    if any(not isinstance(a, int) and a != b for a, b in zip(xd, od, strict=True)):
        return "expand of a symbolic dim to another size"
    return None


@converter("expand", check=_expand_check)
def convert_expand(em: Emitter, node: Node) -> list[Any]:
    x, out = _x(node), node.outputs[0]
    rank, odims = em.rank(out), em.dims(out)
    xd = (1,) * (rank - em.rank(x)) + em.dims(x)
    stride = [1 if a == b and a != 1 else 0 if a == 1 and b != 1 else 1
              for a, b in zip(xd, odims, strict=True)]  # fmt: skip
    t = em.operand(x, rank)
    size = [b if b >= 0 else -1 for b in odims]
    return [slice_tensor(em, t, x, [0] * rank, size, stride)]


@converter("tile", check=lambda n: _consts(n, 1))
def convert_tile(em: Emitter, node: Node) -> list[Any]:
    x = _x(node)
    reps = em.const(node.inputs[1])
    assert reps is not None
    dims = em.dims(x)
    layer = em.network.add_slice(em.tensor(x), (0,) * len(dims),
                                 tuple(max(d, 0) * int(r) for d, r in zip(dims, reps, strict=True)),
                                 (1,) * len(dims))  # fmt: skip
    layer.mode = em.trt.SampleMode.WRAP
    if min(dims) < 0:
        layer.set_input(2, em.elementwise(em.shape_of(em.tensor(x)),
                                          em.constant(reps.astype(np.int64)), "PROD"))  # fmt: skip
    return [em.out(layer)]


def _range_check(node: Node) -> str | None:
    start, _, delta = node.inputs
    if start is None or delta is None or host_value(start) is None:
        return "range needs constant start and delta"
    if host_value(delta) is None or float(host_value(delta)) <= 0:  # type: ignore[arg-type]
        return "range needs a constant positive delta"
    return None


@converter("range", check=_range_check)
def convert_range(em: Emitter, node: Node) -> list[Any]:
    start_v, limit_v, delta_v = node.inputs
    assert start_v is not None and limit_v is not None and delta_v is not None
    dtype = node.outputs[0].type.dtype
    start, delta = em.const(start_v), em.const(delta_v)
    assert start is not None and delta is not None
    limit = em.tensor(limit_v)
    if dtype.is_float:
        limit = em.cast(limit, dtype)
    # n = ceil((limit - start) / delta), as int64 on the device
    span = em.elementwise(limit, em.constant(start.reshape(()).astype(start.dtype)), "SUB")
    up = em.elementwise(span, em.constant((delta - 1 if not dtype.is_float else 0 * delta)
                                          .reshape(()).astype(delta.dtype)), "SUM")  # fmt: skip
    n = em.elementwise(up, em.constant(delta.reshape(()).astype(delta.dtype)), "FLOOR_DIV")
    n64 = em.reshape(em.cast(n, _int64()), (1,))
    layer = em.network.add_fill((0,), em.trt.FillOperation.LINSPACE, _trt.trt_dtype(em.trt, dtype))
    layer.set_input(0, n64)
    layer.set_input(1, em.constant(start.reshape(()).astype(start.dtype)))
    layer.set_input(2, em.constant(delta.reshape((1,)).astype(delta.dtype)))
    return [em.out(layer)]


def _int64() -> Any:
    from compiler.types import DType

    return DType.INT64


def _cast_check(node: Node) -> str | None:
    to = node.outputs[0].type.dtype
    if to not in _trt.TRT_DTYPES:
        return f"TensorRT has no {to.short} type"
    return None


@converter("cast", "cast_like", check=_cast_check)
def convert_cast(em: Emitter, node: Node) -> list[Any]:
    t = em.tensor(_x(node))
    layer = em.network.add_cast(t, _trt.trt_dtype(em.trt, node.outputs[0].type.dtype))
    return [em.out(layer)]


@converter("identity", "dropout")
def convert_identity(em: Emitter, node: Node) -> list[Any]:
    return [em.out(em.network.add_identity(em.tensor(_x(node)))), None]
