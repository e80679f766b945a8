"""Which nodes a pass touched, from snapshots taken before and after it.

The pass manager snapshots every node's identity, op, inputs, attributes, output types and location
before a pass (only when a hook asks for it) and diffs against the graph afterwards. This needs no
cooperation from passes or from the graph, costs one linear walk, and reports nodes added, removed
and modified (inputs rewired, attributes, types or location changed).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from compiler.graph import Graph
from compiler.ir import Node

_State = tuple[str, tuple[object, ...], tuple[tuple[str, object], ...], tuple[object, ...], object]
MAX_LISTED = 12


@dataclass(frozen=True)
class Snapshot:
    """The state of every node of a graph at one moment (nodes are held, so ids stay unique)."""

    states: dict[Node, _State]
    outputs: tuple[object, ...]

    @classmethod
    def take(cls, graph: Graph) -> Snapshot:
        return cls({node: _state(node) for node in graph.nodes}, tuple(graph.outputs))


def _state(node: Node) -> _State:
    types = tuple(v.type for v in node.outputs)
    return (node.op, node.inputs, tuple(node.attrs.items()), types, node.loc)


@dataclass
class ChangeSet:
    """Nodes added, removed and modified between a snapshot and the graph now.

    Attributes:
        added: Nodes in the graph now that were not before.
        removed: Descriptions of nodes that were in the graph before and are gone.
        modified: Nodes present in both whose op, inputs, attributes, types or location changed.
        outputs_changed: Whether the graph's output list changed.
    """

    added: list[Node] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    modified: list[Node] = field(default_factory=list)
    outputs_changed: bool = False

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.modified or self.outputs_changed)

    @property
    def count(self) -> int:
        return len(self.added) + len(self.removed) + len(self.modified)

    def nodes(self) -> list[Node]:
        """The touched nodes still in the graph (added and modified)."""
        return [*self.added, *self.modified]

    def describe(self, limit: int = MAX_LISTED) -> list[str]:
        """One line per touched node (`+` added, `-` removed, `~` modified), at most `limit`."""
        lines = [f"+ {describe_node(n)}" for n in self.added]
        lines += [f"- {text}" for text in self.removed]
        lines += [f"~ {describe_node(n)}" for n in self.modified]
        if self.outputs_changed:
            lines.append("~ graph outputs")
        if len(lines) > limit:
            lines = [*lines[:limit], f"... and {len(lines) - limit} more"]
        return lines

    def summary(self) -> str:
        return (
            f"{len(self.added)} added, {len(self.removed)} removed, {len(self.modified)} modified"
        )


def diff(before: Snapshot, graph: Graph) -> ChangeSet:
    """The changes from `before` to the current state of `graph`."""
    changes = ChangeSet(outputs_changed=not _same_values(before.outputs, tuple(graph.outputs)))
    for node in graph.nodes:
        old = before.states.get(node)
        if old is None:
            changes.added.append(node)
        elif not _same_state(old, _state(node)):
            changes.modified.append(node)
    for node, state in before.states.items():
        if node.graph is not graph:
            changes.removed.append(_describe_state(node, state))
    return changes


def describe_node(node: Node) -> str:
    """`%y = relu(%x) at <loc>`: a node for diagnostics."""
    return _describe_state(node, _state(node))


def _describe_state(node: Node, state: _State) -> str:
    op, inputs, _, _, loc = state
    outs = ", ".join(f"%{v.name or '?'}" for v in node.outputs)
    args = ", ".join("none" if v is None else f"%{v.name or '?'}" for v in inputs)  # type: ignore[attr-defined]
    head = f"{outs} = {op}({args})" if outs else f"{op}({args})"
    return head if loc.is_unknown() else f"{head} at {loc.describe()}"  # type: ignore[attr-defined]


def _same_state(a: _State, b: _State) -> bool:
    return (a[0] == b[0] and _same_values(a[1], b[1]) and _same_attrs(a[2], b[2])
            and a[3] == b[3] and a[4] == b[4])  # fmt: skip


def _same_values(a: tuple[object, ...], b: tuple[object, ...]) -> bool:
    return len(a) == len(b) and all(x is y for x, y in zip(a, b, strict=True))


def _same_attrs(a: tuple[tuple[str, object], ...], b: tuple[tuple[str, object], ...]) -> bool:
    if len(a) != len(b):
        return False
    for (ka, va), (kb, vb) in zip(a, b, strict=True):
        if ka != kb:
            return False
        if va is vb:
            continue
        if isinstance(va, np.ndarray) or isinstance(vb, np.ndarray) or va != vb:
            return False
    return True


__all__ = ["ChangeSet", "Snapshot", "describe_node", "diff"]
