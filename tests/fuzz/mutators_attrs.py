"""Fuzzer mutations of attributes and of integer data (shapes, axes, perms, pads, kernel sizes)."""

from __future__ import annotations

import random
from collections.abc import Callable

import numpy as np
import onnx
from onnx import AttributeProto, helper, numpy_helper

ABSURD_INTS = (-1, -2, 0, 1, 3, 7, 1000, -(2**31), 2**31, 2**40, 2**62, 2**63 - 1, -(2**63))
_NAMES = ("axis", "axes", "perm", "kernel_shape", "strides", "pads", "dilations", "group", "to",
          "keepdims", "alpha", "mode", "auto_pad", "value", "k", "blocksize", "eps")  # fmt: skip


def absurd_int(rng: random.Random) -> int:
    return rng.choice(ABSURD_INTS)


def pick_node(
    model: onnx.ModelProto, rng: random.Random,
    where: Callable[[onnx.NodeProto], bool] | None = None,
) -> onnx.NodeProto | None:  # fmt: skip
    nodes = [n for n in model.graph.node if where is None or where(n)]
    return rng.choice(nodes) if nodes else None


def _with_attrs(model: onnx.ModelProto, rng: random.Random) -> onnx.NodeProto | None:
    return pick_node(model, rng, lambda n: len(n.attribute) > 0)


def attr_absurd(model: onnx.ModelProto, rng: random.Random) -> onnx.ModelProto:
    """Absurd values: negative kernels, zero strides, huge pads, out-of-range axes, bad perms."""
    node = _with_attrs(model, rng)
    if node is None:
        return attr_unknown(model, rng)
    a = rng.choice(node.attribute)
    if a.type == AttributeProto.INT:
        a.i = absurd_int(rng)
    elif a.type == AttributeProto.INTS:
        values = list(a.ints) or [1]
        r = rng.random()
        if r < 0.5:
            values[rng.randrange(len(values))] = absurd_int(rng)
        elif r < 0.7:
            values = values[: rng.randrange(len(values) + 1)]
        elif r < 0.85:
            values = values * rng.randint(2, 3)
        else:
            values = [values[0]] * len(values)  # not a permutation; repeated axes
        del a.ints[:]
        a.ints.extend(values)
    elif a.type == AttributeProto.FLOAT:
        a.f = rng.choice([float("nan"), float("inf"), -1.0, 0.0, 1e30, -1e-45])
    elif a.type == AttributeProto.STRING:
        a.s = rng.choice([b"", b"NOTSET", b"bogus", b"\xff\xfe", b"SAME_UPPER", b"VALID"])
    else:
        node.attribute.remove(a)
    return model


def attr_wrong_type(model: onnx.ModelProto, rng: random.Random) -> onnx.ModelProto:
    node = _with_attrs(model, rng)
    if node is None:
        return attr_unknown(model, rng)
    a = rng.choice(node.attribute)
    name = a.name
    node.attribute.remove(a)
    choices = [
        helper.make_attribute(name, 1.5), helper.make_attribute(name, 3),
        helper.make_attribute(name, "text"), helper.make_attribute(name, [1, 2]),
        helper.make_attribute(name, [0.5]), helper.make_attribute(name, ["a", "b"]),
        helper.make_attribute(name, numpy_helper.from_array(np.zeros((2, 2), np.float32))),
        AttributeProto(name=name, type=AttributeProto.GRAPH),
        AttributeProto(name=name, type=AttributeProto.TYPE_PROTO),
        AttributeProto(name=name, type=AttributeProto.UNDEFINED),
        AttributeProto(name=name, type=AttributeProto.INTS),  # an empty list
    ]  # fmt: skip
    node.attribute.append(rng.choice(choices))
    return model


def attr_missing(model: onnx.ModelProto, rng: random.Random) -> onnx.ModelProto:
    node = _with_attrs(model, rng)
    if node is None:
        return attr_unknown(model, rng)
    del node.attribute[rng.randrange(len(node.attribute))]
    return model


def attr_unknown(model: onnx.ModelProto, rng: random.Random) -> onnx.ModelProto:
    """An unknown or duplicated attribute, or a known name with an absurd value."""
    node = pick_node(model, rng)
    if node is None:
        return model
    if node.attribute and rng.random() < 0.3:
        copy = AttributeProto()
        copy.CopyFrom(rng.choice(node.attribute))
        node.attribute.append(copy)  # given twice
        return model
    name = rng.choice([*_NAMES, "no_such_attr", ""])
    value = rng.choice([absurd_int(rng), [absurd_int(rng)] * rng.randint(0, 5), "x", 2.0])
    node.attribute.append(helper.make_attribute(name, value) if value != []
                          else AttributeProto(name=name, type=AttributeProto.INTS))  # fmt: skip
    return model


def _int_tensors(model: onnx.ModelProto) -> list[onnx.TensorProto]:
    found = [t for t in model.graph.initializer if t.data_type in (6, 7)]
    for node in model.graph.node:
        if node.op_type == "Constant":
            found += [a.t for a in node.attribute if a.type == AttributeProto.TENSOR
                      and a.t.data_type in (6, 7)]  # fmt: skip
    return found


def int_data_absurd(model: onnx.ModelProto, rng: random.Random) -> onnx.ModelProto:
    """Absurd values in integer tensors: shapes for Reshape/Expand, axes, pads, indices, k."""
    tensors = _int_tensors(model)
    if not tensors:
        return attr_absurd(model, rng)
    t = rng.choice(tensors)
    array = numpy_helper.to_array(t).copy()
    if array.size == 0 or rng.random() < 0.2:
        array = np.array([absurd_int(rng) for _ in range(rng.randint(0, 4))], dtype=array.dtype)
    else:
        flat = array.reshape(-1)
        for _ in range(rng.randint(1, 2)):
            value = absurd_int(rng)
            info = np.iinfo(array.dtype)
            flat[rng.randrange(flat.size)] = min(max(value, info.min), info.max)
    t.CopyFrom(numpy_helper.from_array(array, t.name))
    return model


MUTATIONS = {
    "attr_absurd": attr_absurd, "attr_wrong_type": attr_wrong_type, "attr_missing": attr_missing,
    "attr_unknown": attr_unknown, "int_data_absurd": int_data_absurd,
}  # fmt: skip
