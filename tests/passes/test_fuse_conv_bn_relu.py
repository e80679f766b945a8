"""`fuse-conv-bn-relu`: BN folding algebra per op kind, refusals with reasons, float16."""

from __future__ import annotations

import numpy as np
import pytest

import compiler
from compiler.graph import Builder, Graph
from compiler.ir import Value
from compiler.passmanager import PassReport
from compiler.types import DType, TensorType

RNG = np.random.default_rng(0)
FOLD_ONLY = "fuse-conv-bn-relu{fuse-activation=false}"


def _arr(*shape: int, dtype: type = np.float32) -> np.ndarray:
    return RNG.standard_normal(shape).astype(dtype)


def _bn(b: Builder, y: Value, c: int, dtype: type = np.float32) -> Value:
    params = [RNG.uniform(0.5, 1.5, c), RNG.standard_normal(c), RNG.standard_normal(c),
              RNG.uniform(0.5, 2.0, c)]  # fmt: skip
    return b.op("batch_normalization", y, *(b.const(p.astype(dtype)) for p in params))


def _graph(shape: tuple[int, ...], dtype: DType = DType.FLOAT32) -> tuple[Graph, Value, Builder]:
    g = Graph("m")
    return g, g.add_input("x", TensorType(dtype, shape)), g.builder()


def _optimize(g: Graph, pipeline: str = FOLD_ONLY) -> PassReport:
    return compiler.optimize(g, f"{pipeline},prune-dead-nodes", check_numerics=True)


def _rules(report: PassReport) -> dict[str, tuple[int, int, str | None]]:
    stats = report.records[0].rules
    return {k: (s.applied, s.refused, s.last_refusal) for k, s in stats.items()}


@pytest.mark.parametrize(
    ("group", "bias", "op"),
    [(1, False, "conv"), (2, True, "conv"), (1, True, "conv_transpose"),
     (2, False, "conv_transpose")],
)  # fmt: skip
def test_conv_and_conv_transpose_fold(group: int, bias: bool, op: str) -> None:
    g, x, b = _graph((2, 4, 5, 5))
    w = _arr(6, 4 // group, 3, 3) if op == "conv" else _arr(4, 6 // group, 3, 3)
    ins = [x, b.const(w)] + ([b.const(_arr(6))] if bias else [])
    g.outputs = [_bn(b, b.op(op, *ins, group=group, strides=(2, 2)), 6)]
    report = _optimize(g)
    assert g.op_histogram() == {"const": 2, op: 1}
    assert _rules(report)["fold-batch-norm"][:2] == (1, 0)


@pytest.mark.parametrize("trans_b", [0, 1])
@pytest.mark.parametrize("c_shape", [None, (), (3,), (1, 3), (2, 1), (2, 3)])
def test_gemm_fold(trans_b: int, c_shape: tuple[int, ...] | None) -> None:
    g, x, b = _graph((2, 5))
    w = b.const(_arr(3, 5) if trans_b else _arr(5, 3))
    ins = [x, w] + ([] if c_shape is None else [b.const(_arr(*c_shape))])
    g.outputs = [_bn(b, b.op("gemm", *ins, transB=trans_b, alpha=0.5, beta=2.0), 3)]
    _optimize(g)
    assert g.op_histogram() == {"const": 2, "gemm": 1}


def test_matmul_becomes_gemm() -> None:
    g, x, b = _graph((4, 5))
    g.outputs = [_bn(b, b.op("matmul", x, b.const(_arr(5, 3))), 3)]
    _optimize(g)
    assert g.op_histogram() == {"const": 2, "gemm": 1}


def test_float16_folds_within_tolerance() -> None:
    g, x, b = _graph((1, 3, 6, 6), DType.FLOAT16)
    y = b.op("conv", x, b.const(_arr(8, 3, 3, 3, dtype=np.float16)))
    g.outputs = [_bn(b, y, 8, np.float16)]
    _optimize(g)
    assert g.op_histogram() == {"const": 2, "conv": 1}
    assert all(n.outputs[0].type.dtype == DType.FLOAT16 for n in g.nodes)


def _refused(g: Graph, reason: str) -> None:
    before = g.op_histogram()
    report = _optimize(g)
    applied, refused, last = _rules(report)["fold-batch-norm"]
    assert (applied, refused) == (0, 1) and last is not None and reason in last
    assert g.op_histogram()["batch_normalization"] == before["batch_normalization"]


def test_refuses_when_the_conv_output_has_other_users() -> None:
    g, x, b = _graph((1, 3, 6, 6))
    y = b.op("conv", x, b.const(_arr(4, 3, 3, 3)))
    g.outputs = [_bn(b, y, 4), b.relu(y)]
    _refused(g, "the conv output has 1 other users")


def test_refuses_when_the_conv_output_is_a_graph_output() -> None:
    g, x, b = _graph((1, 3, 6, 6))
    y = b.op("conv", x, b.const(_arr(4, 3, 3, 3)))
    g.outputs = [_bn(b, y, 4), y]
    _refused(g, "the conv output is a graph output")


def test_refuses_a_weight_that_is_not_constant() -> None:
    g, x, b = _graph((1, 3, 6, 6))
    w = g.add_input("w", TensorType(DType.FLOAT32, (4, 3, 3, 3)))
    g.outputs = [_bn(b, b.op("conv", x, w), 4)]
    _refused(g, "the weight is not a constant")


def test_refuses_a_shared_weight() -> None:
    g, x, b = _graph((1, 4, 6, 6))
    w = b.const(_arr(4, 4, 1, 1))
    y = _bn(b, b.op("conv", x, w), 4)
    g.outputs = [b.op("conv", y, w)]
    _refused(g, "weight shared by 1 other node")


def test_refuses_bn_params_that_are_not_constant() -> None:
    g, x, b = _graph((1, 3, 6, 6))
    scale = g.add_input("s", TensorType(DType.FLOAT32, (4,)))
    y = b.op("conv", x, b.const(_arr(4, 3, 3, 3)))
    c = [b.const(_arr(4)) for _ in range(2)]
    var = b.const(np.ones(4, np.float32))
    g.outputs = [b.op("batch_normalization", y, scale, c[0], c[1], var)]
    _refused(g, "the BN scale is not a constant")


def test_refuses_a_matmul_whose_bn_axis_is_not_the_last() -> None:
    g, x, b = _graph((2, 3, 5))
    g.outputs = [_bn(b, b.op("matmul", x, b.const(_arr(5, 4))), 3)]
    _refused(g, "rank != 2")
