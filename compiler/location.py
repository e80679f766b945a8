"""Source locations: where every node came from.

A location is a small frozen value. Rewrites that replace several nodes give the new node a
`FusedLoc` listing every origin, so provenance survives from the source model to TensorRT layers.

Textual forms (inside `loc(...)`):

- `"model.onnx":"Conv_0"`             an ONNX node (model file, node name)
- `"model.ir":3:5`                    a position in a text file (line, column)
- `torch "layer1.0.conv1" "m.py":12`  a torch module path and the source line
- `fused["a.onnx":"Conv_0", "a.onnx":"Relu_1"]`
"""

from __future__ import annotations

import json
from dataclasses import dataclass


class Location:
    """Base class of all locations."""

    def is_unknown(self) -> bool:
        return False

    def text(self) -> str:
        """The body printed inside `loc(...)`."""
        raise NotImplementedError

    def describe(self) -> str:
        """A human-readable form for error messages."""
        return self.text()

    def origins(self) -> tuple[Location, ...]:
        """The leaf locations this one stands for."""
        return (self,)


def quote(s: str) -> str:
    """Quote a string the way the textual IR does (JSON escapes)."""
    return json.dumps(s, ensure_ascii=False)


@dataclass(frozen=True, slots=True)
class UnknownLoc(Location):
    def is_unknown(self) -> bool:
        return True

    def text(self) -> str:
        return "unknown"

    def describe(self) -> str:
        return "an unknown location"

    def origins(self) -> tuple[Location, ...]:
        return ()


UNKNOWN = UnknownLoc()


class OnnxLoc(Location):
    """An ONNX node: the model file name and the node's name (or `OpType#index` when unnamed).

    Immutable by convention. A plain slotted class rather than a frozen dataclass: every node and
    weight of an imported model gets one, and the frozen dataclass constructor doubled their cost.
    """

    __slots__ = ("model", "node")

    def __init__(self, model: str, node: str) -> None:
        self.model = model
        self.node = node

    def __eq__(self, other: object) -> bool:
        return type(other) is OnnxLoc and self.node == other.node and self.model == other.model

    def __hash__(self) -> int:
        return hash((self.model, self.node))

    def __repr__(self) -> str:
        return f"OnnxLoc(model={self.model!r}, node={self.node!r})"

    def text(self) -> str:
        return f"{quote(self.model)}:{quote(self.node)}"

    def describe(self) -> str:
        return f"ONNX node {self.node!r} of {self.model}"


@dataclass(frozen=True, slots=True)
class FileLoc(Location):
    """A position in a text file, 1-based line and column."""

    file: str
    line: int
    col: int

    def text(self) -> str:
        return f"{quote(self.file)}:{self.line}:{self.col}"

    def describe(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


@dataclass(frozen=True, slots=True)
class TorchLoc(Location):
    """A torch.export node: module path (`layer1.0.conv1`), source file and line."""

    module: str
    file: str
    line: int

    def text(self) -> str:
        return f"torch {quote(self.module)} {quote(self.file)}:{self.line}"

    def describe(self) -> str:
        return f"torch module {self.module!r} ({self.file}:{self.line})"


@dataclass(frozen=True, slots=True)
class FusedLoc(Location):
    """Several origins merged by a rewrite; flat, deduplicated, in first-seen order."""

    locs: tuple[Location, ...]

    def text(self) -> str:
        return "fused[" + ", ".join(loc.text() for loc in self.locs) + "]"

    def describe(self) -> str:
        return "fused(" + "; ".join(loc.describe() for loc in self.locs) + ")"

    def origins(self) -> tuple[Location, ...]:
        return self.locs


def fuse(*locs: Location) -> Location:
    """Merge locations into one, flattening nested fused locations and dropping duplicates."""
    seen: dict[Location, None] = {}
    for loc in locs:
        for leaf in loc.origins():
            seen.setdefault(leaf, None)
    leaves = tuple(seen)
    if not leaves:
        return UNKNOWN
    if len(leaves) == 1:
        return leaves[0]
    return FusedLoc(leaves)
