"""Pointwise ops: binary and variadic elementwise, unary, activations, clip, softmax, select.

TensorRT elementwise layers need equal ranks and equal dtypes: operands are brought to the
largest rank by prepending 1s (`Emitter.operands`); the IR already guarantees equal dtypes.
Decompositions: hard_swish = x·hard_sigmoid(x; 1/6, 1/2); mish = x·tanh(softplus(x));
swish = x·sigmoid(αx); celu = α·elu(x/α); mean = sum/n; log_softmax = log(softmax);
greater_or_equal = greater OR equal.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from backends.tensorrt.emitter import Emitter
from backends.tensorrt.registry import converter
from compiler.ir import Node
from compiler.ops.epilogue import EPILOGUES

BINARY = {
    "add": "SUM", "sub": "SUB", "mul": "PROD", "div": "DIV", "pow": "POW", "and": "AND",
    "or": "OR", "xor": "XOR", "equal": "EQUAL", "greater": "GREATER", "less": "LESS",
}  # fmt: skip
VARIADIC = {"sum": "SUM", "max": "MAX", "min": "MIN", "mean": "SUM"}
UNARY = {
    "abs": "ABS", "neg": "NEG", "exp": "EXP", "log": "LOG", "sqrt": "SQRT", "reciprocal": "RECIP",
    "sin": "SIN", "cos": "COS", "tan": "TAN", "sinh": "SINH", "cosh": "COSH", "asin": "ASIN",
    "acos": "ACOS", "atan": "ATAN", "asinh": "ASINH", "acosh": "ACOSH", "atanh": "ATANH",
    "ceil": "CEIL", "floor": "FLOOR", "erf": "ERF", "not": "NOT", "sign": "SIGN",
    "round": "ROUND", "is_nan": "ISNAN",
}  # fmt: skip


def _float_only(node: Node) -> str | None:
    if not node.inputs[0] or not node.inputs[0].type.dtype.is_float:
        return f"TensorRT's {node.op} takes float tensors only"
    return None


def _int_div(node: Node) -> str | None:
    if node.op == "div" and not node.outputs[0].type.dtype.is_float:
        return "integer Div: TensorRT's rounding of integer DIV is unverified"
    return None


@converter(*BINARY, check=_int_div)
def convert_binary(em: Emitter, node: Node) -> list[Any]:
    a, b = em.operands([v for v in node.inputs if v is not None])
    return [em.elementwise(a, b, BINARY[node.op])]


@converter("greater_or_equal", "less_or_equal")
def convert_compare_or_equal(em: Emitter, node: Node) -> list[Any]:
    a, b = em.operands([v for v in node.inputs if v is not None])
    strict = em.elementwise(a, b, "GREATER" if node.op == "greater_or_equal" else "LESS")
    return [em.elementwise(strict, em.elementwise(a, b, "EQUAL"), "OR")]


@converter(*VARIADIC)
def convert_variadic(em: Emitter, node: Node) -> list[Any]:
    ts = em.operands([v for v in node.inputs if v is not None])
    acc = ts[0]
    for t in ts[1:]:
        acc = em.elementwise(acc, t, VARIADIC[node.op])
    if node.op == "mean":
        out = node.outputs[0]
        n = em.scalar_like(float(len(ts)), out.type.dtype, em.rank(out))
        acc = em.elementwise(acc, n, "DIV")
    if len(ts) == 1:
        acc = em.out(em.network.add_identity(acc))
    return [acc]


@converter(*UNARY)
def convert_unary(em: Emitter, node: Node) -> list[Any]:
    assert node.inputs[0] is not None
    return [em.unary(em.tensor(node.inputs[0]), UNARY[node.op])]


def apply_activation(em: Emitter, t: Any, op: str, params: dict[str, float]) -> Any:
    """`t` through the activation `op` (an `EPILOGUES` name or gelu) with its parameters."""
    a = em.activation
    if op in _SIMPLE:
        return a(t, _SIMPLE[op])
    if op in ("leaky_relu", "elu", "thresholded_relu"):
        return a(t, op.upper(), alpha=params["alpha"])
    if op == "hard_sigmoid":
        return a(t, "HARD_SIGMOID", alpha=params["alpha"], beta=params["beta"])
    if op == "selu":
        return a(t, "SELU", alpha=params["alpha"], beta=params["gamma"])
    if op == "softplus":
        return a(t, "SOFTPLUS", alpha=1.0, beta=1.0)
    if op == "clip":
        return a(t, "CLIP", alpha=params["min"], beta=params["max"])
    if op == "gelu":
        return a(t, "GELU_TANH" if params.get("approximate") == "tanh" else "GELU_ERF")
    if op == "hard_swish":
        return em.elementwise(t, a(t, "HARD_SIGMOID", alpha=1.0 / 6.0, beta=0.5), "PROD")
    if op == "mish":
        return em.elementwise(t, a(a(t, "SOFTPLUS", alpha=1.0, beta=1.0), "TANH"), "PROD")
    raise AssertionError(op)


_SIMPLE = {"relu": "RELU", "sigmoid": "SIGMOID", "tanh": "TANH", "softsign": "SOFTSIGN"}


def apply_epilogue(em: Emitter, node: Node, t: Any) -> Any:
    """`t` with the node's fused activation epilogue (compiler/ops/epilogue.py) applied."""
    name = node.attrs.get("activation")
    if not name:
        return t
    params = dict(zip(EPILOGUES[name], node.attrs.get("activation_params") or (), strict=True))
    if name in ("celu", "clip"):
        return _scalar_param_activation(em, node, t, name, params)
    return apply_activation(em, t, name, params)


