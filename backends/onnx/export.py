"""IR `Graph` -> ONNX ModelProto at a chosen opset (saving to files: `backends.onnx.save`).

Every canonical attribute is written explicitly, except one that the op's schema gained after
the IR form's `since` opset while it holds the schema default (see `_late_attrs`). `const` nodes
become initializers (a constant graph output goes through an Identity). Nodes are written in the
form of the target opset (see `backends.onnx.downgrade`); an op whose IR form is newer than the
target opset and has no downgrade is refused with a BackendError, as is an attribute the target
opset does not know at a non-default value. Gelu below opset 20 is written as its formula.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

import numpy as np
import onnx
from onnx import AttributeProto, TensorProto, helper, numpy_helper

from backends.onnx.downgrade import OnnxForm, convert, has_downgrade
from backends.onnx.opset import default_opset
from compiler.errors import BackendError
from compiler.frontend.onnx_data import DTYPE_TO_ONNX
from compiler.graph import Graph
from compiler.ir import Node, Value
from compiler.location import OnnxLoc
from compiler.ops.epilogue import EPILOGUES
from compiler.registry import OpDef, get_op
from compiler.types import TensorType

TensorWriter = Callable[[np.ndarray, str], TensorProto]
_SCHEMAS: dict[tuple[str, int, str], Any] = {}


def to_onnx(
    graph: Graph,
    *,
    opset: int | None = None,
    pipeline: str | None = None,
    producer_name: str = "irforge",
) -> onnx.ModelProto:
    """Export a graph to an in-memory ONNX model.

    Args:
        graph: The graph to write.
        opset: Target default-domain opset (default: `max(17, max since of the ops used)`,
            raised where a node's attributes or types need a newer schema; see `opset.py`).
        pipeline: The pass pipeline that produced the graph, stored as `irforge.pipeline`.
        producer_name: The model's `producer_name`.

    Raises:
        BackendError: an op or attribute that cannot be written at the target opset.
    """
    return _Exporter(graph, opset, _tensor_proto).build(pipeline, producer_name)


def _tensor_proto(array: np.ndarray, name: str) -> TensorProto:
    return numpy_helper.from_array(np.asarray(array), name)


class _Exporter:
    def __init__(self, graph: Graph, opset: int | None, writer: TensorWriter) -> None:
        self.graph = graph
        self.opset = opset if opset is not None else default_opset(graph)
        self.writer = writer
        self.names: dict[Value, str] = {}
        self.used: set[str] = set()
        self.consts: dict[str, np.ndarray] = {}
        self.nodes: list[onnx.NodeProto] = []
        self.node_names: set[str] = set()
        self.domains: dict[str, int] = {"": self.opset}

    def build(self, pipeline: str | None, producer_name: str) -> onnx.ModelProto:
        g = self.graph
        inputs = [self._value_info(self._name(v), v.type) for v in g.inputs]
        out_names = self._reserve_outputs()
        for node in g.nodes:
            self._node(node)
        outputs = self._outputs(out_names)
        referenced = {x for n in self.nodes for x in n.input} | {o.name for o in outputs}
        inits = [self.writer(a, n) for n, a in self.consts.items() if n in referenced]
        gproto = helper.make_graph(self.nodes, g.name, inputs, outputs, inits)
        opsets = [helper.make_opsetid(d, v) for d, v in self.domains.items()]
        model = helper.make_model(gproto, opset_imports=opsets, producer_name=producer_name)
        model.ir_version = max(7, helper.find_min_ir_version_for(opsets, ignore_unknown=True))
        if pipeline is not None:
            helper.set_model_props(model, {"irforge.pipeline": pipeline})
        return model

    # -- names ---------------------------------------------------------------------------------
    def _unique(self, base: str) -> str:
        return _claim(base, self.used)

    def _name(self, value: Value) -> str:
        name = self.names.get(value)
        if name is None:
            name = self.names[value] = self._unique(value.name or f"v{len(self.names)}")
        return name

    def _reserve_outputs(self) -> list[str]:
        """Names of the graph outputs, taken first so outputs keep their own names."""
        names = []
        seen: set[Value] = set()
        for value in self.graph.outputs:
            if value in seen or value.producer is None or value.producer.op == "const":
                names.append(self._unique(value.name or "output"))  # written via Identity
            else:
                names.append(self._name(value))
            seen.add(value)
        return names

    def _outputs(self, out_names: list[str]) -> list[onnx.ValueInfoProto]:
        infos = []
        for value, name in zip(self.graph.outputs, out_names, strict=False):
            if self._name(value) != name:
                self.nodes.append(
                    helper.make_node(
                        "Identity",
                        [self._name(value)],
                        [name],
                        name=self._node_name(f"{name}_identity"),
                    )
                )
            infos.append(self._value_info(name, value.type))
        return infos

    def _node_name(self, base: str) -> str:
        return _claim(base, self.node_names)

    @staticmethod
    def _value_info(name: str, ttype: TensorType) -> onnx.ValueInfoProto:
        elem = DTYPE_TO_ONNX.get(ttype.dtype)
        if elem is None:
            raise BackendError(f"element type {ttype.dtype.short} of {name!r} has no ONNX type")
        return helper.make_tensor_value_info(name, elem, ttype.shape)

    # -- nodes ---------------------------------------------------------------------------------
    def _node(self, node: Node) -> None:
        if node.op == "const":
            self.consts[self._name(node.outputs[0])] = node.attrs["value"]
            return
        opdef = get_op(node.op)
        if opdef.onnx is None:
            raise BackendError(f"op {node.op} has no ONNX form", node.loc)
        if node.op == "gelu" and self.opset < opdef.since:
            self._gelu_formula(node)
            return
        opset = self._opset_for(opdef, node)
        attrs = {k: (opdef.attrs[k].kind, v) for k, v in node.attrs.items() if k not in _EPILOGUE}
        form = OnnxForm(opdef.onnx, ["" if v is None else self._name(v) for v in node.inputs],
                        attrs)  # fmt: skip
        convert(node, form, opset)
        schema = self._schema(form.op_type, opset, opdef.domain, node)
        proto = onnx.NodeProto()
        proto.op_type, proto.domain = form.op_type, opdef.domain
        proto.name = self._node_name(_label(node))
        proto.input.extend(form.inputs)
        outputs = [self._name(v) for v in node.outputs]
        activation = node.attrs.get("activation")
        if activation:  # a fused epilogue: the plain op into a fresh name, then the activation
            outputs[0], final = self._unique(f"{outputs[0]}_{node.op}"), outputs[0]
        proto.output.extend(outputs)
        late = _late_attrs(form.op_type, opdef.since, opdef.domain)
        for key, (kind, value) in sorted(form.attrs.items()):
            if key not in schema.attributes:
                _check_droppable(opdef, key, value, form.op_type, opset, node)
                continue
            written = _attribute(key, kind, value)
            if key in late and _is_schema_default(schema, key, written):
                continue
            proto.attribute.append(written)
        self.nodes.append(proto)
        if activation:
            self._epilogue(node, proto.name, outputs[0], final)

    def _epilogue(self, node: Node, label: str, source: str, target: str) -> None:
        """Write a fused activation as its own standard node (`source` -> `target`)."""
        name, params = node.attrs["activation"], tuple(node.attrs.get("activation_params") or ())
        opdef = get_op(name)
        if self.opset < opdef.since:
            raise BackendError(f"{node.op} with activation {name} needs opset {opdef.since} "
                               f"(target opset {self.opset})", node.loc)  # fmt: skip
        inputs, attrs = [source], dict[str, Any]()
        assert opdef.onnx is not None  # every epilogue activation is a standard ONNX op
        if name == "clip":  # bounds are inputs; ±inf stands for an absent bound
            dtype = node.outputs[0].type.dtype.to_numpy()
            for value, absent, what in zip(params, (-np.inf, np.inf), ("min", "max"), strict=True):
                bound = "" if value == absent else self._unique(f"{target}_{what}")
                if bound:
                    self.consts[bound] = np.asarray(value, dtype)
                inputs.append(bound)
            while inputs[-1] == "":
                inputs.pop()
        else:
            attrs = {k: float(v) for k, v in zip(EPILOGUES[name], params, strict=True)}
        self.nodes.append(
            helper.make_node(
                opdef.onnx, inputs, [target], name=self._node_name(f"{label}_{name}"), **attrs
            )
        )

    def _gelu_formula(self, node: Node) -> None:
        """Gelu before opset 20 (no Gelu op): ½·x·(1 + erf(x/√2)), or with tanh
        ½·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), as the `gelu` kernel computes it."""
        x, y = self._name(node.inputs[0]), self._name(node.outputs[0])  # type: ignore[arg-type]
        dtype, label = node.outputs[0].type.dtype.to_numpy(), _label(node)

        def step(op_type: str, a: str, b: str | float | None = None, out: str = "") -> str:
            if isinstance(b, float):
                const = self._unique(f"{y}_{op_type.lower()}_c")
                self.consts[const] = np.asarray(b, dtype)
                b = const
            out = out or self._unique(f"{y}_{op_type.lower()}")
            inputs = [a] if b is None else [a, b]
            name = self._node_name(f"{label}_{op_type}")
            self.nodes.append(helper.make_node(op_type, inputs, [out], name=name))
            return out

        if node.attrs["approximate"] == "tanh":
            cube = step("Mul", step("Mul", x, x), x)
            inner = step("Add", x, step("Mul", cube, 0.044715))
            f = step("Tanh", step("Mul", inner, float(np.sqrt(2 / np.pi))))
        elif self.opset < 9:
            raise BackendError(f"gelu needs Erf (opset 9; target opset {self.opset})", node.loc)
        else:
            f = step("Erf", step("Div", x, float(np.sqrt(2))))
        step("Mul", step("Mul", x, step("Add", f, 1.0)), 0.5, out=y)

    def _opset_for(self, opdef: OpDef, node: Node) -> int:
        if opdef.domain:
            self.domains[opdef.domain] = max(self.domains.get(opdef.domain, 1), opdef.since)
            return self.domains[opdef.domain]
        if self.opset < opdef.since and not has_downgrade(opdef.onnx or "", self.opset):
            raise BackendError(
                f"{opdef.onnx} needs opset {opdef.since} (target opset {self.opset}) and has no "
                f"older form", node.loc,
            )  # fmt: skip
        return self.opset

    @staticmethod
    def _schema(op_type: str, opset: int, domain: str, node: Node) -> Any:
        key = (op_type, opset, domain)
        if key not in _SCHEMAS:
            try:
                _SCHEMAS[key] = onnx.defs.get_schema(op_type, opset, domain)
            except onnx.defs.SchemaError:
                _SCHEMAS[key] = None
        schema = _SCHEMAS[key]
        if schema is None:
            raise BackendError(f"{op_type} does not exist at opset {opset}", node.loc)
        return schema


_EPILOGUE = frozenset({"activation", "activation_params"})


def _label(node: Node) -> str:
    return node.loc.node if isinstance(node.loc, OnnxLoc) and node.loc.node else node.op


def _check_droppable(opdef: OpDef, key: str, value: Any, op_type: str, opset: int,
                     node: Node) -> None:  # fmt: skip
    """An attribute unknown at the target opset may be left out only at its default value."""
    spec = opdef.attrs.get(key)
    default = spec.default if spec is not None else None
    if default is not None and not isinstance(value, np.ndarray) and value == default:
        return
    raise BackendError(
        f"{op_type}: attribute {key}={value!r} cannot be written at opset {opset}", node.loc
    )


@cache
def _late_attrs(op_type: str, since: int, domain: str) -> frozenset[str]:
    """Attributes the op's schema gained after the IR form's `since` opset (CastLike
    `round_mode`, Cast `saturate`): written only at non-default values, so that consumers that
    predate them (onnx.reference's CastLike rejects `round_mode`) still load the model."""
    try:
        first = set(onnx.defs.get_schema(op_type, since, domain).attributes)
        newest = set(onnx.defs.get_schema(op_type, domain=domain).attributes)
    except onnx.defs.SchemaError:
        return frozenset()
    return frozenset(newest - first)


def _is_schema_default(schema: Any, key: str, written: AttributeProto) -> bool:
    default = schema.attributes[key].default_value
    if not default.name and default.type == AttributeProto.UNDEFINED:
        return False
    try:
        return bool(helper.get_attribute_value(default) == helper.get_attribute_value(written))
    except ValueError:  # tensors and the like: keep them explicit
        return False


def _attribute(key: str, kind: str, value: Any) -> AttributeProto:
    a = AttributeProto()
    a.name = key
    if kind == "int":
        a.type, a.i = AttributeProto.INT, int(value)
    elif kind == "float":
        a.type, a.f = AttributeProto.FLOAT, float(value)
    elif kind == "str":
        a.type, a.s = AttributeProto.STRING, str(value).encode()
    elif kind == "ints":
        a.type = AttributeProto.INTS
        a.ints.extend(int(v) for v in value)
    elif kind == "floats":
        a.type = AttributeProto.FLOATS
        a.floats.extend(float(v) for v in value)
    elif kind == "strs":
        a.type = AttributeProto.STRINGS
        a.strings.extend(str(v).encode() for v in value)
    elif kind == "dtype":
        a.type, a.i = AttributeProto.INT, DTYPE_TO_ONNX[value]
    elif kind == "tensor":
        a.type = AttributeProto.TENSOR
        a.t.CopyFrom(_tensor_proto(value, ""))
    else:
        raise BackendError(f"attribute {key}: unknown kind {kind}")
    return a


def _claim(base: str, taken: set[str]) -> str:
    """`base`, or `base_1`, `base_2`, ... — the first not in `taken`, which it then joins."""
    name, n = base, 0
    while name in taken:
        n += 1
        name = f"{base}_{n}"
    taken.add(name)
    return name
