"""Folding repeated blocks: ResNet stages, transformer layers, stacked MLP layers.

1. **Cut boxes.** In program order (a topological order), box `i` is a cut when no edge from a box
   before it lands after it: everything upstream reaches downstream only through `i` (a residual
   block's output add, a transformer sub-layer's residual add).
2. **Segments** run from one cut (exclusive) to the next (inclusive). A segment's signature is
   its boxes' labels and its edges, positions taken relative to the segment's start (edges in
   from the previous cut included), so equal signatures mean the same wiring of the same ops.
3. **Runs.** Scanning the segments, the unit of 1 to 4 segments repeated most often in a row (at
   least `MIN_REPEATS` times) is found; the first unit stays drawn in full and the repeats after
   it become one box, `×63 block above (47 ops)`. The scan continues after the run.
"""

from __future__ import annotations

from collections.abc import Hashable

from compiler.viz.diagram import Box, Diagram, merge_groups, merged_box

MIN_REPEATS = 3
MAX_PERIOD = 4


def cut_positions(diagram: Diagram) -> list[int]:
    """Program-order positions of the cut boxes (see the module docstring)."""
    pos = {k: i for i, k in enumerate(diagram.boxes)}
    reach = [0] * len(pos)
    for src, dst in diagram.edges:
        reach[pos[src]] = max(reach[pos[src]], pos[dst])
    cuts, furthest = [], 0
    for i in range(len(reach)):
        if furthest <= i and i > 0:
            cuts.append(i)
        furthest = max(furthest, reach[i])
    return cuts


def segments(diagram: Diagram) -> list[list[str]]:
    """The boxes between consecutive cuts, each segment ending at its cut."""
    keys = list(diagram.boxes)
    out, start = [], 0
    for cut in cut_positions(diagram):
        out.append(keys[start : cut + 1])
        start = cut + 1
    if start < len(keys):
        out.append(keys[start:])
    return out


def _signature(diagram: Diagram, segment: list[str], into: dict[str, list[str]]) -> Hashable:
    where = {k: i for i, k in enumerate(segment)}
    labels = tuple(diagram.boxes[k].label for k in segment)
    wires = tuple(sorted((where.get(s, -1), where[d]) for d in segment for s in into[d]))
    kinds = tuple(diagram.boxes[k].kind for k in segment)
    return labels, wires, kinds


def _run(sigs: list[Hashable], start: int) -> tuple[int, int]:
    """(period, repeats) of the longest run of a repeated unit starting at `start`."""
    best = (1, 1)
    for period in range(1, MAX_PERIOD + 1):
        unit = sigs[start : start + period]
        if len(unit) < period:
            break
        k = 1
        while sigs[start + k * period : start + (k + 1) * period] == unit:
            k += 1
        if k * period > best[0] * best[1]:
            best = (period, k)
    return best


def fold_blocks(diagram: Diagram) -> Diagram:
    """A new diagram where each run of repeated blocks keeps its first block and folds the
    repeats into one box."""
    into: dict[str, list[str]] = {k: [] for k in diagram.boxes}
    for src, dst in diagram.edges:
        into[dst].append(src)
    segs = segments(diagram)
    sigs = [_signature(diagram, s, into) for s in segs]
    groups: dict[str, tuple[list[str], Box]] = {}
    i = 0
    while i < len(segs):
        period, repeats = _run(sigs, i)
        if repeats < MIN_REPEATS or any(diagram.boxes[k].kind != "node" for k in segs[i]):
            i += 1
            continue
        keys = [k for seg in segs[i + period : i + period * repeats] for k in seg]
        boxes = [diagram.boxes[k] for k in keys]
        size = sum(len(b.members) for b in boxes) // (repeats - 1)
        label = f"×{repeats - 1} block above ({size} ops)"
        what = f"{repeats - 1} repeats of the {period}-segment block above"
        groups[keys[0]] = (keys, merged_box(boxes, label, what))
        i += period * repeats
    return merge_groups(diagram, groups)
