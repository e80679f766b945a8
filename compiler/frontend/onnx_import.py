"""ONNX frontend: ModelProto (opset 7 and later; older models are converted) -> IR `Graph`.

Types of every value come from the irforge op registry, not from the file: the importer carries
shape values (`Shape -> Gather -> Concat -> Reshape`) through the graph so data-dependent shapes
resolve, and names every dim that stays unknown with a fresh symbol (`unk_0`, `unk_1`, ...).
Declared graph-output types are checked against the inferred ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import onnx

from compiler.errors import CompilerError, FrontendError, UnsupportedOpError
from compiler.frontend import onnx_graph
from compiler.frontend.onnx_attrs import constant_array, decode_attrs, dtype_attrs
from compiler.frontend.onnx_data import (
    ONNX_TO_DTYPE,
    TensorReader,
    dtype_of_array,
    onnx_dtype,
    plain_raw_array,
)
from compiler.frontend.onnx_model import (
    ModelSource,
    check_names,
    ensure_min_opset,
    gc_paused,
    read_model,
)
from compiler.frontend.onnx_upgrade import OnnxNode, needs_upgrade, renamed_op, upgrade
from compiler.graph import Graph
from compiler.ir import Node, Value
from compiler.location import OnnxLoc
from compiler.registry import (
    InferContext,
    InferError,
    OpDef,
    ShapeValue,
    all_ops,
    canonical_attrs,
    check_arity,
    find_onnx_op,
)
from compiler.types import DType, TensorType

SUBGRAPH_OPS = {"If", "Loop", "Scan", "SequenceMap"}


def load(model: ModelSource, *, name: str | None = None) -> Graph:
    """Import an ONNX model into an IR graph.

    Args:
        model: A file path, serialized bytes, or a ModelProto (external data of a ModelProto or of
            bytes cannot be resolved: load those from a path).
        name: The graph name (default: the ONNX graph's name, else the file stem).

    Returns:
        The graph, in program order, with types inferred by the irforge registry.

    Raises:
        FrontendError: corrupt file, malformed graph, bad attributes, failed inference.
        UnsupportedOpError: listing every node whose op irforge does not support.
    """
    proto, base_dir, model_name = read_model(model)
    check_names(proto, model_name)
    proto = ensure_min_opset(proto, model_name)
    with gc_paused():
        return _Importer(proto, TensorReader(base_dir), model_name, name).run()


class _Importer:
    def __init__(
        self, proto: onnx.ModelProto, reader: TensorReader, model_name: str, name: str | None
    ) -> None:
        self.proto = proto
        self.gproto = proto.graph
        self.reader = reader
        self.model = model_name
        stem = model_name.rsplit(".", 1)[0] if model_name.endswith(".onnx") else model_name
        self.graph = Graph(name or self.gproto.name or stem or "main")
        self.opsets = {(imp.domain if imp.domain != "ai.onnx" else ""): int(imp.version)
                       for imp in proto.opset_import}  # fmt: skip
        self.opset = self.opsets.get("", 1)
        self.values: dict[str, Value] = {}
        self.shape_values: dict[Value, ShapeValue] = {}
        self.symbols = onnx_graph.Symbols(onnx_graph.declared_symbols(self.gproto))
        self.opdefs: dict[tuple[str, str], OpDef | None] = {}
        self.memo: dict[tuple[Any, ...], tuple[dict[str, Any], tuple[TensorType, ...],
                                                ShapeValue | None]] = {}  # fmt: skip
        self.supported: dict[tuple[str, str], bool] = {}  # per (domain, op type)
        self.names: set[str] | None = None  # every tensor name in the file, made on first use
        self.loc = OnnxLoc(self.model, "")
        self.dtype_ops = {
            d.name for d in all_ops() if any(a.kind == "dtype" for a in d.attrs.values())
        }

    # -- driver ----------------------------------------------------------------------------------
    def run(self) -> Graph:
        try:  # optimistic: one pass in file order, the common case of a well-formed file
            self._import_in_order(range(len(self.gproto.node)))
        except _Irregular:  # unsupported, out of order, dangling or duplicate: check fully
            self._check_supported()  # lists every unsupported node at once
            self._reset()
            outer, producers, order = onnx_graph.check_graph(self.gproto, self.model)
            self.names = outer | set(producers)
            try:
                self._import_in_order(order)
            except _Irregular as exc:  # cannot happen after the checks: never leak the signal
                raise FrontendError(exc.message, exc.loc) from None
        return self.graph

    def _import_in_order(self, order: Sequence[int]) -> None:
        self._import_inputs()
        nodes = self.gproto.node
        for index in order:
            self._import_node(nodes[index], index)
        self._import_outputs()

    def _reset(self) -> None:
        self.graph = Graph(self.graph.name)
        self.values = {}
        self.shape_values = {}
        self.symbols = onnx_graph.Symbols(onnx_graph.declared_symbols(self.gproto))

    def _find(self, op_type: str, domain: str) -> OpDef | None:
        key = (domain, op_type)
        if key not in self.opdefs:
            self.opdefs[key] = find_onnx_op(op_type, domain)
        return self.opdefs[key]

    def _supports(self, domain: str, op_type: str) -> bool:
        if domain == "" and op_type == "Constant":
            return True
        return op_type not in SUBGRAPH_OPS and self._find(renamed_op(op_type), domain) is not None

    def _check_supported(self) -> None:
        bad: list[tuple[str, str, OnnxLoc]] = []
        known: dict[tuple[str, str], bool] = {}  # per (domain, op type): a model has few
        for i, node in enumerate(self.gproto.node):
            key = (node.domain, node.op_type)
            ok = known.get(key)
            if ok is None:
                ok = known[key] = self._supports("" if key[0] == "ai.onnx" else key[0], key[1])
            if ok:
                continue
            domain = "" if node.domain == "ai.onnx" else node.domain
            label = onnx_graph.node_label(node, i)
            shown = f"{domain}::{node.op_type}" if domain else node.op_type
            bad.append((shown, label, OnnxLoc(self.model, label)))
        if not bad:
            return
        types = sorted({op for op, _, _ in bad})
        lines = [f"  {op} (node {label!r})" for op, label, _ in bad]
        raise UnsupportedOpError(
            f"{self.model}: {len(bad)} node(s) use unsupported ops: {', '.join(types)}",
            notes=lines, ops=list(bad),
        )  # fmt: skip

    # -- inputs, initializers, outputs -------------------------------------------------------------
    def _import_inputs(self) -> None:
        self._import_initializers()
        values = self.values
        for vi in self.gproto.input:
            if vi.name in values:  # old IR: initializers listed as inputs are constants
                if values[vi.name].is_graph_input:
                    raise _Irregular  # declared twice
                continue
            declared = self._declared(vi, f"graph input {vi.name!r}")
            if declared is None or declared.shape is None:
                raise FrontendError(f"graph input {vi.name!r} has no tensor type with a rank")
            values[vi.name] = self.graph.add_input(vi.name, self._name_dims(declared))

    def _import_initializers(self) -> None:
        # The hot loop of most imports (one pass per weight): the common raw-data case skips the
        # general reader, which repeats every check with a precise error for anything unusual.
        read, model, add = self.reader.read, self.model, self._add_const
        for tensor in self.gproto.initializer:
            name = tensor.name
            array = plain_raw_array(tensor)
            if array is None:
                array = read(tensor, f"initializer {name!r}")
            add(array, name, ONNX_TO_DTYPE[tensor.data_type], OnnxLoc(model, name))

    def _add_const(self, array: np.ndarray, name: str, dtype: DType, loc: OnnxLoc) -> None:
        if name in self.values:
            raise _Irregular  # defined twice
        node = Node.make_const(array, TensorType(dtype, array.shape), loc, name)
        self.graph.append(node)
        self.values[name] = node.outputs[0]

    def _declared(self, vi: onnx.ValueInfoProto, what: str) -> TensorType | None:
        kind = vi.type.WhichOneof("value")
        if kind is None:
            return None
        if kind != "tensor_type":
            raise FrontendError(f"{what}: {kind} values are not supported (tensors only)")
        tt = vi.type.tensor_type
        if tt.elem_type == 0:  # declared without an element type: nothing to check
            return None
        dtype = onnx_dtype(tt.elem_type, what)
        if not tt.HasField("shape"):
            return TensorType(dtype, None)
        dims: list[Any] = []
        for d in tt.shape.dim:
            which = d.WhichOneof("value")
            dims.append(d.dim_value if which == "dim_value" and d.dim_value >= 0
                        else d.dim_param if which == "dim_param" else None)  # fmt: skip
        return TensorType(dtype, tuple(dims))

    def _name_dims(self, ttype: TensorType) -> TensorType:
        shape = ttype.shape
        if shape is None or None not in shape:
            return ttype
        return TensorType(ttype.dtype, tuple(self.symbols.fresh() if d is None else d
                                             for d in shape))  # fmt: skip

    def _import_outputs(self) -> None:
        outputs = []
        for vi in self.gproto.output:
            value = self.values.get(vi.name)
            if value is None:
                raise _Irregular  # an output no node defines
            declared = self._declared(vi, f"graph output {vi.name!r}")
            if declared is not None:
                _check_declared(declared, value, vi.name)
            outputs.append(value)
        self.graph.outputs = outputs

    # -- nodes -------------------------------------------------------------------------------------
    def _import_node(self, proto: onnx.NodeProto, index: int) -> None:
        op_type = proto.op_type
        domain = "" if proto.domain == "ai.onnx" else proto.domain
        supported = self.supported.get((domain, op_type))
        if supported is None:
            supported = self.supported[(domain, op_type)] = self._supports(domain, op_type)
        if not supported:
            raise _Irregular  # run() then reports every unsupported node together
        label = proto.name or f"{op_type}#{index}"
        loc = OnnxLoc(self.model, label)
        attrs, kinds = decode_attrs(proto, self.reader, label, loc)
        if domain or not needs_upgrade(op_type, self.opset):
            self._emit(op_type, domain, proto.input, proto.output, attrs, label, loc, kinds)
            return
        if op_type == "Constant":
            self._import_constant(proto, attrs, kinds, label, loc)
            return
        node = OnnxNode(op_type, domain, list(proto.input), list(proto.output), attrs, label)
        self.loc = loc
        try:
            parts = upgrade(node, self.opset, self)
        except FrontendError as exc:
            exc.loc = exc.loc or loc
            raise
        except CompilerError:
            raise
        except Exception as exc:  # noqa: BLE001  an upgrade rule meeting absurd attributes or arity
            raise FrontendError(
                f"node {label!r} ({op_type}, opset {self.opset}): cannot convert to the current "
                f"form: {type(exc).__name__}: {exc}", loc,
            ) from exc  # fmt: skip
        for part in parts:
            self._emit(part.op_type, part.domain, part.inputs, part.outputs, part.attrs,
                       part.name, loc)  # fmt: skip

    def _import_constant(self, proto: onnx.NodeProto, attrs: dict[str, Any],
                         kinds: dict[str, str], label: str, loc: OnnxLoc) -> None:  # fmt: skip
        if len(attrs) != 1 or len(proto.output) != 1:
            raise FrontendError(f"Constant node {label!r} needs exactly one value attribute", loc)
        key, value = next(iter(attrs.items()))
        array = constant_array(key, value, kinds.get(key))
        if array is None:
            raise FrontendError(
                f"Constant node {label!r}: unsupported attribute {key!r} of kind {kinds.get(key)}",
                loc,
            )
        self._add_const(array, proto.output[0], _dtype_of(array, label, loc), loc)

    def _emit(
        self, op_type: str, domain: str, in_names: Sequence[str], out_names: Sequence[str],
        attrs: dict[str, Any], label: str, loc: OnnxLoc, kinds: dict[str, str] | None = None,
    ) -> None:  # fmt: skip
        """Add one node; `kinds` gives the attributes already decoded to canonical values."""
        opdef = self._find(op_type, domain)
        if opdef is None:  # an upgrade produced an op that is not registered
            raise UnsupportedOpError(f"op {op_type} is not supported", loc,
                                     ops=[(op_type, label, loc)])  # fmt: skip
        values = self.values
        try:
            inputs = [values[x] if x else None for x in in_names]
        except KeyError:
            raise _Irregular from None  # used before defined, or never defined
        while inputs and inputs[-1] is None:
            inputs.pop()
        outs = list(out_names)
        while outs and not outs[-1]:
            outs.pop()
        problem = check_arity(opdef, len(inputs), len(outs))
        if problem:
            raise FrontendError(f"node {label!r}: {problem}", loc)
        if attrs and opdef.name in self.dtype_ops:
            dtype_attrs(opdef, attrs, label, loc)
        canon, types, shape_value = self._infer(opdef, attrs, kinds, inputs, len(outs), label, loc)
        if "" in outs:
            outs = [o or self.fresh(f"{label}_out") for o in outs]
        ir_node = Node.adopt(opdef.name, inputs, types, canon, loc, outs)
        self.graph.append(ir_node)
        for name, value in zip(outs, ir_node.outputs, strict=True):
            if name in values:
                raise _Irregular  # defined twice
            values[name] = value
        if shape_value is not None:
            self.shape_values[ir_node.outputs[0]] = shape_value

    def _infer(
        self, opdef: OpDef, attrs: dict[str, Any], kinds: dict[str, str] | None,
        inputs: list[Value | None], n_out: int, label: str, loc: OnnxLoc,
    ) -> tuple[dict[str, Any], list[TensorType], ShapeValue | None]:  # fmt: skip
        # Real models repeat the same layer many times: a node with the same op, attributes and
        # input types as an earlier one whose inference read no input data gets the same result.
        in_types = tuple([None if v is None else v.type for v in inputs])
        key: tuple[Any, ...] | None = (opdef.name, n_out, tuple(attrs.items()), in_types)
        try:
            cached = self.memo.get(key)  # type: ignore[arg-type]
        except TypeError:  # an array or list attribute: not worth hashing
            key = cached = None
        if cached is not None:
            canon, types, shape_value = cached
            canon = dict(canon)  # each node owns its attributes
        else:
            canon, types, shape_value, read_data = self._run_inference(
                opdef, attrs, kinds, inputs, n_out, label, loc
            )
            if key is not None and not read_data:
                self.memo[key] = (canon, types, shape_value)
        return canon, self._named(types, opdef, label, loc), shape_value

    def _run_inference(
        self, opdef: OpDef, attrs: dict[str, Any], kinds: dict[str, str] | None,
        inputs: list[Value | None], n_out: int, label: str, loc: OnnxLoc,
    ) -> tuple[dict[str, Any], tuple[TensorType, ...], ShapeValue | None, bool]:  # fmt: skip
        # `registry.infer_types`, inlined to share one InferContext with `canonical_attrs`.
        try:
            ctx = InferContext(opdef.name, {}, inputs, n_out, self.shape_values)
            canon = canonical_attrs(opdef, attrs, ctx, kinds)
            ctx.attrs = canon
            types = opdef.infer(ctx)
            if len(types) != n_out:
                raise InferError(f"inference gave {len(types)} types for {n_out} outputs")
            shape_value = opdef.shape_fn(ctx) if opdef.shape_fn is not None else None
        except CompilerError as exc:
            raise FrontendError(f"node {label!r} ({opdef.onnx}): {exc.message}", loc) from exc
        except Exception as exc:  # noqa: BLE001  a bug in an inference function still names the node
            raise FrontendError(
                f"node {label!r} ({opdef.onnx}): inference failed with "
                f"{type(exc).__name__}: {exc}", loc,
            ) from exc  # fmt: skip
        return canon, tuple(types), shape_value, ctx.read_data

    def _named(
        self, types: tuple[TensorType, ...], opdef: OpDef, label: str, loc: OnnxLoc
    ) -> list[TensorType]:
        """The inferred types with every unknown dim named by a fresh symbol."""
        out = list(types)
        for i, t in enumerate(types):
            if t.shape is None:
                raise FrontendError(
                    f"node {label!r} ({opdef.onnx}): cannot infer the rank of output {i}", loc
                )
            if None in t.shape:
                out[i] = self._name_dims(t)
        return out

    # -- UpgradeContext ----------------------------------------------------------------------------
    def const(self, array: np.ndarray, hint: str) -> str:
        name = self.fresh(hint)
        array.flags.writeable = False
        self._add_const(array, name, _dtype_of(array, hint, self.loc), self.loc)
        return name

    def type_of(self, name: str) -> TensorType:
        value = self.values.get(name)
        if value is None:
            if not name:  # an absent input that the op's upgrade needs
                raise FrontendError("a required input is absent (empty name)", self.loc)
            raise _Irregular
        return value.type

    def fresh(self, hint: str) -> str:
        if self.names is None:
            self.names = onnx_graph.all_names(self.gproto)
        name, n = hint, 0
        while name in self.names:
            n += 1
            name = f"{hint}_{n}"
        self.names.add(name)
        return name


class _Irregular(FrontendError):
    """The file is not a well-formed graph in program order; the full checks say exactly how."""

    def __init__(self) -> None:
        super().__init__("malformed graph: a tensor is used before it is defined, or defined twice")


def _check_declared(declared: TensorType, value: Value, name: str) -> None:
    ours = value.type
    problem = ""
    if declared.dtype != ours.dtype:
        problem = f"element type {declared.dtype.short}"
    elif declared.shape is not None and ours.shape is not None:
        if len(declared.shape) != len(ours.shape):
            problem = f"rank {len(declared.shape)}"
        elif any(isinstance(a, int) and isinstance(b, int) and a != b
                 for a, b in zip(declared.shape, ours.shape, strict=False)):  # fmt: skip
            problem = f"shape {list(declared.shape)}"
    if problem:
        loc = value.producer.loc if value.producer is not None else None
        raise FrontendError(
            f"graph output {name!r} is declared with {problem} but irforge infers {ours}", loc
        )


def _dtype_of(array: np.ndarray, label: str, loc: OnnxLoc) -> DType:
    try:
        return dtype_of_array(array)
    except ValueError as exc:
        raise FrontendError(f"{label}: {exc}", loc) from exc
