"""Values, uses and nodes of the IR.

A `Value` is produced by exactly one node (or is a graph input) and knows its uses. A `Node`
holds an op name, its inputs (setting them keeps use lists right), its outputs, typed immutable
attributes and its source location. The `Graph` (see `compiler.graph`) owns nodes in program order.

Attribute values are plain immutable data: `int`, `float`, `str`, `bool`, tuples of those, `DType`,
`TensorType`-free read-only `np.ndarray`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from compiler.errors import CompilerError
from compiler.location import UNKNOWN, Location
from compiler.types import DType, TensorType

if TYPE_CHECKING:
    from compiler.graph import Graph

AttrValue = Any  # int | float | str | bool | tuple[...] | DType | np.ndarray (read-only)


class Use(NamedTuple):
    """One use of a value: `node.inputs[input_index] is value`."""

    node: Node
    input_index: int


class Value:
    """An SSA value: a graph input or one output of a node.

    Attributes:
        type: The tensor type.
        producer: The node that produces it, or None for a graph input.
        index: Output index in the producer (or position among the graph inputs).
        name: A human-readable name; never carries meaning.
    """

    __slots__ = ("type", "producer", "index", "name", "_uses", "_output_refs", "_out_graph")

    def __init__(
        self, type: TensorType, name: str = "", producer: Node | None = None, index: int = 0
    ) -> None:
        self.type = type
        self.name = name
        self.producer = producer
        self.index = index
        self._uses: list[Use] = []
        self._output_refs = 0
        self._out_graph: Graph | None = None

    @property
    def uses(self) -> tuple[Use, ...]:
        """A snapshot of this value's uses, safe to iterate while rewriting."""
        return tuple(self._uses)

    @property
    def num_uses(self) -> int:
        return len(self._uses)

    @property
    def users(self) -> list[Node]:
        """Distinct user nodes in first-use order."""
        return list(dict.fromkeys(u.node for u in self._uses))

    @property
    def is_graph_output(self) -> bool:
        return self._output_refs > 0

    @property
    def is_graph_input(self) -> bool:
        return self.producer is None

    @property
    def dtype(self) -> DType:
        return self.type.dtype

    @property
    def shape(self) -> tuple[int | str, ...] | None:
        return self.type.shape

    def const_value(self) -> np.ndarray | None:
        """The array if this value is produced by a `const` node, else None."""
        p = self.producer
        if p is not None and p.op == "const":
            value: np.ndarray = p.attrs["value"]
            return value
        return None

    def replace_all_uses_with(self, new: Value, *, include_graph_outputs: bool = False) -> None:
        """Make every user of this value use `new` instead.

        Raises:
            CompilerError: if this value is a graph output and `include_graph_outputs` is False.
        """
        self.replace_uses_where(new, lambda use: True, include_graph_outputs=include_graph_outputs)

    def replace_uses_where(
        self,
        new: Value,
        predicate: Callable[[Use], bool],
        *,
        include_graph_outputs: bool = False,
    ) -> None:
        """Replace the uses for which `predicate(use)` holds; graph outputs only when asked."""
        if new is self:
            return
        if self.is_graph_output and not include_graph_outputs:
            raise CompilerError(
                f"refusing to replace graph output %{self.name}; pass include_graph_outputs=True"
            )
        for use in self.uses:
            if predicate(use):
                use.node.set_input(use.input_index, new)
        graph = self._out_graph
        if include_graph_outputs and self.is_graph_output and graph is not None:
            graph.outputs = [new if v is self else v for v in graph.outputs]

    def __repr__(self) -> str:
        return f"<Value %{self.name}: {self.type}>"


