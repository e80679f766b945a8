"""`fuse-conv-bn-relu`: fold BatchNormalization into the preceding Conv/ConvTranspose/Gemm/MatMul,
then fuse the following activation into it as an epilogue.

BN folding. Inference BN computes `(y − μ)·s + β` per channel with `s = γ/√(σ²+ε)`. When `y` is an
affine map of constant weights, the BN folds into them (computed in float64, cast back to the
weight dtype):

    W' = W·s   (per output channel)       b' = (b − μ)·s + β   (b = 0 when absent)

- Conv: W is `[M, C/g, k...]`; the output channel axis is 0.
- ConvTranspose: W is `[C, M/g, k...]`; output channel `g·(M/g) + j` is axis 1 *within group g*.
- Gemm `α·A'·B' + β_c·C` (BN over axis 1 = the feature axis of the 2-D result): scale the columns
  of B' (rows of B when `transB`), `C' = (β_c·C − μ)·s + β` with `β_c` set to 1.
- MatMul `A @ B` with 2-D A and constant 2-D B becomes `Gemm(A, B·s, −μ·s + β)`.

Before / after:

```
%w = const() ... : f32[8,3,3,3]
%c = conv(%x, %w) {...} : f32[1,8,16,16]
%n = batch_normalization(%c, %g, %b, %m, %v) {epsilon = 1e-05, ...} : f32[1,8,16,16]
%r = relu(%n) : f32[1,8,16,16]
  ==>
%w' = const() ... : f32[8,3,3,3]
%b' = const() ... : f32[8]
%r = conv(%x, %w', %b') {activation = "relu", ...} : f32[1,8,16,16]
```

Activation epilogue. `act(op(...))` becomes `op(...)` with attributes `activation = "act"` and
`activation_params = [...]`, for Relu, LeakyRelu, Sigmoid, HardSigmoid, HardSwish, Tanh, Elu,
Selu, Celu, Softplus, Softsign, Mish, ThresholdedRelu and Clip with constant scalar bounds (ReLU6
and general clips; an absent bound is ±inf). Kernels apply it with the activation's own kernel on
the op's result (`compiler.ops.epilogue.apply_activation`), so numerics are bit-identical; the
ONNX exporter writes the plain op followed by the activation node.

Refusals (traced in the pass report): the intermediate has other users or is a graph output,
weights or BN parameters are not constants, a weight constant is shared by other nodes, shapes or
dtypes do not fit, or the op already carries an activation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from compiler.graph import Graph
from compiler.ir import Node, Value
from compiler.ops.epilogue import EPILOGUES, epilogue_of
from compiler.passmanager import Pass, register_pass
from compiler.passmanager.rewrite import Match, P, RewriteBuilder, RewriteRule, apply_rules
from compiler.registry import get_op

AFFINE_OPS = ("conv", "conv_transpose", "gemm", "matmul")
FLOAT_KINDS = "fV"  # numpy float kinds, ml_dtypes (bfloat16, float8) included


def _intermediate_refusal(value: Value, what: str) -> str | None:
    """Why `value` (the output of the node being absorbed into) cannot disappear."""
    if value.is_graph_output:
        return f"the {what} output is a graph output"
    if value.num_uses > 1:
        return f"the {what} output has {value.num_uses - 1} other users"
    return None


def _const_refusal(value: Value | None, what: str, owner: Node) -> str | None:
    """Why `value` is not a constant that `owner` alone may replace."""
    if value is None:
        return None
    if value.const_value() is None:
        return f"the {what} is not a constant"
    users = [n for n in value.users if n is not owner]
    if users:
        return f"{what} shared by {len(users)} other node{'s' if len(users) > 1 else ''}"
    return None


def _weight(node: Node, index: int) -> tuple[Value, np.ndarray]:
    """Input `index` of `node` and its constant value (the rule's `check` made sure of both)."""
    value = node.inputs[index]
    array = value.const_value() if value is not None else None
    assert value is not None and array is not None
    return value, array


def _bn_scale_shift(bn: Node) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(s, μ, β) in float64 for `(y − μ)·s + β`."""
    gamma, beta, mean, var = (np.asarray(_weight(bn, i)[1], np.float64) for i in range(1, 5))
    scale = gamma / np.sqrt(var + np.float64(bn.attrs["epsilon"]))
    return scale, mean, beta


class FoldBatchNorm(RewriteRule):
    """BN(conv/conv_transpose/gemm/matmul with constant weights) → the same op, new weights."""

    name = "fold-batch-norm"
    pattern = P("batch_normalization", P(AFFINE_OPS, capture="affine"))

    def check(self, match: Match) -> str | None:
        bn, affine = match["batch_normalization"], match["affine"]
        if affine.attrs.get("activation"):
            return f"the {affine.op} already applies {affine.attrs['activation']}"
        if bn.output.type.dtype.to_numpy().kind not in FLOAT_KINDS:
            return "not a float BN"
        for i, what in enumerate(("BN scale", "BN bias", "BN mean", "BN variance"), start=1):
            value = bn.inputs[i]
            if value is None or value.const_value() is None:
                return f"the {what} is not a constant"
        reason = _intermediate_refusal(affine.output, affine.op)
        reason = reason or _const_refusal(affine.inputs[1], "weight", affine)
        if reason is None and len(affine.inputs) > 2:
            reason = _const_refusal(affine.inputs[2], "bias", affine)
        return reason or _shape_refusal(affine, _channels(bn))

    def rewrite(self, match: Match, b: RewriteBuilder) -> Value:
        bn, affine = match["batch_normalization"], match["affine"]
        scale, mean, shift = _bn_scale_shift(bn)
        fold = _FOLDERS[affine.op]
        return fold(affine, scale, mean, shift, b, bn.output.name)


def _channels(bn: Node) -> int:
    """The BN's static channel count, or -1."""
    shape = bn.output.type.shape
    if shape is None or len(shape) < 2 or not isinstance(shape[1], int):
        return -1
    return shape[1]


def _shape_refusal(affine: Node, channels: int) -> str | None:
    """Why the weights of `affine` cannot absorb a BN over `channels` channels (-1: unknown)."""
    if channels < 0:
        return "the BN channel count is not static"
    w = _weight(affine, 1)[1]  # checked by the caller
    if w.dtype.kind not in FLOAT_KINDS:
        return "the weight is not a float tensor"
    if affine.op == "conv":
        return None if w.ndim >= 3 and w.shape[0] == channels else "weight shape does not fit"
    if affine.op == "conv_transpose":
        ok = w.ndim >= 3 and w.shape[1] * int(affine.attrs["group"]) == channels
        return None if ok else "weight shape does not fit"
    out = affine.output.type.shape
    if out is None or len(out) != 2:
        return f"the BN channel axis is not the last axis of the {affine.op} (rank != 2)"
    if w.ndim != 2:
        return "B is not 2-D"
    cols = w.shape[0] if affine.op == "gemm" and affine.attrs["transB"] else w.shape[1]
    return None if cols == channels else "weight shape does not fit"


def _cast(array: np.ndarray, like: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(array.astype(like.dtype))


def _fold_conv(
    node: Node, s: np.ndarray, mean: np.ndarray, shift: np.ndarray, b: RewriteBuilder, name: str
) -> Value:
    w_in, w = _weight(node, 1)
    bias = _old_bias(node, len(s))
    if node.op == "conv":
        new_w = _scale_rows(w, s)
    else:  # conv_transpose: [C, M/g, k...], channel g·(M/g) + j scales W[g-th input block, j]
        g, c, mg = int(node.attrs["group"]), w.shape[0], w.shape[1]
        wg = _product(np.ascontiguousarray(w).reshape(g, c // g, mg, -1), s.reshape(g, 1, mg, 1))
        new_w = wg.reshape(w.shape)
    w_out = b.const(new_w, w_in.name)
    new_b = b.const(_cast((bias - mean) * s + shift, w), f"{name}_bias" if name else "")
    return b.op_like(node.op, node.inputs[0], w_out, new_b, like=node.output, name=name,
                     **node.attrs)  # fmt: skip


def _scale_rows(w: np.ndarray, s: np.ndarray) -> np.ndarray:
    """`W·s` per output channel (axis 0), computed in float64 and cast back.

    Only W's distinct data is computed: a weight broadcast along other axes (a folded
    `ConstantOfShape` splat, stride 0) gives a result broadcast the same way, element for
    element equal to the full product, without materialising hundreds of MB.
    """
    column = s.reshape(-1, *([1] * (w.ndim - 1)))
    if 0 not in w.strides:  # a dense weight: the common case
        return _product(w, column)
    core = w[tuple(slice(None) if st or ax == 0 else slice(0, 1)
                   for ax, st in enumerate(w.strides))]  # fmt: skip
    scaled = np.multiply(core, column, dtype=np.float64)
    if scaled.shape == w.shape:
        return _cast(scaled, w)
    return np.broadcast_to(scaled.astype(w.dtype), w.shape)


def _product(w: np.ndarray, factor: np.ndarray) -> np.ndarray:
    """`w·factor` computed in float64 and rounded to w's dtype, element by element.

    The ufunc casts through buffers into the result: a full float64 copy of W and of the
    product would triple the weight's bytes at the peak. Buffers of 1024 elements, not 8192,
    keep the three float64 buffers (192 KB by default) below a small model's weights.
    """
    out = np.empty(np.broadcast_shapes(w.shape, factor.shape), w.dtype)
    with np.errstate():  # restores the buffer size on exit
        np.setbufsize(1024)
        return np.multiply(w, factor, out=out, dtype=np.float64, casting="unsafe")


def _old_bias(node: Node, channels: int) -> np.ndarray:
    if len(node.inputs) > 2 and node.inputs[2] is not None:
        return np.asarray(node.inputs[2].const_value(), np.float64)
    return np.zeros(channels)


def _fold_linear(
    node: Node, s: np.ndarray, mean: np.ndarray, shift: np.ndarray, b: RewriteBuilder, name: str
) -> Value:
    w_in, w = _weight(node, 1)
    trans_b = node.op == "gemm" and bool(node.attrs["transB"])
    scaled = _product(w, s[:, None] if trans_b else s[None, :])
    attrs = dict(node.attrs) if node.op == "gemm" else {}
    c = _gemm_c(node)
    beta = float(attrs.get("beta", 1.0))
    new_c = (beta * c - mean) * s + shift  # broadcasts C ([], [N], [1,N], [M,1], [M,N]) with [N]
    attrs["beta"] = 1.0
    new_w = b.const(scaled, w_in.name)
    new_bias = b.const(_cast(new_c, w), f"{name}_bias" if name else "")
    return b.op("gemm", node.inputs[0], new_w, new_bias, names=[name], **attrs)


def _gemm_c(node: Node) -> np.ndarray:
    if node.op == "gemm" and len(node.inputs) > 2 and node.inputs[2] is not None:
        return np.asarray(node.inputs[2].const_value(), np.float64)
    return np.zeros(())


_FOLDERS = {
    "conv": _fold_conv, "conv_transpose": _fold_conv, "gemm": _fold_linear, "matmul": _fold_linear,
}  # fmt: skip


class FuseActivation(RewriteRule):
    """act(conv/conv_transpose/gemm/matmul) → the op with `activation = act`."""

    name = "fuse-activation"
    pattern = P(tuple(EPILOGUES), P(AFFINE_OPS, capture="affine"))

    def check(self, match: Match) -> str | None:
        act, affine = match.root, match["affine"]
        if "activation" not in get_op(affine.op).attrs:
            return f"the {affine.op} schema has no activation epilogue"
        if affine.attrs.get("activation"):
            return f"the {affine.op} already applies {affine.attrs['activation']}"
        if act.output.type.dtype.to_numpy().kind not in FLOAT_KINDS:
            return "not a float activation"
        reason = _intermediate_refusal(affine.output, affine.op)
        if reason is None and act.op == "clip":
            reason = _clip_refusal(act)
        return reason

    def rewrite(self, match: Match, b: RewriteBuilder) -> Value:
        act, affine = match.root, match["affine"]
        bounds = [None if v is None else v.const_value() for v in act.inputs[1:]]
        params = epilogue_of(act.op, act.attrs, bounds)
        attrs = {**affine.attrs, "activation": act.op, "activation_params": params}
        return b.op_like(affine.op, *affine.inputs, like=act.output, **attrs)


def _clip_refusal(clip: Node) -> str | None:
    for value, what in zip(clip.inputs[1:], ("min", "max"), strict=False):
        if value is not None and value.const_value() is None:
            return f"the clip {what} is not a constant"
    return None


RULES = (FoldBatchNorm(), FuseActivation())


@register_pass
@dataclass(frozen=True)
class FuseConvBnReluPass(Pass):
    """Fold BN into conv/conv_transpose/gemm/matmul, then fuse the following activation.

    Options:
        fold_bn: Fold BatchNormalization into the preceding op.
        fuse_activation: Fuse the following activation as an epilogue.
    """

    name: ClassVar[str] = "fuse-conv-bn-relu"
    fold_bn: bool = True
    fuse_activation: bool = True

    def run(self, graph: Graph) -> bool:
        rules = [r for r, on in zip(RULES, (self.fold_bn, self.fuse_activation), strict=True) if on]
        return apply_rules(graph, rules) if rules else False
