"""Elementwise, logic, cast and identity ops: inference and kernels vs onnx.reference."""

from __future__ import annotations

import numpy as np
import pytest
from onnx_node_ref import build, check_kernel, out_types

from compiler.errors import CompilerError
from compiler.types import DType, TensorType

F32, I64 = DType.FLOAT32, DType.INT64
RNG = np.random.default_rng(0)


def rand(
    shape: tuple[int, ...], dtype: str = "float32", lo: float = -3, hi: float = 3
) -> np.ndarray:
    if np.dtype(dtype).kind in "iu":
        return RNG.integers(lo, hi, size=shape).astype(dtype)
    if np.dtype(dtype).kind == "b":
        return RNG.random(shape) > 0.5
    return RNG.uniform(lo, hi, size=shape).astype(dtype)


BINARY = [("add", "Add"), ("sub", "Sub"), ("mul", "Mul"), ("div", "Div")]


@pytest.mark.parametrize("op,onnx_type", BINARY)
@pytest.mark.parametrize("dtype", ["float32", "float16", "int32", "int64", "uint8"])
def test_arith_kernels(op: str, onnx_type: str, dtype: str) -> None:
    a = rand((2, 3, 4), dtype, -20 if dtype[0] == "i" else 0, 20)
    b = rand((3, 1), dtype, 1, 7)
    if dtype[0] == "i":
        b = b * np.where(rand((3, 1), "int32", 0, 2) > 0, 1, -1).astype(dtype)
    check_kernel(op, onnx_type, [a, b])


def test_int_div_truncates_toward_zero() -> None:
    a = np.array([7, -7, 7, -7], np.int32)
    b = np.array([2, 2, -2, -2], np.int32)
    (got,) = check_kernel("div", "Div", [a, b])
    assert got.tolist() == [3, -3, -3, 3]


@pytest.mark.parametrize("op", ["add", "sub", "mul", "div", "pow", "max", "equal", "and"])
def test_binary_broadcast_symbolic(op: str) -> None:
    dtype = DType.BOOL if op == "and" else F32
    a = TensorType(dtype, ("n", 1, 4))
    b = TensorType(dtype, (3, 1))
    want = DType.BOOL if op in ("equal", "and") else dtype
    assert out_types(op, [a, b]) == [(want, ("n", 3, 4))]
    assert out_types(op, [TensorType(dtype, ("n", 5)), TensorType(dtype, ("n", 1))]) == [
        (want, ("n", 5))
    ]


def test_broadcast_mismatch_fails() -> None:
    with pytest.raises(CompilerError, match="broadcast"):
        build("add", [TensorType(F32, (3,)), TensorType(F32, (4,))])
    with pytest.raises(CompilerError, match="element type"):
        build("add", [TensorType(F32, (3,)), TensorType(I64, (3,))])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_pow_kernel(dtype: str) -> None:
    x = rand((2, 3), dtype, 0.1, 3)
    check_kernel("pow", "Pow", [x, rand((3,), dtype, -2, 2)])
    check_kernel("pow", "Pow", [x, rand((3,), "int64", 0, 4)])
    check_kernel("pow", "Pow", [rand((4,), "int32", -5, 5), rand((4,), "int32", 0, 4)])


@pytest.mark.parametrize("fmod", [0, 1])
@pytest.mark.parametrize("dtype", ["int32", "int64", "int8", "float16", "float32", "float64"])
def test_mod_kernel(fmod: int, dtype: str) -> None:
    a = rand((3, 4), dtype, -20, 20)
    b = rand((4,), dtype, 1, 6) * np.array([1, -1, 1, -1], dtype)
    check_kernel("mod", "Mod", [a, b], {"fmod": fmod})


def test_mod_float_fmod_0_signs_follow_divisor() -> None:
    a = np.array([-4.5, 4.5, -0.0, 0.0, np.inf, 3.0], np.float32)
    b = np.array([2.0, -2.0, 3.0, -3.0, 2.0, np.inf], np.float32)
    check_kernel("mod", "Mod", [a, b], {"fmod": 0})


def test_mod_rejects_bad_fmod() -> None:
    with pytest.raises(CompilerError, match="fmod"):
        build("mod", [TensorType(F32, (2,)), TensorType(F32, (2,))], {"fmod": 2})


UNARY = [
    ("sqrt", "Sqrt", 0.1, 4), ("reciprocal", "Reciprocal", 0.5, 3), ("exp", "Exp", -3, 3),
    ("log", "Log", 0.1, 4), ("neg", "Neg", -3, 3), ("abs", "Abs", -3, 3),
    ("floor", "Floor", -3, 3), ("ceil", "Ceil", -3, 3), ("round", "Round", -3, 3),
    ("sign", "Sign", -3, 3), ("sin", "Sin", -3, 3), ("cos", "Cos", -3, 3), ("tan", "Tan", -1, 1),
    ("asin", "Asin", -0.99, 0.99), ("acos", "Acos", -0.99, 0.99), ("atan", "Atan", -3, 3),
    ("sinh", "Sinh", -3, 3), ("cosh", "Cosh", -3, 3), ("erf", "Erf", -3, 3),
]  # fmt: skip


