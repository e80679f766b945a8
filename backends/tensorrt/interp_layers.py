"""Per-layer NumPy rules of the network interpreter (TENSORRT.md §6 and §12).

Each rule is `fn(trt, layer, inputs) -> list[ndarray]` with `layer` already downcast to its
class. Results are cast to the builder's output dtype (`trt.nptype(out.dtype)`); fp16 conv and
matmul accumulate in fp32, as TensorRT may.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from backends.tensorrt.interp_slice import shuffle, slice_layer

Rule = Callable[[Any, Any, list[Any]], list[np.ndarray]]
LAYERS: dict[str, Rule] = {}


def rule(*kinds: str) -> Callable[[Rule], Rule]:
    def wrap(fn: Rule) -> Rule:
        for kind in kinds:
            LAYERS[kind] = fn
        return fn

    return wrap


def out_dtype(trt: Any, layer: Any, index: int = 0) -> np.dtype:
    return np.dtype(trt.nptype(layer.get_output(index).dtype))


def typed(trt: Any, layer: Any, array: Any, index: int = 0) -> np.ndarray:
    """`array` in the dtype the builder gives output `index`."""
    with np.errstate(over="ignore", invalid="ignore"):
        return np.asarray(array).astype(out_dtype(trt, layer, index))


def _wide(x: np.ndarray) -> np.ndarray:
    return x.astype(np.float32) if x.dtype == np.float16 else x


LAYERS["SHUFFLE"] = lambda trt, layer, ins: [shuffle(trt, layer, ins)]
LAYERS["SLICE"] = lambda trt, layer, ins: [slice_layer(trt, layer, ins)]


@rule("CONSTANT")
def _constant(trt: Any, layer: Any, ins: list[Any]) -> list[np.ndarray]:
    w = np.asarray(layer.weights)
    return [typed(trt, layer, w.reshape(tuple(layer.shape)))]


@rule("IDENTITY", "CAST")
def _cast(trt: Any, layer: Any, ins: list[Any]) -> list[np.ndarray]:
    x, to = ins[0], out_dtype(trt, layer)
    if to == np.bool_:
        return [x != 0]
    if to.kind in "iu" and x.dtype.kind == "f":
        x = np.trunc(x)  # float -> int truncates toward zero (as ONNX Cast); unverified on GPU
    return [typed(trt, layer, x)]


def _windows(layer: Any, x: np.ndarray, kernel: tuple[int, ...], dilation: tuple[int, ...]
             ) -> dict[str, Any]:  # fmt: skip
    """ONNX-style window attributes (pads, strides, ...) of a conv/pool/deconv layer."""
    from compiler.ops.nn import resolve_pads

    nsp = len(kernel)
    strides = tuple(layer.stride_nd)
    mode = layer.padding_mode.name
    if mode in ("SAME_UPPER", "SAME_LOWER"):
        pads = resolve_pads(x.shape[2:], kernel, strides, dilation, None, mode)
    else:
        pads = [*tuple(layer.pre_padding)[:nsp], *tuple(layer.post_padding)[:nsp]]
    return {"strides": strides, "dilations": dilation, "pads": tuple(pads), "auto_pad": "NOTSET",
            "kernel_shape": kernel, "ceil_mode": int(mode == "EXPLICIT_ROUND_UP")}  # fmt: skip


def _kernel_and_bias(layer: Any, ins: list[Any], shape: tuple[int, ...]) -> tuple[Any, Any]:
    w = np.asarray(layer.kernel)
    w = ins[1] if w.size == 0 and len(ins) > 1 else w.reshape(shape)
    b: Any = np.asarray(layer.bias)
    b = ins[2] if len(ins) > 2 and ins[2] is not None else (b if b.size else None)
    return w, b


@rule("CONVOLUTION")
def _convolution(trt: Any, layer: Any, ins: list[Any]) -> list[np.ndarray]:
    from compiler.registry import get_op

    x, g = ins[0], layer.num_groups
    kernel = tuple(layer.kernel_size_nd)
    w, b = _kernel_and_bias(layer, ins, (layer.num_output_maps, x.shape[1] // g, *kernel))
    attrs = {**_windows(layer, x, kernel, tuple(layer.dilation_nd)), "group": g}
    fn = get_op("conv").kernel
    assert fn is not None
    y = fn([_wide(x), _wide(np.asarray(w)), None if b is None else _wide(np.asarray(b))], attrs)
    return [typed(trt, layer, y[0])]


@rule("DECONVOLUTION")
def _deconvolution(trt: Any, layer: Any, ins: list[Any]) -> list[np.ndarray]:
    from compiler.registry import get_op

    x, g = ins[0], layer.num_groups
    kernel = tuple(layer.kernel_size_nd)
    w, b = _kernel_and_bias(layer, ins, (x.shape[1], layer.num_output_maps // g, *kernel))
    attrs = {**_windows(layer, x, kernel, tuple(layer.dilation_nd)), "group": g,
             "output_padding": (0,) * len(kernel)}  # fmt: skip
    fn = get_op("conv_transpose").kernel
    assert fn is not None
    y = fn([_wide(x), _wide(np.asarray(w)), None if b is None else _wide(np.asarray(b))], attrs)
    return [typed(trt, layer, y[0])]


@rule("POOLING")
def _pooling(trt: Any, layer: Any, ins: list[Any]) -> list[np.ndarray]:
    from compiler.registry import get_op

    x = ins[0]
    kernel = tuple(layer.window_size_nd)
    attrs = _windows(layer, x, kernel, (1,) * len(kernel))
    kind = layer.type.name
    if kind == "MAX":
        fn = get_op("max_pool").kernel
        attrs["storage_order"] = 0
    elif kind == "AVERAGE":
        fn = get_op("average_pool").kernel
        attrs["count_include_pad"] = int(not layer.average_count_excludes_padding)
    else:
        raise NotImplementedError(f"pooling {kind}")
    assert fn is not None
    return [typed(trt, layer, fn([_wide(x)], attrs)[0])]


@rule("LRN")
def _lrn(trt: Any, layer: Any, ins: list[Any]) -> list[np.ndarray]:
    from compiler.registry import get_op

    attrs = {"size": layer.window_size, "alpha": layer.alpha, "beta": layer.beta, "bias": layer.k}
    fn = get_op("lrn").kernel
    assert fn is not None
    return [typed(trt, layer, fn([_wide(ins[0])], attrs)[0])]


def _erf(x: np.ndarray) -> np.ndarray:
    return np.vectorize(math.erf, otypes=[np.float64])(x)


_ACT: dict[str, Callable[[np.ndarray, float, float], np.ndarray]] = {
    "RELU": lambda x, a, b: np.maximum(x, 0),
    "SIGMOID": lambda x, a, b: 1 / (1 + np.exp(-x)),
    "TANH": lambda x, a, b: np.tanh(x),
    "LEAKY_RELU": lambda x, a, b: np.where(x >= 0, x, a * x),
    "ELU": lambda x, a, b: np.where(x >= 0, x, a * (np.exp(x) - 1)),
    "SELU": lambda x, a, b: np.where(x > 0, b * x, b * a * (np.exp(x) - 1)),
    "SOFTSIGN": lambda x, a, b: x / (1 + np.abs(x)),
    "SOFTPLUS": lambda x, a, b: a * np.logaddexp(0, b * x),
    "CLIP": lambda x, a, b: np.maximum(a, np.minimum(b, x)),
    "HARD_SIGMOID": lambda x, a, b: np.maximum(0, np.minimum(1, a * x + b)),
    "SCALED_TANH": lambda x, a, b: a * np.tanh(b * x),
    "THRESHOLDED_RELU": lambda x, a, b: np.where(x > a, x, 0),
    "GELU_ERF": lambda x, a, b: 0.5 * x * (1 + _erf(x / math.sqrt(2))),
    "GELU_TANH": lambda x, a, b: 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi)
                                                         * (x + 0.044715 * x**3))),
}  # fmt: skip


@rule("ACTIVATION")
def _activation(trt: Any, layer: Any, ins: list[Any]) -> list[np.ndarray]:
    x = ins[0].astype(np.float64)
    with np.errstate(over="ignore"):
        return [typed(trt, layer, _ACT[layer.type.name](x, layer.alpha, layer.beta))]


_ELEMENTWISE: dict[str, Callable[[Any, Any], Any]] = {
    "SUM": np.add, "PROD": np.multiply, "MAX": np.maximum, "MIN": np.minimum,
    "SUB": np.subtract, "POW": np.power, "AND": np.logical_and, "OR": np.logical_or,
    "XOR": np.logical_xor, "EQUAL": np.equal, "GREATER": np.greater, "LESS": np.less,
    "FLOOR_DIV": np.floor_divide,
}  # fmt: skip


@rule("ELEMENTWISE")
def _elementwise(trt: Any, layer: Any, ins: list[Any]) -> list[np.ndarray]:
    a, b = ins
    if a.ndim != b.ndim:
        raise AssertionError(f"{layer.name}: elementwise ranks differ")
    op = layer.op.name
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if op == "DIV":
            y = np.trunc(a / b) if a.dtype.kind in "iu" else a / b
        else:
            y = _ELEMENTWISE[op](a, b)
    return [typed(trt, layer, y)]


_UNARY: dict[str, Callable[[Any], Any]] = {
    "EXP": np.exp, "LOG": np.log, "SQRT": np.sqrt, "RECIP": np.reciprocal, "ABS": np.abs,
    "NEG": np.negative, "SIN": np.sin, "COS": np.cos, "TAN": np.tan, "SINH": np.sinh,
    "COSH": np.cosh, "ASIN": np.arcsin, "ACOS": np.arccos, "ATAN": np.arctan,
    "ASINH": np.arcsinh, "ACOSH": np.arccosh, "ATANH": np.arctanh, "CEIL": np.ceil,
    "FLOOR": np.floor, "ERF": _erf, "NOT": np.logical_not, "SIGN": np.sign, "ROUND": np.rint,
    "ISINF": np.isinf, "ISNAN": np.isnan,
}  # fmt: skip


@rule("UNARY")
def _unary(trt: Any, layer: Any, ins: list[Any]) -> list[np.ndarray]:
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return [typed(trt, layer, _UNARY[layer.op.name](ins[0]))]


def _axes(mask: int, rank: int) -> tuple[int, ...]:
    return tuple(a for a in range(rank) if mask >> a & 1)


@rule("SOFTMAX")
def _softmax(trt: Any, layer: Any, ins: list[Any]) -> list[np.ndarray]:
    x = ins[0].astype(np.float64)
    (axis,) = _axes(layer.axes, x.ndim)
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return [typed(trt, layer, e / np.sum(e, axis=axis, keepdims=True))]


_REDUCE: dict[str, Callable[..., Any]] = {
    "SUM": np.sum,
    "PROD": np.prod,
    "MAX": np.max,
    "MIN": np.min,
    "AVG": np.mean,
}


@rule("REDUCE")
def _reduce(trt: Any, layer: Any, ins: list[Any]) -> list[np.ndarray]:
    x, op = ins[0], layer.op.name
    axes = _axes(layer.axes, x.ndim)
    wide = x.astype(np.float64) if x.dtype.kind == "f" else x
    y = _REDUCE[op](wide, axis=axes, keepdims=layer.keep_dims)
    if op == "AVG" and x.dtype.kind in "iu":
        y = np.trunc(y)  # integer AVG stays integer (rounding unverified)
    return [typed(trt, layer, y)]


@rule("CONCATENATION")
def _concat(trt: Any, layer: Any, ins: list[Any]) -> list[np.ndarray]:
    return [typed(trt, layer, np.concatenate(ins, axis=layer.axis))]


@rule("SHAPE")
def _shape(trt: Any, layer: Any, ins: list[Any]) -> list[np.ndarray]:
    return [np.array(ins[0].shape, np.int64)]


@rule("SELECT")
def _select(trt: Any, layer: Any, ins: list[Any]) -> list[np.ndarray]:
    return [typed(trt, layer, np.where(ins[0], ins[1], ins[2]))]


@rule("SQUEEZE", "UNSQUEEZE")
def _squeeze(trt: Any, layer: Any, ins: list[Any]) -> list[np.ndarray]:
    x, axes = ins[0], [int(a) for a in np.asarray(ins[1]).reshape(-1)]
    if layer.type.name == "SQUEEZE":
        return [typed(trt, layer, np.squeeze(x, axis=tuple(a % x.ndim for a in axes)))]
    rank = x.ndim + len(axes)
    return [typed(trt, layer, np.expand_dims(x, tuple(a % rank for a in axes)))]


from backends.tensorrt import interp_layers2  # noqa: E402,F401  registers the remaining rules
