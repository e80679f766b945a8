"""Write IR nodes in the form of an older (or newer) ONNX opset than their canonical one.

The IR keeps the newest form (moved attributes are inputs). For a target opset below the form's
first opset, the inputs that used to be attributes go back to attributes; they must then be
constants. Split at opset 18+ needs `num_outputs` when the `split` input is absent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from compiler.errors import BackendError
from compiler.ir import Node


@dataclass
class OnnxForm:
    """A node on its way to a NodeProto: op type, input names ("" = absent), typed attributes."""

    op_type: str
    inputs: list[str]
    attrs: dict[str, tuple[str, Any]] = field(default_factory=dict)


Rule = Callable[[Node, OnnxForm, int], None]
_RULES: dict[str, tuple[int, Rule]] = {}  # op type -> (first opset of the IR form, rule)


def _rule(op_types: tuple[str, ...], first: int) -> Callable[[Rule], Rule]:
    def wrap(fn: Rule) -> Rule:
        for op_type in op_types:
            _RULES[op_type] = (first, fn)
        return fn

    return wrap


def has_downgrade(op_type: str, opset: int) -> bool:
    """Whether a rule can write `op_type` at `opset` (below its IR form's first opset)."""
    entry = _RULES.get(op_type)
    return entry is not None and opset < entry[0]


def convert(node: Node, form: OnnxForm, opset: int) -> None:
    """Rewrite `form` in place for `opset` (no-op when the IR form is valid there)."""
    if form.op_type == "Split":
        _split_outputs(node, form, opset)
    entry = _RULES.get(form.op_type)
    if entry is not None and opset < entry[0]:
        entry[1](node, form, opset)


def _const_input(node: Node, form: OnnxForm, index: int, what: str) -> np.ndarray | None:
    """The constant array of input `index` (None when absent); BackendError when not constant."""
    value = node.input(index)
    if value is None:
        return None
    array = value.const_value()
    if array is None:
        raise BackendError(
            f"{form.op_type}: input {what} must be a constant to be written as an attribute at "
            f"this opset", node.loc,
        )  # fmt: skip
    return array


def _drop_inputs(form: OnnxForm, keep: int) -> None:
    form.inputs = form.inputs[:keep]


def _to_attr(node: Node, form: OnnxForm, index: int, key: str) -> None:
    array = _const_input(node, form, index, key)
    if array is not None:
        form.attrs[key] = ("ints", tuple(int(x) for x in array.reshape(-1)))


@_rule(("Squeeze", "Unsqueeze", "ReduceSum"), 13)
def _axes_13(node: Node, form: OnnxForm, opset: int) -> None:
    _axes_to_attr(node, form)


_REDUCE_18 = ("ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
              "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare")  # fmt: skip


@_rule(_REDUCE_18, 18)
def _axes_18(node: Node, form: OnnxForm, opset: int) -> None:
    _axes_to_attr(node, form)


def _axes_to_attr(node: Node, form: OnnxForm) -> None:
    noop = form.attrs.pop("noop_with_empty_axes", ("int", 0))[1]
    _to_attr(node, form, 1, "axes")
    if noop and not form.attrs.get("axes", ("ints", ()))[1]:
        raise BackendError(
            f"{form.op_type}: noop_with_empty_axes=1 without axes cannot be written before "
            f"its opset", node.loc,
        )  # fmt: skip
    if "axes" in form.attrs and not form.attrs["axes"][1]:
        del form.attrs["axes"]  # empty axes = all axes in the old form too
    _drop_inputs(form, 1)


@_rule(("Split",), 13)
def _split(node: Node, form: OnnxForm, opset: int) -> None:
    _to_attr(node, form, 1, "split")
    form.attrs.pop("num_outputs", None)
    _drop_inputs(form, 1)


def _split_outputs(node: Node, form: OnnxForm, opset: int) -> None:
    has_split = len(form.inputs) > 1 and form.inputs[1] != ""
    if opset >= 18 and not has_split:
        form.attrs["num_outputs"] = ("int", len(node.outputs))
    elif opset < 18 or has_split:
        form.attrs.pop("num_outputs", None)


@_rule(("Slice",), 10)
def _slice(node: Node, form: OnnxForm, opset: int) -> None:
    steps = _const_input(node, form, 4, "steps")
    if steps is not None and np.any(steps != 1):
        raise BackendError("Slice: steps other than 1 need opset 10", node.loc)
    for index, key in ((1, "starts"), (2, "ends"), (3, "axes")):
        _to_attr(node, form, index, key)
    _drop_inputs(form, 1)


@_rule(("Clip",), 11)
def _clip(node: Node, form: OnnxForm, opset: int) -> None:
    for index, key in ((1, "min"), (2, "max")):
        array = _const_input(node, form, index, key)
        if array is not None:
            form.attrs[key] = ("float", float(array.reshape(-1)[0]))
    _drop_inputs(form, 1)


@_rule(("Pad",), 11)
def _pad(node: Node, form: OnnxForm, opset: int) -> None:
    if node.input(3) is not None:
        raise BackendError("Pad: the axes input needs opset 18", node.loc)
    _to_attr(node, form, 1, "pads")
    value = _const_input(node, form, 2, "constant_value")
    if value is not None:
        form.attrs["value"] = ("float", float(value.reshape(-1)[0]))
    _drop_inputs(form, 1)


@_rule(("TopK",), 10)
def _topk(node: Node, form: OnnxForm, opset: int) -> None:
    k = _const_input(node, form, 1, "k")
    assert k is not None
    form.attrs["k"] = ("int", int(k.reshape(-1)[0]))
    _drop_inputs(form, 1)


@_rule(("Dropout",), 12)
def _dropout(node: Node, form: OnnxForm, opset: int) -> None:
    mode = _const_input(node, form, 2, "training_mode")
    if mode is not None and bool(mode.reshape(-1)[0]):
        raise BackendError("Dropout: training_mode needs opset 12", node.loc)
    ratio = _const_input(node, form, 1, "ratio")
    if ratio is not None:
        form.attrs["ratio"] = ("float", float(ratio.reshape(-1)[0]))
    _drop_inputs(form, 1)
