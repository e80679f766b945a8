"""Attention: inference and the kernel vs onnx.reference (masks, cache, GQA, softcap, modes)."""

from __future__ import annotations

import numpy as np
import pytest
from onnx_node_ref import build, check_kernel

from compiler.errors import CompilerError
from compiler.types import DType, TensorType

F32 = DType.FLOAT32
RNG = np.random.default_rng(7)


def _r(*shape: int) -> np.ndarray:
    return RNG.standard_normal(shape).astype(np.float32)


def _qkv4(hq: int = 4, hkv: int = 4, sq: int = 3, skv: int = 5) -> list[np.ndarray]:
    return [_r(2, hq, sq, 8), _r(2, hkv, skv, 8), _r(2, hkv, skv, 6)]


CASES = {
    "plain": (_qkv4(), {}),
    "gqa_causal": (_qkv4(hq=4, hkv=2), {"is_causal": 1}),
    "scale_softcap": (_qkv4(), {"scale": 0.3, "softcap": 2.0, "qk_matmul_output_mode": 1}),
    "bool_mask_short": ([*_qkv4(), RNG.random((3, 4)) > 0.3], {"qk_matmul_output_mode": 2}),
    "float_mask": ([*_qkv4(), _r(2, 1, 3, 5)], {"qk_matmul_output_mode": 3}),
    "past_causal": ([*_qkv4(), None, _r(2, 4, 2, 8), _r(2, 4, 2, 6)], {"is_causal": 1}),
    "window": (_qkv4(sq=5), {"left_window_size": 1, "right_window_size": 0}),
    "nonpad_causal": ([*_qkv4(), None, None, None, np.array([5, 3], np.int64)], {"is_causal": 1}),
    "precision": (_qkv4(), {"softmax_precision": 1, "qk_matmul_output_mode": 3}),
    "3d": ([_r(2, 3, 4 * 8), _r(2, 5, 2 * 8), _r(2, 5, 2 * 6)],
           {"q_num_heads": 4, "kv_num_heads": 2, "is_causal": 1}),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(CASES))
def test_attention_kernel_matches_reference(name: str) -> None:
    inputs, attrs = CASES[name]
    while inputs[-1] is None:
        inputs = inputs[:-1]
    check_kernel("attention", "Attention", inputs, attrs, num_outputs=4, rtol=1e-5, atol=1e-6)


def test_attention_inference() -> None:
    q, k, v = TensorType(F32, ("b", 8, 3, 16)), TensorType(F32, ("b", 2, 5, 16)), \
        TensorType(F32, ("b", 2, 5, 4))  # fmt: skip
    past_k, past_v = TensorType(F32, ("b", 2, 7, 16)), TensorType(F32, ("b", 2, 7, 4))
    _, node = build("attention", [q, k, v, None, past_k, past_v], num_outputs=4)
    assert [o.type.shape for o in node.outputs] == [
        ("b", 8, 3, 4), ("b", 2, 12, 16), ("b", 2, 12, 4), ("b", 8, 3, 12)]  # fmt: skip
    q3, k3, v3 = (TensorType(F32, ("b", s, h)) for s, h in ((3, 64), (5, 32), (5, 8)))
    _, node = build("attention", [q3, k3, v3], {"q_num_heads": 4, "kv_num_heads": 2})
    assert node.outputs[0].type.shape == ("b", 3, 16)
    with pytest.raises(CompilerError, match="required"):
        build("attention", [q3, k3, v3])
    with pytest.raises(CompilerError, match="must not"):
        build("attention", [q, k, v], {"q_num_heads": 8, "kv_num_heads": 2})
    with pytest.raises(CompilerError, match="together"):
        build("attention", [q, k, v, None, past_k])
