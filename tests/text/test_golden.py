"""Golden tests: every syntax element of the textual IR prints and parses exactly."""

# ruff: noqa: E501  (golden IR lines are as long as the printer makes them)

from __future__ import annotations

import numpy as np
import pytest

from compiler.graph import Graph
from compiler.ir import Node
from compiler.location import FileLoc, FusedLoc, OnnxLoc, TorchLoc
from compiler.text import parse_graph, print_graph, print_graph_with_resources
from compiler.types import DType, TensorType
from compiler.verifier import verify

GOLDEN = """\
graph @main(%x: f32[batch,3], %"in put": i64[*], %s: f32[], %q: f32["seq len",?]) -> (f32[batch,3], f32[batch,3]) {
  %0 = test_any(%x, none, %s) {dt = dtype<bf16>, f = -1e-05, floats = [], i = -3, ints = [1, 2], s = "a\\"b", strs = ["x", ""], t = dense<i64[2,2]: [1, -2, 3, 4]>} : f32[batch,3] loc("m.onnx":"Conv_0")
  %a, %"b c" = test_any(%0) {f = inf, floats = [1.0, -0.0, nan]} : f32[batch,3], f32[batch,3] loc(fused["m.onnx":"A", "f.ir":3:5, torch "layer1.0" "m.py":12])
  %c = const() {value = dense<bf16[3]: [0.1, -inf, nan]>} : bf16[3]
  %d = const() {value = dense<f32[]: [1.5]>} : f32[]
  %e = const() {value = dense<str[2]: ["a", "\\n"]>} : str[2]
  %f = const() {value = dense<c64[1]: [(1.0, -2.0)]>} : c64[1]
  %g = const() {value = resource<"g">} : f32[20]
  %h = const() {value = dense<bool[2,1]: [true, false]>} : bool[2,1]
  %i = const() {value = dense<i4[3]: [-8, 0, 7]>} : i4[3]
  %j = const() {value = dense<u64[1]: [18446744073709551615]>} : u64[1]
  %k = const() {value = dense<f8e4m3fn[2]: [0.1, -450.0]>} : f8e4m3fn[2]
  %l = const() {value = dense<f16[0]: []>} : f16[0]
  %m = test_source() {dt = dtype<f32>, shape = [0, 3]} : f32[0,3] loc("f.ir":1:1)
  test_sink(%m) loc(torch "" "<eval>":0)
  return %a, %"b c"
}
"""
RESOURCES = {"g": np.arange(20, dtype=np.float32)}


def test_golden_round_trip() -> None:
    graph = parse_graph(GOLDEN, resources=RESOURCES)
    assert print_graph(graph) == GOLDEN


def test_golden_structure() -> None:
    graph = parse_graph(GOLDEN, resources=RESOURCES)
    nodes = list(graph.nodes)
    assert [v.name for v in graph.inputs] == ["x", "in put", "s", "q"]
    assert graph.inputs[1].type == TensorType(DType.INT64, None)
    assert graph.inputs[3].type.shape == ("seq len", None)
    first = nodes[0]
    assert first.inputs[1] is None and first.inputs[2] is graph.inputs[2]
    assert first.attrs["dt"] is DType.BFLOAT16 and first.attrs["i"] == -3
    assert first.attrs["floats"] == () and first.attrs["strs"] == ("x", "")
    assert first.attrs["s"] == 'a"b' and first.loc == OnnxLoc("m.onnx", "Conv_0")
    assert first.attrs["t"].dtype == np.int64 and first.attrs["t"].shape == (2, 2)
    assert nodes[1].loc == FusedLoc(
        (OnnxLoc("m.onnx", "A"), FileLoc("f.ir", 3, 5), TorchLoc("layer1.0", "m.py", 12))
    )
    assert [v.name for v in graph.outputs] == ["a", "b c"]
    assert nodes[6].attrs["value"] is not RESOURCES["g"]  # a read-only view
    assert not nodes[6].attrs["value"].flags.writeable
    assert nodes[-1].op == "test_sink" and nodes[-1].outputs == ()


def test_golden_verifies() -> None:
    verify(parse_graph(GOLDEN, resources=RESOURCES))


def _names_graph() -> Graph:
    graph = Graph("main")
    x = graph.add_input("", TensorType(DType.FLOAT32, (2,)))
    b = graph.builder()
    c1 = b.const(np.array([1.0, 2.0], np.float32), "c")
    c2 = b.const(np.array([3.0, 4.0], np.float32), "c")
    c3 = b.const(np.array([5.0, 6.0], np.float32), "")
    odd = b.const(np.array([7.0, 8.0], np.float32), "onnx::Conv_12")
    taken = b.const(np.array([9.0, 1.0], np.float32), "1")
    node = graph.append(
        Node("test_any", [x, c1, c2, c3], [x.type] * 2, {}, output_names=["c", "c_1"])
    )
    graph.outputs = [odd, taken, *node.outputs]
    return graph


