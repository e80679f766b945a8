"""`quantize-activations{ranges=FILE.json,layout=trt,skip=""}`: activation Q/DQ from saved ranges.

The replayable form of `irforge quantize`'s activation step: `irforge quantize ... --save-ranges
FILE.json` writes the calibrated ranges, and the model's `irforge.pipeline` metadata then names
this pass with that file, so `irforge optimize IN -o OUT --pipeline '<metadata>'` rebuilds the
same Q/DQ graph without the calibration data.

The file holds `{"layout": "trt" | "ort", "ranges": {value name: amax}}`, value names being the
printed names of the graph that calibration saw (after the same clean-up pipeline). Placement and
arithmetic are those of `passes.quantize_activations` (scale `amax / 127`, or `amax / 255` for the
uint8 sites of the "ort" layout; zero point 0); with `layout=ort` the relu / clip(0, ·)
epilogues are split first. A site without a range is an error naming it; without `ranges` the
pass changes nothing and says so (log warning and pass-report note).

Before / after: `%y = conv(%x, %w)` becomes
`%y = conv(dequantize_linear(quantize_linear(%x, %s, %z), %s, %z), %w)`.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from compiler.errors import PassError
from compiler.graph import Graph
from compiler.passmanager import Pass, note, register_pass
from passes.quantize_activations import (
    LAYOUTS,
    activation_sites,
    insert_activation_qdq,
    split_epilogues,
)

log = logging.getLogger(__name__)


def read_ranges(path: str) -> tuple[str, dict[str, float]]:
    """(layout, ranges) from a ranges file; raises ValueError naming what is wrong."""
    try:
        data = json.loads(Path(path).read_text())
        layout, ranges = data["layout"], {str(k): float(v) for k, v in data["ranges"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"cannot read ranges from {path}: {exc}") from exc
    if layout not in LAYOUTS:
        raise ValueError(f"{path}: unknown layout {layout!r}")
    return layout, ranges


@register_pass
@dataclass(frozen=True)
class QuantizeActivationsPass(Pass):
    """Insert activation Q/DQ pairs with the ranges saved by `irforge quantize --save-ranges`."""

    name: ClassVar[str] = "quantize-activations"
    changes_numerics: ClassVar[bool] = True
    ranges: str = ""
    skip: str = ""

    def __post_init__(self) -> None:
        if self.ranges:
            read_ranges(self.ranges)

    def run(self, graph: Graph) -> bool:
        if not self.ranges:
            message = "no ranges=FILE.json given (irforge quantize --save-ranges writes one)"
            log.warning("quantize-activations: %s; nothing quantized", message)
            note(message)
            return False
        layout, ranges = read_ranges(self.ranges)
        if layout == "ort":
            split_epilogues(graph)
        sites = activation_sites(graph, layout)
        missing = sorted({s.range_name for s in sites} - set(ranges))
        if missing:
            raise PassError(f"quantize-activations: no range for {', '.join(missing[:5])} in "
                            f"{self.ranges} (calibrated on another graph?)")  # fmt: skip
        keep = [s for s in self.skip.split(",") if s]
        pairs = insert_activation_qdq(graph, sites, ranges, keep, per_use=layout == "ort")
        note(f"{pairs} activation Q/DQ pairs ({layout} layout)")
        return pairs > 0


__all__ = ["QuantizeActivationsPass", "read_ranges"]
