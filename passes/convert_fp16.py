"""`convert-fp16`: compute in float16, keeping in float32 the nodes fp16 cannot represent.

Every float32 value is rewritten to float16 except around the nodes the fp16 lint keeps in
float32; the graph's interface is unchanged (float32 inputs are cast to float16 on entry,
float16 outputs cast back on exit). For a strongly typed TensorRT network this is exactly what
precision means: the emitter adds the casts and fp16 weights the IR now states.

The lint (`fp16_lint`) keeps a node in float32 when
- one of its float32 constant inputs (or tensor attributes, e.g. constant_of_shape's value)
  holds a finite value beyond fp16's ±65504 (e.g. a −3.4e38 attention mask, which would become
  −inf), or a float attribute (epsilon) is a nonzero magnitude below fp16's smallest subnormal
  2**-24 (it would become 0); a float `range` stays float32 too (fp16 is exact on integers only
  up to 2048);
- it consumes the output of a kept node that is not range-bounding (that output may hold the
  out-of-range values: `add(scores, mask)` keeps the add, and the softmax reading it, since
  −3.4e38 would become −inf in fp16 and a fully masked row NaN; the softmax's own output is
  bounded, so what follows it is converted).
Each kept node is reported with the reason (logged, and returned by `fp16_lint`).

Before:

```
graph @main(%x: f32[2,4]) -> (f32[2,4]) {
  %m = const() {value = dense<f32[4]: [0.0, -3.4e+38, 0.0, 0.0]>} : f32[4]
  %w = const() {value = dense<f32[4]: [1.0, 2.0, 3.0, 4.0]>} : f32[4]
  %a = mul(%x, %w) : f32[2,4]
  %b = add(%a, %m) : f32[2,4]
  %y = softmax(%b) {axis = -1} : f32[2,4]
  return %y
}
```

After (the add and the softmax reading it stay float32; the mul is float16):

```
  %x16 = cast(%x) {to = f16}            %w16 = const() ... : f16[4]
  %a = mul(%x16, %w16) : f16[2,4]
  %a32 = cast(%a) {to = f32}            %b = add(%a32, %m) : f32[2,4]
  %y = softmax(%b) {axis = -1} : f32[2,4]
  return %y
```

Numerics: changed on purpose (float16 rounding, unit roundoff 2**-11); `changes_numerics`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from compiler.graph import Graph
from compiler.ir import Node, Value, frozen_array
from compiler.location import UNKNOWN
from compiler.passmanager import Pass, register_pass
from compiler.types import DType

log = logging.getLogger(__name__)

F32, F16 = DType.FLOAT32, DType.FLOAT16
FP16_MAX = 65504.0
FP16_TINY = 2.0**-24
# Ops whose output range is bounded whatever their input: they stop the keep-fp32 propagation.
BOUNDED = frozenset({
    "softmax", "sigmoid", "tanh", "hard_sigmoid", "erf", "softsign", "layer_normalization",
    "instance_normalization", "rms_normalization", "equal", "greater", "less", "is_nan",
    "is_inf", "argmax", "argmin", "shape", "size",
})  # fmt: skip

# Inputs that are parameters in float32 by definition, not data (Resize roi and scales).
F32_INPUTS = frozenset({("resize", 1), ("resize", 2)})


@dataclass(frozen=True)
class Finding:
    """One node the lint keeps in float32."""

    node: Node
    reason: str

    def describe(self) -> str:
        out = self.node.outputs[0].name or "?"
        where = "" if self.node.loc.is_unknown() else f" at {self.node.loc.describe()}"
        return f"%{out} = {self.node.op}{where} stays float32: {self.reason}"


def _overflow(array: np.ndarray) -> float | None:
    """The largest finite magnitude of a float32 array when it exceeds fp16's range."""
    if array.dtype != np.float32 or array.size == 0:
        return None
    finite = np.abs(array[np.isfinite(array)])
    top = float(finite.max()) if finite.size else 0.0
    return top if top > FP16_MAX else None


def _const_reason(node: Node) -> str | None:
    for v in node.inputs:
        array = None if v is None else v.const_value()
        top = None if array is None else _overflow(array)
        if top is not None:
            return f"constant %{v.name} holds {top:.3g} beyond fp16's ±{FP16_MAX:g}"  # type: ignore[union-attr]
    for key, val in node.attrs.items():
        if isinstance(val, float) and 0.0 < abs(val) < FP16_TINY:
            return f"attribute {key} = {val:g} is below fp16's smallest subnormal (would be 0)"
        top = _overflow(val) if isinstance(val, np.ndarray) else None
        if top is not None:
            return f"attribute {key} holds {top:.3g} beyond fp16's ±{FP16_MAX:g}"
    if node.op == "range" and node.outputs[0].dtype == F32:
        return "a float range: fp16 holds integers exactly only up to 2048"
    return None


