"""The Graph: inputs, outputs and nodes in program order, with a safe mutation API.

Nodes live in a doubly linked list (O(1) insert and erase). Iterating `graph.nodes` walks a snapshot
and skips nodes erased meanwhile, so passes may mutate while they iterate.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np

from compiler.errors import CompilerError
from compiler.ir import AttrValue, Node, Value, frozen_array
from compiler.location import UNKNOWN, Location
from compiler.types import TensorType, tensor_type_of

if TYPE_CHECKING:
    import networkx


class Graph:
    """A computation graph.

    Args:
        name: The graph's name (printed as `@name`).
    """

    def __init__(self, name: str = "main") -> None:
        self.name = name
        self.inputs: list[Value] = []
        self._outputs: list[Value] = []
        self._head = Node("", (), ())  # sentinel: _head._next is the first node
        self._head._next = self._head
        self._head._prev = self._head
        self._count = 0

    # -- inputs and outputs ---------------------------------------------------------------------
    def add_input(self, name: str, type: TensorType) -> Value:
        value = Value(type, name, None, len(self.inputs))
        self.inputs.append(value)
        return value

    @property
    def outputs(self) -> list[Value]:
        return list(self._outputs)

    @outputs.setter
    def outputs(self, values: Sequence[Value]) -> None:
        for value in self._outputs:
            value._output_refs -= 1
            if value._output_refs == 0:
                value._out_graph = None
        self._outputs = list(values)
        for value in self._outputs:
            value._output_refs += 1
            value._out_graph = self

    # -- nodes ------------------------------------------------------------------------------------
    @property
    def nodes(self) -> Iterator[Node]:
        """Nodes in program order (a snapshot; nodes erased during iteration are skipped)."""
        for node in self._snapshot():
            if node.graph is self:
                yield node

    def _snapshot(self) -> list[Node]:
        out = []
        node = self._head._next
        while node is not self._head:
            assert node is not None
            out.append(node)
            node = node._next
        return out

    def reversed_nodes(self) -> Iterator[Node]:
        for node in reversed(self._snapshot()):
            if node.graph is self:
                yield node

    def __len__(self) -> int:
        return self._count

    @property
    def first(self) -> Node | None:
        return self._head._next if self._count else None

    @property
    def last(self) -> Node | None:
        return self._head._prev if self._count else None

    def append(self, node: Node) -> Node:
        return self._link(node, self._head._prev)  # type: ignore[arg-type]

    def insert_before(self, anchor: Node, node: Node) -> Node:
        self._check_owned(anchor)
        return self._link(node, anchor._prev)  # type: ignore[arg-type]

    def insert_after(self, anchor: Node, node: Node) -> Node:
        self._check_owned(anchor)
        return self._link(node, anchor)

    def _link(self, node: Node, after: Node) -> Node:
        if node.graph is not None:
            raise CompilerError(f"node {node!r} is already in a graph")
        nxt = after._next
        assert nxt is not None
        node._prev, node._next = after, nxt
        after._next = node
        nxt._prev = node
        node.graph = self
        self._count += 1
        return node

    def _unlink(self, node: Node) -> None:
        prev, nxt = node._prev, node._next
        assert prev is not None and nxt is not None
        prev._next, nxt._prev = nxt, prev
        node._prev = node._next = None
        node.graph = None
        self._count -= 1

    def _check_owned(self, node: Node) -> None:
        if node.graph is not self:
            raise CompilerError(f"node {node!r} does not belong to graph @{self.name}")

    def erase(self, node: Node) -> None:
        """Remove a node whose outputs are unused; it releases its inputs and attributes, and its
        outputs no longer name it as their producer.

        Raises:
            CompilerError: naming the remaining uses when any output is still used.
        """
        self._check_owned(node)
        for value in node.outputs:
            if value.num_uses or value.is_graph_output:
                users = [f"{u.node.op} (input {u.input_index})" for u in value.uses]
                if value.is_graph_output:
                    users.append("a graph output")
                raise CompilerError(
                    f"cannot erase {node.op}: %{value.name} is still used by {', '.join(users)}",
                    node.loc,
                )
        node._drop_all_inputs()
        self._unlink(node)
        # A node and its outputs form reference cycles (outputs <-> producer) that only the
        # cyclic GC frees, and the pass manager freezes the graph out of it during a run: cut
        # here, reference counting frees an erased node and a replaced constant's array as soon
        # as the pass lets go of them. The outputs keep their names for change reports.
        node.attrs = {}
        for value in node.outputs:
            value.producer = None

    def move_before(self, anchor: Node, node: Node) -> None:
        self._check_owned(node)
        if anchor is node:
            return
        self._unlink(node)
        self.insert_before(anchor, node)

    def move_after(self, anchor: Node, node: Node) -> None:
        self._check_owned(node)
        if anchor is node:
            return
        self._unlink(node)
        self.insert_after(anchor, node)

    # -- building ---------------------------------------------------------------------------------
    def create_node(
        self,
        op: str,
        inputs: Sequence[Value | None],
        attrs: Mapping[str, Any] | None = None,
        *,
        loc: Location = UNKNOWN,
        num_outputs: int | None = None,
        names: Sequence[str] | None = None,
        output_types: Sequence[TensorType] | None = None,
    ) -> Node:
        """Make a node (not yet inserted) with canonical attributes and inferred output types."""
        from compiler.registry import (
            InferContext,
            canonical_attrs,
            check_arity,
            get_op,
            infer_types,
        )

        opdef = get_op(op)
        if num_outputs is None:
            num_outputs = len(output_types) if output_types is not None else opdef.outputs[0]
        problem = check_arity(opdef, len(inputs), num_outputs)
        if problem:
            raise CompilerError(problem, loc)
        ctx = InferContext(op, {}, inputs, num_outputs)
        canon = canonical_attrs(opdef, attrs or {}, ctx)
        if output_types is None:
            types, _ = infer_types(opdef, canon, inputs, num_outputs)
            output_types = [_no_unknown(t, op, loc) for t in types]
        return Node(op, inputs, output_types, canon, loc, names)

    @contextmanager
    def inserting_before(self, node: Node, loc: Location | None = None) -> Iterator[Builder]:
        self._check_owned(node)
        yield Builder(self, before=node, loc=loc if loc is not None else node.loc)

    @contextmanager
    def inserting_after(self, node: Node, loc: Location | None = None) -> Iterator[Builder]:
        self._check_owned(node)
        yield Builder(self, after=node, loc=loc if loc is not None else node.loc)

    @contextmanager
    def inserting_at_end(self, loc: Location = UNKNOWN) -> Iterator[Builder]:
        yield Builder(self, loc=loc)

    def builder(self, loc: Location = UNKNOWN) -> Builder:
        """A builder appending at the end of the graph."""
        return Builder(self, loc=loc)

    # -- whole-graph operations ------------------------------------------------------------------
    def sort(self) -> None:
        """Stable topological sort: keeps program order wherever dependencies allow.

        Raises:
            CompilerError: when the graph has a cycle, naming a node on it.
        """
        nodes = self._snapshot()
        position = {id(n): i for i, n in enumerate(nodes)}
        pending = {id(n): 0 for n in nodes}
        for node in nodes:
            pending[id(node)] = len(
                {id(v.producer) for v in node._inputs if v is not None and _in(v, position)}
            )
        heap = [position[id(n)] for n in nodes if pending[id(n)] == 0]
        heapq.heapify(heap)
        order: list[Node] = []
        while heap:
            node = nodes[heapq.heappop(heap)]
            order.append(node)
            for user in dict.fromkeys(u.node for v in node.outputs for u in v._uses):
                key = id(user)
                if key in pending:  # pending counts distinct producers: one step each
                    pending[key] -= 1
                    if pending[key] == 0:
                        heapq.heappush(heap, position[key])
        if len(order) != len(nodes):
            stuck = next(n for n in nodes if pending[id(n)] > 0)
            raise CompilerError(f"graph has a cycle through {stuck.op}", stuck.loc)
        self._relink(order)

    def _relink(self, order: list[Node]) -> None:
        prev = self._head
        for node in order:
            prev._next, node._prev = node, prev
            prev = node
        prev._next, self._head._prev = self._head, prev

    def clone(self) -> Graph:
        """A deep structural copy; constant arrays (read-only) are shared."""
        new = Graph(self.name)
        mapping: dict[Value, Value] = {}
        for value in self.inputs:
            mapping[value] = new.add_input(value.name, value.type)
        for node in self.nodes:
            ins = [None if v is None else mapping[v] for v in node._inputs]
            copy = Node(node.op, ins, [v.type for v in node.outputs], node.attrs, node.loc,
                        [v.name for v in node.outputs])  # fmt: skip
            for old, fresh in zip(node.outputs, copy.outputs, strict=True):
                mapping[old] = fresh
            new.append(copy)
        new.outputs = [mapping[v] for v in self._outputs]
        return new

    def to_networkx(self) -> networkx.MultiDiGraph:
        """A networkx view for analysis and drawing: one graph node per IR node, plus
        `input:<name>` / `output:<i>` terminals; edges carry the value name and type."""
        import networkx as nx

        g = nx.MultiDiGraph(name=self.name)
        ids = {id(n): i for i, n in enumerate(self.nodes)}
        for value in self.inputs:
            g.add_node(f"input:{value.name}", op="input", type=str(value.type))
        for node in self.nodes:
            g.add_node(ids[id(node)], op=node.op, loc=node.loc.text())
            for i, operand in enumerate(node._inputs):
                if operand is not None:
                    g.add_edge(self._nx_src(operand, ids), ids[id(node)], value=operand.name,
                               type=str(operand.type), input_index=i)  # fmt: skip
        for i, value in enumerate(self._outputs):
            g.add_node(f"output:{i}", op="output")
            g.add_edge(
                self._nx_src(value, ids), f"output:{i}", value=value.name, type=str(value.type)
            )
        return g

    @staticmethod
    def _nx_src(value: Value, ids: dict[int, int]) -> int | str:
        return f"input:{value.name}" if value.producer is None else ids[id(value.producer)]

    def op_histogram(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for node in self.nodes:
            counts[node.op] = counts.get(node.op, 0) + 1
        return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))

    def __repr__(self) -> str:
        return f"<Graph @{self.name}: {len(self.inputs)} inputs, {len(self)} nodes>"


def _in(value: Value | None, position: dict[int, int]) -> bool:
    return value is not None and value.producer is not None and id(value.producer) in position


def _no_unknown(t: TensorType, op: str, loc: Location) -> TensorType:
    if t.shape is None:
        raise CompilerError(f"cannot infer the rank of the result of {op}", loc)
    if any(d is None for d in t.shape):
        raise CompilerError(f"{op}: result shape {t.shape} depends on data; give output_types", loc)
    return t


class Builder:
    """Creates nodes at an insertion point: `b.relu(x)`, `b.op("conv", x, w, strides=(2, 2))`.

    Attribute-style calls return the single output value, or a tuple for multi-output ops.
    """

    def __init__(
        self,
        graph: Graph,
        *,
        before: Node | None = None,
        after: Node | None = None,
        loc: Location = UNKNOWN,
    ) -> None:
        self.graph = graph
        self.before = before
        self.after = after
        self.loc = loc

    def insert(self, node: Node) -> Node:
        if self.before is not None:
            return self.graph.insert_before(self.before, node)
        if self.after is not None:
            self.graph.insert_after(self.after, node)
            self.after = node  # keep emission order
            return node
        return self.graph.append(node)

    def node(
        self,
        op: str,
        *inputs: Value | None,
        loc: Location | None = None,
        num_outputs: int | None = None,
        names: Sequence[str] | None = None,
        **attrs: AttrValue,
    ) -> Node:
        made = self.graph.create_node(
            op, inputs, attrs, loc=loc if loc is not None else self.loc,
            num_outputs=num_outputs, names=names,
        )  # fmt: skip
        return self.insert(made)

    def op(self, op: str, *inputs: Value | None, **kwargs: Any) -> Any:
        node = self.node(op, *inputs, **kwargs)
        return node.outputs[0] if len(node.outputs) == 1 else node.outputs

    def const(self, array: Any, name: str = "", loc: Location | None = None) -> Value:
        arr = frozen_array(np.asarray(array))
        node = Node("const", (), [tensor_type_of(arr)], {"value": arr},
                    loc if loc is not None else self.loc, [name])  # fmt: skip
        self.insert(node)
        return node.output

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return lambda *inputs, **kwargs: self.op(name, *inputs, **kwargs)


__all__ = ["Builder", "Graph"]
