"""`quantize-symmetric`: exact arithmetic (half-to-even, saturation, α = 0, 4-bit), the
output-channel axis of every layer kind, and the pass contract (verify, idempotence, errors)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import compiler
from backends.numpy import run
from compiler.errors import PassError
from compiler.graph import Graph
from compiler.ir import Node
from compiler.ops.quant import quantize as quantize_linear_kernel
from compiler.types import DType, TensorType
from passes.quantize_symmetric import quantize_symmetric, symmetric_scale

RNG = np.random.default_rng(0)


def _layer(op: str, w: np.ndarray, x_shape: tuple[int, ...], **attrs: object) -> Graph:
    g = Graph("m")
    x = g.add_input("x", TensorType(DType.FLOAT32, x_shape))
    b = g.builder()
    g.outputs = [b.op(op, x, b.const(w, "w"), **attrs)]
    return g


def _dq(g: Graph) -> Node:
    (node,) = [n for n in g.nodes if n.op == "dequantize_linear"]
    return node


def _parts(g: Graph) -> tuple[np.ndarray, np.ndarray, int]:
    node = _dq(g)
    q, scale = (np.asarray(v.const_value()) for v in node.inputs[:2] if v is not None)
    return q, scale, int(node.attrs["axis"])


def test_round_half_to_even_golden() -> None:
    # max|W| = 127/16 -> α = 1/16 exactly; k.5 multiples of α round to the even integer
    halves = np.array([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 126.5, 127.0], np.float32)
    w = (halves / 16).reshape(1, 8).astype(np.float32)
    g = _layer("matmul", w.T.copy(), (2, 8))
    compiler.optimize(g, "quantize-symmetric{per-channel=false}")
    q, scale, _ = _parts(g)
    assert scale == np.float32(1 / 16) and q.dtype == np.int8
    assert q.T.tolist() == [[0, 2, 2, 0, -2, -2, 126, 127]]


def test_saturation_and_zero_channel() -> None:
    w = np.zeros((3, 2, 1, 1), np.float32)
    w[0] = [[[1.0]], [[-1.0]]]
    w[2] = [[[np.float32(3e-3)]], [[-np.float32(1.27)]]]
    g = _layer("conv", w, (1, 2, 4, 4))
    compiler.optimize(g, "quantize-symmetric")
    q, scale, axis = _parts(g)
    assert axis == 0 and scale.tolist() == [np.float32(1 / 127), 1.0, np.float32(0.01)]
    assert q[:, :, 0, 0].tolist() == [[127, -127], [0, 0], [0, -127]]
    assert np.abs(q).max() <= 127  # -128 is never used


def test_four_bit_golden() -> None:
    w = np.array([[0.875, 0.0625, 0.1875, -0.875, -0.4375]], np.float32)  # α = 1/8
    g = _layer("gemm", w, (2, 5), transB=1)
    compiler.optimize(g, "quantize-symmetric{bits=4}")
    q, scale, axis = _parts(g)
    assert axis == 0 and scale.tolist() == [0.125] and q.dtype == DType.INT4.to_numpy()
    assert q.astype(np.int8).tolist() == [[7, 0, 2, -7, -4]]  # 0.5 -> 0, 1.5 -> 2, -3.5 -> -4


@pytest.mark.parametrize(
    ("op", "w_shape", "x_shape", "attrs", "axis"),
    [
        ("conv", (6, 2, 3, 3), (1, 4, 6, 6), {"group": 2}, 0),
        ("conv_transpose", (4, 3, 3, 3), (1, 4, 5, 5), {}, 1),
        ("conv_transpose", (4, 3, 2, 2), (1, 4, 5, 5), {"group": 2}, 1),
        ("gemm", (5, 7), (2, 5), {}, 1),
        ("gemm", (7, 5), (2, 5), {"transB": 1}, 0),
        ("matmul", (5, 7), (2, 3, 5), {}, 1),
        ("matmul", (2, 5, 7), (2, 3, 5), {}, 2),
    ],
)  # fmt: skip
def test_output_channel_axis(
    op: str, w_shape: tuple[int, ...], x_shape: tuple[int, ...], attrs: dict, axis: int
) -> None:
    w = (RNG.standard_normal(w_shape) * RNG.uniform(0.01, 10, w_shape[axis]).reshape(
        [-1 if i == axis else 1 for i in range(len(w_shape))])).astype(np.float32)  # fmt: skip
    g = _layer(op, w, x_shape, **attrs)
    x = RNG.standard_normal(x_shape).astype(np.float32)
    compiler.optimize(g, "quantize-symmetric", check_numerics=True)
    q, scale, got_axis = _parts(g)
    others = tuple(i for i in range(w.ndim) if i != axis)
    assert got_axis == axis and scale.shape == (w_shape[axis],)
    np.testing.assert_array_equal(scale, (np.abs(w).max(axis=others) / np.float32(127)))
    ref = run(_layer(op, _dequantized(q, scale, axis), x_shape, **attrs), {"x": x}).values[0]
    np.testing.assert_array_equal(run(g, {"x": x}).values[0], ref)


def _dequantized(q: np.ndarray, scale: np.ndarray, axis: int) -> np.ndarray:
    shape = [-1 if i == axis else 1 for i in range(q.ndim)]
    return (q.astype(np.float32) * scale.reshape(shape)).astype(np.float32)


finite = st.floats(-1e4, 1e4, width=32, allow_subnormal=False)
shapes = hnp.array_shapes(min_dims=2, max_dims=4, max_side=6)
weights = hnp.arrays(np.float32, shapes, elements=finite)


@given(weights, st.sampled_from([8, 4]), st.booleans())
def test_error_bound_and_quantize_linear_equivalence(w: np.ndarray, bits: int, per: bool) -> None:
    axis = 0 if per else None
    scale = symmetric_scale(w, axis, bits)
    q = quantize_symmetric(w, scale, axis, bits).astype(np.int8)
    shaped = scale.reshape([-1] + [1] * (w.ndim - 1)) if per else scale
    qmax = (1 << (bits - 1)) - 1
    assert np.abs(q).max(initial=0) <= qmax
    # the same integers ONNX QuantizeLinear (our reference kernel) gives with this scale
    kernel = quantize_linear_kernel(w, shaped, None, DType.INT8, True)
    np.testing.assert_array_equal(q, kernel)
    w_q = q.astype(np.float32) * shaped.astype(np.float32)
    err = np.abs(w.astype(np.float64) - w_q.astype(np.float64))
    bound = shaped.astype(np.float64) / 2 * (1 + 2.0**-16) + np.spacing(np.abs(w_q))
    assert np.all(err <= bound)


def test_pass_contract() -> None:
    w = RNG.standard_normal((4, 3, 3, 3)).astype(np.float32)
    g = _layer("conv", w, (1, 3, 8, 8))
    report = compiler.optimize(g, "quantize-symmetric,quantize-symmetric", check_numerics=True)
    assert [r.changed for r in report.records] == [True, False]
    assert g.op_histogram() == {"const": 3, "dequantize_linear": 1, "conv": 1}  # float w erased
    skipped = _layer("conv", w, (1, 3, 8, 8))
    name = skipped.outputs[0].name or "0"
    compiler.optimize(skipped, f"quantize-symmetric{{skip={name}}}")
    assert "dequantize_linear" not in skipped.op_histogram()


def test_refusals() -> None:
    w = np.ones((2, 3, 1, 1), np.float32)
    w[1, 0, 0, 0] = np.nan
    with pytest.raises(PassError, match="NaN or inf"):
        compiler.optimize(_layer("conv", w, (1, 3, 2, 2)), "quantize-symmetric")
    with pytest.raises(PassError, match="bits must be 8 or 4"):
        compiler.optimize(_layer("conv", w, (1, 3, 2, 2)), "quantize-symmetric{bits=3}")
