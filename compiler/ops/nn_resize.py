"""Resize (newest form: inputs X, roi?, scales?, sizes?; attrs incl. antialias, axes,
keep_aspect_ratio_policy).

Output dims come from constant (or partially known) `sizes`, or `floor(in * scale)` from constant
`scales`; otherwise they are `None`. The kernel is separable: one 1-D weight matrix per resized
axis (nearest, linear, cubic; antialias stretches the linear/cubic filter by 1/scale).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from compiler.ops.common import normalize_axes
from compiler.registry import InferContext, InferDim, attr, defop, kernel
from compiler.types import TensorType

_RESIZE_ATTRS = {
    "antialias": attr("int", 0),
    "axes": attr("ints"),
    "coordinate_transformation_mode": attr("str", "half_pixel"),
    "cubic_coeff_a": attr("float", -0.75),
    "exclude_outside": attr("int", 0),
    "extrapolation_value": attr("float", 0.0),
    "keep_aspect_ratio_policy": attr("str", "stretch"),
    "mode": attr("str", "nearest"),
    "nearest_mode": attr("str", "round_prefer_floor"),
}
_MODES = ("nearest", "linear", "cubic")
_POLICIES = ("stretch", "not_larger", "not_smaller")


def _present(ctx: InferContext, i: int) -> bool:
    """An optional input given as an empty tensor (opset 11-12 style) counts as absent."""
    if not ctx.has(i):
        return False
    shape = ctx.shape(i)
    return not (len(shape) == 1 and shape[0] == 0)


@defop("resize", onnx="Resize", inputs=(1, 4), attrs=_RESIZE_ATTRS, since=19)
def _resize(ctx: InferContext) -> list[TensorType]:
    """Resize by interpolation (nearest / N-linear / N-cubic) to given scales or sizes."""
    x = ctx.shape(0)
    if ctx.attr("mode") not in _MODES or ctx.attr("keep_aspect_ratio_policy") not in _POLICIES:
        raise ctx.fail(
            f"bad mode {ctx.attr('mode')!r} or policy {ctx.attr('keep_aspect_ratio_policy')!r}"
        )
    axes = normalize_axes(ctx.attr("axes") or range(len(x)), len(x), ctx.op)
    has_scales, has_sizes = _present(ctx, 2), _present(ctx, 3)
    if has_scales == has_sizes:
        raise ctx.fail("exactly one of scales and sizes must be given")
    dims = _from_sizes(ctx, x, axes) if has_sizes else _from_scales(ctx, x, axes)
    out: list[InferDim] = list(x)
    for axis, d in zip(axes, dims, strict=True):
        out[axis] = d
    return [ctx.type(0).with_shape(tuple(out))]


def _from_scales(ctx: InferContext, x: Sequence[InferDim], axes: Sequence[int]) -> list[InferDim]:
    scales = ctx.const(2)
    if scales is None:
        return [None] * len(axes)
    if scales.shape != (len(axes),):
        raise ctx.fail(f"scales has shape {scales.shape}, expected ({len(axes)},)")
    out: list[InferDim] = []
    for axis, s in zip(axes, scales.tolist(), strict=True):
        size = x[axis]
        if s <= 0:
            raise ctx.fail(f"scales must be positive, got {s}")
        out.append(size if s == 1.0 else (math.floor(size * s) if isinstance(size, int) else None))
    return out


def _from_sizes(ctx: InferContext, x: Sequence[InferDim], axes: Sequence[int]) -> list[InferDim]:
    sizes = ctx.shape_value(3)
    if sizes is None:
        return [None] * len(axes)
    if len(sizes) != len(axes):
        raise ctx.fail(f"sizes has {len(sizes)} values for {len(axes)} axes")
    policy = ctx.attr("keep_aspect_ratio_policy")
    if policy == "stretch":
        return list(sizes)
    ins = [x[a] for a in axes]
    if not all(isinstance(d, int) for d in (*sizes, *ins)):
        return [None] * len(axes)
    scale = _policy_scale(policy, sizes, ins)  # type: ignore[arg-type]
    return [int(scale * d + 0.5) for d in ins]  # type: ignore[operator]


def _policy_scale(policy: str, sizes: Sequence[int], ins: Sequence[int]) -> float:
    ratios = [s / d for s, d in zip(sizes, ins, strict=True)]
    return min(ratios) if policy == "not_larger" else max(ratios)


# -- kernel ----------------------------------------------------------------------------------------


@kernel("resize")
def _resize_kernel(inputs: list[Any], attrs: dict[str, Any]) -> list[np.ndarray]:
    x = inputs[0]
    roi, scales, sizes = (list(inputs[1:]) + [None] * 3)[:3]
    r = x.ndim
    axes = [a % r for a in (attrs.get("axes") or range(r))]
    if scales is not None and scales.size:
        factors = [float(s) for s in scales]
        out = [int(math.floor(x.shape[a] * f)) for a, f in zip(axes, factors, strict=True)]
    else:
        out = [int(s) for s in sizes]
        factors = [o / x.shape[a] for a, o in zip(axes, out, strict=True)]
        if attrs["keep_aspect_ratio_policy"] != "stretch":
            scale = _policy_scale(
                attrs["keep_aspect_ratio_policy"], out, [x.shape[a] for a in axes]
            )
            factors = [scale] * len(axes)
            out = [int(scale * x.shape[a] + 0.5) for a in axes]
    has_roi = roi is not None and roi.size
    y = x.astype(np.float64)
    for i, axis in enumerate(axes):
        span = (float(roi[i]), float(roi[i + len(axes)])) if has_roi else (0.0, 1.0)
        y = _resize_axis(y, axis, out[i], factors[i], span, attrs)
    return [y.astype(x.dtype)]


def _resize_axis(
    y: np.ndarray,
    axis: int,
    out: int,
    scale: float,
    roi: tuple[float, float],
    attrs: dict[str, Any],
) -> np.ndarray:
    size = y.shape[axis]
    if out == size and scale == 1.0 and roi == (0.0, 1.0):
        return y
    coords, outside = _source_coords(size, out, scale, roi, attrs["coordinate_transformation_mode"])
    weights = _weights(coords, size, scale, attrs)
    moved = np.moveaxis(y, axis, -1) @ weights.T
    if outside is not None:
        moved = np.where(outside, attrs["extrapolation_value"], moved)
    return np.moveaxis(moved, -1, axis)


def _source_coords(
    size: int, out: int, scale: float, roi: tuple[float, float], mode: str
) -> tuple[np.ndarray, np.ndarray | None]:
    """x_original for each output index (ONNX coordinate_transformation_mode)."""
    y = np.arange(out, dtype=np.float64)
    length = scale * size  # the (float) resized length
    if mode == "align_corners":
        return (np.zeros(out) if length == 1 else y * (size - 1) / (length - 1)), None
    if mode == "asymmetric":
        return y / scale, None
    if mode == "pytorch_half_pixel":
        return (np.full(out, -0.5) if length == 1 else (y + 0.5) / scale - 0.5), None
    if mode == "half_pixel":
        return (y + 0.5) / scale - 0.5, None
    if mode == "half_pixel_symmetric":
        offset = size / 2 * (1 - out / length)
        return offset + (y + 0.5) / scale - 0.5, None
    if mode == "tf_crop_and_resize":
        start, end = roi
        if length == 1:
            x = np.full(out, (end - start) * (size - 1) / 2)
        else:
            x = y * (end - start) * (size - 1) / (length - 1)
        x = x + start * (size - 1)
        return x, (x < 0) | (x > size - 1)
    raise ValueError(f"resize: unknown coordinate_transformation_mode {mode!r}")


def _weights(coords: np.ndarray, size: int, scale: float, attrs: dict[str, Any]) -> np.ndarray:
    """The [out, in] interpolation matrix for one axis."""
    if attrs["mode"] == "nearest":
        idx = np.clip(_round(coords, attrs["nearest_mode"]), 0, size - 1)
        w = np.zeros((len(coords), size))
        w[np.arange(len(coords)), idx] = 1.0
        return w
    cubic = attrs["mode"] == "cubic"
    stretch = min(scale, 1.0) if attrs["antialias"] else 1.0
    reach = (2 if cubic else 1) / stretch
    base = np.floor(coords)
    taps = np.arange(-math.ceil(reach) + 1, math.ceil(reach) + 1)
    pos = base[:, None] + taps[None, :]  # out, T
    dist = np.abs(pos - coords[:, None]) * stretch
    coef = _cubic(dist, attrs["cubic_coeff_a"]) if cubic else np.clip(1 - dist, 0, None)
    inside = (pos >= 0) & (pos <= size - 1)
    if attrs["exclude_outside"]:
        coef = np.where(inside, coef, 0.0)
    if attrs["antialias"] or attrs["exclude_outside"]:
        coef = coef / np.where(coef.sum(1, keepdims=True) == 0, 1, coef.sum(1, keepdims=True))
    w = np.zeros((len(coords), size))
    rows = np.broadcast_to(np.arange(len(coords))[:, None], pos.shape)
    np.add.at(w, (rows, np.clip(pos, 0, size - 1).astype(np.int64)), coef)
    return w


def _cubic(d: np.ndarray, a: float) -> np.ndarray:
    near = ((a + 2) * d - (a + 3)) * d * d + 1
    far = ((a * d - 5 * a) * d + 8 * a) * d - 4 * a
    return np.where(d <= 1, near, np.where(d < 2, far, 0.0))


def _round(x: np.ndarray, mode: str) -> np.ndarray:
    if mode == "round_prefer_floor":
        out = np.ceil(x - 0.5)
    elif mode == "round_prefer_ceil":
        out = np.floor(x + 0.5)
    elif mode == "floor":
        out = np.floor(x)
    elif mode == "ceil":
        out = np.ceil(x)
    else:
        raise ValueError(f"resize: unknown nearest_mode {mode!r}")
    return out.astype(np.int64)
