"""Lowerings of the core-ATen tensor ops: elementwise arithmetic and comparisons, symbolic-size
arithmetic, shapes and data movement, reductions and tensor creation (see `torch_ops`).

Arithmetic follows torch's type promotion by casting every operand to the dtype torch computed
for the result (a Python scalar becomes a 0-D constant of that dtype).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from compiler.errors import FrontendError
from compiler.frontend.torch_values import TorchValues, lowering, target_name
from compiler.ir import Value
from compiler.types import DType

_INT64_MAX = 2**63 - 1
_UNARY = {
    "relu": "relu", "sigmoid": "sigmoid", "tanh": "tanh", "exp": "exp", "log": "log",
    "sqrt": "sqrt", "reciprocal": "reciprocal", "neg": "neg", "abs": "abs", "erf": "erf",
    "sin": "sin", "cos": "cos", "floor": "floor", "ceil": "ceil", "round": "round",
    "sign": "sign", "logical_not": "not", "isnan": "is_nan", "hardswish": "hard_swish",
}  # fmt: skip
_BINARY = {"add": "add", "sub": "sub", "mul": "mul", "div": "div", "pow": "pow",
           "maximum": "max", "minimum": "min"}  # fmt: skip
_COMPARE = {"eq": "equal", "lt": "less", "le": "less_or_equal", "gt": "greater",
            "ge": "greater_or_equal", "ne": "equal"}  # fmt: skip
_LOGICAL = {"logical_and": "and", "logical_or": "or", "logical_xor": "xor"}
_BITWISE = {"bitwise_and": "and", "bitwise_or": "or", "bitwise_xor": "xor"}
_SYM = {"mul": "mul", "add": "add", "sub": "sub", "floordiv": "div"}


def _base(node: Any) -> str:
    return target_name(node.target).split(".")[0]


def _ret(value: Any) -> Value:
    return value  # type: ignore[no-any-return]


# -- elementwise ----------------------------------------------------------------------------------
@lowering(*(f"{op}.default" for op in _UNARY))
def _unary(cx: TorchValues, node: Any, args: tuple[Any, ...], kw: dict[str, Any]) -> Value:
    x = cx.value(args[0])
    op = _UNARY[_base(node)]
    if op == "not":
        x = cx.cast(x, DType.BOOL)
    return _ret(cx.emit(op, [x]))


@lowering("rsqrt.default")
def _rsqrt(cx: TorchValues, node: Any, args: tuple[Any, ...], kw: dict[str, Any]) -> Value:
    return _ret(cx.emit("reciprocal", [cx.emit("sqrt", [cx.value(args[0])])]))


_ARITH = [f"{op}.{kind}" for op in ("add", "sub", "mul", "div") for kind in ("Tensor", "Scalar")]


@lowering(*_ARITH, "pow.Tensor_Scalar", "pow.Tensor_Tensor", "maximum.default", "minimum.default")
def _binary(cx: TorchValues, node: Any, args: tuple[Any, ...], kw: dict[str, Any]) -> Value:
    dtype = cx.out_dtype()
    base = _base(node)
    if base == "pow" and not cx.is_tensor(args[1]):
        a = cx.cast(cx.value(args[0]), dtype)  # pow keeps a float exponent as given
        return _ret(cx.emit("pow", [a, cx.scalar(args[1], DType.FLOAT32 if dtype.is_float
                                                  else dtype)]))  # fmt: skip
    a, b = (_operand(cx, arg, dtype) for arg in args[:2])
    alpha = kw.get("alpha", 1)
    if alpha != 1:
        b = cx.emit("mul", [b, cx.scalar(alpha, dtype)])
    return _ret(cx.emit(_BINARY[base], [a, b]))


def _operand(cx: TorchValues, arg: Any, dtype: DType) -> Value:
    if cx.is_tensor(arg):
        return cx.cast(cx.value(arg), dtype)
    return cx.scalar(arg, dtype)


@lowering("div.Tensor_mode")
def _div_mode(cx: TorchValues, node: Any, args: tuple[Any, ...], kw: dict[str, Any]) -> Value:
    dtype, mode = cx.out_dtype(), kw.get("rounding_mode")
    a, b = (_operand(cx, arg, DType.FLOAT64) for arg in args[:2])
    q = cx.emit("div", [a, b])
    if mode == "floor":
        q = cx.emit("floor", [q])
    elif mode == "trunc":
        q = cx.emit("mul", [cx.emit("sign", [q]), cx.emit("floor", [cx.emit("abs", [q])])])
    return cx.cast(q, dtype)


@lowering(*(f"{op}.{kind}" for op in _COMPARE for kind in ("Tensor", "Scalar")))
def _compare(cx: TorchValues, node: Any, args: tuple[Any, ...], kw: dict[str, Any]) -> Value:
    import torch

    metas = [a.meta["val"] for a in args[:2] if cx.is_tensor(a)]
    common = metas[0].dtype if len(metas) == 1 else torch.promote_types(*(m.dtype for m in metas))
    dtype = cx.dtype_of(common)
    a, b = (_operand(cx, arg, dtype) for arg in args[:2])
    base = _base(node)
    out = cx.emit(_COMPARE[base], [a, b])
    return _ret(cx.emit("not", [out]) if base == "ne" else out)


@lowering(*(f"{op}.default" for op in _LOGICAL))
def _logical(cx: TorchValues, node: Any, args: tuple[Any, ...], kw: dict[str, Any]) -> Value:
    a, b = (cx.cast(cx.value(arg), DType.BOOL) for arg in args[:2])
    return _ret(cx.emit(_LOGICAL[_base(node)], [a, b]))


@lowering(*(f"{op}.{kind}" for op in _BITWISE for kind in ("Tensor", "Scalar")))
def _bitwise(cx: TorchValues, node: Any, args: tuple[Any, ...], kw: dict[str, Any]) -> Value:
    dtype = cx.out_dtype()
    a, b = (_operand(cx, arg, dtype) for arg in args[:2])
    base = _base(node)
    return _ret(cx.emit(_BITWISE[base] if dtype == DType.BOOL else base, [a, b]))


@lowering("bitwise_not.default")
def _bitwise_not(cx: TorchValues, node: Any, args: tuple[Any, ...], kw: dict[str, Any]) -> Value:
    x = cx.value(args[0])
    return _ret(cx.emit("not" if x.type.dtype == DType.BOOL else "bitwise_not", [x]))


@lowering("where.self")
def _where(cx: TorchValues, node: Any, args: tuple[Any, ...], kw: dict[str, Any]) -> Value:
    dtype = cx.out_dtype()
    cond = cx.cast(cx.value(args[0]), DType.BOOL)
    return _ret(
        cx.emit("where", [cond, _operand(cx, args[1], dtype), _operand(cx, args[2], dtype)])
    )


@lowering("_to_copy.default", "clone.default", "alias.default", "detach.default",
          "lift_fresh_copy.default", "contiguous.default")  # fmt: skip
def _copy(cx: TorchValues, node: Any, args: tuple[Any, ...], kw: dict[str, Any]) -> Value:
    return cx.cast(cx.value(args[0]), cx.out_dtype())


# -- symbolic sizes -------------------------------------------------------------------------------
@lowering("sym_size.int")
def _sym_size(cx: TorchValues, node: Any, args: tuple[Any, ...], kw: dict[str, Any]) -> Value:
    dim = int(args[1])
    x = cx.value(args[0])
    rank = len(x.type.shape or ())
    dim = dim % rank if rank else 0
    return _ret(cx.emit("shape", [x], start=dim, end=dim + 1))


@lowering(*(f"_operator.{op}" for op in _SYM))
def _sym_math(cx: TorchValues, node: Any, args: tuple[Any, ...], kw: dict[str, Any]) -> Value:
    a, b = (cx.value(x) if cx.is_tensor(x) else cx.const(np.array([int(x)], np.int64))
            for x in args[:2])  # fmt: skip
    return _ret(cx.emit(_SYM[target_name(node.target).split(".")[1]], [a, b]))


# -- shapes and data movement ---------------------------------------------------------------------
@lowering("view.default", "_unsafe_view.default", "reshape.default", "view_copy.default")
def _view(cx: TorchValues, node: Any, args: tuple[Any, ...], kw: dict[str, Any]) -> Value:
    sizes = list(args[1])
    symbolic = [i for i, s in enumerate(sizes) if cx.is_tensor(s)]
    if len(symbolic) == 1 and -1 not in sizes:  # one unknown size: reshape infers it
        sizes[symbolic[0]] = -1
    return _ret(cx.emit("reshape", [cx.value(args[0]), cx.ints(sizes)]))


@lowering("permute.default")
def _permute(cx: TorchValues, node: Any, args: tuple[Any, ...], kw: dict[str, Any]) -> Value:
    x = cx.value(args[0])
    rank = len(x.type.shape or ())
    return _ret(cx.emit("transpose", [x], perm=tuple(int(d) % rank for d in args[1])))


@lowering("expand.default")
def _expand(cx: TorchValues, node: Any, args: tuple[Any, ...], kw: dict[str, Any]) -> Value:
    x = cx.value(args[0])
    shape = x.type.shape or ()
    sizes = list(args[1])
    offset = len(sizes) - len(shape)
    for i, s in enumerate(sizes):  # sizes already equal to the input's broadcast as 1
        same = i >= offset and cx.is_tensor(s) and cx.torch_dim(s.meta["val"]) == shape[i - offset]
        if same or (not cx.is_tensor(s) and int(s) == -1):
            sizes[i] = 1
    return _ret(cx.emit("expand", [x, cx.ints(sizes)]))


@lowering("unsqueeze.default")
def _unsqueeze(cx: TorchValues, node: Any, args: tuple[Any, ...], kw: dict[str, Any]) -> Value:
    return _ret(cx.emit("unsqueeze", [cx.value(args[0]), cx.ints([int(args[1])])]))


@lowering("squeeze.dim", "squeeze.dims", "squeeze.default")
def _squeeze(cx: TorchValues, node: Any, args: tuple[Any, ...], kw: dict[str, Any]) -> Value:
    x = cx.value(args[0])
    shape = x.type.shape or ()
    dims = args[1] if len(args) > 1 else range(len(shape))
    dims = [dims] if isinstance(dims, int) else dims
    axes = sorted({int(d) % len(shape) for d in dims if shape[int(d)] == 1})
    return x if not axes else _ret(cx.emit("squeeze", [x, cx.ints(axes)]))


@lowering("cat.default")
def _cat(cx: TorchValues, node: Any, args: tuple[Any, ...], kw: dict[str, Any]) -> Value:
    dtype = cx.out_dtype()
    parts = [cx.cast(cx.value(t), dtype) for t in args[0]]
    parts = [p for p in parts if p.type.shape != (0,)] or parts  # torch skips legacy empties
    return _ret(cx.emit("concat", parts, axis=int(_kw(args, kw, 1, "dim", 0))))


def _kw(args: tuple[Any, ...], kw: dict[str, Any], i: int, key: str, default: Any) -> Any:
    return args[i] if len(args) > i else kw.get(key, default)


@lowering("slice.Tensor")
def _slice(cx: TorchValues, node: Any, args: tuple[Any, ...], kw: dict[str, Any]) -> Value:
    x = cx.value(args[0])
    dim = int(_kw(args, kw, 1, "dim", 0))
    start, end = _kw(args, kw, 2, "start", None), _kw(args, kw, 3, "end", None)
    step = int(_kw(args, kw, 4, "step", 1))
    start = 0 if start is None else start
    end = _INT64_MAX if end is None else end
    size = (x.type.shape or ())[dim]
    if start == 0 and step == 1 and isinstance(end, int) and isinstance(size, int) and end >= size:
        return x
    return _ret(cx.emit("slice", [x, cx.ints([start]), cx.ints([end]), cx.ints([dim]),
                                  cx.ints([step])]))  # fmt: skip


@lowering("select.int")
def _select(cx: TorchValues, node: Any, args: tuple[Any, ...], kw: dict[str, Any]) -> Value:
    index = cx.const(np.array(int(args[2]), dtype=np.int64))
    return _ret(cx.emit("gather", [cx.value(args[0]), index], axis=int(args[1])))


@lowering("split_with_sizes.default", "split.Tensor")
def _split(cx: TorchValues, node: Any, args: tuple[Any, ...], kw: dict[str, Any]) -> tuple:
    x = cx.value(args[0])
    dim = int(_kw(args, kw, 2, "dim", 0))
    sizes = [int(t.shape[dim]) for t in node.meta["val"]]
    if len(sizes) == 1:
        return (x,)
    return tuple(cx.emit("split", [x, cx.ints(sizes)], n_out=len(sizes), axis=dim))


@lowering("index_select.default")
def _index_select(cx: TorchValues, node: Any, args: tuple[Any, ...], kw: dict[str, Any]) -> Value:
    return _ret(cx.emit("gather", [cx.value(args[0]), cx.value(args[2])], axis=int(args[1])))


@lowering("gather.default")
def _gather(cx: TorchValues, node: Any, args: tuple[Any, ...], kw: dict[str, Any]) -> Value:
    return _ret(cx.emit("gather_elements", [cx.value(args[0]), cx.value(args[2])],
                        axis=int(args[1])))  # fmt: skip


@lowering("repeat.default")
def _repeat(cx: TorchValues, node: Any, args: tuple[Any, ...], kw: dict[str, Any]) -> Value:
    x, reps = cx.value(args[0]), [int(r) for r in args[1]]
    extra = len(reps) - len(x.type.shape or ())
    if extra > 0:
        x = cx.emit("unsqueeze", [x, cx.ints(list(range(extra)))])
    return _ret(cx.emit("tile", [x, cx.ints(reps)]))


# -- reductions -----------------------------------------------------------------------------------
_REDUCE = {"mean": "reduce_mean", "sum": "reduce_sum", "amax": "reduce_max",
           "amin": "reduce_min", "any": "reduce_max", "prod": "reduce_prod"}  # fmt: skip


@lowering("mean.dim", "sum.dim_IntList", "amax.default", "amin.default", "sum.default",
          "mean.default", "any.dim", "any.dims", "any.default", "prod.dim_int")  # fmt: skip
def _reduce(cx: TorchValues, node: Any, args: tuple[Any, ...], kw: dict[str, Any]) -> Value:
    base = _base(node)
    x = cx.value(args[0])
    rank = len(x.type.shape or ())
    dims = _kw(args, kw, 1, "dim", None)
    dims = list(range(rank)) if dims is None or dims == [] else dims
    axes = [int(d) % rank for d in ([dims] if isinstance(dims, int) else dims)]
    keep = int(bool(_kw(args, kw, 2, "keepdim", False)))
    if base == "any":
        x = cx.cast(x, DType.INT32)
    else:
        x = cx.cast(x, cx.out_dtype())
    out = cx.emit(_REDUCE[base], [x, cx.ints(axes)], keepdims=keep)
    return cx.cast(out, cx.out_dtype())


@lowering("argmax.default", "argmin.default")
def _argmax(cx: TorchValues, node: Any, args: tuple[Any, ...], kw: dict[str, Any]) -> Value:
    x, dim = cx.value(args[0]), _kw(args, kw, 1, "dim", None)
    keep = int(bool(_kw(args, kw, 2, "keepdim", False)))
    if dim is None:
        x, dim, keep = cx.emit("reshape", [x, cx.ints([-1])]), 0, 0
    return _ret(cx.emit(_base(node), [x], axis=int(dim), keepdims=keep))


@lowering("cumsum.default")
def _cumsum(cx: TorchValues, node: Any, args: tuple[Any, ...], kw: dict[str, Any]) -> Value:
    x = cx.cast(cx.value(args[0]), cx.out_dtype())
    return _ret(cx.emit("cumsum", [x, cx.const(np.array(int(args[1]), np.int64))]))


# -- creation -------------------------------------------------------------------------------------
@lowering("full.default", "full_like.default", "scalar_tensor.default", "arange.start_step",
          "arange.default", "zeros_like.default", "ones_like.default")  # fmt: skip
def _full(cx: TorchValues, node: Any, args: tuple[Any, ...], kw: dict[str, Any]) -> Value:
    val = node.meta["val"]
    if not all(isinstance(d, int) for d in val.shape):
        return _full_dynamic(cx, node, args)
    if val.numel() > 1 << 20:
        raise FrontendError(f"constant of {val.numel()} elements is too large to inline", cx.loc)
    base = _base(node)
    dtype = cx.out_dtype()
    if base == "arange":
        start, end, step = (list(args) + [1])[:3] if len(args) > 1 else (0, args[0], 1)
        return cx.const(np.arange(start, end, step).astype(dtype.to_numpy()))
    fill = {"zeros_like": 0, "ones_like": 1}.get(base)
    fill = fill if fill is not None else args[1] if base in ("full", "full_like") else args[0]
    return cx.const(np.full(tuple(val.shape), fill, dtype=dtype.to_numpy()))


def _full_dynamic(cx: TorchValues, node: Any, args: tuple[Any, ...]) -> Value:
    base = _base(node)
    fill = {"zeros_like": 0, "ones_like": 1}.get(base, args[1] if len(args) > 1 else None)
    if base not in ("full", "full_like", "zeros_like", "ones_like") or fill is None:
        raise FrontendError(f"{base} with a symbolic size is not supported", cx.loc)
    shape = cx.emit("shape", [cx.value(args[0])]) if base != "full" else cx.ints(args[0])
    return _ret(cx.emit("expand", [cx.scalar(fill, cx.out_dtype()), shape]))
