"""Lowerings of the core-ATen neural-network ops: convolution, normalization, pooling, linear
algebra, softmax and activations. Tensor ops (arithmetic, shapes, reductions) are in
`torch_ops_tensor`. See docs/TORCH_FRONTEND.md for the whole ATen -> IR table.

Every lowering has the signature `fn(cx, node, args, kwargs)`: `cx` is the frontend's
`TorchValues`, `node` the FX node, `args`/`kwargs` its arguments as FX stores them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from compiler.errors import FrontendError
from compiler.frontend import (  # noqa: F401  register their lowerings
    torch_ops_index,
    torch_ops_tensor,
)
from compiler.frontend.torch_values import IGNORED, LOWERINGS, TorchValues, lowering, target_name
from compiler.ir import Value

__all__ = ["IGNORED", "LOWERINGS", "target_name"]


def _arg(args: tuple[Any, ...], kwargs: dict[str, Any], i: int, key: str, default: Any) -> Any:
    return args[i] if len(args) > i else kwargs.get(key, default)


def _pair(value: Any, rank: int) -> list[int]:
    items = [int(v) for v in (value if isinstance(value, (list, tuple)) else [value])]
    return items * rank if len(items) == 1 and rank > 1 else items


@lowering("getitem", "_operator.getitem")
def _getitem(cx: TorchValues, node: Any, args: tuple[Any, ...], kw: dict[str, Any]) -> Value:
    parts = cx.values[args[0]]
    index = int(args[1])
    if not isinstance(parts, tuple) or parts[index] is None:
        raise FrontendError(f"output {index} of {args[0].name!r} is not supported", cx.loc)
    return parts[index]  # type: ignore[no-any-return]


# -- convolution and linear algebra ---------------------------------------------------------------
@lowering("convolution.default")
def _convolution(cx: TorchValues, node: Any, args: tuple[Any, ...], kw: dict[str, Any]) -> Value:
    x, w = cx.value(args[0]), cx.value(args[1])
    bias = cx.value(args[2]) if args[2] is not None else None
    rank = len(w.type.shape or ()) - 2
    stride, padding, dilation = (_pair(a, rank) for a in args[3:6])
    transposed, output_padding, groups = bool(args[6]), _pair(args[7], rank), int(args[8])
    attrs: dict[str, Any] = dict(strides=tuple(stride), pads=tuple(padding + padding),
                                 dilations=tuple(dilation), group=groups)  # fmt: skip
    if not transposed:
        return cx.emit("conv", [x, w, bias], **attrs)  # type: ignore[no-any-return]
    if any(output_padding):
        attrs["output_padding"] = tuple(output_padding)
    return cx.emit("conv_transpose", [x, w, bias], **attrs)  # type: ignore[no-any-return]


@lowering("addmm.default")
def _addmm(cx: TorchValues, node: Any, args: tuple[Any, ...], kw: dict[str, Any]) -> Value:
    a, b = cx.value(args[1]), cx.value(args[2])
    bias = cx.like(args[0], a)
    beta, alpha = float(kw.get("beta", 1.0)), float(kw.get("alpha", 1.0))
    return cx.emit("gemm", [a, b, bias], alpha=alpha, beta=beta)  # type: ignore[no-any-return]


@lowering("linear.default")
def _linear(cx: TorchValues, node: Any, args: tuple[Any, ...], kw: dict[str, Any]) -> Value:
    x, w = cx.value(args[0]), cx.value(args[1])
    bias = _arg(args, kw, 2, "bias", None)
    b = cx.value(bias) if bias is not None else None
    if len(x.type.shape or ()) == 2:  # the ONNX exporters' form: one Gemm
        return cx.emit("gemm", [x, w, b], transB=1)  # type: ignore[no-any-return]
    y = cx.emit("matmul", [x, cx.emit("transpose", [w], perm=(1, 0))])
    return y if b is None else cx.emit("add", [y, b])  # type: ignore[no-any-return]


@lowering("mm.default", "bmm.default", "matmul.default")
def _matmul(cx: TorchValues, node: Any, args: tuple[Any, ...], kw: dict[str, Any]) -> Value:
    return cx.emit("matmul", [cx.value(args[0]), cx.value(args[1])])  # type: ignore[no-any-return]


# -- normalization --------------------------------------------------------------------------------
def _ones(cx: TorchValues, arg: Any, like: Value, n: Any, fill: float) -> Value:
    if arg is not None:
        return cx.value(arg)
    shape = tuple(int(d) for d in (n if isinstance(n, (list, tuple)) else [n]))
    return cx.const(np.full(shape, fill, dtype=like.type.dtype.to_numpy()))


@lowering("_native_batch_norm_legit_no_training.default")
def _batch_norm(cx: TorchValues, node: Any, args: tuple[Any, ...], kw: dict[str, Any]) -> tuple:
    x, mean, var = cx.value(args[0]), cx.value(args[3]), cx.value(args[4])
    channels = (mean.type.shape or (1,))[0]
    scale = _ones(cx, args[1], x, channels, 1.0)
    bias = _ones(cx, args[2], x, channels, 0.0)
    eps = float(_arg(args, kw, 6, "eps", 1e-5))
    out = cx.emit("batch_normalization", [x, scale, bias, mean, var], epsilon=eps)
    return (out, None, None)


@lowering("native_layer_norm.default")
def _layer_norm(cx: TorchValues, node: Any, args: tuple[Any, ...], kw: dict[str, Any]) -> tuple:
    x, shape = cx.value(args[0]), [int(d) for d in args[1]]
    scale = _ones(cx, args[2], x, shape, 1.0)
    bias = _ones(cx, args[3], x, shape, 0.0)
    out = cx.emit("layer_normalization", [x, scale, bias], axis=-len(shape),
                  epsilon=float(args[4]))  # fmt: skip
    return (out, None, None)


@lowering("native_group_norm.default")
def _group_norm(cx: TorchValues, node: Any, args: tuple[Any, ...], kw: dict[str, Any]) -> tuple:
    x, channels, groups = cx.value(args[0]), int(args[4]), int(args[6])
    scale = _ones(cx, args[1], x, channels, 1.0)
    bias = _ones(cx, args[2], x, channels, 0.0)
    out = cx.emit("group_normalization", [x, scale, bias], num_groups=groups,
                  epsilon=float(args[7]))  # fmt: skip
    return (out, None, None)


# -- softmax and activations ----------------------------------------------------------------------
@lowering("_softmax.default", "_log_softmax.default")
def _softmax(cx: TorchValues, node: Any, args: tuple[Any, ...], kw: dict[str, Any]) -> Value:
    op = "log_softmax" if "log" in target_name(node.target) else "softmax"
    x = cx.cast(cx.value(args[0]), cx.out_dtype())
    return cx.emit(op, [x], axis=int(args[1]))  # type: ignore[no-any-return]


@lowering("gelu.default")
def _gelu(cx: TorchValues, node: Any, args: tuple[Any, ...], kw: dict[str, Any]) -> Value:
    approximate = str(_arg(args, kw, 1, "approximate", "none"))
    return cx.emit("gelu", [cx.value(args[0])], approximate=approximate)  # type: ignore[no-any-return]


@lowering("hardsigmoid.default")
def _hardsigmoid(cx: TorchValues, node: Any, args: tuple[Any, ...], kw: dict[str, Any]) -> Value:
    return cx.emit("hard_sigmoid", [cx.value(args[0])], alpha=1.0 / 6.0, beta=0.5)  # type: ignore[no-any-return]


@lowering("leaky_relu.default")
def _leaky_relu(cx: TorchValues, node: Any, args: tuple[Any, ...], kw: dict[str, Any]) -> Value:
    slope = float(_arg(args, kw, 1, "negative_slope", 0.01))
    return cx.emit("leaky_relu", [cx.value(args[0])], alpha=slope)  # type: ignore[no-any-return]


@lowering("elu.default")
def _elu(cx: TorchValues, node: Any, args: tuple[Any, ...], kw: dict[str, Any]) -> Value:
    """scale * elu(input_scale * x, alpha): ELU, and SELU/CELU after decomposition."""
    x = cx.value(args[0])
    alpha = float(_arg(args, kw, 1, "alpha", 1.0))
    scale = float(_arg(args, kw, 2, "scale", 1))
    in_scale = float(_arg(args, kw, 3, "input_scale", 1))
    if in_scale != 1.0:
        x = cx.emit("mul", [x, cx.scalar(in_scale, x.type.dtype)])
    y = cx.emit("elu", [x], alpha=alpha)
    return y if scale == 1.0 else cx.emit("mul", [y, cx.scalar(scale, x.type.dtype)])  # type: ignore[no-any-return]


@lowering("hardtanh.default", "clamp.default", "clamp.Tensor")
def _clamp(cx: TorchValues, node: Any, args: tuple[Any, ...], kw: dict[str, Any]) -> Value:
    x = cx.value(args[0])
    is_hardtanh = target_name(node.target).startswith("hardtanh")
    lo = _arg(args, kw, 1, "min_val" if is_hardtanh else "min", -1.0 if is_hardtanh else None)
    hi = _arg(args, kw, 2, "max_val" if is_hardtanh else "max", 1.0 if is_hardtanh else None)
    if lo is None and hi is None:
        return x
    bounds = [None if b is None else cx.cast(cx.like(b, x), x.type.dtype) for b in (lo, hi)]
    if all(b is None or b.type.shape == () for b in bounds):
        return cx.emit("clip", [x, *bounds])  # type: ignore[no-any-return]
    for op, bound in zip(("max", "min"), bounds, strict=True):  # tensor bounds broadcast
        x = x if bound is None else cx.emit(op, [x, bound])
    return x


# -- pooling --------------------------------------------------------------------------------------
def _pool_attrs(args: tuple[Any, ...], kw: dict[str, Any], rank: int) -> dict[str, Any]:
    kernel = _pair(args[1], rank)
    stride = _pair(_arg(args, kw, 2, "stride", []) or kernel, rank)
    padding = _pair(_arg(args, kw, 3, "padding", 0), rank)
    return dict(kernel_shape=tuple(kernel), strides=tuple(stride), pads=tuple(padding + padding))


@lowering("max_pool2d_with_indices.default", "max_pool3d_with_indices.default",
          "max_pool1d.default", "max_pool2d.default")  # fmt: skip
def _max_pool(cx: TorchValues, node: Any, args: tuple[Any, ...], kw: dict[str, Any]) -> Any:
    x = cx.value(args[0])
    rank = len(x.type.shape or ()) - 2
    attrs = _pool_attrs(args, kw, rank)
    attrs["dilations"] = tuple(_pair(_arg(args, kw, 4, "dilation", 1), rank))
    attrs["ceil_mode"] = int(bool(_arg(args, kw, 5, "ceil_mode", False)))
    out = cx.emit("max_pool", [x], **attrs)
    return (out, None) if "with_indices" in target_name(node.target) else out


@lowering("avg_pool1d.default", "avg_pool2d.default", "avg_pool3d.default")
def _avg_pool(cx: TorchValues, node: Any, args: tuple[Any, ...], kw: dict[str, Any]) -> Value:
    x = cx.value(args[0])
    attrs = _pool_attrs(args, kw, len(x.type.shape or ()) - 2)
    attrs["ceil_mode"] = int(bool(_arg(args, kw, 4, "ceil_mode", False)))
    attrs["count_include_pad"] = int(bool(_arg(args, kw, 5, "count_include_pad", True)))
    if _arg(args, kw, 6, "divisor_override", None) is not None:
        raise FrontendError("avg_pool with divisor_override is not supported", cx.loc)
    return cx.emit("average_pool", [x], **attrs)  # type: ignore[no-any-return]


@lowering("_adaptive_avg_pool2d.default", "adaptive_avg_pool1d.default",
          "_adaptive_avg_pool3d.default")  # fmt: skip
def _adaptive_avg_pool(
    cx: TorchValues, node: Any, args: tuple[Any, ...], kw: dict[str, Any]
) -> Value:
    x = cx.value(args[0])
    spatial = (x.type.shape or ())[2:]
    out = _pair(args[1], len(spatial))
    if all(o == 1 for o in out):
        return cx.emit("global_average_pool", [x])  # type: ignore[no-any-return]
    if not all(isinstance(s, int) and s % o == 0 for s, o in zip(spatial, out, strict=True)):
        raise FrontendError(f"adaptive pooling of {spatial} to {out}: sizes must divide", cx.loc)
    kernel = tuple(int(s) // o for s, o in zip(spatial, out, strict=True))
    return cx.emit("average_pool", [x], kernel_shape=kernel, strides=kernel)  # type: ignore[no-any-return]


@lowering("constant_pad_nd.default")
def _pad(cx: TorchValues, node: Any, args: tuple[Any, ...], kw: dict[str, Any]) -> Value:
    x = cx.value(args[0])
    rank = len(x.type.shape or ())
    pad = [int(p) for p in args[1]]
    begins, ends = [0] * rank, [0] * rank
    for i in range(len(pad) // 2):  # torch lists (begin, end) pairs from the last dim backwards
        begins[rank - 1 - i], ends[rank - 1 - i] = pad[2 * i], pad[2 * i + 1]
    value = cx.scalar(float(_arg(args, kw, 2, "value", 0.0)), x.type.dtype)
    return cx.emit("pad", [x, cx.ints(begins + ends), value])  # type: ignore[no-any-return]


@lowering("embedding.default")
def _embedding(cx: TorchValues, node: Any, args: tuple[Any, ...], kw: dict[str, Any]) -> Value:
    return cx.emit("gather", [cx.value(args[0]), cx.value(args[1])], axis=0)  # type: ignore[no-any-return]


@lowering("scaled_dot_product_attention.default")
def _sdpa(cx: TorchValues, node: Any, args: tuple[Any, ...], kw: dict[str, Any]) -> Value:
    """softmax(q·√s · (k·√s)ᵀ + mask)·v, s = scale or 1/√E, as torch's math backend computes it."""
    q, k, v = (cx.value(a) for a in args[:3])
    mask, dropout = _arg(args, kw, 3, "attn_mask", None), float(_arg(args, kw, 4, "dropout_p", 0))
    causal, scale = bool(_arg(args, kw, 5, "is_causal", False)), _arg(args, kw, 6, "scale", None)
    if dropout != 0.0 or kw.get("enable_gqa"):
        raise FrontendError(
            "attention with dropout or grouped-query heads is not supported", cx.loc
        )
    qshape, kshape = q.type.shape or (), k.type.shape or ()
    head = qshape[-1]
    if scale is None and not isinstance(head, int):
        raise FrontendError("attention with a symbolic head size needs an explicit scale", cx.loc)
    factor = float(scale) if scale is not None else 1.0 / float(head) ** 0.5
    root = cx.scalar(factor**0.5, q.type.dtype)
    perm = tuple(range(len(kshape) - 2)) + (len(kshape) - 1, len(kshape) - 2)
    kt = cx.emit("mul", [cx.emit("transpose", [k], perm=perm), root])
    scores = cx.emit("matmul", [cx.emit("mul", [q, root]), kt])
    if causal:
        scores = cx.emit("add", [scores, _causal_mask(cx, qshape[-2], kshape[-2], q)])
    if mask is not None:
        scores = cx.emit("add", [scores, _additive_mask(cx, cx.value(mask), q)])
    return cx.emit("matmul", [cx.emit("softmax", [scores], axis=-1), v])  # type: ignore[no-any-return]


