"""Capability report: which nodes of a graph the TensorRT backend can convert, and why not.

`capability_report(graph)` looks at every node (nothing is emitted) and lists all the nodes that
cannot be converted, each with its reason, plus the coverage percentage (converted nodes over
non-constant nodes). `check_graph` raises one `UnsupportedOpError` naming all of them.
`registry_coverage()` says, for every op of the IR registry, whether it has a converter and,
when not, the stated reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from compiler.errors import UnsupportedOpError
from compiler.graph import Graph
from compiler.ir import Node
from compiler.location import Location


@dataclass(frozen=True)
class Problem:
    """One node that cannot be converted."""

    op: str
    node: str
    loc: Location
    reason: str

    def describe(self) -> str:
        where = "" if self.loc.is_unknown() else f" at {self.loc.describe()}"
        return f"%{self.node} = {self.op}{where}: {self.reason}"


@dataclass
class CapabilityReport:
    """Every unconvertible node of a graph, and the coverage."""

    total: int
    problems: list[Problem] = field(default_factory=list)

    @property
    def supported(self) -> int:
        return self.total - len(self.problems)

    @property
    def coverage(self) -> float:
        """Percentage of nodes that convert (nodes computed at build time are not counted)."""
        return 100.0 if self.total == 0 else 100.0 * self.supported / self.total

    @property
    def ok(self) -> bool:
        return not self.problems

    def format(self) -> str:
        head = (f"TensorRT coverage: {self.supported}/{self.total} nodes "
                f"({self.coverage:.1f}%)")  # fmt: skip
        if self.ok:
            return head + "; every node converts"
        lines = [head + f"; {len(self.problems)} cannot be converted:"]
        return "\n".join(lines + [f"  {p.describe()}" for p in self.problems])


def capability_report(graph: Graph) -> CapabilityReport:
    """Check every non-constant node of `graph` (nothing is emitted)."""
    from backends.tensorrt.hostvalue import reset
    from backends.tensorrt.network import folded
    from backends.tensorrt.registry import node_problem
    from compiler.text.printer import Namer, graph_values

    reset()
    namer = Namer(graph_values(graph))
    nodes = [n for n in graph.nodes if not folded(n)]
    report = CapabilityReport(total=len(nodes))
    for node in nodes:
        reason = node_problem(node)
        if reason is not None:
            report.problems.append(_problem(node, namer.name(node.outputs[0]), reason))
    return report


def _problem(node: Node, name: str, reason: str) -> Problem:
    return Problem(node.op, name, node.loc, reason)


def check_graph(graph: Graph) -> None:
    """Raise `UnsupportedOpError` listing every node that cannot be converted."""
    report = capability_report(graph)
    if report.ok:
        return
    raise UnsupportedOpError(
        f"{len(report.problems)} node(s) cannot be converted to TensorRT "
        f"(coverage {report.coverage:.1f}%)",
        notes=[f"  {p.describe()}" for p in report.problems],
        ops=[(p.op, p.node, p.loc) for p in report.problems],
    )


def registry_coverage() -> dict[str, str | None]:
    """Every registry op -> None when it has a converter, else the reason it has none."""
    from backends.tensorrt.registry import UNSUPPORTED, load_converters
    from compiler.registry import all_ops

    table = load_converters()
    out: dict[str, str | None] = {}
    for opdef in all_ops():
        if opdef.name in table or opdef.name == "const":  # constants: weights or constant layers
            out[opdef.name] = None
        else:
            out[opdef.name] = UNSUPPORTED.get(opdef.name, "no converter written")
    return out
