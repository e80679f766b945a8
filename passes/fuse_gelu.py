"""`fuse-gelu`: recognise the GELU formulas exporters write and use the `gelu` op.

Exporters without a Gelu op (ONNX before opset 20) spell GELU as its formula:

    exact:  y = ½ · x · (1 + erf(x / √2))
    tanh:   y = ½ · x · (1 + tanh(√(2/π) · (x + 0.044715 · x³)))

Both are `gelu(x) {approximate = "none" | "tanh"}`. The pass matches the *products* rather
than one tree shape: a product is flattened through `mul`, `div` by a constant and `pow` with
exponent 2 or 3, so operand order (`x·0.5` or `0.5·x`, `(x·s)·½` or `(½·x)·s` or `(x·s)/2`),
`x / √2` or `x · (1/√2)`, and `pow(x, 3)`, `x·x·x` or `x·(x·x)` are all one match, as is
`√(2/π) · x · (1 + 0.044715 · x²)` (the "fast" tanh spelling). Constants may be scalars or
splats of any shape that does not grow the result (x's type must equal the result's); their
product must equal the GELU constant (½, 1/√2, √(2/π), 0.044715, 1) within 8 ulp of x's
dtype (float32: about 1e-6 relative), since exporters round each constant to that dtype.
Every intermediate must be used only inside the formula (otherwise it would still be computed
and the fusion saves nothing): the rule refuses, naming the intermediate with the outside user.

Before (TorchScript, opset 17, 13 nodes with the constants):

```
%x2 = mul(%x, %x) : f32[4,64]           %x3 = mul(%x, %x2) : f32[4,64]
%c = const() {value = dense<f32[]: [0.044715]>} : f32[]
%t = mul(%c, %x3)    %u = add(%x, %t)   %k = const() {value = dense<f32[]: [0.7978846]>} : f32[]
%v = mul(%k, %u)     %h = tanh(%v)      %one = const() {value = dense<f32[]: [1.0]>} : f32[]
%s = add(%one, %h)   %p = mul(%x, %s)   %half = const() {value = dense<f32[]: [0.5]>} : f32[]
%y = mul(%half, %p) : f32[4,64]
```

After: `%y = gelu(%x) {approximate = "tanh"} : f32[4,64]` (the exact form: `"none"`).

Numerics: the `gelu` kernel evaluates the same formula in x's dtype; only the rounding of the
intermediate products differs, within the derived elementwise tolerance.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import ClassVar

from compiler.graph import Graph
from compiler.ir import Node, Value
from compiler.passmanager import Pass, register_pass
from compiler.passmanager.rewrite import Match, P, RewriteBuilder, RewriteRule, apply_rules
from passes.common import uniform_value

HALF, ONE, CUBIC = 0.5, 1.0, 0.044715
INV_SQRT2 = 1 / math.sqrt(2)
SQRT_2_OVER_PI = math.sqrt(2 / math.pi)
MAX_DEPTH = 6  # a product tree deeper than this is not a GELU term
_EPS = {8: 2.220446049250313e-16, 4: 1.1920929e-07}  # by itemsize; 2-byte floats: 2^-7


@dataclass
class _Product:
    """A flattened product: the constant factor, the non-constant leaves, the nodes walked."""

    scale: float = 1.0
    leaves: list[Value] = field(default_factory=list)
    nodes: list[Node] = field(default_factory=list)


@dataclass
class Gelu:
    """A recognised formula: its input, the `approximate` mode, every node but the root."""

    x: Value
    approximate: str
    inner: list[Node]


def _scalar(value: Value | None) -> float | None:
    """The one value of a non-empty uniform constant, as a float, or None."""
    array = None if value is None else value.const_value()
    if array is None or array.size == 0 or array.dtype.kind not in "fiu":
        return None
    one = uniform_value(array)
    return None if one is None else float(one)


def _product(value: Value, stops: set[Value], out: _Product, depth: int = 0) -> bool:
    """Flatten `value` into `out`; stop at `stops` and at anything not mul/div/pow. False when
    the tree is too deep."""
    if depth > MAX_DEPTH:
        return False
    constant = _scalar(value)
    if constant is not None:
        out.scale *= constant
        return True
    node = value.producer
    if value in stops or node is None or not _flattens(node):
        out.leaves.append(value)
        return True
    out.nodes.append(node)
    a, b = node.inputs
    assert a is not None and b is not None
    if node.op == "mul":
        return _product(a, stops, out, depth + 1) and _product(b, stops, out, depth + 1)
    if node.op == "div":
        out.scale /= _scalar(b)  # type: ignore[operator]  # _flattens checked it
        return _product(a, stops, out, depth + 1)
    return all(_product(a, stops, out, depth + 1) for _ in range(int(_scalar(b) or 0)))


def _flattens(node: Node) -> bool:
    if node.op == "mul" and node.num_inputs == 2:
        return True
    if node.op == "div" and node.num_inputs == 2:
        return _scalar(node.inputs[1]) not in (None, 0.0)
    return node.op == "pow" and _scalar(node.inputs[1]) in (2.0, 3.0)


def _close(got: float, want: float, rtol: float) -> bool:
    return abs(got - want) <= rtol * abs(want)


def _is_product(value: Value, x: Value, scale: float, powers: int, rtol: float,
                nodes: list[Node]) -> bool:  # fmt: skip
    """`value == scale · x^powers` as a product tree; its nodes are added to `nodes`."""
    prod = _Product()
    if not _product(value, {x}, prod) or not _close(prod.scale, scale, rtol):
        return False
    if prod.leaves != [x] * powers:
        return False
    nodes.extend(prod.nodes)
    return True


def _one_plus(value: Value | None, rtol: float) -> tuple[Value, Node] | None:
    """(t, the add) when `value` is `1 + t` or `t + 1`."""
    node = None if value is None else value.producer
    if node is None or node.op != "add" or node.num_inputs != 2:
        return None
    a, b = node.inputs
    for c, t in ((a, b), (b, a)):
        one = _scalar(c)
        if one is not None and t is not None and _close(one, ONE, rtol):
            return t, node
    return None


def _erf_arg_ok(arg: Value, x: Value, rtol: float, nodes: list[Node]) -> bool:
    return _is_product(arg, x, INV_SQRT2, 1, rtol, nodes)


def _tanh_arg_ok(arg: Value, x: Value, rtol: float, nodes: list[Node]) -> bool:
    """√(2/π)·(x + c·x³) or √(2/π)·x·(1 + c·x²), c = 0.044715."""
    prod = _Product()
    if not _product(arg, {x}, prod) or not _close(prod.scale, SQRT_2_OVER_PI, rtol):
        return False
    found = list(prod.nodes)
    leaves = [v for v in prod.leaves if v is not x]
    if len(leaves) != 1 or len(prod.leaves) - 1 not in (0, 1):
        return False
    add = leaves[0].producer
    if len(prod.leaves) == 1 and add is not None and add.op == "add" and add.num_inputs == 2:
        a, b = add.inputs
        for lin, cube in ((a, b), (b, a)):
            if lin is x and cube is not None and _is_product(cube, x, CUBIC, 3, rtol, found):
                nodes.extend([*found, add])
                return True
        return False
    plus = _one_plus(leaves[0], rtol) if len(prod.leaves) == 2 else None
    if plus is None or not _is_product(plus[0], x, CUBIC, 2, rtol, found):
        return False
    nodes.extend([*found, plus[1]])
    return True


def _operands(root: Node) -> list[Value]:
    """Values that may be x or 1 + f(...): the operands of the root and of its mul/div
    operands."""
    found: list[Value] = []
    for value in root.inputs:
        if value is None:
            continue
        found.append(value)
        node = value.producer
        if node is not None and node.op in ("mul", "div"):
            found.extend(v for v in node.inputs if v is not None)
    return list(dict.fromkeys(found))


def _adds_erf_or_tanh(value: Value) -> bool:
    node = value.producer
    if node is None or node.op != "add":
        return False
    return any(v is not None and v.producer is not None and v.producer.op in ("erf", "tanh")
               for v in node.inputs)  # fmt: skip


def _rtol(x: Value) -> float:
    """8 ulp of x's dtype: exporters round each constant to it."""
    return 8 * _EPS.get(x.dtype.to_numpy().itemsize, 2.0**-7)