def _computes_f32(node: Node) -> bool:
    values = [v for v in (*node.inputs, *node.outputs) if v is not None]
    if node.op == "const" or _boundary_cast(node):
        return False
    return any(v.type.dtype == F32 for v in values)


def _boundary_cast(node: Node) -> bool:
    """A float32 <-> float16 cast (as this pass inserts): left alone, so the pass is idempotent."""
    x = node.inputs[0] if node.op == "cast" else None
    return x is not None and {x.type.dtype, node.outputs[0].type.dtype} == {F16, F32}


def fp16_lint(graph: Graph) -> list[Finding]:
    """The float32 nodes that must stay float32 (see the module docstring), in program order."""
    kept: dict[Node, str] = {}
    tainted: set[Node] = set()  # kept nodes whose outputs may hold values beyond fp16
    for node in graph.nodes:
        if not _computes_f32(node):
            continue
        reason = _const_reason(node)
        upstream = [v.producer for v in node.inputs if v is not None and v.producer in tainted]
        if reason is None and upstream:
            src = upstream[0].outputs[0].name
            reason = f"its input %{src} may hold values beyond fp16 (kept upstream)"
        if reason is not None:
            kept[node] = reason
            if node.op not in BOUNDED:
                tainted.add(node)
    return [Finding(n, r) for n, r in kept.items()]


@register_pass
@dataclass(frozen=True)
class ConvertFp16Pass(Pass):
    """Rewrite float32 computation to float16, keeping the lint's nodes in float32."""

    name: ClassVar[str] = "convert-fp16"
    changes_numerics: ClassVar[bool] = True

    def run(self, graph: Graph) -> bool:
        findings = fp16_lint(graph)
        for f in findings:
            log.warning("convert-fp16: %s", f.describe())
        keep = {f.node for f in findings}
        nodes = [n for n in graph.nodes if _computes_f32(n) and n not in keep]
        if not nodes:
            return False
        _Rewriter(graph).run(nodes, keep)
        return True


class _Rewriter:
    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.casts: dict[tuple[Value, DType], Value] = {}
        self.consts: dict[Value, Value] = {}

    def run(self, nodes: list[Node], keep: set[Node]) -> None:
        outputs = list(self.graph.outputs)
        for node in nodes:
            self._convert(node)
        for node in keep:
            for i, v in enumerate(node.inputs):
                if v is not None and v.type.dtype == F16:
                    node.set_input(i, self._cast(v, F32))
        self.graph.outputs = [self._output(v) for v in outputs]

    def _output(self, v: Value) -> Value:
        """A float16 output cast back to float32, under the output's own name."""
        if v.type.dtype != F16:
            return v
        out = self._cast(v, F32)
        if out.name == f"{v.name}_{F32.short}":
            out.name, v.name = v.name, f"{v.name}_{F16.short}"
        return out

    def _convert(self, node: Node) -> None:
        for i, v in enumerate(node.inputs):
            if (node.op, i) in F32_INPUTS:
                continue
            if v is not None and v.type.dtype == F32:
                node.set_input(i, self._to_f16(v))
        if node.op in ("cast", "cast_like") and node.outputs[0].type.dtype == F32:
            if node.op == "cast":
                node.attrs["to"] = F16
        if node.op == "dequantize_linear" and node.attrs.get("output_dtype") == F32:
            node.attrs["output_dtype"] = F16
        if node.op == "constant_of_shape" and node.attrs["value"].dtype == np.float32:
            node.attrs["value"] = frozen_array(node.attrs["value"].astype(np.float16))
        for out in node.outputs:
            if out.type.dtype == F32:
                out.type = out.type.with_dtype(F16)

    def _to_f16(self, v: Value) -> Value:
        array = v.const_value()
        if array is None:
            return self._cast(v, F16)
        if v not in self.consts:
            assert v.producer is not None
            with self.graph.inserting_after(v.producer, loc=v.producer.loc) as b:
                self.consts[v] = b.const(array.astype(np.float16), f"{v.name}_f16")
        return self.consts[v]

    def _cast(self, v: Value, to: DType) -> Value:
        key = (v, to)
        if key not in self.casts:
            self.casts[key] = self._insert_cast(v, to)
        return self.casts[key]

    def _insert_cast(self, v: Value, to: DType) -> Value:
        name = f"{v.name}_{to.short}"
        if v.producer is None:
            first = self.graph.first
            assert first is not None
            with self.graph.inserting_before(first, loc=UNKNOWN) as b:
                return b.op("cast", v, to=to, names=[name])  # type: ignore[no-any-return]
        with self.graph.inserting_after(v.producer, loc=v.producer.loc) as b:
            return b.op("cast", v, to=to, names=[name])  # type: ignore[no-any-return]
