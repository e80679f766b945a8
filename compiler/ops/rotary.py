"""RotaryEmbedding (ONNX 23): rotate pairs of features by position-dependent angles.

X is `[batch, heads, seq, head]` or `[batch, seq, hidden]` (then `num_heads` splits hidden). The
first `rotary_embedding_dim` features of each head (all by default) are rotated as complex pairs:
halves `(x1, x2)` of that block, or even/odd features when `interleaved`, become
`(cos*x1 - sin*x2, sin*x1 + cos*x2)`. The caches are `[batch, seq, dim/2]`, or
`[max_position, dim/2]` indexed by the optional `position_ids` `[batch, seq]`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from compiler.ir import AttrValue
from compiler.ops.elementwise import FLOATS, check_dtype
from compiler.registry import InferContext, attr, defop, kernel
from compiler.types import TensorType

Arrays = list[Any]


@defop("rotary_embedding", onnx="RotaryEmbedding", inputs=(3, 4), since=23,
       attrs={"interleaved": attr("int", 0), "num_heads": attr("int"),
              "rotary_embedding_dim": attr("int", 0)})  # fmt: skip
def _rotary_embedding(ctx: InferContext) -> list[TensorType]:
    """Rotary position embedding of X (4-D, or 3-D with `num_heads`); output has X's type."""
    dtype = check_dtype(ctx, 0, FLOATS)
    x = ctx.shape(0)
    if len(x) not in (3, 4):
        raise ctx.fail(f"X must be 3-D or 4-D, got rank {len(x)}")
    if len(x) == 3 and not ctx.attr("num_heads"):
        raise ctx.fail("num_heads is required for a 3-D input")
    if ctx.dtype(1) != dtype or ctx.dtype(2) != dtype:
        raise ctx.fail("cos_cache and sin_cache must have X's element type")
    want = 2 if ctx.has(3) else 3
    if len(ctx.shape(1)) != want or len(ctx.shape(2)) != want:
        raise ctx.fail(f"the caches must be {want}-D {'with' if ctx.has(3) else 'without'} "
                       "position_ids")  # fmt: skip
    return [ctx.type(0)]


def _to_bshd(x: np.ndarray, num_heads: int | None) -> np.ndarray:
    """[batch, seq, heads, head] view of a 4-D (b, h, s, d) or 3-D (b, s, h*d) input."""
    if x.ndim == 4:
        return np.transpose(x, (0, 2, 1, 3))
    b, s, hidden = x.shape
    return x.reshape(b, s, int(num_heads or 1), hidden // int(num_heads or 1))


def _from_bshd(y: np.ndarray, like: np.ndarray) -> np.ndarray:
    return np.transpose(y, (0, 2, 1, 3)) if like.ndim == 4 else y.reshape(like.shape)


@kernel("rotary_embedding")
def _rotary_embedding_kernel(inputs: Arrays, attrs: Mapping[str, AttrValue]) -> Arrays:
    x, cos, sin = inputs[:3]
    pos = inputs[3] if len(inputs) > 3 else None
    if pos is not None:
        cos, sin = cos[pos], sin[pos]
    h = _to_bshd(x, attrs.get("num_heads"))
    dim = int(attrs["rotary_embedding_dim"]) or h.shape[-1]
    rot, keep = h[..., :dim], h[..., dim:]
    cos, sin = cos[:, :, None, :], sin[:, :, None, :]  # broadcast over heads
    if attrs["interleaved"]:
        x1, x2 = rot[..., 0::2], rot[..., 1::2]
    else:
        x1, x2 = rot[..., : dim // 2], rot[..., dim // 2 :]
    real, imag = cos * x1 - sin * x2, sin * x1 + cos * x2
    if attrs["interleaved"]:
        rotated = np.stack([real, imag], axis=-1).reshape(rot.shape)
    else:
        rotated = np.concatenate([real, imag], axis=-1)
    y = np.concatenate([rotated, keep], axis=-1).astype(x.dtype)
    return [_from_bshd(y, x)]