def analyse(root: Node) -> Gelu | None:
    """The GELU formula rooted at `root` (the final mul or div), or None. Uses are not checked."""
    out = root.output if root.outputs else None
    if root.op not in ("mul", "div") or root.num_inputs != 2 or out is None:
        return None
    if not out.dtype.is_float:
        return None
    operands = _operands(root)
    sums = [v for v in operands if _adds_erf_or_tanh(v)]  # most muls stop here, cheaply
    if not sums:
        return None
    candidates = [v for v in operands if _scalar(v) is None]
    rtol = _rtol(out)
    for s in sums:
        plus = _one_plus(s, rtol)
        f = None if plus is None else plus[0].producer
        if plus is None or f is None or f.inputs[0] is None:
            continue
        near = _reachable(f.inputs[0], MAX_DEPTH)  # x is an operand inside erf's/tanh's argument
        for x in candidates:
            if x is s or x not in near or x.type != out.type:
                continue
            found = _with(root, x, s, (plus[1], f), rtol)
            if found is not None:
                return found
    return None


def _reachable(value: Value, depth: int) -> set[Value]:
    """Values within `depth` producer steps above `value` (the value included)."""
    found, frontier = {value}, [value]
    for _ in range(depth):
        frontier = [v for n in (f.producer for f in frontier) if n is not None
                    for v in n.inputs if v is not None and v not in found]  # fmt: skip
        found.update(frontier)
    return found


