"""SVG text of laid-out diagrams: boxes with tooltips, edges, a legend, pages and panels.

Every node box is one `<g class="node">` holding a `<title>` (the browser's tooltip: name, op,
types, location, overlay value), a `<rect>` filled with the overlay colour and two text lines
(op, value name) plus, for numeric and label overlays, a third `<text class="note">`: the
overlay value;
its `data-*` attributes repeat the name, op, legend label and value for scripts and tests.
Graph inputs/outputs are `<g class="io">`, page stubs `<g class="stub" data-target=PAGE>`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

from compiler.viz.diagram import Box
from compiler.viz.layout import BOX_GAP, CHAR_WIDTH, Layout, Rect, clip
from compiler.viz.overlay import LegendEntry

FONT = "font-family:DejaVu Sans,Verdana,Arial,sans-serif"
STYLE = (
    f"<style>text{{{FONT};font-size:11px;fill:#1b1b1b}} .l2{{font-size:9.5px;fill:#333}}"
    ".edge{fill:none;stroke:#7a7a7a;stroke-width:1.1} .stub rect{stroke-dasharray:4 3}"
    ".legend .title,.page-title{font-size:13px;font-weight:bold} .note{font-size:9.5px;"
    "font-weight:bold} .legend .header-note{font-size:11.5px;fill:#8a1c00}"
    ".node:hover rect,.stub:hover rect{stroke:#000;stroke-width:2.2}</style>"
)
DEFS = (
    '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
    'markerHeight="7" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" '
    'fill="#7a7a7a"/></marker></defs>'
)
HEADER = 24.0
LEGEND_ROWS = 12
LEGEND_COLUMN = 230.0
LEGEND_CHARS = 72
ROW = 18.0


@dataclass
class Fragment:
    """SVG elements drawn from (0, 0) and their extent."""

    body: str
    width: float
    height: float


@dataclass
class Page:
    """One laid-out page of a diagram."""

    title: str
    boxes: dict[str, Box]
    layout: Layout


@dataclass
class Panel:
    """A titled sequence of pages (a graph before or after a pipeline)."""

    title: str
    pages: list[Page]


def _text_color(fill: str) -> str:
    if not fill.startswith("#") or len(fill) != 7:
        return "#1b1b1b"
    r, g, b = (int(fill[i : i + 2], 16) for i in (1, 3, 5))
    return "#ffffff" if 0.299 * r + 0.587 * g + 0.114 * b < 110 else "#1b1b1b"


def _tooltip(box: Box, overlay: str) -> str:
    lines = list(box.lines)
    if box.kind == "node":
        lines.append(f"{overlay}: {box.value}")
    return "\n".join(lines)


def _stripes(colors: list[str], rect: Rect) -> str:
    """The members' colours along the bottom edge of a folded box."""
    if not colors:
        return ""
    step = (rect.w - 8) / len(colors)
    y = rect.y + rect.h / 2 - 4.5
    return "".join(f'<rect class="stripe" x="{rect.left + 4 + i * step:.1f}" y="{y:.1f}" '
                   f'width="{step:.2f}" height="3" fill="{c}"/>'
                   for i, c in enumerate(colors))  # fmt: skip


def _box(box: Box, rect: Rect, overlay: str, ident: str) -> str:
    cls = {"node": "node", "stub": "stub"}.get(box.kind, "io")
    fill = box.fill if box.kind == "node" else "#ffffff"
    radius = min(rect.h / 2, 17) if cls == "io" else 5
    attrs = (f'class="{cls}" id="{ident}" data-key={quoteattr(box.key)} '
             f"data-name={quoteattr(box.name)} data-op={quoteattr(box.label)}")  # fmt: skip
    if cls == "node":
        attrs += (f" data-category={quoteattr(box.category)} data-value={quoteattr(box.value)}"
                  f' data-members="{len(box.members)}"')  # fmt: skip
        if box.number is not None:
            attrs += f' data-number="{box.number!r}"'
    if cls == "stub":
        attrs += f' data-target="{box.target}" style="cursor:pointer"'
    ink = _text_color(fill)
    top = rect.y - rect.h / 2  # text baselines from the top: 13 and 26 (and 39 for the note)
    note = ""
    if box.note and cls == "node":
        note = (f'<text class="note" x="{rect.x:.1f}" y="{top + 38:.1f}" text-anchor="middle" '
                f'style="fill:{ink}">{escape(clip(box.note))}</text>')  # fmt: skip
    return (
        f"<g {attrs}><title>{escape(_tooltip(box, overlay))}</title>"
        f'<rect x="{rect.left:.1f}" y="{top:.1f}" width="{rect.w:.1f}" '
        f'height="{rect.h:.1f}" rx="{radius:.1f}" fill="{fill}" stroke="#404040"/>'
        f"{_stripes(box.stripes, rect)}"
        f'<text x="{rect.x:.1f}" y="{top + 13:.1f}" text-anchor="middle" '
        f'style="fill:{ink}">{escape(clip(box.label))}</text>'
        f'<text class="l2" x="{rect.x:.1f}" y="{top + 26:.1f}" text-anchor="middle" '
        f'style="fill:{ink}">%{escape(clip(box.name, 33))}</text>{note}</g>'
    )