@pytest.mark.parametrize("op,onnx_type,lo,hi", UNARY)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_unary_kernels(op: str, onnx_type: str, lo: float, hi: float, dtype: str) -> None:
    # onnx.reference evaluates Erf in float32 even for float64 inputs.
    rtol = 1e-6 if op == "erf" and dtype == "float64" else 0.0
    check_kernel(op, onnx_type, [rand((3, 5), dtype, lo, hi)], rtol=rtol)


@pytest.mark.parametrize("op", [u[0] for u in UNARY])
def test_unary_symbolic(op: str) -> None:
    assert out_types(op, [TensorType(F32, ("b", 7))]) == [(F32, ("b", 7))]


def test_round_half_to_even() -> None:
    x = np.array([0.5, 1.5, 2.5, -0.5, -1.5, 2.4], np.float32)
    (got,) = check_kernel("round", "Round", [x])
    assert got.tolist() == [0, 2, 2, -0, -2, 2]


@pytest.mark.parametrize("op,onnx_type", [("abs", "Abs"), ("neg", "Neg"), ("sign", "Sign")])
def test_unary_int_kernels(op: str, onnx_type: str) -> None:
    check_kernel(op, onnx_type, [rand((4, 3), "int32", -9, 9)])


def test_unary_rejects_ints() -> None:
    with pytest.raises(CompilerError, match="element type"):
        build("sqrt", [TensorType(I64, (2,))])


@pytest.mark.parametrize("op,onnx_type", [("max", "Max"), ("min", "Min"), ("sum", "Sum"),
                                          ("mean", "Mean")])  # fmt: skip
@pytest.mark.parametrize("n", [1, 2, 3])
def test_variadic_kernels(op: str, onnx_type: str, n: int) -> None:
    shapes = [(2, 3, 4), (3, 1), (4,)][:n]
    check_kernel(op, onnx_type, [rand(s) for s in shapes], rtol=1e-6)
    types = [TensorType(F32, ("b", 1, 4)), TensorType(F32, (3, 1)), TensorType(F32, (4,))][:n]
    want = [("b", 1, 4), ("b", 3, 4), ("b", 3, 4)][n - 1]
    assert out_types(op, types) == [(F32, want)]


def test_max_min_int() -> None:
    check_kernel("max", "Max", [rand((3, 4), "int64", -9, 9), rand((4,), "int64", -9, 9)])
    check_kernel("min", "Min", [rand((3, 4), "uint8", 0, 9), rand((1,), "uint8", 0, 9)])


CASTS = [
    ("float32", DType.INT32), ("float32", DType.FLOAT16), ("float32", DType.UINT8),
    ("int64", DType.FLOAT32), ("float32", DType.BOOL), ("bool", DType.INT64),
    ("float32", DType.BFLOAT16), ("float32", DType.FLOAT8E4M3FN), ("float32", DType.FLOAT8E5M2),
    ("float64", DType.FLOAT32), ("int32", DType.INT8),
]  # fmt: skip


@pytest.mark.parametrize("src,to", CASTS)
def test_cast_kernel(src: str, to: DType) -> None:
    x = rand((3, 4), src, -100, 100)
    check_kernel("cast", "Cast", [x], {"to": to})
    like = np.zeros((1,), to.to_numpy())
    # onnx.reference's CastLike does not know round_mode yet.
    check_kernel("cast_like", "CastLike", [x, like], drop_attrs=["round_mode"])


@pytest.mark.parametrize("saturate", [0, 1])
def test_cast_float8_saturation(saturate: int) -> None:
    x = np.array([1e6, -1e6, np.inf, -np.inf, np.nan, 3.3], np.float32)
    for to in (DType.FLOAT8E4M3FN, DType.FLOAT8E5M2, DType.FLOAT8E4M3FNUZ):
        (got,) = check_kernel("cast", "Cast", [x], {"to": to, "saturate": saturate})
        assert np.isnan(float(got[4]))
    if saturate:
        assert float(got[0]) == 240.0  # the largest finite float8e4m3fnuz


def test_cast_types_and_attrs() -> None:
    _, node = build("cast", [TensorType(F32, ("n", 3))], {"to": DType.INT64})
    assert node.output.type == TensorType(I64, ("n", 3))
    assert node.attrs == {"round_mode": "up", "saturate": 1, "to": I64}
    _, node = build("cast_like", [TensorType(F32, ("n", 3)), TensorType(DType.FLOAT16, (1,))])
    assert node.output.type == TensorType(DType.FLOAT16, ("n", 3))
    with pytest.raises(CompilerError, match="'to'"):
        build("cast", [TensorType(F32, (3,))])


def test_identity() -> None:
    x = rand((2, 3))
    (got,) = check_kernel("identity", "Identity", [x])
    assert out_types("identity", [TensorType(F32, ("a", "b"))]) == [(F32, ("a", "b"))]


