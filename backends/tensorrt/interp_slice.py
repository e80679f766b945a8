"""Shuffle and slice rules of the network interpreter (TENSORRT.md §6)."""

from __future__ import annotations

from typing import Any

import numpy as np


def shuffle(trt: Any, layer: Any, ins: list[Any]) -> np.ndarray:
    """`x.transpose(p1).reshape(dims).transpose(p2)`; 0 copies the transposed input's dim when
    `zero_is_placeholder`, -1 is inferred; dims from input 1 when given."""
    x = ins[0]
    y = x.transpose(tuple(layer.first_transpose)[: x.ndim])
    if len(ins) > 1 and ins[1] is not None:
        dims: list[int] | None = [int(d) for d in np.asarray(ins[1]).reshape(-1)]
    else:
        dims = None if layer.reshape_dims is None else [int(d) for d in layer.reshape_dims]
    if dims is not None:
        if layer.zero_is_placeholder:
            dims = [y.shape[i] if d == 0 else d for i, d in enumerate(dims)]
        y = y.reshape(dims)
    return y.transpose(tuple(layer.second_transpose)[: y.ndim])


def _vector(layer: Any, ins: list[Any], k: int, attr: str, rank: int) -> list[int]:
    if len(ins) > k and ins[k] is not None:
        return [int(v) for v in np.asarray(ins[k]).reshape(-1)]
    got = getattr(layer, attr)
    return [int(v) for v in tuple(got)[:rank]]


def slice_layer(trt: Any, layer: Any, ins: list[Any]) -> np.ndarray:
    """`out[i] = in[start + i·stride]` per dim, out-of-range indices per the sample mode."""
    x = ins[0]
    if len(ins) > 5 and ins[5] is not None or layer.axes is not None:
        raise NotImplementedError(f"slice {layer.name!r} with axes")
    start = _vector(layer, ins, 1, "start", x.ndim)
    size = _vector(layer, ins, 2, "shape", x.ndim)
    stride = _vector(layer, ins, 3, "stride", x.ndim)
    mode = layer.mode.name
    index, valid = [], []
    for d in range(x.ndim):
        idx = start[d] + np.arange(size[d], dtype=np.int64) * stride[d]
        index.append(_wrap(idx, x.shape[d], mode))
        valid.append((idx >= 0) & (idx < x.shape[d]))
    if mode == "STRICT_BOUNDS" and not all(v.all() for v in valid):
        raise AssertionError(f"slice {layer.name!r} reads out of bounds")
    y = x[np.ix_(*index)] if x.ndim else x.copy()
    if mode == "FILL":
        fill = np.asarray(ins[4] if len(ins) > 4 and ins[4] is not None else 0, x.dtype)
        inside = np.ones(y.shape, bool)
        for d, v in enumerate(valid):
            inside &= v.reshape([-1 if k == d else 1 for k in range(x.ndim)])
        y = np.where(inside, y, fill)
    return y


def _wrap(idx: np.ndarray, n: int, mode: str) -> np.ndarray:
    if n == 0:
        return idx
    if mode == "WRAP":
        return np.mod(idx, n)
    if mode == "REFLECT":
        if n == 1:
            return np.zeros_like(idx)
        period = 2 * (n - 1)
        m = np.mod(idx, period)
        return np.where(m < n, m, period - m)
    return np.clip(idx, 0, n - 1)  # CLAMP, FILL (masked later), STRICT (checked)
