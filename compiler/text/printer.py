"""The textual IR printer: deterministic, one generic syntax for every op.

```
graph @main(%x: f32[batch,3]) -> (f32[batch,3]) {
  %w = const() {value = dense<f32[3]: [1.0, 2.0, 3.0]>} : f32[3] loc("m.onnx":"w")
  %y = add(%x, %w) : f32[batch,3] loc("m.onnx":"Add_0")
  return %y
}
```

Value names are made unique and non-empty deterministically (unnamed values get `%0`, `%1`, ... in
program order, duplicates a `_1`, `_2` suffix), so printing a parsed graph reproduces the text.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from compiler.graph import Graph
from compiler.ir import Node, Value
from compiler.location import quote
from compiler.text.syntax import format_dense, format_float, format_type, format_types, name_token
from compiler.types import DType


class Namer:
    """Assigns every value a unique, non-empty printed name, deterministically.

    A value keeps its name when it is the first in program order to carry it; unnamed values get
    the next free number; later duplicates get the first free `name_<k>` suffix.
    """

    def __init__(self, values: Iterable[Value]) -> None:
        self.values = list(values)
        self.names: dict[Value, str] = {}
        self.taken: set[str] = set()
        self._counter = 0
        self._suffix: dict[str, int] = {}
        for value in self.values:
            if value.name and value.name not in self.taken:
                self.taken.add(value.name)
                self.names[value] = value.name
        for value in self.values:
            if value not in self.names:
                self.names[value] = self._fresh(value.name)

    def _fresh(self, base: str) -> str:
        if not base:
            while str(self._counter) in self.taken:
                self._counter += 1
            name = str(self._counter)
            self._counter += 1
        else:
            k = self._suffix.get(base, 1)
            while f"{base}_{k}" in self.taken:
                k += 1
            self._suffix[base] = k + 1
            name = f"{base}_{k}"
        self.taken.add(name)
        return name

    def name(self, value: Value) -> str:
        """The printed name (without `%`); values outside the graph are named on first sight."""
        name = self.names.get(value)
        if name is None:
            name = self.names[value] = self._fresh(value.name)
        return name

    def token(self, value: Value | None) -> str:
        return "none" if value is None else name_token(self.name(value))


def graph_values(graph: Graph) -> list[Value]:
    """Graph inputs then node outputs, in program order."""
    return [*graph.inputs, *(v for node in graph.nodes for v in node.outputs)]


class _Printer:
    def __init__(
        self,
        graph: Graph,
        inline_limit: int,
        resources: dict[str, np.ndarray] | None,
        mark: Node | None,
    ) -> None:
        self.graph = graph
        self.inline_limit = inline_limit
        self.resources = resources
        self.mark = mark
        self.namer = Namer(graph_values(graph))
        self.resource_names: set[str] = set()

    def run(self) -> str:
        lines = [self._header()]
        for node in self.graph.nodes:
            line, op_col = self._node(node)
            if node is self.mark:
                lines.append(">>" + line)
                lines.append(" " * (op_col + 2) + "^" + "~" * (len(node.op) - 1))
            else:
                lines.append("  " + line)
        results = ", ".join(self.namer.token(v) for v in self.graph.outputs)
        lines.append(f"  return {results}" if results else "  return")
        lines.append("}")
        return "\n".join(lines) + "\n"

    def _header(self) -> str:
        params = ", ".join(
            f"{self.namer.token(v)}: {format_type(v.type)}" for v in self.graph.inputs
        )
        results = format_types(v.type for v in self.graph.outputs)
        return f"graph {name_token(self.graph.name, '@')}({params}) -> ({results}) {{"

    def _node(self, node: Node) -> tuple[str, int]:
        """The node's line without indentation, and the column of its op name."""
        head = ", ".join(self.namer.token(v) for v in node.outputs)
        head = f"{head} = " if head else ""
        parts = [f"{head}{node.op}({', '.join(self.namer.token(v) for v in node.inputs)})"]
        if node.attrs:
            attrs = ", ".join(
                f"{_attr_name(k)} = {self._attr(node, k, node.attrs[k])}"
                for k in sorted(node.attrs)
            )
            parts.append(f"{{{attrs}}}")
        if node.outputs:
            parts.append(f": {format_types(v.type for v in node.outputs)}")
        if not node.loc.is_unknown():
            parts.append(f"loc({node.loc.text()})")
        return " ".join(parts), len(head)

    def _attr(self, node: Node, key: str, value: object) -> str:
        if isinstance(value, np.ndarray):
            if value.size > self.inline_limit:
                return f"resource<{quote(self._resource(node, key, value))}>"
            return format_dense(value)
        return format_attr_value(value)

    def _resource(self, node: Node, key: str, array: np.ndarray) -> str:
        base = self.namer.name(node.outputs[0]) if node.outputs else node.op
        if node.op != "const" or key != "value":
            base = f"{base}.{key}"
        name, k = base, 0
        while name in self.resource_names or self._clashes(name, array):
            k += 1
            name = f"{base}_{k}"
        self.resource_names.add(name)
        if self.resources is not None:
            self.resources[name] = array
        return name

    def _clashes(self, name: str, array: np.ndarray) -> bool:
        """A name already in a caller's table for a different array (tables shared by graphs)."""
        if self.resources is None or name not in self.resources:
            return False
        return self.resources[name] is not array


def _attr_name(key: str) -> str:
    return name_token(key, "")


def format_attr_value(value: object) -> str:
    """An attribute value other than a tensor: int, float, str, DType or a list of scalars."""
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        return format_float(float(value))
    if isinstance(value, str):
        return quote(value)
    if isinstance(value, DType):
        return f"dtype<{value.short}>"
    if isinstance(value, tuple | list):
        return "[" + ", ".join(format_attr_value(v) for v in value) + "]"
    if isinstance(value, np.ndarray):
        return format_dense(value)
    return quote(repr(value))  # not a valid attribute; printed so a broken graph stays printable


def print_graph(
    graph: Graph,
    *,
    inline_limit: int = 16,
    resources: dict[str, np.ndarray] | None = None,
    mark: Node | None = None,
) -> str:
    """Print a graph as textual IR.

    Args:
        graph: The graph.
        inline_limit: Tensors with more elements print as `resource<"name">` references.
        resources: When a dict, each referenced tensor is stored in it under its printed name.
        mark: A node whose line is prefixed with `>>` and underlined with a caret line.

    Returns:
        The text, ending with a newline; byte-identical for the same graph.
    """
    return _Printer(graph, inline_limit, resources, mark).run()


def print_graph_with_resources(
    graph: Graph, *, inline_limit: int = 16
) -> tuple[str, dict[str, np.ndarray]]:
    """Print a graph and return the referenced tensors by name (for `parse_graph(resources=)`)."""
    resources: dict[str, np.ndarray] = {}
    text = print_graph(graph, inline_limit=inline_limit, resources=resources)
    return text, resources


__all__ = ["Namer", "format_attr_value", "print_graph", "print_graph_with_resources"]
