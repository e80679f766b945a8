"""Activation ops: inference and kernels vs onnx.reference."""

from __future__ import annotations

import numpy as np
import pytest
from onnx_node_ref import build, check_kernel, out_types

from compiler.errors import CompilerError
from compiler.types import DType, TensorType

F32 = DType.FLOAT32
RNG = np.random.default_rng(1)


def rand(
    shape: tuple[int, ...], dtype: str = "float32", lo: float = -4, hi: float = 4
) -> np.ndarray:
    if np.dtype(dtype).kind in "iu":
        return RNG.integers(lo, hi, size=shape).astype(dtype)
    return RNG.uniform(lo, hi, size=shape).astype(dtype)


# (op, ONNX type, attrs)
UNARY = [
    ("relu", "Relu", {}),
    ("leaky_relu", "LeakyRelu", {}),
    ("leaky_relu", "LeakyRelu", {"alpha": 0.2}),
    ("sigmoid", "Sigmoid", {}),
    ("hard_sigmoid", "HardSigmoid", {}),
    ("hard_sigmoid", "HardSigmoid", {"alpha": 0.3, "beta": 0.4}),
    ("hard_swish", "HardSwish", {}),
    ("tanh", "Tanh", {}),
    ("elu", "Elu", {}),
    ("elu", "Elu", {"alpha": 0.5}),
    ("selu", "Selu", {}),
    ("celu", "Celu", {}),
    ("celu", "Celu", {"alpha": 2.0}),
    ("softplus", "Softplus", {}),
    ("softsign", "Softsign", {}),
    ("gelu", "Gelu", {}),
    ("gelu", "Gelu", {"approximate": "tanh"}),
    ("mish", "Mish", {}),
    ("thresholded_relu", "ThresholdedRelu", {}),
    ("thresholded_relu", "ThresholdedRelu", {"alpha": 0.5}),
    ("shrink", "Shrink", {}),
    ("shrink", "Shrink", {"bias": 0.5, "lambd": 1.5}),
]


@pytest.mark.parametrize("op,onnx_type,attrs", UNARY)
@pytest.mark.parametrize("dtype", ["float32", "float64", "float16"])
def test_unary_kernels(op: str, onnx_type: str, attrs: dict, dtype: str) -> None:
    tol = {"float32": 2e-6, "float64": 1e-6, "float16": 2e-3}[dtype]
    check_kernel(op, onnx_type, [rand((3, 17), dtype)], attrs, rtol=tol, atol=tol)


@pytest.mark.parametrize("op", sorted({u[0] for u in UNARY}))
def test_unary_types(op: str) -> None:
    assert out_types(op, [TensorType(F32, ("n", 3, "w"))]) == [(F32, ("n", 3, "w"))]


def test_relu_int_and_shrink_int() -> None:
    check_kernel("relu", "Relu", [rand((5, 4), "int32", -9, 9)])
    check_kernel("shrink", "Shrink", [rand((5, 4), "int32", -9, 9)], {"lambd": 2.0, "bias": 1.0})
    with pytest.raises(CompilerError, match="element type"):
        build("sigmoid", [TensorType(DType.INT32, (3,))])


def test_gelu_bad_approximate() -> None:
    with pytest.raises(CompilerError, match="approximate"):
        build("gelu", [TensorType(F32, (3,))], {"approximate": "erf"})


@pytest.mark.parametrize("slope_shape", [(), (1,), (4,), (3, 1), (1, 3, 4)])
def test_prelu(slope_shape: tuple[int, ...]) -> None:
    check_kernel("prelu", "PRelu", [rand((2, 3, 4)), rand(slope_shape, lo=0, hi=1)])
    x = TensorType(F32, ("n", 3, 4))
    assert out_types("prelu", [x, TensorType(F32, slope_shape)]) == [(F32, ("n", 3, 4))]


def test_prelu_slope_must_broadcast_to_x() -> None:
    with pytest.raises(CompilerError):
        build("prelu", [TensorType(F32, (3,)), TensorType(F32, (2, 3))])
    with pytest.raises(CompilerError):
        build("prelu", [TensorType(F32, (3, 4)), TensorType(F32, (3,))])


@pytest.mark.parametrize(
    "bounds", [(None, None), (-1.0, None), (None, 1.0), (-1.0, 1.0), (1.0, -1.0)]
)
@pytest.mark.parametrize("dtype", ["float32", "int32"])
def test_clip(bounds: tuple[float | None, float | None], dtype: str) -> None:
    x = rand((3, 4), dtype, -3, 3)
    lo, hi = (None if b is None else np.array(b, dtype) for b in bounds)
    inputs = [x, lo, hi] if hi is not None else ([x, lo] if lo is not None else [x])
    check_kernel("clip", "Clip", inputs)
    types = [TensorType(DType.from_numpy(x.dtype), ("n", 4))]
    types += [None if a is None else TensorType(types[0].dtype, ()) for a in inputs[1:]]
    assert out_types("clip", types) == [(types[0].dtype, ("n", 4))]


def test_clip_bound_must_be_scalar() -> None:
    with pytest.raises(CompilerError, match="scalar"):
        build("clip", [TensorType(F32, (3,)), TensorType(F32, (3,))])


@pytest.mark.parametrize("op,onnx_type", [("softmax", "Softmax"), ("log_softmax", "LogSoftmax"),
                                          ("hardmax", "Hardmax")])  # fmt: skip
@pytest.mark.parametrize("axis", [-1, 0, 1, 2])
def test_softmax_family(op: str, onnx_type: str, axis: int) -> None:
    x = rand((2, 3, 5))
    if op == "hardmax":
        x = np.round(x)  # ties: the first maximum wins
    check_kernel(op, onnx_type, [x], {"axis": axis}, rtol=1e-6, atol=1e-7)
    assert out_types(op, [TensorType(F32, ("n", 3, 5))], axis=axis) == [(F32, ("n", 3, 5))]


def test_softmax_defaults_and_bad_axis() -> None:
    _, node = build("softmax", [TensorType(F32, (2, 3))])
    assert node.attrs == {"axis": -1}
    with pytest.raises(CompilerError, match="axis"):
        build("softmax", [TensorType(F32, (2, 3))], {"axis": 2})
