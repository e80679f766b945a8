"""Overlay colour schemes: what colour a box gets for its nodes' values, and the legend.

Values come keyed by printed value name (a node's first output). A box drawing several nodes
(a folded chain) takes the *worst* value of a scale overlay (largest error, lowest SQNR) and, in a
category overlay, its members' category when they all share one, else "mixed". Boxes with no
value (a node the overlay does not cover) are "n/a".

- `CategoryScheme`: one colour per category (op kind, precision, TensorRT fusion group), from a
  fixed 20-colour palette, then generated hues.
- `ScaleScheme`: a binned scale (relative error, SQNR); every bin has one colour and one legend
  entry, so a box's colour tells its bin exactly. The bins are a sequential viridis ramp.

Every box of a numeric or label overlay also gets a short *note*, its value drawn inside it
(`2.1e-07`, `38.7 dB`, `int8 compute`, `layer 3`), so a static image shows the values too.
"""

from __future__ import annotations

import bisect
import colorsys
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from compiler.viz.diagram import Diagram

NA = "n/a"
NA_COLOR = "#e8e8e8"
MIXED = "mixed"
MIXED_COLOR = "#b4b4b4"
LEGEND_LIMIT = 36
STRIPES = 48
# tab20 without its greys (grey means n/a and mixed here)
PALETTE = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#bcbd22",
    "#17becf", "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94", "#f7b6d2",
    "#dbdb8d", "#9edae5",
)  # fmt: skip
# Sequential scales sampled from viridis (perceptually uniform, colour-blind safe): lightness
# rises steadily from dark purple through teal and green to yellow, so adjacent bins differ in
# lightness (about 10 L* units apart) and not only in hue. Dark = bad in both overlays.
ERROR_COLORS = ("#fde725", "#a0da39", "#4ac16d", "#1fa187", "#277f8e", "#365c8d", "#46337e",
                "#440154")  # fmt: skip
SQNR_COLORS = ("#440154", "#414487", "#2a788e", "#22a884", "#7ad151", "#fde725")

Value = str | float


@dataclass
class LegendEntry:
    """One legend row: a swatch colour and its text."""

    label: str
    color: str


def generated_color(index: int) -> str:
    """A light colour for category `index` past the palette (golden-angle hues)."""
    hue = (index * 0.618033988749895) % 1.0
    r, g, b = colorsys.hls_to_rgb(hue, 0.78, 0.6)
    return f"#{round(r * 255):02x}{round(g * 255):02x}{round(b * 255):02x}"


@dataclass
class CategoryScheme:
    """A colour per category, in `order` (first the palette, then generated hues)."""

    title: str
    order: list[str]
    colors: dict[str, str] = field(default_factory=dict)
    notes: bool = False
    short: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for i, name in enumerate(dict.fromkeys(self.order)):
            self.colors[name] = PALETTE[i] if i < len(PALETTE) else generated_color(i)
        self.colors.setdefault(NA, NA_COLOR)
        self.colors.setdefault(MIXED, MIXED_COLOR)

    def entry(self, values: Sequence[Value]) -> tuple[str, str]:
        """(legend label, tooltip text) of a box whose members have `values`."""
        kinds = list(dict.fromkeys(str(v) for v in values))
        if not kinds:
            return NA, NA
        if len(kinds) == 1:
            return kinds[0], kinds[0]
        return MIXED, "mixed: " + ", ".join(kinds[:6]) + (" …" if len(kinds) > 6 else "")

    def color(self, label: str) -> str:
        return self.colors.get(label, MIXED_COLOR)

    def note(self, values: Sequence[Value]) -> str:
        """The short text drawn inside a box (empty unless `notes`): `short[label]` or the
        label."""
        if not self.notes or not values:
            return ""
        label = self.entry(values)[0]
        return self.short.get(label, label)

    def legend(self, used: set[str]) -> list[LegendEntry]:
        names = [n for n in self.colors if n in used]
        rows = [LegendEntry(n, self.colors[n]) for n in names[:LEGEND_LIMIT]]
        if len(names) > LEGEND_LIMIT:
            rows.append(LegendEntry(f"… {len(names) - LEGEND_LIMIT} more (see tooltips)", "none"))
        return rows


