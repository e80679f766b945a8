"""Matrix products, reductions and top-k.

gemm: `Y = α·op(A)·op(B) + β·C` -> `add_matrix_multiply(A, TRANSPOSE?, B, TRANSPOSE?)`; α and β
are folded into the constant B and C on the host when they are constants (else a PROD with a
scalar); C is rank-aligned; then the fused activation epilogue.
matmul: 1-D operands use `MatrixOperation.VECTOR` (the vector operand gets batch 1s prepended);
otherwise the lower rank gets 1s prepended (numpy's batch broadcasting, made explicit).
reduce_*: `add_reduce(op, bitmask, keepdims)`; L1 = Σ|x|, L2 = √Σx², sum_square = Σx²,
log_sum = log Σx, log_sum_exp = m + log Σ exp(x − m) with m = max (stable).
argmax/argmin: top-1 indices cast to int64 (squeezed when keepdims = 0).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from backends.tensorrt.converters.pointwise import apply_epilogue
from backends.tensorrt.emitter import Emitter
from backends.tensorrt.hostvalue import host_value
from backends.tensorrt.registry import converter
from compiler.ir import Node, Value
from compiler.types import DType


def _gemm_check(node: Node) -> str | None:
    a = node.inputs[0]
    if a is None or a.type.shape is None or len(a.type.shape) != 2:
        return "gemm needs a rank-2 A"
    if not a.type.dtype.is_float:
        return "integer gemm"
    return None


@converter("gemm", check=_gemm_check)
def convert_gemm(em: Emitter, node: Node) -> list[Any]:
    a_v, b_v = node.inputs[0], node.inputs[1]
    assert a_v is not None and b_v is not None
    attrs, dtype = node.attrs, a_v.type.dtype.to_numpy()
    alpha, beta = float(attrs["alpha"]), float(attrs["beta"])
    mm = em.trt.MatrixOperation
    b_const = em.const(b_v)
    if b_const is not None:
        b_t = em.constant((b_const.astype(np.float64) * alpha).astype(dtype))
        alpha = 1.0
    else:
        b_t = em.tensor(b_v)
    layer = em.network.add_matrix_multiply(
        em.tensor(a_v), mm.TRANSPOSE if attrs["transA"] else mm.NONE,
        b_t, mm.TRANSPOSE if attrs["transB"] else mm.NONE,
    )  # fmt: skip
    y = em.out(layer)
    if alpha != 1.0:
        y = em.elementwise(y, em.constant(np.full((1, 1), alpha, dtype)), "PROD")
    c_v = node.inputs[2] if len(node.inputs) > 2 else None
    if c_v is not None and beta != 0.0:
        y = em.elementwise(y, _gemm_bias(em, c_v, beta, dtype), "SUM")
    return [apply_epilogue(em, node, y)]


def _gemm_bias(em: Emitter, c_v: Value, beta: float, dtype: Any) -> Any:
    c = em.const(c_v)
    if c is not None:
        c2 = (c.astype(np.float64) * beta).astype(dtype)
        return em.constant(c2.reshape((1,) * (2 - c2.ndim) + c2.shape))
    t = em.operand(c_v, 2)
    if beta == 1.0:
        return t
    return em.elementwise(t, em.constant(np.full((1, 1), beta, dtype)), "PROD")


@converter("matmul")
def convert_matmul(em: Emitter, node: Node) -> list[Any]:
    a_v, b_v = node.inputs
    assert a_v is not None and b_v is not None
    mm = em.trt.MatrixOperation
    ra, rb = em.rank(a_v), em.rank(b_v)
    if ra == 1 or rb == 1:
        return [apply_epilogue(em, node, _matvec(em, a_v, b_v, ra, rb))]
    rank = max(ra, rb)
    a, b = em.operand(a_v, rank), em.operand(b_v, rank)
    y = em.out(em.network.add_matrix_multiply(a, mm.NONE, b, mm.NONE))
    return [apply_epilogue(em, node, y)]


def _matvec(em: Emitter, a_v: Value, b_v: Value, ra: int, rb: int) -> Any:
    mm = em.trt.MatrixOperation
    if ra == 1 and rb == 1:
        a, b = em.tensor(a_v), em.tensor(b_v)
        return em.out(em.network.add_matrix_multiply(a, mm.VECTOR, b, mm.VECTOR))
    if rb == 1:  # (..., M, K) x (K,) -> (..., M): b as a vector with batch 1s
        b = em.operand(b_v, ra - 1)
        return em.out(em.network.add_matrix_multiply(em.tensor(a_v), mm.NONE, b, mm.VECTOR))
    a = em.operand(a_v, rb - 1)  # (K,) x (..., K, N) -> (..., N)
    return em.out(em.network.add_matrix_multiply(a, mm.VECTOR, em.tensor(b_v), mm.NONE))


REDUCE = {"reduce_sum": "SUM", "reduce_mean": "AVG", "reduce_max": "MAX", "reduce_min": "MIN",
          "reduce_prod": "PROD"}  # fmt: skip
COMPOSED = ("reduce_l1", "reduce_l2", "reduce_sum_square", "reduce_log_sum",
            "reduce_log_sum_exp")  # fmt: skip


def _reduce_check(node: Node) -> str | None:
    axes = node.inputs[1] if len(node.inputs) > 1 else None
    if axes is not None and host_value(axes) is None:
        return "reduction axes must be constants"
    x = node.inputs[0]
    if node.op in COMPOSED and x is not None and not x.type.dtype.is_float:
        return f"{node.op} of integers"
    return None


def _reduce_axes(node: Node, rank: int) -> list[int] | None:
    """Normalized axes; None for the no-op case (empty axes with noop_with_empty_axes)."""
    axes_v = node.inputs[1] if len(node.inputs) > 1 else None
    axes = host_value(axes_v) if axes_v is not None else None
    if axes is None or axes.size == 0:
        return None if node.attrs.get("noop_with_empty_axes") else list(range(rank))
    return sorted({int(a) % rank for a in axes.reshape(-1)})


@converter(*REDUCE, *COMPOSED, check=_reduce_check)
def convert_reduce(em: Emitter, node: Node) -> list[Any]:
    x = node.inputs[0]
    assert x is not None
    t, rank = em.tensor(x), em.rank(x)
    axes = _reduce_axes(node, rank)
    if axes is None:
        return [em.out(em.network.add_identity(t))]
    keep = bool(node.attrs.get("keepdims", 1))
    op = node.op
    if op in REDUCE:
        return [em.reduce(t, REDUCE[op], axes, keep)]
    if op == "reduce_log_sum_exp":
        m = em.reduce(t, "MAX", axes, True)
        s = em.reduce(em.unary(em.elementwise(t, m, "SUB"), "EXP"), "SUM", axes, keep)
        m2 = m if keep else em.reduce(m, "MAX", axes, False)
        return [em.elementwise(em.unary(s, "LOG"), m2, "SUM")]
    pre = {"reduce_l1": em.unary(t, "ABS"), "reduce_log_sum": t}.get(op)
    pre = pre if pre is not None else em.elementwise(t, t, "PROD")
    s = em.reduce(pre, "SUM", axes, keep)
    post = {"reduce_l2": "SQRT", "reduce_log_sum": "LOG"}.get(op)
    return [em.unary(s, post) if post else s]


def _topk_check(node: Node) -> str | None:
    if node.op == "topk":
        k = node.inputs[1]
        return None if k is not None and host_value(k) is not None else "topk needs constant k"
    if node.attrs.get("select_last_index"):
        return "select_last_index: TensorRT's tie order is unspecified"
    return None


@converter("topk", "argmax", "argmin", check=_topk_check)
def convert_topk(em: Emitter, node: Node) -> list[Any]:
    x = node.inputs[0]
    assert x is not None
    axis = int(node.attrs["axis"]) % em.rank(x)
    largest = node.attrs.get("largest", 1) if node.op == "topk" else node.op == "argmax"
    k = int(np.asarray(em.const(node.inputs[1])).reshape(-1)[0]) if node.op == "topk" else 1
    op = em.trt.TopKOperation.MAX if largest else em.trt.TopKOperation.MIN
    layer = em.network.add_topk(em.tensor(x), op, k, 1 << axis)
    em.name(layer)
    values, indices = layer.get_output(0), em.cast(layer.get_output(1), DType.INT64)
    if node.op == "topk":
        return [values, indices]
    if not node.attrs.get("keepdims", 1):
        axes = em.constant(np.array([axis], np.int64))
        indices = em.out(em.network.add_squeeze(indices, axes))
    return [indices]


@converter(
    "cumsum",
    check=lambda n: (
        None
        if n.inputs[1] is not None and host_value(n.inputs[1]) is not None
        else "cumsum needs a constant axis"
    ),
)
def convert_cumsum(em: Emitter, node: Node) -> list[Any]:
    x, axis_v = node.inputs
    assert x is not None and axis_v is not None
    axis = int(np.asarray(em.const(axis_v)).reshape(())) % em.rank(x)
    layer = em.network.add_cumulative(
        em.tensor(x), em.constant(np.array(axis, np.int32)), em.trt.CumulativeOperation.SUM,
        bool(node.attrs["exclusive"]), bool(node.attrs["reverse"]),
    )  # fmt: skip
    return [em.out(layer)]


@converter("einsum")
def convert_einsum(em: Emitter, node: Node) -> list[Any]:
    ts = [em.tensor(v) for v in node.inputs if v is not None]
    return [em.out(em.network.add_einsum(ts, str(node.attrs["equation"])))]
