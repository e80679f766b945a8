"""Reduce*, ArgMax/ArgMin, TopK and CumSum: inference and kernels vs onnx.reference."""

from __future__ import annotations

import numpy as np
import pytest
from onnx_node_ref import build, check_kernel, out_types

from compiler.errors import CompilerError
from compiler.types import DType, TensorType

F32, I64 = DType.FLOAT32, DType.INT64
RNG = np.random.default_rng(2)

REDUCE = [
    ("reduce_sum", "ReduceSum"), ("reduce_mean", "ReduceMean"), ("reduce_max", "ReduceMax"),
    ("reduce_min", "ReduceMin"), ("reduce_prod", "ReduceProd"), ("reduce_l1", "ReduceL1"),
    ("reduce_l2", "ReduceL2"), ("reduce_log_sum", "ReduceLogSum"),
    ("reduce_log_sum_exp", "ReduceLogSumExp"), ("reduce_sum_square", "ReduceSumSquare"),
]  # fmt: skip
AXES = [None, [], [1], [-1, 0], [0, 1, 2]]


def _axes(axes: list[int] | None) -> np.ndarray | None:
    return None if axes is None else np.array(axes, np.int64)


@pytest.mark.parametrize("op,onnx_type", REDUCE)
@pytest.mark.parametrize("axes", AXES)
@pytest.mark.parametrize("keepdims", [0, 1])
@pytest.mark.parametrize("noop", [0, 1])
def test_reduce_kernels(
    op: str, onnx_type: str, axes: list | None, keepdims: int, noop: int
) -> None:
    x = RNG.uniform(0.5, 2, size=(2, 3, 4)).astype(np.float32)
    attrs = {"keepdims": keepdims, "noop_with_empty_axes": noop}
    inputs = [x] if axes is None else [x, _axes(axes)]
    check_kernel(op, onnx_type, inputs, attrs, rtol=1e-6, const_inputs=[1])


@pytest.mark.parametrize("op,onnx_type", [r for r in REDUCE if "log" not in r[0]])
def test_reduce_int_kernels(op: str, onnx_type: str) -> None:
    x = RNG.integers(-5, 6, size=(3, 4)).astype(np.int64)
    check_kernel(op, onnx_type, [x, _axes([1])], const_inputs=[1])


@pytest.mark.parametrize("op", [r[0] for r in REDUCE])
def test_reduce_types(op: str) -> None:
    x = TensorType(F32, ("n", 3, 4))
    assert out_types(op, [x, np.array([1], np.int64)]) == [(F32, ("n", 1, 4))]
    assert out_types(op, [x, np.array([-1], np.int64)], keepdims=0) == [(F32, ("n", 3))]
    assert out_types(op, [x]) == [(F32, (1, 1, 1))]
    assert out_types(op, [x], keepdims=0) == [(F32, ())]
    assert out_types(op, [x, np.zeros(0, np.int64)], noop_with_empty_axes=1) == [(F32, ("n", 3, 4))]


def test_reduce_dynamic_axes() -> None:
    x, axes = TensorType(F32, ("n", 3)), TensorType(I64, (1,))
    out = TensorType(F32, ("n", 1))
    _, node = build("reduce_sum", [x, axes], output_types=[out])
    assert node.output.type == out
    # keepdims=0: the rank drops by the axes vector's static length; every dim is data-dependent
    m = TensorType(F32, ("m",))
    _, node = build("reduce_sum", [x, axes], {"keepdims": 0}, output_types=[m])
    assert node.output.type.shape == ("m",)
    with pytest.raises(CompilerError):
        build("reduce_sum", [x, axes], {"keepdims": 0}, output_types=[out])
    with pytest.raises(CompilerError, match="static length"):
        build("reduce_sum", [x, TensorType(I64, ("k",))], {"keepdims": 0})
    with pytest.raises(CompilerError, match="axes"):
        build("reduce_sum", [x, TensorType(I64, (3,))], {"keepdims": 0})
    with pytest.raises(CompilerError, match="axis"):
        build("reduce_mean", [x, np.array([2], np.int64)])


def test_reduce_attrs_canonical() -> None:
    _, node = build("reduce_mean", [TensorType(F32, (2, 3))])
    assert node.attrs == {"keepdims": 1, "noop_with_empty_axes": 0}


@pytest.mark.parametrize("op,onnx_type", [("argmax", "ArgMax"), ("argmin", "ArgMin")])
@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize("keepdims", [0, 1])
@pytest.mark.parametrize("last", [0, 1])
def test_arg_kernels(op: str, onnx_type: str, axis: int, keepdims: int, last: int) -> None:
    x = RNG.integers(0, 3, size=(3, 4, 5)).astype(np.float32)  # many ties
    attrs = {"axis": axis, "keepdims": keepdims, "select_last_index": last}
    check_kernel(op, onnx_type, [x], attrs)


def test_arg_types() -> None:
    x = TensorType(F32, ("n", 3, 4))
    assert out_types("argmax", [x], axis=1) == [(I64, ("n", 1, 4))]
    assert out_types("argmin", [x], axis=-1, keepdims=0) == [(I64, ("n", 3))]


@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize("largest", [0, 1])
@pytest.mark.parametrize("dtype", ["float32", "int64"])
def test_topk_kernel(axis: int, largest: int, dtype: str) -> None:
    x = RNG.integers(0, 4, size=(3, 4, 5)).astype(dtype)  # many ties
    k = np.array([3], np.int64)
    attrs = {"axis": axis, "largest": largest}
    check_kernel("topk", "TopK", [x, k], attrs, num_outputs=2, const_inputs=[1])


def test_topk_types() -> None:
    x = TensorType(F32, ("n", 10))
    _, node = build("topk", [x, np.array([3], np.int64)], num_outputs=2)
    assert [v.type for v in node.outputs] == [TensorType(F32, ("n", 3)), TensorType(I64, ("n", 3))]
    dyn = [TensorType(F32, ("n", "k")), TensorType(I64, ("n", "k"))]
    _, node = build("topk", [x, TensorType(I64, (1,))], num_outputs=2, output_types=dyn)
    with pytest.raises(CompilerError, match="out of range"):
        build("topk", [x, np.array([11], np.int64)], num_outputs=2)


@pytest.mark.parametrize("exclusive", [0, 1])
@pytest.mark.parametrize("reverse", [0, 1])
@pytest.mark.parametrize("axis", [0, -1])
@pytest.mark.parametrize("dtype", ["float32", "int32", "int64"])
def test_cumsum_kernel(exclusive: int, reverse: int, axis: int, dtype: str) -> None:
    x = RNG.integers(-9, 9, size=(3, 4)).astype(dtype)
    attrs = {"exclusive": exclusive, "reverse": reverse}
    check_kernel("cumsum", "CumSum", [x, np.array(axis, np.int64)], attrs)


def test_cumsum_types() -> None:
    x = TensorType(F32, ("n", 4))
    assert out_types("cumsum", [x, TensorType(I64, ())]) == [(F32, ("n", 4))]
    with pytest.raises(CompilerError, match="axis"):
        build("cumsum", [x, np.array(2, np.int64)])