def test_where_kernel_and_types() -> None:
    cond = rand((3, 1), "bool")
    check_kernel("where", "Where", [cond, rand((1, 4)), rand((3, 4))])
    check_kernel("where", "Where", [cond, rand((4,), "int64", 0, 9), rand((1,), "int64", 0, 9)])
    types = [TensorType(DType.BOOL, ("n", 1)), TensorType(F32, (4,)), TensorType(F32, (1, 1))]
    assert out_types("where", types) == [(F32, ("n", 4))]
    with pytest.raises(CompilerError, match="element type"):
        build("where", [TensorType(F32, (1,)), TensorType(F32, (4,)), TensorType(F32, (4,))])


# -- logic ---------------------------------------------------------------------------------------

COMPARE = [("equal", "Equal"), ("less", "Less"), ("less_or_equal", "LessOrEqual"),
           ("greater", "Greater"), ("greater_or_equal", "GreaterOrEqual")]  # fmt: skip


@pytest.mark.parametrize("op,onnx_type", COMPARE)
@pytest.mark.parametrize("dtype", ["float32", "int64", "uint8"])
def test_compare_kernels(op: str, onnx_type: str, dtype: str) -> None:
    check_kernel(op, onnx_type, [rand((3, 4), dtype, 0, 4), rand((4,), dtype, 0, 4)])
    assert out_types(op, [TensorType(F32, ("n", 4)), TensorType(F32, ())]) == [
        (DType.BOOL, ("n", 4))
    ]


@pytest.mark.parametrize("op,onnx_type", [("and", "And"), ("or", "Or"), ("xor", "Xor")])
def test_logical_kernels(op: str, onnx_type: str) -> None:
    check_kernel(op, onnx_type, [rand((3, 4), "bool"), rand((1, 4), "bool")])
    with pytest.raises(CompilerError, match="element type"):
        build(op, [TensorType(F32, (2,)), TensorType(F32, (2,))])


def test_not_kernel() -> None:
    check_kernel("not", "Not", [rand((3, 4), "bool")])
    assert out_types("not", [TensorType(DType.BOOL, ("n",))]) == [(DType.BOOL, ("n",))]


BITWISE = [("bitwise_and", "BitwiseAnd"), ("bitwise_or", "BitwiseOr"),
           ("bitwise_xor", "BitwiseXor")]  # fmt: skip


@pytest.mark.parametrize("op,onnx_type", BITWISE)
@pytest.mark.parametrize("dtype", ["int32", "uint8", "int64"])
def test_bitwise_kernels(op: str, onnx_type: str, dtype: str) -> None:
    check_kernel(op, onnx_type, [rand((3, 4), dtype, 0, 100), rand((4,), dtype, 0, 100)])
    check_kernel("bitwise_not", "BitwiseNot", [rand((3, 4), dtype, 0, 100)])


def test_is_nan_is_inf() -> None:
    x = np.array([1.0, np.nan, np.inf, -np.inf, 0.0], np.float32)
    check_kernel("is_nan", "IsNaN", [x])
    for pos in (0, 1):
        for neg in (0, 1):
            check_kernel("is_inf", "IsInf", [x], {"detect_positive": pos, "detect_negative": neg})
    assert out_types("is_inf", [TensorType(F32, ("n",))]) == [(DType.BOOL, ("n",))]


# -- shape values ---------------------------------------------------------------------------------


def _shape_value(op: str, a: tuple, b: tuple | None = None, **attrs: object) -> object:
    from compiler.registry import get_op, infer_types

    _, node = build(op, [TensorType(I64, (len(a),))] + ([] if b is None else
                    [TensorType(I64, (len(b),) if len(b) != 1 else ())]), attrs)  # fmt: skip
    known = {v: sv for v, sv in zip(node.inputs, (a, b), strict=False) if sv is not None}
    _, value = infer_types(get_op(op), node.attrs, node.inputs, 1, known)  # type: ignore[arg-type]
    return value


def test_shape_fn_arithmetic() -> None:
    assert _shape_value("add", (2, 3), (1, 4)) == (3, 7)
    assert _shape_value("mul", ("n", 3), (1,)) == ("n", 3)
    assert _shape_value("mul", ("n", 3), (2,)) == (None, 6)
    assert _shape_value("sub", (7, "s"), (2, 0)) == (5, "s")
    assert _shape_value("div", (7, -7, "n"), (2, 2, 1)) == (3, -3, "n")
    assert _shape_value("div", (7, "n"), (2, 2)) == (3, None)
    assert _shape_value("add", ("a", "b"), ("c", "d")) is None


def test_shape_fn_identity_and_cast() -> None:
    assert _shape_value("identity", ("n", 3)) == ("n", 3)
    assert _shape_value("cast", ("n", 3), to=DType.INT32) == ("n", 3)
    assert _shape_value("cast", ("n", 3), to=DType.FLOAT32) is None