def _causal_mask(cx: TorchValues, length: Any, source: Any, q: Value) -> Value:
    if not isinstance(length, int) or not isinstance(source, int):
        raise FrontendError("causal attention needs static sequence lengths", cx.loc)
    keep = np.tril(np.ones((length, source), dtype=bool))
    return cx.const(np.where(keep, 0.0, -np.inf).astype(q.type.dtype.to_numpy()))


def _additive_mask(cx: TorchValues, mask: Value, q: Value) -> Value:
    if mask.type.dtype.name != "BOOL":
        return cx.cast(mask, q.type.dtype)
    zero, minus_inf = cx.scalar(0.0, q.type.dtype), cx.scalar(-np.inf, q.type.dtype)
    return cx.emit("where", [mask, zero, minus_inf])  # type: ignore[no-any-return]


_UPSAMPLE = ("nearest1d", "nearest2d", "nearest3d", "linear1d", "bilinear2d", "trilinear3d")


@lowering(*(f"upsample_{kind}.vec" for kind in _UPSAMPLE))
def _upsample(cx: TorchValues, node: Any, args: tuple[Any, ...], kw: dict[str, Any]) -> Value:
    """Resize over the spatial axes; torch's coordinate rules are ONNX's `asymmetric` + `floor`
    (nearest), `half_pixel` (linear) and `align_corners`."""
    x = cx.value(args[0])
    nearest = "nearest" in target_name(node.target)
    size = _arg(args, kw, 1, "output_size", None)
    align = False if nearest else bool(_arg(args, kw, 2, "align_corners", False))
    factors = _arg(args, kw, 2 if nearest else 3, "scale_factors", None)
    axes = tuple(range(2, len(x.type.shape or ())))
    attrs: dict[str, Any] = {"axes": axes, "mode": "nearest" if nearest else "linear"}
    if nearest:
        attrs.update(coordinate_transformation_mode="asymmetric", nearest_mode="floor")
    else:
        attrs["coordinate_transformation_mode"] = "align_corners" if align else "half_pixel"
    if size is not None:
        return cx.emit("resize", [x, None, None, cx.ints(size)], **attrs)  # type: ignore[no-any-return]
    scales = cx.const(np.array([float(f) for f in factors], dtype=np.float32))
    return cx.emit("resize", [x, None, scales], **attrs)  # type: ignore[no-any-return]