def edge_path(points: Sequence[tuple[float, float]]) -> str:
    """An edge through `points` as an SVG path: cubic curves leaving and entering every point
    vertically, so an edge bent around a box (through its dummies) stays smooth."""
    (x, y), rest = points[0], points[1:]
    parts = [f"M {x:.1f} {y:.1f}"]
    for nx, ny in rest:
        mid = (y + ny) / 2
        parts.append(f"C {x:.1f} {mid:.1f} {nx:.1f} {mid:.1f} {nx:.1f} {ny:.1f}")
        x, y = nx, ny
    return " ".join(parts)


def page_fragment(page: Page, overlay: str, prefix: str) -> Fragment:
    """The page title, its edges and its boxes, from (0, 0)."""
    lay = page.layout
    parts = [f'<text class="page-title" x="{BOX_GAP}" y="16">{escape(page.title)}</text>',
             f'<g transform="translate(0,{HEADER})">']  # fmt: skip
    for _, _, points in lay.paths:
        parts.append(f'<path class="edge" d="{edge_path(points)}" marker-end="url(#arrow)"/>')
    for i, (key, rect) in enumerate(lay.rects.items()):
        parts.append(_box(page.boxes[key], rect, overlay, f"{prefix}-{i}"))
    parts.append("</g>")
    width = max(lay.width, 8 * len(page.title) + 2 * BOX_GAP)
    return Fragment("".join(parts), width, lay.height + HEADER)


def legend_fragment(
    title: str, entries: Sequence[LegendEntry], heading: str, notes: Sequence[str] = ()
) -> Fragment:
    """The heading, its note lines (data source, counts), the overlay's title and its swatches
    in columns of `LEGEND_ROWS`."""
    heading = clip(heading, 140)
    parts = [f'<g class="legend"><text class="title" x="{BOX_GAP}" y="16">{escape(heading)}</text>']
    y = 16.0
    for line in notes:
        y += ROW
        parts.append(f'<text class="header-note" x="{BOX_GAP}" y="{y:.0f}">'
                     f"{escape(clip(line, 140))}</text>")  # fmt: skip
    y += ROW
    parts.append(f'<text x="{BOX_GAP}" y="{y:.0f}">colour: {escape(title)}</text>')
    top = y + 10
    chars = max((len(clip(e.label, LEGEND_CHARS)) for e in entries), default=0)
    column = max(LEGEND_COLUMN, 26 + chars * CHAR_WIDTH + BOX_GAP)
    for i, entry in enumerate(entries):
        x = BOX_GAP + (i // LEGEND_ROWS) * column
        ey = top + (i % LEGEND_ROWS) * ROW
        stroke = ' stroke="#404040"' if entry.color != "none" else ""
        text = escape(clip(entry.label, LEGEND_CHARS))
        parts.append(f'<rect class="swatch" x="{x}" y="{ey}" width="14" height="14" '
                     f'fill="{entry.color}"{stroke} data-label={quoteattr(entry.label)}/>'
                     f'<text x="{x + 20}" y="{ey + 11}">{text}</text>')  # fmt: skip
    parts.append("</g>")
    columns = max(1, -(-len(entries) // LEGEND_ROWS))
    longest = max([len(heading), *(len(clip(n, 140)) for n in notes)])
    width = BOX_GAP * 2 + max(columns * column, 8 * longest)
    height = top + min(len(entries), LEGEND_ROWS) * ROW + BOX_GAP
    return Fragment("".join(parts), width, height)


def _wrap(fragments: Sequence[tuple[float, float, Fragment]], width: float, height: float) -> str:
    body = "".join(f'<g transform="translate({x:.1f},{y:.1f})">{f.body}</g>'
                   for x, y, f in fragments)  # fmt: skip
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.1f} {height:.1f}">{STYLE}{DEFS}'
        f'<rect class="background" width="100%" height="100%" fill="#ffffff"/>{body}</svg>'
    )


def page_svg(page: Page, legend: Fragment, overlay: str, prefix: str) -> str:
    """One page as a standalone `<svg>` with the legend above it."""
    frag = page_fragment(page, overlay, prefix)
    width = max(frag.width, legend.width)
    return _wrap([(0, 0, legend), (0, legend.height, frag)], width, legend.height + frag.height)


def svg_document(panels: Sequence[Panel], legend: Fragment, overlay: str) -> str:
    """Every page of every panel side by side under one legend, as one `<svg>`."""
    placed: list[tuple[float, float, Fragment]] = [(0, 0, legend)]
    x, height = 0.0, legend.height
    for p, panel in enumerate(panels):
        for k, page in enumerate(panel.pages):
            frag = page_fragment(page, overlay, f"p{p}-{k}")
            placed.append((x, legend.height, frag))
            x += frag.width + 2 * BOX_GAP
            height = max(height, legend.height + frag.height)
    return _wrap(placed, max(x, legend.width), height)
