"""Graph drawings: `irforge viz` without the command line (SVG or self-contained HTML).

Pure core layer: it draws graphs and the overlay values it is given; computing values that need
a backend (numeric error, int8 sensitivity, TensorRT fusion groups) is the driver's job
(`compiler/cli_viz.py`). Steps: `diagram.from_graph` -> `blocks.fold_blocks` and
`diagram.fold_chains` (optional) -> `paint` -> `paginate` -> `layout` -> `svg` / `html`.

Example:
    >>> from compiler.viz import GraphView, render
    >>> from compiler.viz.overlay import CategoryScheme
    >>> from compiler.viz.values import op_values
    >>> values = op_values(graph)
    >>> text = render([GraphView("model", graph, values)],
    ...               CategoryScheme("op", sorted(set(values.values()))), fmt="svg")
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from compiler.errors import CompilerError
from compiler.graph import Graph
from compiler.viz.blocks import fold_blocks
from compiler.viz.diagram import Diagram, fold_chains, from_graph, paginate
from compiler.viz.html import html_document
from compiler.viz.layout import layout
from compiler.viz.overlay import Scheme, Value, paint
from compiler.viz.svg import Page, Panel, legend_fragment, svg_document

FORMATS = ("svg", "html")
COLLAPSE = ("auto", "none", "chains", "blocks", "all")


@dataclass
class GraphView:
    """A graph to draw, its panel title and its overlay values (by printed node name)."""

    title: str
    graph: Graph
    values: Mapping[str, Value]


def op_count(graph: Graph) -> str:
    """What a drawing of `graph` holds: `38 ops (+35 constants hidden)`."""
    consts = sum(1 for n in graph.nodes if n.op == "const")
    ops = len(graph) - consts
    return f"{ops} ops" + (f" (+{consts} constants hidden)" if consts else "")


def _diagram(view: GraphView, collapse: str, max_nodes: int) -> Diagram:
    diagram = from_graph(view.graph)
    if collapse in ("blocks", "all") or (collapse == "auto" and len(diagram.boxes) > max_nodes):
        diagram = fold_blocks(diagram)
    if collapse in ("chains", "all") or (collapse == "auto" and len(diagram.boxes) > max_nodes):
        diagram = fold_chains(diagram)
    return diagram


def _panel(title: str, diagram: Diagram, max_nodes: int) -> Panel:
    pages = paginate(diagram, max_nodes)
    out = []
    for k, page in enumerate(pages):
        name = title if len(pages) == 1 else f"{title} · page {k + 1}/{len(pages)}"
        out.append(Page(name, page.boxes, layout(page)))
    return Panel(title, out)


def render(
    views: Sequence[GraphView],
    scheme: Scheme,
    *,
    fmt: str = "svg",
    collapse: str = "auto",
    max_nodes: int = 150,
    title: str = "",
    notes: Sequence[str] = (),
) -> str:
    """Draw `views` (side by side) coloured by `scheme`, with a legend.

    Args:
        views: The graphs (e.g. before and after a pipeline) and their overlay values.
        scheme: The overlay's colours (`compiler.viz.overlay`).
        fmt: "svg" (every page side by side in one drawing) or "html" (pages shown one at a
            time, pan and zoom).
        collapse: "blocks" folds repeated blocks (`compiler.viz.blocks`), "chains" linear
            chains, "all" both; "auto" folds blocks when a graph has more than `max_nodes`
            boxes, then chains if it still has; "none" draws every node.
        max_nodes: The most boxes on one page (pages beyond are linked by stubs).
        title: The heading.
        notes: Lines under the heading (where the overlay's data came from, what it counts).

    Returns:
        The SVG or HTML text.

    Raises:
        CompilerError: an unknown format or collapse mode, or `max_nodes` below 2.
    """
    if fmt not in FORMATS:
        raise CompilerError(f"unknown drawing format {fmt!r} (valid: {', '.join(FORMATS)})")
    if collapse not in COLLAPSE:
        raise CompilerError(f"unknown collapse mode {collapse!r} (valid: {', '.join(COLLAPSE)})")
    if max_nodes < 2:
        raise CompilerError(f"--max-nodes must be at least 2, not {max_nodes}")
    panels, used = [], set()
    for view in views:
        diagram = _diagram(view, collapse, max_nodes)
        used |= paint(diagram, scheme, view.values)
        panels.append(_panel(f"{view.title} · {op_count(view.graph)}", diagram, max_nodes))
    legend = legend_fragment(scheme.title, scheme.legend(used), title, notes)
    if fmt == "html":
        return html_document(title, panels, legend, scheme.title, notes)
    return svg_document(panels, legend, scheme.title)


__all__ = ["COLLAPSE", "FORMATS", "GraphView", "op_count", "render"]
