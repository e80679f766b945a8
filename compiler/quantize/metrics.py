"""Accuracy metrics comparing quantized outputs with float outputs (lists of batches).

- SQNR (dB) = 10·log10(Σ f² / Σ (f − q)²) over every element of every output and batch
  (inf when identical).
- KL = mean over samples of KL(softmax(f) ‖ softmax(q)) on the last axis of the first output.
- top-1 agreement = fraction of samples whose argmax over the last axis of the first output
  agrees.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

Outputs = Sequence[Sequence[np.ndarray]]  # per batch, per graph output


def sqnr_db(ref: Outputs, out: Outputs) -> float:
    """Signal-to-quantization-noise ratio in dB over all outputs (see module docstring)."""
    signal = noise = 0.0
    for rb, ob in zip(ref, out, strict=True):
        for r, o in zip(rb, ob, strict=True):
            r64, o64 = np.asarray(r, np.float64), np.asarray(o, np.float64)
            signal += float(np.sum(r64 * r64))
            noise += float(np.sum((r64 - o64) ** 2))
    if noise == 0.0:
        return float("inf")
    if signal == 0.0:
        return float("-inf")
    return float(10.0 * np.log10(signal / noise))


def _softmax(x: np.ndarray) -> np.ndarray:
    z = np.asarray(x, np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def kl_divergence(ref: Outputs, out: Outputs) -> float:
    """Mean KL(softmax(f) ‖ softmax(q)) over samples of the first output."""
    total, count = 0.0, 0
    for rb, ob in zip(ref, out, strict=True):
        p, q = _softmax(rb[0]), _softmax(ob[0])
        kl = np.sum(p * (np.log(np.maximum(p, 1e-300)) - np.log(np.maximum(q, 1e-300))), axis=-1)
        total += float(np.sum(kl))
        count += int(kl.size)
    return total / max(count, 1)


def top1_agreement(ref: Outputs, out: Outputs) -> float:
    """Fraction of samples whose argmax (last axis of the first output) is unchanged."""
    same, count = 0, 0
    for rb, ob in zip(ref, out, strict=True):
        a, b = np.argmax(rb[0], axis=-1), np.argmax(ob[0], axis=-1)
        same += int(np.sum(a == b))
        count += int(a.size)
    return same / max(count, 1)


__all__ = ["Outputs", "kl_divergence", "sqnr_db", "top1_agreement"]
