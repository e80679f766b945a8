"""Quantization ops: inference and kernels vs onnx.reference."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest
from onnx_node_ref import build, check_kernel, out_types

from compiler.errors import CompilerError
from compiler.types import DType, TensorType

F32, U8, I8, I32 = DType.FLOAT32, DType.UINT8, DType.INT8, DType.INT32
RNG = np.random.default_rng(3)

ZP_TYPES = [np.uint8, np.int8, np.uint16, np.int16, ml_dtypes.int4, ml_dtypes.uint4]


def _x(shape: tuple[int, ...] = (2, 3, 4)) -> np.ndarray:
    x = RNG.uniform(-40, 40, size=shape).astype(np.float32)
    x.flat[:4] = [0.5, 1.5, -2.5, 1e5]  # ties round to even; saturation
    return x


@pytest.mark.parametrize("zp_type", ZP_TYPES)
def test_quantize_per_tensor(zp_type: type) -> None:
    zp = np.array(3, zp_type)
    check_kernel("quantize_linear", "QuantizeLinear", [_x(), np.array(1.0, np.float32), zp])
    scale = np.array(0.7, np.float32)
    check_kernel("quantize_linear", "QuantizeLinear", [_x(), scale, zp])


def test_quantize_default_uint8_and_output_dtype() -> None:
    scale = np.array(0.5, np.float32)
    (got,) = check_kernel("quantize_linear", "QuantizeLinear", [_x(), scale])
    assert got.dtype == np.uint8
    attrs = {"output_dtype": I8}
    (got,) = check_kernel("quantize_linear", "QuantizeLinear", [_x(), scale], attrs)
    assert got.dtype == np.int8


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_quantize_dequantize_per_axis(axis: int) -> None:
    x = _x()
    n = x.shape[axis]
    scale = RNG.uniform(0.1, 1, size=n).astype(np.float32)
    zp = RNG.integers(-5, 5, size=n).astype(np.int8)
    attrs = {"axis": axis}
    (q,) = check_kernel("quantize_linear", "QuantizeLinear", [x, scale, zp], attrs)
    check_kernel("dequantize_linear", "DequantizeLinear", [q, scale, zp], attrs)


@pytest.mark.parametrize("block", [2, 3])
def test_quantize_dequantize_blocked(block: int) -> None:
    x = _x((4, 5))
    nb = -(-5 // block)
    scale = RNG.uniform(0.1, 1, size=(4, nb)).astype(np.float32)
    zp = RNG.integers(0, 9, size=(4, nb)).astype(np.uint8)
    attrs = {"axis": 1, "block_size": block}
    (q,) = check_kernel("quantize_linear", "QuantizeLinear", [x, scale, zp], attrs)
    check_kernel("dequantize_linear", "DequantizeLinear", [q, scale, zp], attrs)
    types = [TensorType(F32, ("n", 5)), TensorType(F32, ("n", nb)), TensorType(U8, ("n", nb))]
    assert out_types("quantize_linear", types, **attrs) == [(U8, ("n", 5))]
    with pytest.raises(CompilerError, match="block"):
        build("quantize_linear", [TensorType(F32, (4, 5)), TensorType(F32, (4, 5))], attrs)


@pytest.mark.parametrize("to", [DType.FLOAT8E4M3FN, DType.FLOAT8E5M2])
@pytest.mark.parametrize("saturate", [0, 1])
def test_quantize_float8(to: DType, saturate: int) -> None:
    x = _x()
    attrs = {"output_dtype": to, "saturate": saturate}
    (q,) = check_kernel("quantize_linear", "QuantizeLinear", [x, np.array(2.0, np.float32)], attrs)
    check_kernel("dequantize_linear", "DequantizeLinear", [q, np.array(2.0, np.float32)])


@pytest.mark.parametrize("x_type", ZP_TYPES + [np.int32])
@pytest.mark.parametrize("out", [None, DType.FLOAT16])
def test_dequantize_kernel(x_type: type, out: DType | None) -> None:
    info = ml_dtypes.iinfo(x_type)
    x = RNG.integers(int(info.min), int(info.max) + 1, size=(3, 4)).astype(x_type)
    zp = None if x_type is np.int32 else np.array(1, x_type)
    inputs = [x, np.array(0.25, np.float32)] + ([] if zp is None else [zp])
    attrs = {} if out is None else {"output_dtype": out}
    check_kernel("dequantize_linear", "DequantizeLinear", inputs, attrs)


def test_quant_types() -> None:
    x = TensorType(F32, ("n", 3, 4))
    per_axis = [x, TensorType(F32, (3,)), TensorType(I8, (3,))]
    assert out_types("quantize_linear", per_axis) == [(I8, ("n", 3, 4))]
    deq = [TensorType(I8, ("n", 3)), TensorType(DType.FLOAT16, ())]
    assert out_types("dequantize_linear", deq) == [(DType.FLOAT16, ("n", 3))]
    assert out_types("dequantize_linear", deq, output_dtype=F32) == [(F32, ("n", 3))]
    with pytest.raises(CompilerError, match="per-axis"):
        build("quantize_linear", [x, TensorType(F32, (4,))])
    with pytest.raises(CompilerError, match="output_dtype"):
        build("quantize_linear", [x, TensorType(F32, ()), TensorType(I8, ())], {"output_dtype": U8})
    _, node = build("quantize_linear", [x, TensorType(F32, ())])
    assert node.attrs == {"axis": 1, "block_size": 0, "saturate": 1}


def test_dynamic_quantize() -> None:
    x = RNG.uniform(-3, 5, size=(3, 4)).astype(np.float32)
    check_kernel("dynamic_quantize_linear", "DynamicQuantizeLinear", [x], num_outputs=3)
    check_kernel("dynamic_quantize_linear", "DynamicQuantizeLinear", [np.abs(x)], num_outputs=3)
    _, node = build("dynamic_quantize_linear", [TensorType(F32, ("n", 4))], num_outputs=3)
    types = [v.type for v in node.outputs]
    assert types == [TensorType(U8, ("n", 4)), TensorType(F32, ()), TensorType(U8, ())]


def _ints(shape: tuple[int, ...], dtype: type) -> np.ndarray:
    info = np.iinfo(dtype)
    return RNG.integers(info.min, info.max + 1, size=shape).astype(dtype)


@pytest.mark.parametrize(
    "a_type,b_type", [(np.uint8, np.int8), (np.int8, np.int8), (np.uint8, np.uint8)]
)
@pytest.mark.parametrize("shapes", [((3, 4), (4, 5)), ((2, 3, 4), (4, 5)), ((4,), (2, 4, 3))])
def test_matmul_integer(a_type: type, b_type: type, shapes: tuple) -> None:
    a, b = _ints(shapes[0], a_type), _ints(shapes[1], b_type)
    check_kernel("matmul_integer", "MatMulInteger", [a, b])
    zps = [np.array(7, a_type), np.array(-3 if b_type is np.int8 else 3, b_type)]
    check_kernel("matmul_integer", "MatMulInteger", [a, b, *zps])
    check_kernel("matmul_integer", "MatMulInteger", [a, b, None, zps[1]])


def test_matmul_types() -> None:
    a, b = TensorType(U8, ("n", 3, 4)), TensorType(I8, (4, 5))
    assert out_types("matmul_integer", [a, b]) == [(I32, ("n", 3, 5))]
    with pytest.raises(CompilerError, match="inner"):
        build("matmul_integer", [a, TensorType(I8, (3, 5))])
    s, zu, zi = TensorType(F32, ()), TensorType(U8, ()), TensorType(I8, ())
    types = [a, s, zu, b, s, zi, s, zi]
    assert out_types("qlinear_matmul", types) == [(I8, ("n", 3, 5))]


@pytest.mark.parametrize("y_type", [np.uint8, np.int8])
@pytest.mark.parametrize("per_column", [False, True])
def test_qlinear_matmul(y_type: type, per_column: bool) -> None:
    a, b = _ints((2, 3, 8), np.uint8), _ints((8, 5), np.int8)
    b_scale = np.array(0.02, np.float32)
    b_zp = np.array(1, np.int8)
    if per_column:
        b_scale = RNG.uniform(0.01, 0.03, size=5).astype(np.float32)
        b_zp = RNG.integers(-3, 3, size=5).astype(np.int8)
    inputs = [a, np.array(0.05, np.float32), np.array(128, np.uint8), b, b_scale, b_zp,
              np.array(0.9, np.float32), np.array(5, y_type)]  # fmt: skip
    check_kernel("qlinear_matmul", "QLinearMatMul", inputs)


CONV_CASES = [
    ({}, (1, 4, 6, 6), (6, 4, 3, 3)),
    ({"strides": (2, 2), "pads": (1, 1, 1, 1)}, (2, 4, 7, 7), (6, 4, 3, 3)),
    ({"group": 2, "dilations": (2, 1)}, (1, 4, 8, 8), (6, 2, 2, 3)),
    ({"auto_pad": "SAME_UPPER", "strides": (2, 2)}, (1, 3, 7, 6), (4, 3, 3, 3)),
    ({"pads": (1, 2)}, (1, 2, 9), (3, 2, 4)),
]  # fmt: skip


@pytest.mark.parametrize("attrs,x_shape,w_shape", CONV_CASES)
def test_conv_integer(attrs: dict, x_shape: tuple, w_shape: tuple) -> None:
    x, w = _ints(x_shape, np.uint8), _ints(w_shape, np.uint8)
    check_kernel("conv_integer", "ConvInteger", [x, w], attrs)
    zps = [np.array(100, np.uint8), np.array(30, np.uint8)]
    check_kernel("conv_integer", "ConvInteger", [x, w, *zps], attrs)


@pytest.mark.parametrize("attrs,x_shape,w_shape", CONV_CASES)
@pytest.mark.parametrize("per_channel", [False, True])
def test_qlinear_conv(attrs: dict, x_shape: tuple, w_shape: tuple, per_channel: bool) -> None:
    x, w = _ints(x_shape, np.uint8), _ints(w_shape, np.int8)
    m = w_shape[0]
    w_scale = np.array(0.01, np.float32)
    if per_channel and len(x_shape) == 4:  # onnx.reference handles per-channel only for 2-D
        w_scale = RNG.uniform(0.005, 0.02, size=m).astype(np.float32)
    bias = RNG.integers(-500, 500, size=m).astype(np.int32)
    x_params = [np.array(0.03, np.float32), np.array(120, np.uint8)]
    y_params = [np.array(0.2, np.float32), np.array(10, np.uint8)]
    inputs = [x, *x_params, w, w_scale, np.array(0, np.int8), *y_params, bias]
    check_kernel("qlinear_conv", "QLinearConv", inputs, attrs)


def test_conv_types() -> None:
    x, w = TensorType(U8, ("n", 4, 8, 8)), TensorType(I8, (6, 4, 3, 3))
    _, node = build("conv_integer", [x, w], {"strides": (2, 2)})
    assert node.output.type == TensorType(I32, ("n", 6, 3, 3))
    assert node.attrs["kernel_shape"] == (3, 3) and node.attrs["pads"] == (0, 0, 0, 0)
    s = TensorType(F32, ())
    types = [x, s, TensorType(U8, ()), w, s, TensorType(I8, ()), s, TensorType(U8, ())]
    assert out_types("qlinear_conv", types) == [(U8, ("n", 6, 6, 6))]
    with pytest.raises(CompilerError, match="channels"):
        build("conv_integer", [x, TensorType(I8, (6, 3, 3, 3))])
