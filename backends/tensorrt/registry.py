"""The converter table: IR op -> converter, plus the stated reason for every op without one.

A converter is `fn(em, node) -> list[ITensor | None]`, one entry per node output (None for an
output nothing reads, such as Dropout's mask). An optional `check(node) -> str | None` explains
why a particular node of a supported op cannot be converted (a non-constant attribute input, an
asymmetric zero point, ...); the capability report calls it on every node before emission.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from backends.tensorrt.emitter import Emitter
from compiler.ir import Node

ConvertFn = Callable[[Emitter, Node], Sequence[Any]]
CheckFn = Callable[[Node], "str | None"]


@dataclass(frozen=True)
class Converter:
    """One table entry."""

    op: str
    convert: ConvertFn
    check: CheckFn | None = None


CONVERTERS: dict[str, Converter] = {}

# Registry ops without a converter, and why (shown by the capability report).
UNSUPPORTED: dict[str, str] = {}


def converter(*ops: str, check: CheckFn | None = None) -> Callable[[ConvertFn], ConvertFn]:
    """Register `fn` as the converter of every op in `ops`."""

    def wrap(fn: ConvertFn) -> ConvertFn:
        for op in ops:
            if op in CONVERTERS:
                raise ValueError(f"two TensorRT converters for {op}")
            CONVERTERS[op] = Converter(op, fn, check)
        return fn

    return wrap


def unsupported(reason: str, *ops: str) -> None:
    """State why `ops` have no converter."""
    for op in ops:
        UNSUPPORTED[op] = reason


def load_converters() -> dict[str, Converter]:
    """The table with every converter module imported."""
    from backends.tensorrt.converters import load_all

    load_all()
    return CONVERTERS


def node_problem(node: Node) -> str | None:
    """Why `node` cannot be converted, or None when it can."""
    table = load_converters()
    entry = table.get(node.op)
    if entry is None:
        return UNSUPPORTED.get(node.op, "no TensorRT converter for this op")
    for i, out in enumerate(node.outputs[1:], start=1):
        if out.uses or out.is_graph_output:
            if node.op not in MULTI_OUTPUT:
                return f"output {i} is used; only output 0 is converted"
    return entry.check(node) if entry.check is not None else None


# Ops whose converters produce every output.
MULTI_OUTPUT = frozenset({"split", "topk"})
