"""Inverse hyperbolics, Swish, CumProd, Compress, ReverseSequence, Det, RotaryEmbedding:
inference and kernels vs onnx.reference."""

from __future__ import annotations

import numpy as np
import pytest
from onnx_node_ref import build, check_kernel, out_types

from compiler.errors import CompilerError
from compiler.types import DType, TensorType

F32, I64 = DType.FLOAT32, DType.INT64
RNG = np.random.default_rng(5)


def _rand(*shape: int, lo: float = -2.0, hi: float = 2.0) -> np.ndarray:
    return RNG.uniform(lo, hi, size=shape).astype(np.float32)


@pytest.mark.parametrize(
    ("op", "onnx_type", "lo", "hi"),
    [("asinh", "Asinh", -3, 3), ("acosh", "Acosh", 1, 4), ("atanh", "Atanh", -0.9, 0.9)],
)
def test_inverse_hyperbolics(op: str, onnx_type: str, lo: float, hi: float) -> None:
    check_kernel(op, onnx_type, [_rand(3, 4, lo=lo, hi=hi)])


@pytest.mark.parametrize("alpha", [1.0, 0.5])
def test_swish(alpha: float) -> None:
    check_kernel("swish", "Swish", [_rand(2, 5, lo=-6, hi=6)], {"alpha": alpha})


@pytest.mark.parametrize("exclusive", [0, 1])
@pytest.mark.parametrize("reverse", [0, 1])
@pytest.mark.parametrize("axis", [0, -1])
def test_cumprod(exclusive: int, reverse: int, axis: int) -> None:
    x = _rand(3, 4, lo=0.5, hi=1.5)
    attrs = {"exclusive": exclusive, "reverse": reverse}
    check_kernel("cumprod", "CumProd", [x, np.array(axis, np.int64)], attrs, rtol=1e-6)
    ints = RNG.integers(-3, 4, size=(2, 5)).astype(np.int64)
    check_kernel("cumprod", "CumProd", [ints, np.array(axis, np.int64)], attrs)


@pytest.mark.parametrize("axis", [None, 0, 1, -1])
def test_compress(axis: int | None) -> None:
    x = _rand(3, 2)
    cond = np.array([True, False, True])[: 2 if axis in (1, -1) else 3]
    attrs = {} if axis is None else {"axis": axis}
    check_kernel("compress", "Compress", [x, cond], attrs, const_inputs=[1])


def test_compress_inference() -> None:
    x = TensorType(F32, ("n", 4))
    cond = np.array([True, False, True, True])
    assert out_types("compress", [x, cond], axis=1) == [(F32, ("n", 3))]
    assert out_types("compress", [x, np.array([1, 0, 1, 1], bool)]) == [(F32, (3,))]
    with pytest.raises(CompilerError, match="bool"):
        build("compress", [x, np.array([1, 0], np.int64)], {"axis": 0})


@pytest.mark.parametrize(("batch_axis", "time_axis"), [(1, 0), (0, 1)])
def test_reverse_sequence(batch_axis: int, time_axis: int) -> None:
    x = _rand(4, 4, 2)
    lens = np.array([4, 3, 1, 0], np.int64)
    attrs = {"batch_axis": batch_axis, "time_axis": time_axis}
    check_kernel("reverse_sequence", "ReverseSequence", [x, lens], attrs)
    with pytest.raises(CompilerError, match="batch_axis"):
        build("reverse_sequence", [TensorType(F32, (4, 4)), TensorType(I64, (4,))],
              {"batch_axis": 0, "time_axis": 0})  # fmt: skip


def test_det() -> None:
    check_kernel("det", "Det", [_rand(2, 3, 3)], rtol=1e-5)
    check_kernel("det", "Det", [_rand(4, 4)], rtol=1e-5)
    with pytest.raises(CompilerError, match="square"):
        build("det", [TensorType(F32, (2, 3))])


ROTARY = [
    ((2, 3, 4, 8), {}, False),
    ((2, 3, 4, 8), {"interleaved": 1}, False),
    ((2, 3, 4, 8), {"rotary_embedding_dim": 4}, True),
    ((2, 4, 12), {"num_heads": 3, "interleaved": 1}, True),
    ((2, 4, 12), {"num_heads": 3, "rotary_embedding_dim": 2}, False),
]


@pytest.mark.parametrize(("shape", "attrs", "positions"), ROTARY)
def test_rotary_embedding(shape: tuple[int, ...], attrs: dict, positions: bool) -> None:
    x = _rand(*shape)
    batch, seq = shape[0], shape[2] if len(shape) == 4 else shape[1]
    head = shape[-1] if len(shape) == 4 else shape[-1] // attrs["num_heads"]
    half = (attrs.get("rotary_embedding_dim") or head) // 2
    cache = (7, half) if positions else (batch, seq, half)
    cos, sin = _rand(*cache), _rand(*cache)
    inputs = [x, cos, sin]
    if positions:
        inputs.append(RNG.integers(0, 7, size=(batch, seq)).astype(np.int64))
    check_kernel("rotary_embedding", "RotaryEmbedding", inputs, attrs, rtol=1e-6, atol=1e-6)


def test_rotary_embedding_inference_errors() -> None:
    cache = TensorType(F32, (2, 4, 2))
    with pytest.raises(CompilerError, match="num_heads"):
        build("rotary_embedding", [TensorType(F32, (2, 4, 12)), cache, cache])
    with pytest.raises(CompilerError, match="position_ids"):
        build("rotary_embedding",
              [TensorType(F32, (2, 3, 4, 4)), cache, cache, TensorType(I64, (2, 4))])  # fmt: skip
