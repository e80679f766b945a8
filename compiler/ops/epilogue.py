"""Fused activation epilogues of conv, conv_transpose, gemm and matmul.

`fuse-conv-bn-relu` turns `relu(conv(...))` into `conv(...) {activation = "relu"}`. The op's
kernel ends with `apply_activation(y, attrs)`, which calls the activation op's own kernel on the
op's result (already in the output dtype), so a fused node computes bit-for-bit what the two
nodes did. `activation_params` holds the activation's float attributes in the order of
`EPILOGUES[name]`; for `clip` they are the (min, max) bounds, ±inf for an absent bound.

Both attributes are absent on an unfused node (the canonical form of every imported op, so they
cost nothing in printed IR) and both present on a fused one (`[]` params for a parameterless
activation): one spelling per graph. The ONNX exporter writes a fused node as the plain op
followed by the activation node (`backends.onnx.export`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from compiler.ops.elementwise import FLOATS
from compiler.registry import AttrSpec, InferContext, attr, get_op

EPILOGUES: dict[str, tuple[str, ...]] = {
    "relu": (), "sigmoid": (), "tanh": (), "hard_swish": (), "softplus": (), "softsign": (),
    "mish": (), "leaky_relu": ("alpha",), "elu": ("alpha",), "celu": ("alpha",),
    "thresholded_relu": ("alpha",), "hard_sigmoid": ("alpha", "beta"), "selu": ("alpha", "gamma"),
    "clip": ("min", "max"),
}  # fmt: skip
"""Activation op name -> the names of its parameters in `activation_params`."""

ACTIVATION_ATTRS: dict[str, AttrSpec] = {
    "activation": attr("str"),
    "activation_params": attr("floats"),
}
"""Attributes to add to an op schema that takes an epilogue (absent = no activation)."""


def check_activation(ctx: InferContext) -> None:
    """Inference check of the epilogue attributes; raises `ctx.fail` on a bad one."""
    name, params = ctx.attr("activation"), ctx.attr("activation_params")
    if name is None:
        if params is not None:
            raise ctx.fail("activation_params without an activation")
        return
    if name not in EPILOGUES:
        valid = ", ".join(sorted(EPILOGUES))
        raise ctx.fail(f"unknown activation {name!r} (valid: {valid}; leave it out for none)")
    if params is None:  # one spelling per graph: a fused node always states its params
        raise ctx.fail(f"activation {name} needs activation_params (use [] for none)")
    want = EPILOGUES[name]
    if len(params) != len(want):
        raise ctx.fail(f"activation {name} takes {len(want)} params {list(want)}, got {params}")
    if ctx.dtype(0) not in FLOATS:
        raise ctx.fail(f"activation {name} needs a float type, got {ctx.dtype(0).short}")


def apply_activation(y: np.ndarray, attrs: Mapping[str, Any]) -> np.ndarray:
    """`y` with the node's epilogue applied (unchanged when it has none)."""
    name = attrs.get("activation")
    if not name:
        return y
    params = tuple(attrs.get("activation_params") or ())
    kernel = get_op(name).kernel
    assert kernel is not None, name
    if name == "clip":
        lo, hi = params
        return kernel([y, _bound(y, lo, -math.inf), _bound(y, hi, math.inf)], {})[0]
    return kernel([y], dict(zip(EPILOGUES[name], params, strict=True)))[0]


def _bound(y: np.ndarray, value: float, absent: float) -> np.ndarray | None:
    """A clip bound as the clip kernel takes it (None when absent: -inf min, +inf max)."""
    return None if value == absent else np.asarray(value, dtype=y.dtype)


def epilogue_of(op: str, attrs: Mapping[str, Any], bounds: Sequence[Any] = ()) -> tuple[float, ...]:
    """`activation_params` of an activation node: its float attributes in `EPILOGUES` order, or
    for `clip` its constant bounds `bounds` (None = absent)."""
    if op == "clip":
        lo, hi = (list(bounds) + [None, None])[:2]
        return (-math.inf if lo is None else float(lo), math.inf if hi is None else float(hi))
    return tuple(float(attrs[k]) for k in EPILOGUES[op])


__all__ = ["ACTIVATION_ATTRS", "EPILOGUES", "apply_activation", "check_activation", "epilogue_of"]
