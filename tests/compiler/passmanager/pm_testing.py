"""Throwaway `test-*` passes for the pass-manager tests (registered per test by conftest.py).

A uniquely named module, not conftest.py: `typing.get_type_hints` resolves a pass's annotations
through `sys.modules[cls.__module__]`, and several test packages have a `conftest` module.

They include deliberately broken passes (one that breaks the verifier, one that changes the
math, one that lies about changing the graph) so the hooks can be shown to catch them.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import ClassVar

from compiler.errors import CompilerError
from compiler.graph import Graph
from compiler.passmanager import Pass
from compiler.text import parse_graph
from compiler.types import DType, TensorType

CALLS: Counter[str] = Counter()

SMALL = """\
graph @main(%x: f32[2,4]) -> (f32[2,4]) {
  %w = const() {value = dense<f32[4]: [0.0, 1.0, 2.0, 3.0]>} : f32[4] loc("m.onnx":"w")
  %y = add(%x, %w) : f32[2,4] loc("m.onnx":"Add_0")
  %n1 = neg(%y) : f32[2,4] loc("m.onnx":"Neg_1")
  %n2 = neg(%n1) : f32[2,4] loc("m.onnx":"Neg_2")
  %z = relu(%n2) : f32[2,4] loc("m.onnx":"Relu_3")
  %dead = relu(%x) : f32[2,4] loc("m.onnx":"Dead_4")
  return %z
}
"""


def small_graph() -> Graph:
    return parse_graph(SMALL)


@dataclass(frozen=True)
class OptionsPass(Pass):
    """Every option type; changes nothing."""

    name: ClassVar[str] = "test-options"
    bits: int = 8
    per_channel: bool = False
    mode: str = "relu"
    scale: float = 0.5
    limit: int | None = None

    def __post_init__(self) -> None:
        if self.bits not in (4, 8):
            raise ValueError("bits must be 4 or 8")

    def run(self, graph: Graph) -> bool:
        return False


@dataclass(frozen=True)
class CountPass(Pass):
    """Says it changed the graph on its first `changes` runs (counted in `CALLS`)."""

    name: ClassVar[str] = "test-count"
    changes: int = 2

    def run(self, graph: Graph) -> bool:
        CALLS[self.name] += 1
        return CALLS[self.name] <= self.changes


@dataclass(frozen=True)
class AlwaysPass(Pass):
    """Never converges."""

    name: ClassVar[str] = "test-always"

    def run(self, graph: Graph) -> bool:
        return True


@dataclass(frozen=True)
class BreakTypesPass(Pass):
    """Breaks the verifier: stores a wrong type on the first relu."""

    name: ClassVar[str] = "test-break-types"

    def run(self, graph: Graph) -> bool:
        node = next(n for n in graph.nodes if n.op == "relu")
        node.output.type = TensorType(DType.FLOAT16, node.output.type.shape)
        return True


@dataclass(frozen=True)
class WrongMathPass(Pass):
    """A planted wrong rewrite: replaces `add` by `sub` (verifies fine, numerics differ)."""

    name: ClassVar[str] = "test-wrong-math"

    def run(self, graph: Graph) -> bool:
        add = next((n for n in graph.nodes if n.op == "add"), None)
        if add is None:
            return False
        with graph.inserting_before(add) as b:
            sub = b.op("sub", *add.inputs)
        add.output.replace_all_uses_with(sub)
        graph.erase(add)
        return True


@dataclass(frozen=True)
class LyingPass(Pass):
    """Erases a dead node but says nothing changed."""

    name: ClassVar[str] = "test-lying"

    def run(self, graph: Graph) -> bool:
        for node in graph.nodes:
            if not node.has_uses():
                graph.erase(node)
        return False


@dataclass(frozen=True)
class ScalePass(Pass):
    """Changes numerics on purpose (like quantization): multiplies the add's constant by 2."""

    name: ClassVar[str] = "test-scale"
    changes_numerics: ClassVar[bool] = True

    def run(self, graph: Graph) -> bool:
        add = next(n for n in graph.nodes if n.op == "add")
        with graph.inserting_before(add) as b:
            doubled = b.mul(add.inputs[1], add.inputs[1])
        add.set_input(1, doubled)
        return True


@dataclass(frozen=True)
class RaisePass(Pass):
    """Fails like a pass that tried to erase a used node."""

    name: ClassVar[str] = "test-raise"

    def run(self, graph: Graph) -> bool:
        relu = next(n for n in graph.nodes if n.op == "relu")
        raise CompilerError("cannot erase relu: still used", relu.loc)


TEST_PASSES = (OptionsPass, CountPass, AlwaysPass, BreakTypesPass, WrongMathPass, LyingPass,
               ScalePass, RaisePass)  # fmt: skip