def _with(root: Node, x: Value, s: Value, plus_f: tuple[Node, Node], rtol: float) -> Gelu | None:
    """The formula ½ · x · s, s = 1 + f(arg), when f's argument is the GELU one for x."""
    plus, f = plus_f
    top = _Product()
    if not _product(root.output, {x, s}, top) or not _close(top.scale, HALF, rtol):
        return None
    if Counter(top.leaves) != Counter([x, s]):
        return None
    nodes = [n for n in top.nodes if n is not root] + [plus, f]
    check = _erf_arg_ok if f.op == "erf" else _tanh_arg_ok
    if not check(f.inputs[0], x, rtol, nodes):  # type: ignore[arg-type]
        return None
    return Gelu(x, "none" if f.op == "erf" else "tanh", list(dict.fromkeys(nodes)))


def outside_user(gelu: Gelu, root: Node) -> Value | None:
    """An intermediate of the formula used outside it (or a graph output), or None."""
    inside = {root, *gelu.inner}
    for node in gelu.inner:
        for value in node.outputs:
            if value.is_graph_output or any(u not in inside for u in value.users):
                return value
    return None


# The driver calls the pattern's `where`, then `check`, then `rewrite` on one root with no
# mutation in between: the analysis made in `where` is kept for the other two.
_LAST: dict[Node, Gelu | None] = {}


def _remember(root: Node) -> Gelu | None:
    _LAST.clear()
    _LAST[root] = found = analyse(root)
    return found


def _recall(root: Node) -> Gelu | None:
    return _LAST[root] if root in _LAST else analyse(root)


class GeluFormula(RewriteRule):
    """½·x·(1 + erf(x/√2)) -> gelu(x); ½·x·(1 + tanh(√(2/π)(x + 0.044715x³))) -> gelu tanh."""

    name = "gelu-formula"
    pattern = P(("mul", "div"), where=lambda node: _remember(node) is not None)

    def check(self, match: Match) -> str | None:
        gelu = _recall(match.root)
        assert gelu is not None
        value = outside_user(gelu, match.root)
        if value is None:
            # before the builder exists, so the new node's location fuses every matched node
            match.matched.extend(n for n in gelu.inner if n not in match.matched)
            return None
        assert value.producer is not None
        return f"GELU intermediate %{value.name} ({value.producer.op}) has users outside it"

    def rewrite(self, match: Match, b: RewriteBuilder) -> Value:
        gelu = _recall(match.root)
        assert gelu is not None
        return b.op_like("gelu", gelu.x, like=match.root.output, approximate=gelu.approximate)


@register_pass
@dataclass(frozen=True)
class FuseGeluPass(Pass):
    """Replace the exact (erf) and tanh GELU formulas by `gelu`."""

    name: ClassVar[str] = "fuse-gelu"

    def run(self, graph: Graph) -> bool:
        try:
            return apply_rules(graph, [GeluFormula()])
        finally:
            _LAST.clear()  # hold no node of this graph after the run


__all__ = ["FuseGeluPass", "Gelu", "GeluFormula", "analyse", "outside_user"]
