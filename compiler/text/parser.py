"""The textual IR parser: builds a `Graph` exactly as written (stored types, attributes, names).

Nodes are built with `Node(...)` and appended directly, without inference: the types after `:` are
the stored types. Errors are `ParseError`s located at `file:line:col` whose notes show the source
line and a caret under the offending column.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from compiler.graph import Graph
from compiler.ir import Node, Value
from compiler.location import UNKNOWN, FileLoc, FusedLoc, Location, OnnxLoc, TorchLoc
from compiler.registry import OpDef, check_arity, find_op
from compiler.text.lexer import EOF, Cursor, TextParseError
from compiler.text.parse_values import parse_attrs, parse_type
from compiler.types import TensorType


class _Parser:
    def __init__(
        self, text: str, filename: str, resources: Mapping[str, np.ndarray] | None
    ) -> None:
        self.cur = Cursor(text, filename)
        self.resources = resources
        self.values: dict[str, Value] = {}

    # -- graph ----------------------------------------------------------------------------------
    def graph(self) -> Graph:
        cur = self.cur
        cur.expect("id", "'graph'", "graph")
        graph = Graph(cur.string(cur.expect("sym", "a graph name such as @main"), skip=1))
        self._params(graph)
        cur.expect("->", "'->'")
        result_types = self._result_types()
        cur.expect("{", "'{'")
        while not cur.at("id", "return"):
            if cur.kind == EOF or cur.kind == "}":
                raise cur.fail(f"expected a node or 'return', found {cur.describe()}")
            graph.append(self._node())
        self._return(graph, result_types)
        cur.expect("}", "'}'")
        cur.expect(EOF, "end of input")
        return graph

    def _params(self, graph: Graph) -> None:
        cur = self.cur
        cur.expect("(", "'('")
        if cur.accept(")"):
            return
        while True:
            name_i = cur.expect("val", "an input such as %x")
            cur.expect(":", "':'")
            self._define(name_i, graph.add_input(self._name(name_i), parse_type(cur)))
            if not cur.accept(","):
                cur.expect(")", "',' or ')'")
                return

    def _result_types(self) -> list[TensorType]:
        cur = self.cur
        cur.expect("(", "'('")
        types: list[TensorType] = []
        if cur.accept(")"):
            return types
        types.append(parse_type(cur))
        while cur.accept(","):
            types.append(parse_type(cur))
        cur.expect(")", "',' or ')'")
        return types

    def _return(self, graph: Graph, result_types: list[TensorType]) -> None:
        cur = self.cur
        return_i = cur.take()
        outputs: list[Value] = []
        operand_is: list[int] = []
        if cur.at("val"):
            operand_is.append(cur.i)
            outputs.append(self._use())
            while cur.accept(","):
                operand_is.append(cur.i)
                outputs.append(self._use())
        if len(outputs) != len(result_types):
            message = f"return gives {len(outputs)} values, the graph declares {len(result_types)}"
            raise cur.fail(message, return_i)
        for value, declared, i in zip(outputs, result_types, operand_is, strict=True):
            if value.type != declared:
                raise cur.fail(
                    f"return value {cur.texts[i]} has type {value.type}, "
                    f"the graph declares {declared}",
                    i,
                )
        graph.outputs = outputs

    # -- nodes ----------------------------------------------------------------------------------
    def _node(self) -> Node:
        cur = self.cur
        result_is: list[int] = []
        if cur.at("val"):
            result_is.append(cur.take())
            while cur.accept(","):
                result_is.append(cur.expect("val", "a result name such as %y"))
            cur.expect("=", "'='")
        op_i = cur.expect("id", "an op name")
        opdef = find_op(cur.texts[op_i])
        if opdef is None:
            raise cur.fail(f"unknown op '{cur.texts[op_i]}'", op_i)
        inputs = self._operands()
        attrs = parse_attrs(cur, opdef, self.resources) if cur.at("{") else {}
        types = self._node_types(len(result_is))
        loc = self._loc() if cur.at("id", "loc") else UNKNOWN
        self._check_arity(opdef, len(inputs), len(result_is), op_i)
        names = [self._name(i) for i in result_is]
        node = Node(opdef.name, inputs, types, attrs, loc, names)
        for i, value in zip(result_is, node.outputs, strict=True):
            self._define(i, value)
        return node

    def _operands(self) -> list[Value | None]:
        cur = self.cur
        cur.expect("(", "'('")
        inputs: list[Value | None] = []
        if cur.accept(")"):
            return inputs
        while True:
            inputs.append(None if cur.accept("id", "none") else self._use())
            if not cur.accept(","):
                cur.expect(")", "',' or ')'")
                return inputs

    def _node_types(self, count: int) -> list[TensorType]:
        cur = self.cur
        if count == 0:
            return []
        colon_i = cur.expect(":", "':' and the result types")
        types = [parse_type(cur)]
        while cur.accept(","):
            types.append(parse_type(cur))
        if len(types) != count:
            raise cur.fail(f"{count} results but {len(types)} types", colon_i)
        return types

    def _check_arity(self, opdef: OpDef, num_inputs: int, num_outputs: int, op_i: int) -> None:
        problem = check_arity(opdef, num_inputs, num_outputs)
        if problem:
            raise self.cur.fail(problem, op_i)

    # -- values ---------------------------------------------------------------------------------
    def _name(self, i: int) -> str:
        return self.cur.string(i, skip=1)

    def _use(self) -> Value:
        cur = self.cur
        i = cur.expect("val", "a value such as %x or 'none'")
        value = self.values.get(self._name(i))
        if value is None:
            raise cur.fail(f"use of undefined value {cur.texts[i]}", i)
        return value

    def _define(self, i: int, value: Value) -> None:
        name = value.name
        if name in self.values:
            raise self.cur.fail(f"redefinition of value {self.cur.texts[i]}", i)
        self.values[name] = value

    # -- locations ------------------------------------------------------------------------------
    def _loc(self) -> Location:
        cur = self.cur
        cur.take()
        cur.expect("(", "'('")
        loc = self._loc_body()
        cur.expect(")", "')'")
        return loc

    def _loc_body(self) -> Location:
        cur = self.cur
        if cur.accept("id", "unknown"):
            return UNKNOWN
        if cur.accept("id", "fused"):
            cur.expect("[", "'['")
            locs = [self._loc_body()]
            while cur.accept(","):
                locs.append(self._loc_body())
            cur.expect("]", "',' or ']'")
            return FusedLoc(tuple(locs))
        if cur.accept("id", "torch"):
            module = cur.string(cur.expect("str", "a module path string"))
            file = cur.string(cur.expect("str", "a file name string"))
            cur.expect(":", "':'")
            return TorchLoc(module, file, self._int())
        first = cur.string(cur.expect("str", "a location"))
        cur.expect(":", "':'")
        if cur.at("str"):
            return OnnxLoc(first, cur.string(cur.take()))
        line = self._int()
        cur.expect(":", "':'")
        return FileLoc(first, line, self._int())

    def _int(self) -> int:
        cur = self.cur
        i = cur.expect("num", "an integer")
        try:
            return int(cur.texts[i])
        except ValueError:
            raise cur.fail(f"expected an integer, found {cur.describe(i)}", i) from None


def parse_graph(
    text: str,
    *,
    resources: Mapping[str, np.ndarray] | None = None,
    filename: str = "<string>",
) -> Graph:
    """Parse textual IR into a graph.

    Args:
        text: The IR text (one `graph @name(...) -> (...) { ... }`); `#` starts a comment.
        resources: Arrays for `resource<"name">` references.
        filename: Used in error locations.

    Raises:
        ParseError: (a `TextParseError`) at `filename:line:col`, with the source line and a caret.
    """
    return _Parser(text, filename, resources).graph()


__all__ = ["TextParseError", "parse_graph"]