@dataclass
class ScaleScheme:
    """Bins of a numeric value: `bounds` split the line into len(bounds)+1 bins.

    `closed_right`: a value equal to a bound falls in the bin below it (errors: `≤ 1e-6`); else in
    the bin above (SQNR: `10–20 dB` holds 10). `worse_high`: larger values are worse.
    """

    title: str
    bounds: list[float]
    labels: list[str]
    colors: list[str]
    worse_high: bool = True
    closed_right: bool = True
    unit: str = ""
    spec: str = ".3g"

    def bin(self, value: float) -> int:
        if math.isnan(value):
            return len(self.bounds) if self.worse_high else 0
        find = bisect.bisect_left if self.closed_right else bisect.bisect_right
        return find(self.bounds, value)

    def worst(self, values: Sequence[Value]) -> float:
        """The worst of `values` (largest, or smallest when `worse_high` is off)."""
        return max((float(v) for v in values), key=self._badness)

    def entry(self, values: Sequence[Value]) -> tuple[str, str]:
        nums = [float(v) for v in values]
        if not nums:
            return NA, NA
        worst = self.worst(nums)
        text = f"{worst:.3g}{self.unit}"
        if len(nums) > 1:
            text += f" (worst of {len(nums)})"
        return self.labels[self.bin(worst)], text

    def number(self, value: float) -> str:
        """`value` as drawn in a box: `2.1e-07`, `38.7 dB`, `0` for an exact zero."""
        if value == 0 or not math.isfinite(value):
            return f"{value:g}{self.unit}"
        return f"{value:{self.spec}}{self.unit}"

    def note(self, values: Sequence[Value]) -> str:
        """The short text drawn inside a box: its (worst) value."""
        if not values:
            return ""
        text = self.number(self.worst(values))
        return text if len(values) == 1 else f"worst {text}"

    def _badness(self, v: float) -> float:
        if math.isnan(v):
            return math.inf
        return v if self.worse_high else -v

    def color(self, label: str) -> str:
        if label in self.labels:
            return self.colors[self.labels.index(label)]
        return NA_COLOR

    def legend(self, used: set[str]) -> list[LegendEntry]:
        rows = [LegendEntry(lab, col) for lab, col in zip(self.labels, self.colors, strict=True)]
        if NA in used:
            rows.append(LegendEntry(NA, NA_COLOR))
        return rows


Scheme = CategoryScheme | ScaleScheme


def error_scheme(title: str = "relative max error") -> ScaleScheme:
    """Relative max error bins: exact, ≤ 1e-7, ..., ≤ 1e-2, > 1e-2."""
    bounds = [0.0, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2]
    labels = ["0 (bit-exact)"] + [f"≤ {b:.0e}" for b in bounds[1:]] + ["> 1e-02"]
    return ScaleScheme(title, bounds, labels, list(ERROR_COLORS), spec=".1e")


def sqnr_scheme(title: str = "int8 sensitivity: output SQNR") -> ScaleScheme:
    """SQNR (dB) bins; low SQNR = sensitive = red."""
    bounds = [10.0, 20.0, 30.0, 40.0, 50.0]
    labels = ["< 10 dB", "10–20 dB", "20–30 dB", "30–40 dB", "40–50 dB", "≥ 50 dB"]
    return ScaleScheme(title, bounds, labels, list(SQNR_COLORS), worse_high=False,
                       closed_right=False, unit=" dB", spec=".1f")  # fmt: skip


def paint(diagram: Diagram, scheme: Scheme, values: Mapping[str, Value]) -> set[str]:
    """Set every node box's category, value text, fill and stripes; return the legend labels
    used."""
    used: set[str] = set()
    for box in diagram.node_boxes():
        mine = [values[m] for m in box.members if m in values]
        label, text = scheme.entry(mine)
        box.category, box.value, box.fill = label, text, scheme.color(label)
        box.note = scheme.note(mine)
        used.add(label)
        if isinstance(scheme, ScaleScheme) and mine:
            box.number = scheme.worst(mine)
        if len(box.members) > 1:
            box.stripes = _stripes(scheme, [values.get(m) for m in box.members])
            used.update(scheme.entry([v])[0] for v in mine)
    return used


def _stripes(scheme: Scheme, values: Sequence[Value | None]) -> list[str]:
    colors = [scheme.color(scheme.entry([] if v is None else [v])[0]) for v in values]
    runs = [c for i, c in enumerate(colors) if i == 0 or colors[i - 1] != c]
    return runs[:STRIPES] if len(set(runs)) > 1 else []
