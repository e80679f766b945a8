"""Mutations of ONNX models for the fuzzer: each takes a private copy of a ModelProto and a seeded
`random.Random`, breaks the model in one way and returns the broken ModelProto or raw bytes.

`mutate(model, kind, seed)` is deterministic: the same arguments give the same case. Kinds that do
not apply to a model (no Cast node to retype, say) fall back to retyping a graph input.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import onnx
from onnx import AttributeProto, TensorProto, helper

from tests.fuzz import mutators_attrs
from tests.fuzz.mutators_attrs import ABSURD_INTS, absurd_int, pick_node

Mutation = Callable[[onnx.ModelProto, random.Random], "onnx.ModelProto | bytes"]
ELEM_TYPES = (0, 1, 2, 3, 6, 7, 8, 9, 10, 11, 16, 17, 21, 22, 23, 24, 25, 26, 99, -1, 2**31 - 1)


def _graph_inputs(model: onnx.ModelProto) -> list[onnx.ValueInfoProto]:
    inits = {t.name for t in model.graph.initializer}
    return [vi for vi in model.graph.input if vi.name not in inits] or list(model.graph.input)


# -- bytes ----------------------------------------------------------------------------------------
def truncate_bytes(model: onnx.ModelProto, rng: random.Random) -> bytes:
    data = model.SerializeToString()
    return data[: rng.randrange(len(data) + 1)]


def flip_bytes(model: onnx.ModelProto, rng: random.Random) -> bytes:
    data = bytearray(model.SerializeToString())
    # Most bytes are weights: flip near the end (nodes are serialized after initializers) too.
    for _ in range(rng.randint(1, 8)):
        lo = 0 if rng.random() < 0.5 else max(0, len(data) - 4096)
        i = rng.randrange(lo, len(data))
        data[i] ^= 1 << rng.randrange(8) if rng.random() < 0.7 else rng.randrange(256)
    return bytes(data)


# -- edges and nodes ------------------------------------------------------------------------------
def drop_node(model: onnx.ModelProto, rng: random.Random) -> onnx.ModelProto:
    nodes = model.graph.node
    if nodes:
        del nodes[rng.randrange(len(nodes))]
    return model


def duplicate_node(model: onnx.ModelProto, rng: random.Random) -> onnx.ModelProto:
    nodes = model.graph.node
    if nodes:
        i = rng.randrange(len(nodes))
        copy = onnx.NodeProto()
        copy.CopyFrom(nodes[i])
        nodes.insert(rng.randrange(len(nodes) + 1), copy)
    return model


def shuffle_nodes(model: onnx.ModelProto, rng: random.Random) -> onnx.ModelProto:
    nodes = list(model.graph.node)
    rng.shuffle(nodes)
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    return model


def dangle_input(model: onnx.ModelProto, rng: random.Random) -> onnx.ModelProto:
    node = pick_node(model, rng, lambda n: len(n.input) > 0)
    if node is None:
        return drop_node(model, rng)
    j = rng.randrange(len(node.input))
    node.input[j] = rng.choice(["", "undefined_tensor", node.input[j] + "_", "\x00", "é"])
    return model


def rewire_input(model: onnx.ModelProto, rng: random.Random) -> onnx.ModelProto:
    """Point an input at some other tensor: wrong types, wrong ranks, or a cycle."""
    nodes = model.graph.node
    if len(nodes) < 2:
        return dangle_input(model, rng)
    i = rng.randrange(len(nodes))
    src = nodes[rng.randrange(len(nodes))]
    if src.output and nodes[i].input:
        nodes[i].input[rng.randrange(len(nodes[i].input))] = rng.choice(list(src.output))
    return model


def make_cycle(model: onnx.ModelProto, rng: random.Random) -> onnx.ModelProto:
    nodes = model.graph.node
    if len(nodes) < 2:
        return dangle_input(model, rng)
    i = rng.randrange(len(nodes) - 1)
    k = rng.randrange(i, len(nodes))  # a later node (or the node itself: a self loop)
    if nodes[i].input and nodes[k].output:
        nodes[i].input[rng.randrange(len(nodes[i].input))] = nodes[k].output[0]
    return model


def rename_output(model: onnx.ModelProto, rng: random.Random) -> onnx.ModelProto:
    """Empty, duplicate or clashing output names of a node, or a graph output renamed."""
    node = pick_node(model, rng, lambda n: len(n.output) > 0)
    if node is None or rng.random() < 0.2:
        if model.graph.output:
            model.graph.output[0].name = rng.choice(["", "nope", model.graph.input[0].name
                                                     if model.graph.input else "x"])  # fmt: skip
        return model
    names = [n for n in (model.graph.input[0].name if model.graph.input else "",) if n]
    names += ["", "", "dup", rng.choice(list(rng.choice(model.graph.node).output) or ["x"])]
    names += [t.name for t in model.graph.initializer[:1]]
    node.output[rng.randrange(len(node.output))] = rng.choice(names)
    return model


def change_arity(model: onnx.ModelProto, rng: random.Random) -> onnx.ModelProto:
    node = pick_node(model, rng)
    if node is None:
        return model
    r = rng.random()
    if r < 0.3 and node.input:
        del node.input[rng.randrange(len(node.input))]
    elif r < 0.6 and node.input:
        node.input.extend([rng.choice(list(node.input))] * rng.randint(1, 4))
    elif r < 0.8:
        node.output.append(node.output[0] + "_extra" if node.output else "extra")
    elif node.output:
        del node.output[rng.randrange(len(node.output))]
    return model


def empty_names(model: onnx.ModelProto, rng: random.Random) -> onnx.ModelProto:
    g = model.graph
    targets: list[Callable[[], None]] = []
    if g.node:
        node = rng.choice(g.node)
        targets.append(lambda: node.ClearField("name"))
        if node.input:
            targets.append(lambda: node.input.__setitem__(0, ""))
        if node.output:
            targets.append(lambda: node.output.__setitem__(0, ""))
    if g.input:
        targets.append(lambda: setattr(rng.choice(g.input), "name", ""))
    if g.initializer:
        targets.append(lambda: setattr(rng.choice(g.initializer), "name", ""))
    if g.output:
        targets.append(lambda: setattr(rng.choice(g.output), "name", ""))
    targets.append(lambda: setattr(g, "name", ""))
    for _ in range(rng.randint(1, 3)):
        rng.choice(targets)()
    return model


def deep_chain(model: onnx.ModelProto, rng: random.Random) -> onnx.ModelProto:
    """A chain of thousands of unary nodes after a graph output (recursion depth, node counts)."""
    g = model.graph
    if not g.output:
        return model
    depth = rng.choice([1000, 5000, 20000])
    op = rng.choice(["Identity", "Relu", "Neg", "Abs"])
    prev = g.output[0].name
    nodes = []
    for i in range(depth):
        name = f"chain_{i}"
        nodes.append(helper.make_node(op, [prev], [name]))
        prev = name
    g.node.extend(nodes)
    g.output[0].name = prev
    return model


# -- types and shapes -----------------------------------------------------------------------------
def _bad_dims(rng: random.Random, rank: int) -> list[int | str]:
    r = rng.random()
    if r < 0.25:
        rank = rng.choice([0, 1, rank + 1, max(0, rank - 1), 9])
    dims: list[int | str] = [rng.choice([1, 2, 3, 8]) for _ in range(rank)]
    if dims:
        dims[rng.randrange(len(dims))] = rng.choice([-1, -7, 0, 2**40, 2**62, 2**63 - 1, "sym", ""])
    return dims


def retype_input(model: onnx.ModelProto, rng: random.Random) -> onnx.ModelProto:
    vis = _graph_inputs(model)
    if not vis:
        return model
    vi = rng.choice(vis)
    tt = vi.type.tensor_type
    if rng.random() < 0.5:
        tt.elem_type = rng.choice(ELEM_TYPES)
        return model
    dims = _bad_dims(rng, len(tt.shape.dim))
    tt.shape.ClearField("dim")
    for d in dims:
        dim = tt.shape.dim.add()
        if isinstance(d, str):
            dim.dim_param = d
        else:
            dim.dim_value = d
    if rng.random() < 0.1:
        tt.ClearField("shape")
    return model


def retype_initializer(model: onnx.ModelProto, rng: random.Random) -> onnx.ModelProto:
    inits = model.graph.initializer
    if not inits:
        return retype_input(model, rng)
    t = rng.choice(inits)
    r = rng.random()
    if r < 0.35:
        t.data_type = rng.choice(ELEM_TYPES)
    elif r < 0.7:
        dims = [d for d in _bad_dims(rng, len(t.dims)) if isinstance(d, int)]
        del t.dims[:]
        t.dims.extend(dims)
    elif r < 0.85 and t.raw_data:
        t.raw_data = t.raw_data[: rng.randrange(len(t.raw_data) + 1)]
    else:
        t.raw_data = t.raw_data + bytes(rng.choice([1, 4, 8, 1000]))
    return model


def retype_cast(model: onnx.ModelProto, rng: random.Random) -> onnx.ModelProto:
    node = pick_node(model, rng, lambda n: n.op_type in ("Cast", "EyeLike", "RandomNormal"))
    if node is None:
        return retype_initializer(model, rng)
    for a in node.attribute:
        if a.name in ("to", "dtype"):
            a.i = rng.choice(ELEM_TYPES)
    return model


# -- domains, ops and opsets ----------------------------------------------------------------------
def unknown_op(model: onnx.ModelProto, rng: random.Random) -> onnx.ModelProto:
    node = pick_node(model, rng)
    if node is None:
        return model
    r = rng.random()
    if r < 0.4:
        node.op_type = rng.choice(
            [
                "NoSuchOp",
                "",
                "relu",
                "Conv2D",
                "If",
                "Loop",
                "Scan",
                "SequenceConstruct",
                "Constant",
                "Identity",
                "Shape",
            ]
        )
    elif r < 0.8:
        node.domain = rng.choice(["com.example", "com.microsoft", "ai.onnx.ml", "ai.onnx", " "])
    else:
        node.op_type = rng.choice(model.graph.node).op_type
    return model


def opset_nonsense(model: onnx.ModelProto, rng: random.Random) -> onnx.ModelProto:
    imports = model.opset_import
    r = rng.random()
    if r < 0.6:
        default = [imp for imp in imports if imp.domain in ("", "ai.onnx")]
        version = rng.choice([0, 1, 5, 6, 7, 9, 11, 13, 22, 23, 24, 999, -1, 2**40])
        if default:
            default[0].version = version
        else:
            imports.add(domain="", version=version)
    elif r < 0.75:
        del imports[:]
    elif r < 0.9:
        imports.add(domain="", version=rng.choice([1, 13, 999]))
    else:
        imports.add(domain=rng.choice(["com.example", "ai.onnx.ml"]), version=rng.randint(-1, 5))
    if rng.random() < 0.2:
        model.ir_version = rng.choice([0, 1, 3, 99])
    return model


MUTATIONS: dict[str, Mutation] = {
    "truncate_bytes": truncate_bytes, "flip_bytes": flip_bytes, "drop_node": drop_node,
    "duplicate_node": duplicate_node, "shuffle_nodes": shuffle_nodes,
    "dangle_input": dangle_input, "rewire_input": rewire_input, "make_cycle": make_cycle,
    "rename_output": rename_output, "change_arity": change_arity, "empty_names": empty_names,
    "deep_chain": deep_chain, "retype_input": retype_input,
    "retype_initializer": retype_initializer, "retype_cast": retype_cast,
    "unknown_op": unknown_op, "opset_nonsense": opset_nonsense, **mutators_attrs.MUTATIONS,
}  # fmt: skip
KINDS = (*MUTATIONS, "combo")
_COMBINABLE = tuple(k for k in MUTATIONS if k not in ("truncate_bytes", "flip_bytes", "deep_chain"))


def mutate(model: onnx.ModelProto, kind: str, seed: int) -> onnx.ModelProto | bytes:
    """One mutation `kind` (or `combo`: 2-4 structural ones) of a copy of `model`."""
    rng = random.Random(seed)
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    if kind != "combo":
        return MUTATIONS[kind](copy, rng)
    out: onnx.ModelProto | bytes = copy
    for _ in range(rng.randint(2, 4)):
        out = MUTATIONS[rng.choice(_COMBINABLE)](out, rng)  # type: ignore[arg-type]
    return out


__all__ = ["ABSURD_INTS", "KINDS", "MUTATIONS", "TensorProto", "AttributeProto", "absurd_int",
           "mutate"]  # fmt: skip
