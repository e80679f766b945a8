"""Attention (ONNX 23; canonical form 25 with the sliding-window attributes).

Q, K, V are `[batch, heads, seq, head]`, or `[batch, seq, heads*head]` with `q_num_heads` and
`kv_num_heads`. `past_key`/`past_value` are concatenated in front of K/V along seq (outputs
`present_key`/`present_value`). Scores `(Q*sqrt(s)) @ (K*sqrt(s))^T` (s = `scale`, default
1/sqrt(head)) go through `softcap` (c*tanh(x/c)), then an additive bias: the mask (bool: False
-> -inf; shorter than the kv length: padded with -inf), the causal mask aligned bottom-right
(offset = past length, or `nonpad_kv_seqlen[b] - q_len`), the sliding window, the kv padding of
`nonpad_kv_seqlen`. Softmax (in `softmax_precision`) over keys; a row whose bias is all -inf gives
zeros. GQA repeats each kv head `q_heads / kv_heads` times. `qk_matmul_output` holds the scores
(mode 0), softcapped scores (1), biased scores (2) or probabilities (3).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from compiler.ir import AttrValue
from compiler.ops.elementwise import FLOATS, check_dtype
from compiler.registry import InferContext, InferDim, attr, defop, kernel
from compiler.types import TensorType

Arrays = list[Any]

_ATTRS = {
    "is_causal": attr("int", 0),
    "kv_num_heads": attr("int"),
    "left_window_size": attr("int", -1),
    "q_num_heads": attr("int"),
    "qk_matmul_output_mode": attr("int", 0),
    "right_window_size": attr("int", -1),
    "scale": attr("float"),
    "softcap": attr("float", 0.0),
    "softmax_precision": attr("int"),
}


def _div(a: InferDim, b: int) -> InferDim:
    return a // b if isinstance(a, int) else None


def _mul(a: InferDim, b: int) -> InferDim:
    return a * b if isinstance(a, int) else None


def _heads(ctx: InferContext) -> tuple[InferDim, InferDim, InferDim, InferDim, InferDim]:
    """(q heads, kv heads, head size of K, head size of V, q seq) in 4-D terms."""
    q, k, v = ctx.shape(0), ctx.shape(1), ctx.shape(2)
    if len(q) == 4:
        if ctx.attr("q_num_heads") or ctx.attr("kv_num_heads"):
            raise ctx.fail("q_num_heads and kv_num_heads must not be given for 4-D inputs")
        return q[1], k[1], k[3], v[3], q[2]
    hq, hkv = ctx.attr("q_num_heads"), ctx.attr("kv_num_heads")
    if not hq or not hkv:
        raise ctx.fail("q_num_heads and kv_num_heads are required for 3-D inputs")
    return hq, hkv, _div(k[2], hkv), _div(v[2], hkv), q[1]


@defop("attention", onnx="Attention", inputs=(3, 7), outputs=(1, 4), attrs=_ATTRS, since=23)
def _attention(ctx: InferContext) -> list[TensorType]:
    """Scaled dot-product attention with masks, kv cache, GQA and softcap."""
    dtype = check_dtype(ctx, 0, FLOATS)
    q, k = ctx.shape(0), ctx.shape(1)
    if len(q) not in (3, 4) or len(k) != len(q) or len(ctx.shape(2)) != len(q):
        raise ctx.fail("Q, K and V must all be 3-D or all 4-D")
    if ctx.has(4) != ctx.has(5):
        raise ctx.fail("past_key and past_value must be given together")
    hq, hkv, dk, dv, sq = _heads(ctx)
    skv = k[2] if len(k) == 4 else k[1]
    past = ctx.shape(4)[2] if ctx.has(4) else 0
    total = skv + past if isinstance(skv, int) and isinstance(past, int) else None
    batch = q[0]
    y = (batch, hq, sq, dv) if len(q) == 4 else (batch, sq, _mul(dv, hq) if isinstance(hq, int)
                                                  else None)  # fmt: skip
    kv_dtype = ctx.dtype(1)
    types = [
        TensorType(dtype, y),  # type: ignore[arg-type]
        TensorType(kv_dtype, (batch, hkv, total, dk)),  # type: ignore[arg-type]
        TensorType(ctx.dtype(2), (batch, hkv, total, dv)),  # type: ignore[arg-type]
        TensorType(dtype, (batch, hq, sq, total)),  # type: ignore[arg-type]
    ]
    return types[: ctx.num_outputs]


# -- kernel ---------------------------------------------------------------------------------------


def _to_4d(x: np.ndarray, heads: int | None) -> np.ndarray:
    if x.ndim == 4:
        return x
    b, s, hidden = x.shape
    return x.reshape(b, s, int(heads or 1), hidden // int(heads or 1)).transpose(0, 2, 1, 3)


def _neg_inf_where(allowed: np.ndarray, dtype: np.dtype) -> np.ndarray:
    return np.where(allowed, dtype.type(0), dtype.type(-np.inf))


def _bias(q_len: int, kv_len: int, inputs: Arrays, attrs: Mapping[str, Any], dtype: np.dtype,
          past: int) -> np.ndarray:  # fmt: skip
    """The additive bias (mask, causal, window, kv padding), broadcastable to the scores."""
    mask, nonpad = _opt(inputs, 3), _opt(inputs, 6)
    bias = np.zeros((q_len, kv_len), dtype)
    if mask is not None:
        pad = kv_len - mask.shape[-1]
        if mask.dtype == np.bool_:
            mask = _neg_inf_where(mask, dtype)
        if pad > 0:
            mask = np.pad(mask, [(0, 0)] * (mask.ndim - 1) + [(0, pad)],
                          constant_values=-np.inf)  # fmt: skip
        bias = bias + mask.astype(dtype)
    offset: Any = past
    if nonpad is not None and past == 0:
        offset = (nonpad.reshape(-1) - q_len).reshape(-1, 1, 1, 1)
    diff = np.arange(q_len)[:, None] + offset - np.arange(kv_len)[None, :]  # query pos - key
    left, right = int(attrs["left_window_size"]), int(attrs["right_window_size"])
    if attrs["is_causal"]:
        bias = bias + _neg_inf_where(diff >= 0, dtype)
    if left >= 0 or right >= 0:
        allowed = (diff <= left if left >= 0 else True) & (-diff <= right if right >= 0 else True)
        bias = bias + _neg_inf_where(np.asarray(allowed), dtype)
    if nonpad is not None:
        keep = np.arange(kv_len)[None, :] < nonpad.reshape(-1, 1)
        bias = bias + _neg_inf_where(keep, dtype).reshape(-1, 1, 1, kv_len)
    return bias


def _opt(inputs: Arrays, i: int) -> Any:
    return inputs[i] if len(inputs) > i else None


def _softmax_rows(x: np.ndarray) -> np.ndarray:
    top = np.max(x, axis=-1, keepdims=True)
    e = np.exp(x - np.where(np.isneginf(top), x.dtype.type(0), top))
    total = np.sum(e, axis=-1, keepdims=True)
    return e / np.where(total == 0, x.dtype.type(1), total)


def _precision(attrs: Mapping[str, Any]) -> np.dtype:
    from compiler.frontend.onnx_data import ONNX_TO_DTYPE  # ONNX element type codes

    return ONNX_TO_DTYPE[int(attrs["softmax_precision"])].to_numpy()


@kernel("attention")
def _attention_kernel(inputs: Arrays, attrs: Mapping[str, AttrValue]) -> Arrays:
    q3 = inputs[0]
    q, k, v = (_to_4d(x, attrs.get(h)) for x, h in zip(inputs[:3], ("q_num_heads",
               "kv_num_heads", "kv_num_heads"), strict=True))  # fmt: skip
    past_k, past_v = _opt(inputs, 4), _opt(inputs, 5)
    past = 0 if past_k is None else past_k.shape[2]
    if past_k is not None:
        k, v = np.concatenate([past_k, k], axis=2), np.concatenate([past_v, v], axis=2)
    present_k, present_v = k, v
    if q.shape[1] != k.shape[1]:  # grouped-query attention
        k, v = (np.repeat(x, q.shape[1] // k.shape[1], axis=1) for x in (k, v))
    scale = attrs.get("scale")
    root = q.dtype.type(np.sqrt(1 / np.sqrt(q.shape[3]) if scale is None else scale))
    scores = np.matmul(q * root, np.swapaxes(k * root, 2, 3))
    cap = q.dtype.type(attrs["softcap"])
    if cap > 0:
        scores = np.tanh(scores / cap) * cap
    bias = _bias(q.shape[2], k.shape[2], inputs, attrs, q.dtype, past)
    biased = scores + bias
    work = biased if attrs.get("softmax_precision") is None else biased.astype(_precision(attrs))
    probs = _softmax_rows(work)
    probs = np.where(np.isneginf(np.max(bias, axis=-1, keepdims=True)), 0, probs)
    qk = {0: scores, 1: scores, 2: biased, 3: probs}[int(attrs["qk_matmul_output_mode"])]
    y = np.matmul(probs.astype(q.dtype), v)
    if q3.ndim == 3:
        y = y.transpose(0, 2, 1, 3).reshape(y.shape[0], y.shape[2], -1)
    return [y.astype(q3.dtype), present_k, present_v, np.asarray(qk).astype(q3.dtype)]
