"""The drawable view of a graph: boxes and edges, chain folding and pagination.

A `Diagram` has one box per non-constant IR node (constants are weights: they show in their
users' tooltips), one per graph input and one per graph output, and an edge per data dependence
(parallel edges merged). Boxes are keyed by the printed name of their node's first output (the
names `irforge inspect --ir` prints, `compiler.text.printer.Namer`), which is also how overlay
values are looked up, so a value keeps its colour across passes that keep its name.

Large graphs stay usable in two ways:

- `fold_chains`: every maximal linear chain (each box has one successor, which has one
  predecessor) becomes one box, labelled by its op sequence with repeats compressed:
  `(gemm → tanh) ×1000`.
- `paginate`: boxes in program order are cut into pages of at most `max_boxes`; an edge that
  leaves the page becomes a *stub* box ("→ page 3: %x") and one that enters it a stub from the
  page it comes from, so every page is a self-contained drawing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from compiler.graph import Graph
from compiler.ir import Node, Value
from compiler.text.printer import Namer, graph_values

TOOLTIP_MEMBERS = 24  # members listed in a folded box's tooltip


@dataclass
class Box:
    """One drawn box: a node (or folded chain of nodes), a graph input/output, or a page stub.

    Attributes:
        key: Unique id in its diagram.
        label: The first text line (op, or the folded op sequence).
        name: The second text line (printed value name, without `%`).
        kind: "node", "input", "output" or "stub".
        members: Printed names of the nodes drawn by this box (first outputs).
        ops: Their ops, in the same order.
        lines: Tooltip lines (without the overlay line).
        target: For stubs, the index of the page the edge continues on.
        category: The overlay's legend entry for this box (set by `paint`).
        value: The overlay value shown in the tooltip (set by `paint`).
        fill: The fill colour (set by `paint`).
        number: A scale overlay's (worst) value, unrounded (set by `paint`).
        stripes: For a folded box whose members differ: their colours in order, runs merged
            (set by `paint`; drawn as a strip along the box's bottom edge).
        note: The overlay value as drawn inside the box, a third text line (set by `paint`;
            empty for the `op` overlay, whose value is the label already).
    """

    key: str
    label: str
    name: str
    kind: str
    members: list[str] = field(default_factory=list)
    ops: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    target: int = -1
    category: str = ""
    value: str = ""
    fill: str = "#ffffff"
    number: float | None = None
    stripes: list[str] = field(default_factory=list)
    note: str = ""


@dataclass
class Diagram:
    """Boxes (in program order) and edges (source key, destination key)."""

    boxes: dict[str, Box] = field(default_factory=dict)
    edges: list[tuple[str, str]] = field(default_factory=list)

    def add(self, box: Box) -> Box:
        self.boxes[box.key] = box
        return box

    def node_boxes(self) -> list[Box]:
        """The boxes that draw IR nodes."""
        return [b for b in self.boxes.values() if b.kind == "node"]


def _typed(namer: Namer, value: Value | None) -> str:
    if value is None:
        return "(none)"
    return f"%{namer.name(value)}: {value.type}"


def _node_lines(node: Node, namer: Namer) -> list[str]:
    outs = ", ".join(f"%{namer.name(v)}" for v in node.outputs)
    lines = [f"{outs} = {node.op}"]
    for i, value in enumerate(node.inputs):
        weight = value is not None and value.producer is not None and value.producer.op == "const"
        lines.append(f"  in{i}{' (weight)' if weight else ''}: {_typed(namer, value)}")
    lines += [f"  out: {_typed(namer, v)}" for v in node.outputs]
    if not node.loc.is_unknown():
        lines.append(f"  loc: {node.loc.text()}")
    return lines


def from_graph(graph: Graph) -> Diagram:
    """One box per non-constant node, graph input and graph output; edges between them."""
    namer = Namer(graph_values(graph))
    diagram = Diagram()
    source: dict[Value, str] = {}
    for value in graph.inputs:
        name = namer.name(value)
        box = diagram.add(Box(f"in:{name}", "input", name, "input"))
        box.lines = [f"graph input {_typed(namer, value)}"]
        source[value] = box.key
    edges: list[tuple[str, str]] = []
    for node in graph.nodes:
        if node.op == "const":
            continue
        name = namer.name(node.outputs[0])
        box = diagram.add(Box(f"n:{name}", node.op, name, "node", [name], [node.op]))
        box.lines = _node_lines(node, namer)
        edges += [(source[v], box.key) for v in node.inputs if v is not None and v in source]
        source.update((v, box.key) for v in node.outputs)
    for i, value in enumerate(graph.outputs):
        box = diagram.add(Box(f"out:{i}", "output", namer.name(value), "output"))
        box.lines = [f"graph output #{i} {_typed(namer, value)}"]
        if value in source:
            edges.append((source[value], box.key))
    diagram.edges = list(dict.fromkeys(edges))
    return diagram


def _repeats(ops: Sequence[str], period: int) -> int:
    """How many times `ops[:period]` repeats from the start of `ops`."""
    k = 1
    while ops[k * period : (k + 1) * period] == ops[:period] and (k + 1) * period <= len(ops):
        k += 1
    return k


def compress_ops(ops: Sequence[str]) -> str:
    """A short label for an op sequence: `a → b`, `(a → b) ×40 → c`, `a → … → z (9 ops)`."""
    n = len(ops)
    cover, period = max((_repeats(ops, p) * p, -p) for p in range(1, min(4, n) + 1))
    period = -period
    if cover >= 2 * period:
        unit = " → ".join(ops[:period])
        head = f"{unit} ×{cover // period}" if period == 1 else f"({unit}) ×{cover // period}"
        rest = ops[cover:]
        if not rest:
            return head
        return head + " → " + (" → ".join(rest) if len(rest) <= 2 else f"… ({len(rest)} more)")
    if n <= 3:
        return " → ".join(ops)
    return f"{ops[0]} → … → {ops[-1]} ({n} ops)"


def _chains(diagram: Diagram) -> list[list[str]]:
    """Maximal linear chains of node boxes (length >= 2), in program order."""
    succ: dict[str, list[str]] = {k: [] for k in diagram.boxes}
    pred: dict[str, list[str]] = {k: [] for k in diagram.boxes}
    for src, dst in diagram.edges:
        succ[src].append(dst)
        pred[dst].append(src)

    def linked(a: str, b: str) -> bool:
        nodes = diagram.boxes[a].kind == "node" and diagram.boxes[b].kind == "node"
        return nodes and succ[a] == [b] and pred[b] == [a]

    chains, seen = [], set()
    for key in diagram.boxes:
        if key in seen or diagram.boxes[key].kind != "node":
            continue
        if len(pred[key]) == 1 and linked(pred[key][0], key):
            continue  # not the head of its chain
        chain = [key]
        while len(succ[chain[-1]]) == 1 and linked(chain[-1], succ[chain[-1]][0]):
            chain.append(succ[chain[-1]][0])
        seen.update(chain)
        if len(chain) > 1:
            chains.append(chain)
    return chains


def merged_box(boxes: list[Box], label: str, what: str) -> Box:
    """One node box standing for `boxes` (in program order); `what` heads its tooltip."""
    members = [m for b in boxes for m in b.members]
    ops = [o for b in boxes for o in b.ops]
    merged = Box(boxes[0].key, label, f"{boxes[0].name} … {boxes[-1].name}", "node", members, ops)
    merged.lines = [f"{len(members)} nodes folded ({what}):"]
    merged.lines += [f"  %{m} = {o}" for m, o in zip(members[:TOOLTIP_MEMBERS], ops, strict=False)]
    if len(members) > TOOLTIP_MEMBERS:
        merged.lines.append(f"  … and {len(members) - TOOLTIP_MEMBERS} more")
    return merged


def merge_groups(diagram: Diagram, groups: dict[str, tuple[list[str], Box]]) -> Diagram:
    """A new diagram where each group of box keys (by its first key) is replaced by its box;
    edges are redirected and those inside a group dropped."""
    head_of = {k: head for head, (keys, _) in groups.items() for k in keys}
    out = Diagram()
    for key, box in diagram.boxes.items():
        if key not in head_of:
            out.add(box)
        elif head_of[key] == key:
            out.add(groups[key][1])
    edges = [(head_of.get(s, s), head_of.get(d, d)) for s, d in diagram.edges]
    out.edges = list(dict.fromkeys(e for e in edges if e[0] != e[1]))
    return out


def fold_chains(diagram: Diagram) -> Diagram:
    """A new diagram where every maximal linear chain of node boxes is one box."""
    groups = {}
    for chain in _chains(diagram):
        boxes = [diagram.boxes[k] for k in chain]
        label = compress_ops([o for b in boxes for o in b.ops])
        groups[chain[0]] = (chain, merged_box(boxes, label, "a linear chain"))
    return merge_groups(diagram, groups)


def paginate(diagram: Diagram, max_boxes: int) -> list[Diagram]:
    """Pages of at most `max_boxes` boxes (program order) plus stubs for edges between pages."""
    keys = list(diagram.boxes)
    if len(keys) <= max_boxes:
        return [diagram]
    page_of = {k: i // max_boxes for i, k in enumerate(keys)}
    pages = [Diagram() for _ in range(page_of[keys[-1]] + 1)]
    for key in keys:
        pages[page_of[key]].add(diagram.boxes[key])
    for src, dst in diagram.edges:
        ps, pd = page_of[src], page_of[dst]
        if ps == pd:
            pages[ps].edges.append((src, dst))
            continue
        name = diagram.boxes[src].name
        into = _stub(pages[pd], f"from:{src}", f"from page {ps + 1}", name, ps)
        pages[pd].edges.append((into, dst))
        out = _stub(pages[ps], f"to:{src}:{pd}", f"to page {pd + 1}", name, pd)
        pages[ps].edges.append((src, out))
    for page in pages:
        page.edges = list(dict.fromkeys(page.edges))
    return pages


def _stub(page: Diagram, key: str, label: str, name: str, target: int) -> str:
    if key not in page.boxes:
        box = page.add(Box(key, label, name, "stub", target=target))
        box.lines = [f"%{name} continues on page {target + 1} (click to go there)"]
    return key