class Node:
    """One operation.

    Attributes:
        op: A registered op name (`conv`, `relu`, `const`, ...).
        outputs: The values this node defines.
        attrs: Typed immutable attribute values, canonical (defaults filled in).
        loc: Where the node came from.
        graph: The owning graph, or None once erased / before insertion.
    """

    __slots__ = ("op", "_inputs", "outputs", "attrs", "loc", "graph", "_prev", "_next")

    def __init__(
        self,
        op: str,
        inputs: Iterable[Value | None],
        output_types: Iterable[TensorType],
        attrs: Mapping[str, AttrValue] | None = None,
        loc: Location = UNKNOWN,
        output_names: Iterable[str] | None = None,
    ) -> None:
        self.op = op
        self.attrs: dict[str, AttrValue] = dict(attrs or {})
        self.loc = loc
        self.graph: Graph | None = None
        self._prev: Node | None = None
        self._next: Node | None = None
        ins = list(inputs)
        self._inputs: list[Value | None] = ins
        for i, value in enumerate(ins):
            if value is not None:
                value._uses.append(Use(self, i))
        if output_names is None:
            self.outputs: tuple[Value, ...] = tuple(
                [Value(t, "", self, i) for i, t in enumerate(output_types)]
            )
        else:
            self.outputs = tuple(
                [
                    Value(t, n, self, i)
                    for i, (t, n) in enumerate(zip(output_types, output_names, strict=True))
                ]
            )

    @classmethod
    def adopt(
        cls,
        op: str,
        inputs: list[Value | None],
        output_types: Sequence[TensorType],
        attrs: dict[str, AttrValue],
        loc: Location,
        output_names: Sequence[str],
    ) -> Node:
        """The constructor for bulk builders (frontends): takes ownership of `inputs` and `attrs`.

        Neither is copied, so the caller must not reuse them; `attrs` must already be canonical.
        It skips the copies and generic iteration of `__init__`, about half its cost, which shows
        when importing models of thousands of nodes.
        """
        node = cls.__new__(cls)
        node.op = op
        node.attrs = attrs
        node.loc = loc
        node.graph = None
        node._prev = None
        node._next = None
        node._inputs = inputs
        for i, value in enumerate(inputs):
            if value is not None:
                value._uses.append(Use(node, i))
        if len(output_types) == 1 and len(output_names) == 1:
            node.outputs = (Value(output_types[0], output_names[0], node, 0),)
        else:
            node.outputs = tuple(
                [
                    Value(t, n, node, i)
                    for i, (t, n) in enumerate(zip(output_types, output_names, strict=True))
                ]
            )
        return node

    @classmethod
    def make_const(cls, array: np.ndarray, type: TensorType, loc: Location, name: str) -> Node:
        """A `const` node holding `array` (read-only, canonical) — the frontends' hot path.

        Equivalent to `adopt("const", [], (type,), {"value": array}, loc, (name,))` without its
        generic input and output loops: models hold a weight for every two or three nodes.
        """
        node = cls.__new__(cls)
        node.op = "const"
        node.attrs = {"value": array}
        node.loc = loc
        node.graph = node._prev = node._next = None
        node._inputs = []
        node.outputs = (Value(type, name, node, 0),)
        return node

    # -- inputs ---------------------------------------------------------------------------
    @property
    def inputs(self) -> tuple[Value | None, ...]:
        """The input values; `None` marks an absent optional input."""
        return tuple(self._inputs)

    @inputs.setter
    def inputs(self, values: Iterable[Value | None]) -> None:
        self._drop_all_inputs()
        for value in values:
            self._append_input(value)

    def set_input(self, index: int, value: Value | None) -> None:
        """Replace one input, keeping both use lists right."""
        old = self._inputs[index]
        if old is value:
            return
        if old is not None:
            old._uses.remove(Use(self, index))
        self._inputs[index] = value
        if value is not None:
            value._uses.append(Use(self, index))

    def _append_input(self, value: Value | None) -> None:
        if value is not None:
            value._uses.append(Use(self, len(self._inputs)))
        self._inputs.append(value)

    def _drop_all_inputs(self) -> None:
        for i, value in enumerate(self._inputs):
            if value is not None:
                uses, use = value._uses, Use(self, i)
                # Erasing users last-first (dead-code pruning) finds each at the end: O(1)
                # instead of a scan of a shared constant's thousands of uses.
                if uses[-1] == use:
                    uses.pop()
                else:
                    uses.remove(use)
        self._inputs = []

    # -- convenience ----------------------------------------------------------------------
    @property
    def output(self) -> Value:
        """The only output; raises when the node has several."""
        if len(self.outputs) != 1:
            raise CompilerError(f"node {self.op} has {len(self.outputs)} outputs, not one")
        return self.outputs[0]

    def input(self, index: int) -> Value | None:
        return self._inputs[index] if index < len(self._inputs) else None

    @property
    def num_inputs(self) -> int:
        return len(self._inputs)

    @property
    def prev(self) -> Node | None:
        return self._prev if self._prev is not None and self._prev.op != "" else None

    @property
    def next(self) -> Node | None:
        return self._next if self._next is not None and self._next.op != "" else None

    def has_uses(self) -> bool:
        return any(v.num_uses or v.is_graph_output for v in self.outputs)

    def __repr__(self) -> str:
        outs = ", ".join(f"%{v.name}" for v in self.outputs)
        ins = ", ".join("none" if v is None else f"%{v.name}" for v in self._inputs)
        return f"<Node {outs} = {self.op}({ins})>"


def frozen_array(array: np.ndarray) -> np.ndarray:
    """Return `array` marked read-only (a view when it is writeable), for use as an attribute."""
    if not array.flags.writeable:
        return array
    view = array.view()
    view.flags.writeable = False
    return view


__all__ = ["AttrValue", "DType", "Node", "TensorType", "Use", "Value", "frozen_array"]
