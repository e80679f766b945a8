"""Upgrade old ONNX op forms (opset 7 and later) to the IR's canonical (newest) form.

ONNX moved many attributes to inputs over time (Slice 10, Squeeze/Unsqueeze/Split/ReduceSum 13,
other Reduce* 18, Clip 11, Pad 11, TopK 10, Dropout 12, Resize 11) and changed Softmax, LogSoftmax
and Hardmax at 13 from "flatten to 2-D at `axis`" to "along `axis`". Each rule here rewrites one
old node into the new form: moved attributes become `const` inputs, and the old softmax family
becomes `flatten -> softmax(axis=1) -> reshape(shape(x))` unless the plain op is equivalent (the
axis is the last one, or every dim after it is 1).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from compiler.errors import FrontendError, UnsupportedOpError
from compiler.types import TensorType


@dataclass
class OnnxNode:
    """An ONNX node with attributes already decoded to Python values.

    Attributes:
        op_type: The ONNX op type (after upgrades, the op type of the new form).
        domain: The ONNX domain ("" for the default one).
        inputs: Input tensor names; "" marks an absent optional input.
        outputs: Output tensor names.
        attrs: Attribute values (int, float, str, lists, ndarray).
        name: The name used in locations (`node.name` or `OpType#index`).
    """

    op_type: str
    domain: str
    inputs: list[str]
    outputs: list[str]
    attrs: dict[str, Any] = field(default_factory=dict)
    name: str = ""


class UpgradeContext(Protocol):
    """What an upgrade rule may ask of the importer."""

    def const(self, array: np.ndarray, hint: str) -> str:
        """Create a `const` and return its tensor name."""
        ...

    def type_of(self, name: str) -> TensorType:
        """The type of an already imported tensor."""
        ...

    def fresh(self, hint: str) -> str:
        """A tensor name not used anywhere in the model."""
        ...


Rule = Callable[[OnnxNode, UpgradeContext], list[OnnxNode]]
_RULES: dict[str, tuple[int, Rule]] = {}  # op type -> (first opset of the new form, rule)


def _rule(op_types: tuple[str, ...], before: int) -> Callable[[Rule], Rule]:
    def wrap(fn: Rule) -> Rule:
        for op_type in op_types:
            _RULES[op_type] = (before, fn)
        return fn

    return wrap


def renamed_op(op_type: str) -> str:
    """The ONNX op type a deprecated op is imported as (Upsample -> Resize)."""
    return "Resize" if op_type == "Upsample" else op_type


def needs_upgrade(op_type: str, opset: int) -> bool:
    """Whether a default-domain node of `op_type` at `opset` goes through `upgrade`."""
    if op_type == "Constant":
        return True
    entry = _RULES.get(op_type)
    return entry is not None and opset < entry[0]


def upgrade(node: OnnxNode, opset: int, ctx: UpgradeContext) -> list[OnnxNode]:
    """Rewrite `node` (from a default-domain model of `opset`) into the newest form."""
    if node.domain not in ("", "ai.onnx"):
        return [node]
    entry = _RULES.get(node.op_type)
    if entry is None or opset >= entry[0]:
        return [node]
    # every rule reads input 0 and output 0: check them here, before any rule indexes them
    if not node.inputs or not node.inputs[0] or not node.outputs or not node.outputs[0]:
        raise FrontendError(f"{node.op_type} node {node.name!r} (opset {opset}): needs its first "
                            f"input and output, has inputs {node.inputs} and outputs "
                            f"{node.outputs}")  # fmt: skip
    return entry[1](node, ctx)


def _pad_inputs(node: OnnxNode, count: int) -> None:
    while len(node.inputs) < count:
        node.inputs.append("")


def _move_ints(node: OnnxNode, ctx: UpgradeContext, key: str, slot: int) -> None:
    """Move an ints attribute to input `slot` as an int64 const (absent stays absent)."""
    value = node.attrs.pop(key, None)
    _pad_inputs(node, slot + 1)
    if value is not None:
        node.inputs[slot] = ctx.const(np.asarray(value, dtype=np.int64), f"{node.name}_{key}")


@_rule(("Slice",), 10)
def _slice(node: OnnxNode, ctx: UpgradeContext) -> list[OnnxNode]:
    for slot, key in ((1, "starts"), (2, "ends"), (3, "axes")):
        _move_ints(node, ctx, key, slot)
    return [node]


@_rule(("Squeeze", "Unsqueeze", "ReduceSum"), 13)
def _axes_13(node: OnnxNode, ctx: UpgradeContext) -> list[OnnxNode]:
    _move_ints(node, ctx, "axes", 1)
    return [node]


@_rule(("Split",), 13)
def _split(node: OnnxNode, ctx: UpgradeContext) -> list[OnnxNode]:
    _move_ints(node, ctx, "split", 1)
    return [node]


_REDUCE_18 = ("ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
              "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare")  # fmt: skip


@_rule(_REDUCE_18, 18)
def _reduce(node: OnnxNode, ctx: UpgradeContext) -> list[OnnxNode]:
    _move_ints(node, ctx, "axes", 1)
    return [node]


@_rule(("TopK",), 10)
def _topk(node: OnnxNode, ctx: UpgradeContext) -> list[OnnxNode]:
    k = node.attrs.pop("k", None)
    if k is None:
        raise FrontendError(f"TopK node {node.name!r} has no k")
    node.inputs = [node.inputs[0], ctx.const(np.array([k], np.int64), f"{node.name}_k")]
    return [node]


def _scalar_like(node: OnnxNode, ctx: UpgradeContext, value: float) -> np.ndarray:
    dtype = ctx.type_of(node.inputs[0]).dtype.to_numpy()
    return np.array(value, dtype=dtype)


@_rule(("Clip",), 11)
def _clip(node: OnnxNode, ctx: UpgradeContext) -> list[OnnxNode]:
    lo, hi = node.attrs.pop("min", None), node.attrs.pop("max", None)
    node.inputs = [node.inputs[0], "", ""]
    if lo is not None:
        node.inputs[1] = ctx.const(_scalar_like(node, ctx, lo), f"{node.name}_min")
    if hi is not None:
        node.inputs[2] = ctx.const(_scalar_like(node, ctx, hi), f"{node.name}_max")
    return [node]


@_rule(("Pad",), 11)
def _pad(node: OnnxNode, ctx: UpgradeContext) -> list[OnnxNode]:
    pads = node.attrs.pop("pads", None)
    if pads is None:
        raise FrontendError(f"Pad node {node.name!r} has no pads")
    value = node.attrs.pop("value", 0.0)
    pads_name = ctx.const(np.asarray(pads, np.int64), f"{node.name}_pads")
    node.inputs = [node.inputs[0], pads_name]
    if value != 0.0:
        node.inputs.append(ctx.const(_scalar_like(node, ctx, value), f"{node.name}_value"))
    return [node]


@_rule(("Dropout",), 12)
def _dropout(node: OnnxNode, ctx: UpgradeContext) -> list[OnnxNode]:
    # Inference never reads the ratio (training_mode is absent = false); drop it.
    node.attrs.pop("ratio", None)
    node.attrs.pop("is_test", None)
    return [node]


@_rule(("BatchNormalization",), 1 << 30)  # every opset: training mode is refused
def _batchnorm(node: OnnxNode, ctx: UpgradeContext) -> list[OnnxNode]:
    if node.attrs.get("training_mode") or any(node.outputs[1:]):
        # running/saved statistics outputs: irforge is an inference compiler
        raise UnsupportedOpError(
            f"BatchNormalization in training mode is not supported (node {node.name!r})",
            ops=[("BatchNormalization", node.name, None)],
        )
    spatial = node.attrs.pop("spatial", 1)
    rank = ctx.type_of(node.inputs[0]).rank
    if spatial != 1 and rank > 2:
        raise FrontendError(f"BatchNormalization node {node.name!r}: spatial=0 is not supported")
    return [node]


@_rule(("Upsample",), 1 << 30)  # deprecated since 10: always rewritten
@_rule(("Resize",), 11)
def _resize(node: OnnxNode, ctx: UpgradeContext) -> list[OnnxNode]:
    scales = node.attrs.pop("scales", None)
    if scales is not None:  # Upsample 7: scales was an attribute
        scales_name = ctx.const(np.asarray(scales, np.float32), f"{node.name}_scales")
    else:
        scales_name = node.inputs[1]
    mode = node.attrs.get("mode", "nearest")
    # Resize 10 / Upsample index the input at floor(out_index / scale).
    node.attrs = {"mode": mode, "coordinate_transformation_mode": "asymmetric"}
    if mode == "nearest":
        node.attrs["nearest_mode"] = "floor"
    node.op_type = "Resize"
    node.inputs = [node.inputs[0], "", scales_name]
    return [node]


@_rule(("Softmax", "LogSoftmax", "Hardmax"), 13)
def _softmax_family(node: OnnxNode, ctx: UpgradeContext) -> list[OnnxNode]:
    x_type = ctx.type_of(node.inputs[0])
    rank = x_type.rank
    axis = int(node.attrs.get("axis", 1))
    axis = axis + rank if axis < 0 else axis
    if not 0 <= axis < max(rank, 1):
        raise FrontendError(f"{node.op_type} node {node.name!r}: axis {axis} out of range")
    node.attrs["axis"] = axis
    trailing = x_type.shape[axis + 1 :] if x_type.shape is not None else ()
    if axis >= rank - 1 or all(d == 1 for d in trailing):
        return [node]
    flat, soft, shape = ctx.fresh(f"{node.name}_2d"), ctx.fresh(f"{node.name}_y2d"), \
        ctx.fresh(f"{node.name}_shape")  # fmt: skip
    x, y = node.inputs[0], node.outputs[0]
    return [
        OnnxNode("Flatten", "", [x], [flat], {"axis": axis}, node.name),
        OnnxNode(node.op_type, "", [flat], [soft], {"axis": 1}, node.name),
        OnnxNode("Shape", "", [x], [shape], {}, node.name),
        OnnxNode("Reshape", "", [soft, shape], [y], {"allowzero": 1}, node.name),
    ]


def upgraded_op_types(op_type: str) -> tuple[str, ...]:
    """The op types an old-form node may expand to (for the supported-op check)."""
    if op_type in ("Softmax", "LogSoftmax", "Hardmax"):
        return (op_type, "Flatten", "Shape", "Reshape")
    return (renamed_op(op_type),)
