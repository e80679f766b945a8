"""A small layered (Sugiyama-style) layout of a `Diagram`, top to bottom, in pure Python.

1. **Ranks** by longest path from the sources; then every box with slack moves down to just
   above its first user (a bias computed early but used late does not draw a long edge).
2. **Dummy nodes** split every edge spanning more than one rank, so edges route between boxes.
3. **Order** within each rank by barycenter sweeps (down with predecessors, up with successors).
4. **Coordinates**: each rank is packed twice, left to right and right to left, each box pulled
   toward the mean x of its neighbours in the rank before (or after); the two packings both keep
   the minimum gap, so their average does too. Boxes in a rank never overlap.
5. **Edges** are polylines from the bottom centre of the source through the dummies' centres to
   the top centre of the destination (`svg.edge_path` draws them as smooth vertical curves).

Cost is linear in boxes + dummies per sweep; a page of a few hundred boxes takes milliseconds.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from compiler.viz.diagram import Diagram

BOX_HEIGHT = 34.0
NOTE_HEIGHT = 13.0  # a third text line: the overlay value
RANK_GAP = 26.0
BOX_GAP = 14.0
DUMMY_WIDTH = 6.0
DUMMY_GAP = 5.0  # the gap next to an edge's bend point: bypass edges hug the boxes they pass
CHAR_WIDTH = 6.4
MIN_WIDTH = 56.0
MAX_CHARS = 34
SWEEPS = 6
PULLS = 4


@dataclass
class Rect:
    """A box's centre and size."""

    x: float
    y: float
    w: float
    h: float

    @property
    def left(self) -> float:
        return self.x - self.w / 2

    @property
    def right(self) -> float:
        return self.x + self.w / 2


@dataclass
class Layout:
    """Box rectangles by key, edge polylines, ranks and the drawing's size."""

    rects: dict[str, Rect] = field(default_factory=dict)
    paths: list[tuple[str, str, list[tuple[float, float]]]] = field(default_factory=list)
    ranks: list[list[str]] = field(default_factory=list)
    width: float = 0.0
    height: float = 0.0


def clip(text: str, limit: int = MAX_CHARS) -> str:
    """`text`, cut to `limit` characters with an ellipsis."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def box_width(label: str, name: str, note: str = "") -> float:
    chars = max(len(clip(label)), len(clip(name)) + 1, len(clip(note)))
    return max(MIN_WIDTH, chars * CHAR_WIDTH + 16)


def _topological(keys: list[str], succ: dict[str, list[str]], npred: dict[str, int]) -> list[str]:
    left = dict(npred)
    queue = deque(k for k in keys if left[k] == 0)
    order = []
    while queue:
        key = queue.popleft()
        order.append(key)
        for s in succ[key]:
            left[s] -= 1
            if left[s] == 0:
                queue.append(s)
    placed = set(order)
    return order + [k for k in keys if k not in placed]  # a DAG has none left; stay total


def assign_ranks(diagram: Diagram) -> dict[str, int]:
    """Longest-path ranks, sources moved down next to their first user."""
    keys = list(diagram.boxes)
    succ: dict[str, list[str]] = {k: [] for k in keys}
    pred: dict[str, list[str]] = {k: [] for k in keys}
    for src, dst in diagram.edges:
        succ[src].append(dst)
        pred[dst].append(src)
    order = _topological(keys, succ, {k: len(pred[k]) for k in keys})
    rank: dict[str, int] = {}
    for key in order:
        rank[key] = max((rank[p] + 1 for p in pred[key] if p in rank), default=0)
    for key in reversed(order):  # as late as possible: a value drawn next to its first use
        if succ[key]:
            rank[key] = max(rank[key], min(rank[s] for s in succ[key]) - 1)
    return rank


def _layers(diagram: Diagram, rank: dict[str, int], lay: Layout) -> dict[str, list[str]]:
    """Fill `lay.ranks` (boxes and dummies) and return each edge's chain of keys by edge id."""
    depth = max(rank.values(), default=-1) + 1
    lay.ranks = [[] for _ in range(depth)]
    for key in diagram.boxes:
        lay.ranks[rank[key]].append(key)
    chains: dict[str, list[str]] = {}
    for i, (src, dst) in enumerate(diagram.edges):
        chain = [src]
        for r in range(rank[src] + 1, rank[dst]):
            dummy = f"\0{i}:{r}"
            lay.ranks[r].append(dummy)
            chain.append(dummy)
        chains[f"{i}"] = [*chain, dst]
    return chains


def _neighbours(chains: dict[str, list[str]]) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    up: dict[str, list[str]] = {}
    down: dict[str, list[str]] = {}
    for chain in chains.values():
        for a, b in zip(chain, chain[1:], strict=False):
            down.setdefault(a, []).append(b)
            up.setdefault(b, []).append(a)
    return up, down