NAMES_TEXT = """\
graph @main(%0: f32[2]) -> (f32[2], f32[2], f32[2], f32[2]) {
  %c = const() {value = dense<f32[2]: [1.0, 2.0]>} : f32[2]
  %c_2 = const() {value = dense<f32[2]: [3.0, 4.0]>} : f32[2]
  %2 = const() {value = dense<f32[2]: [5.0, 6.0]>} : f32[2]
  %"onnx::Conv_12" = const() {value = dense<f32[2]: [7.0, 8.0]>} : f32[2]
  %1 = const() {value = dense<f32[2]: [9.0, 1.0]>} : f32[2]
  %c_3, %c_1 = test_any(%0, %c, %c_2, %2) : f32[2], f32[2]
  return %"onnx::Conv_12", %1, %c_3, %c_1
}
"""


def test_names_are_made_unique_deterministically() -> None:
    graph = _names_graph()
    assert print_graph(graph) == NAMES_TEXT
    assert print_graph(graph) == NAMES_TEXT  # deterministic
    assert print_graph(parse_graph(NAMES_TEXT)) == NAMES_TEXT


def test_resources_named_after_values_and_collected() -> None:
    graph = Graph("m")
    b = graph.builder()
    big = b.const(np.arange(17, dtype=np.int64), "w")
    small = b.const(np.arange(16, dtype=np.int64), "")
    anon = b.const(np.zeros((3, 6), np.float16), "")
    graph.outputs = [big, small, anon]
    text, resources = print_graph_with_resources(graph)
    assert 'value = resource<"w">} : i64[17]' in text
    assert "value = dense<i64[16]: [0, 1," in text
    assert 'value = resource<"1">} : f16[3,6]' in text
    assert sorted(resources) == ["1", "w"]
    assert resources["w"] is big.const_value()
    assert print_graph(graph) == text  # same names without a table
    assert "dense<i64[17]" in print_graph(graph, inline_limit=17)
    assert print_graph(parse_graph(text, resources=resources)) == text


def test_resource_name_for_non_const_tensor_attribute() -> None:
    graph = Graph("m")
    x = graph.add_input("x", TensorType(DType.FLOAT32, (2,)))
    t = np.ones(20, np.float32)
    node = graph.append(Node("test_any", [x], [x.type], {"t": t}, output_names=["y"]))
    graph.outputs = list(node.outputs)
    text, resources = print_graph_with_resources(graph)
    assert '{t = resource<"y.t">}' in text and resources["y.t"] is t


def test_mark_prefixes_and_underlines_the_node() -> None:
    graph = parse_graph(NAMES_TEXT)
    node = list(graph.nodes)[5]
    lines = print_graph(graph, mark=node).splitlines()
    assert lines[6] == ">>%c_3, %c_1 = test_any(%0, %c, %c_2, %2) : f32[2], f32[2]"
    assert lines[7] == " " * 15 + "^" + "~" * 7


def test_empty_graph_and_zero_outputs() -> None:
    text = 'graph @"my graph"() -> () {\n  return\n}\n'
    graph = parse_graph(text)
    assert graph.name == "my graph" and len(graph) == 0
    assert print_graph(graph) == text


@pytest.mark.parametrize(
    ("value", "spelled"),
    [
        (1.0, "1.0"), (-0.0, "-0.0"), (1e-05, "1e-05"), (1e300, "1e+300"), (float("inf"), "inf"),
        (float("-inf"), "-inf"), (0.1 + 0.2, "0.30000000000000004"),
    ],
)  # fmt: skip
def test_float_attributes_print_with_repr(value: float, spelled: str) -> None:
    graph = Graph("m")
    x = graph.add_input("x", TensorType(DType.FLOAT32, ()))
    node = graph.append(Node("test_any", [x], [x.type], {"f": value}, output_names=["y"]))
    graph.outputs = list(node.outputs)
    text = print_graph(graph)
    assert f"{{f = {spelled}}}" in text
    parsed = list(parse_graph(text).nodes)[0].attrs["f"]
    assert type(parsed) is float and repr(parsed) == repr(value)


def test_comments_and_free_layout_are_accepted() -> None:
    text = (
        "# RUN: nothing\ngraph @m(%x: f32[2]) -> (f32[2]) {\n"
        "%y = test_any(%x)\n : f32[2]  # c\n return %y }"
    )
    graph = parse_graph(text)
    assert print_graph(graph) == (
        "graph @m(%x: f32[2]) -> (f32[2]) {\n  %y = test_any(%x) : f32[2]\n  return %y\n}\n"
    )


def test_schema_coerces_ints_to_float_attributes() -> None:
    text = (
        "graph @m(%x: f32[2]) -> () {\n"
        "  %y = test_any(%x) {f = 3, floats = [1, 2.5]} : f32[2]\n  return\n}\n"
    )
    node = list(parse_graph(text).nodes)[0]
    assert node.attrs == {"f": 3.0, "floats": (1.0, 2.5)}
    assert type(node.attrs["f"]) is float