def _scalar_param_activation(
    em: Emitter, node: Node, t: Any, name: str, params: dict[str, float]
) -> Any:
    if name == "clip":
        lo, hi = params["min"], params["max"]
        big = float(np.finfo(np.float32).max)
        return em.activation(t, "CLIP", alpha=max(lo, -big), beta=min(hi, big))
    return _celu(em, node, t, params["alpha"])


def _celu(em: Emitter, node: Node, t: Any, alpha: float) -> Any:
    out = node.outputs[0]
    k = em.scalar_like(alpha, out.type.dtype, em.rank(out))
    return em.elementwise(em.activation(em.elementwise(t, k, "DIV"), "ELU", alpha=1.0), k, "PROD")


@converter(*_SIMPLE, "leaky_relu", "elu", "thresholded_relu", "hard_sigmoid", "selu",
           "softplus", "hard_swish", "mish", check=_float_only)  # fmt: skip
def convert_activation(em: Emitter, node: Node) -> list[Any]:
    assert node.inputs[0] is not None
    params = {k: v for k, v in node.attrs.items() if isinstance(v, float)}
    return [apply_activation(em, em.tensor(node.inputs[0]), node.op, params)]


@converter("gelu", check=_float_only)
def convert_gelu(em: Emitter, node: Node) -> list[Any]:
    assert node.inputs[0] is not None
    params = {"approximate": node.attrs.get("approximate", "none")}
    return [apply_activation(em, em.tensor(node.inputs[0]), "gelu", params)]  # type: ignore[dict-item]


@converter("celu", check=_float_only)
def convert_celu(em: Emitter, node: Node) -> list[Any]:
    assert node.inputs[0] is not None
    return [_celu(em, node, em.tensor(node.inputs[0]), float(node.attrs["alpha"]))]


@converter("swish", check=_float_only)
def convert_swish(em: Emitter, node: Node) -> list[Any]:
    x = node.inputs[0]
    assert x is not None
    t = em.tensor(x)
    k = em.scalar_like(float(node.attrs["alpha"]), x.type.dtype, em.rank(x))
    return [em.elementwise(t, em.activation(em.elementwise(t, k, "PROD"), "SIGMOID"), "PROD")]


@converter("clip")
def convert_clip(em: Emitter, node: Node) -> list[Any]:
    x = node.inputs[0]
    assert x is not None
    t = em.tensor(x)
    rank = em.rank(x)
    for bound, op in ((_input(node, 1), "MAX"), (_input(node, 2), "MIN")):
        if bound is not None:
            t = em.elementwise(t, em.operand(bound, rank), op)
    if t is em.tensors.get(x):
        t = em.out(em.network.add_identity(t))
    return [t]


def _input(node: Node, i: int) -> Any:
    return node.inputs[i] if len(node.inputs) > i else None


def _softmax_check(node: Node) -> str | None:
    return _float_only(node)


@converter("softmax", "log_softmax", check=_softmax_check)
def convert_softmax(em: Emitter, node: Node) -> list[Any]:
    x = node.inputs[0]
    assert x is not None
    axis = int(node.attrs["axis"]) % max(em.rank(x), 1)
    layer = em.network.add_softmax(em.tensor(x))
    layer.axes = 1 << axis
    t = em.out(layer)
    return [em.unary(t, "LOG") if node.op == "log_softmax" else t]


@converter("where")
def convert_where(em: Emitter, node: Node) -> list[Any]:
    c, a, b = em.operands([v for v in node.inputs if v is not None])
    return [em.out(em.network.add_select(c, a, b))]


@converter("prelu", check=_float_only)
def convert_prelu(em: Emitter, node: Node) -> list[Any]:
    x, slope = node.inputs
    assert x is not None and slope is not None
    return [em.out(em.network.add_parametric_relu(em.tensor(x), em.operand(slope, em.rank(x))))]