def _sweep(ranks: list[list[str]], links: dict[str, list[str]], downward: bool) -> None:
    indices = range(1, len(ranks)) if downward else range(len(ranks) - 2, -1, -1)
    for r in indices:
        near = ranks[r - 1] if downward else ranks[r + 1]
        pos = {k: i for i, k in enumerate(near)}
        here = ranks[r]

        scale = len(near) / max(len(here), 1)

        def centre(k: str, i: int, pos: dict[str, int] = pos, scale: float = scale) -> float:
            ps = [pos[n] for n in links.get(k, ()) if n in pos]
            return sum(ps) / len(ps) if ps else i * scale

        keyed = [(centre(k, i), i, k) for i, k in enumerate(here)]
        ranks[r] = [k for _, _, k in sorted(keyed)]


def _space(a: str, b: str, widths: dict[str, float]) -> float:
    """The least distance between the centres of neighbours `a` and `b` in a rank."""
    gap = DUMMY_GAP if a.startswith("\0") or b.startswith("\0") else BOX_GAP
    return (widths[a] + widths[b]) / 2 + gap


def _pack(keys: list[str], widths: dict[str, float], want: dict[str, float]) -> list[float]:
    """Centres of `keys` (in order), each as near `want` as the gaps allow: the average of a
    left-to-right and a right-to-left packing."""
    n = len(keys)
    lo, hi = [0.0] * n, [0.0] * n
    for i, k in enumerate(keys):
        floor = lo[i - 1] + _space(keys[i - 1], k, widths) if i else -1e18
        lo[i] = max(want[k], floor)
    for i in range(n - 1, -1, -1):
        k = keys[i]
        ceil = hi[i + 1] - _space(k, keys[i + 1], widths) if i < n - 1 else 1e18
        hi[i] = min(want[k], ceil)
    return [(a + b) / 2 for a, b in zip(lo, hi, strict=True)]


def _coordinates(lay: Layout, widths: dict[str, float], up: dict[str, list[str]],
                 down: dict[str, list[str]]) -> dict[str, float]:  # fmt: skip
    x: dict[str, float] = {}
    for keys in lay.ranks:
        edge = 0.0
        for k in keys:
            x[k] = edge + widths[k] / 2
            edge += widths[k] + BOX_GAP
    for it in range(PULLS):
        links = up if it % 2 == 0 else down
        for keys in lay.ranks if it % 2 == 0 else reversed(lay.ranks):
            want = {}
            for k in keys:
                near = [x[n] for n in links.get(k, ())]
                want[k] = sum(near) / len(near) if near else x[k]
            for k, c in zip(keys, _pack(keys, widths, want), strict=True):
                x[k] = c
    return x


def layout(diagram: Diagram) -> Layout:
    """Place every box of `diagram` (see the module docstring)."""
    lay = Layout()
    if not diagram.boxes:
        return lay
    rank = assign_ranks(diagram)
    chains = _layers(diagram, rank, lay)
    up, down = _neighbours(chains)
    for i in range(SWEEPS):
        _sweep(lay.ranks, up if i % 2 == 0 else down, downward=i % 2 == 0)
    widths = {k: DUMMY_WIDTH for keys in lay.ranks for k in keys}
    widths.update((k, box_width(b.label, b.name, b.note)) for k, b in diagram.boxes.items())
    x = _coordinates(lay, widths, up, down)
    shift = BOX_GAP - min(x[k] - widths[k] / 2 for k in x)
    height = BOX_HEIGHT + (NOTE_HEIGHT if any(b.note for b in diagram.boxes.values()) else 0)
    for r, keys in enumerate(lay.ranks):
        y = BOX_GAP + height / 2 + r * (height + RANK_GAP)
        for k in keys:
            lay.rects[k] = Rect(x[k] + shift, y, widths[k], height)
    for i, (src, dst) in enumerate(diagram.edges):
        chain = chains[f"{i}"]
        a, b = lay.rects[src], lay.rects[dst]
        points = [(a.x, a.y + a.h / 2)]
        points += [(lay.rects[k].x, lay.rects[k].y) for k in chain[1:-1]]
        points.append((b.x, b.y - b.h / 2))
        lay.paths.append((src, dst, points))
    lay.width = max(r.right for r in lay.rects.values()) + BOX_GAP
    lay.height = max(r.y + r.h / 2 for r in lay.rects.values()) + BOX_GAP
    for key in [k for k in lay.rects if k.startswith("\0")]:
        del lay.rects[key]
    lay.ranks = [[k for k in keys if not k.startswith("\0")] for keys in lay.ranks]
    return lay
