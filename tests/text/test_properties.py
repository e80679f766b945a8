"""Property tests: printing is a fixed point of parsing, and parsed graphs verify."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, note
from hypothesis import strategies as st
from strategies import arrays, graphs

from compiler.errors import VerifyError
from compiler.graph import Graph
from compiler.text import parse_graph, print_graph, print_graph_with_resources
from compiler.text.syntax import format_dense
from compiler.types import DType, TensorType
from compiler.verifier import verify

UNARY_AND_ELEMENTWISE = [
    "test_any", "add", "sub", "mul", "div", "relu", "neg", "abs", "sigmoid", "tanh", "exp",
    "identity", "max", "min", "where", "equal", "less", "not", "cast", "sqrt", "clip",
]  # fmt: skip


def _round_trip(graph: Graph) -> Graph:
    text, resources = print_graph_with_resources(graph)
    note(text)
    parsed = parse_graph(text, resources=resources)
    assert print_graph(parsed) == text
    assert print_graph(graph) == text  # deterministic, with or without a table
    return parsed


def _verifies(graph: Graph) -> bool:
    try:
        verify(graph)
    except VerifyError:
        return False
    return True


@given(graphs(ops=UNARY_AND_ELEMENTWISE))
def test_elementwise_graphs_round_trip_and_verify(graph: Graph) -> None:
    parsed = _round_trip(graph)
    verify(graph)
    verify(parsed)


@given(graphs(max_nodes=6))
def test_any_registered_op_round_trips(graph: Graph) -> None:
    parsed = _round_trip(graph)
    if _verifies(graph):
        verify(parsed)


@given(graphs(ops=UNARY_AND_ELEMENTWISE))
def test_parsed_graph_has_the_same_structure(graph: Graph) -> None:
    parsed = _round_trip(graph)
    for a, b in zip(graph.nodes, parsed.nodes, strict=True):
        assert (a.op, a.loc, [v.type for v in a.outputs]) == (
            b.op,
            b.loc,
            [v.type for v in b.outputs],
        )
        assert a.attrs.keys() == b.attrs.keys()
        for key, x in a.attrs.items():
            _assert_same_attr(x, b.attrs[key])


def _assert_same_attr(x: object, y: object) -> None:
    if not isinstance(x, np.ndarray):
        assert type(x) is type(y) and repr(x) == repr(y)
        return
    assert isinstance(y, np.ndarray) and x.dtype == y.dtype and x.shape == y.shape
    if x.dtype.kind == "c":
        _assert_same_attr(x.real.copy(), y.real.copy())
        _assert_same_attr(x.imag.copy(), y.imag.copy())
        return
    if x.dtype.kind in "iubO":
        assert x.tolist() == y.tolist()
        return
    with np.errstate(invalid="ignore"):  # NaN payloads are not printed inline
        fx, fy = x.astype(np.float64), y.astype(np.float64)
    assert np.array_equal(fx, fy, equal_nan=True)
    assert (np.signbit(fx) == np.signbit(fy))[~np.isnan(fx)].all()


@pytest.mark.parametrize(
    "dtype", [DType.FLOAT16, DType.BFLOAT16, DType.FLOAT8E4M3FN, DType.FLOAT8E4M3FNUZ,
              DType.FLOAT8E5M2, DType.FLOAT8E5M2FNUZ],
)  # fmt: skip
def test_every_small_float_round_trips_inline(dtype: DType) -> None:
    np_dtype = dtype.to_numpy()
    bits = np.arange(
        2 ** (8 * np_dtype.itemsize), dtype=np.uint16 if np_dtype.itemsize == 2 else np.uint8
    )
    values = bits.view(np_dtype)
    text = format_dense(values)
    graph_text = (
        f"graph @m() -> () {{\n  %c = const() {{value = {text}}} : {dtype.short}[{values.size}]\n"
        "  return\n}\n"
    )
    parsed = next(parse_graph(graph_text).nodes).attrs["value"]
    _assert_same_attr(values, parsed)
    with np.errstate(invalid="ignore"):
        ok = ~np.isnan(values.astype(np.float64))
    assert (parsed.view(bits.dtype)[ok] == bits[ok]).all()  # bit-exact except NaN


@given(arrays(DType.FLOAT32, (8,)) | arrays(DType.FLOAT64, (8,)) | arrays(DType.COMPLEX64, (2,)))
def test_wide_floats_round_trip_inline(values: np.ndarray) -> None:
    dtype = DType.from_numpy(values.dtype)
    graph_text = (
        f"graph @m() -> () {{\n  %c = const() {{value = {format_dense(values)}}} : "
        f"{dtype.short}[{values.size}]\n  return\n}}\n"
    )
    parsed = next(parse_graph(graph_text).nodes).attrs["value"]
    _assert_same_attr(values, parsed)


@given(st.text())
def test_any_value_name_round_trips(name: str) -> None:
    graph = Graph(name)
    x = graph.add_input(name, TensorType(DType.FLOAT32, ()))
    graph.outputs = [x]
    text = print_graph(graph)
    parsed = parse_graph(text)
    assert parsed.name == name and parsed.inputs[0].name == (name or "0")
    assert print_graph(parsed) == text
