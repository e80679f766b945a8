"""Hypothesis strategies drawing small, well-typed random graphs from the op registry.

`graphs()` starts from a few inputs and constants of one or two shapes (so that elementwise ops
broadcast), then repeatedly picks a registered op, inputs from the values built so far and
attributes drawn from the op's schema, and keeps the node only when inference accepts it. Names
(empty, duplicated, odd) and locations of every form are drawn too, to exercise the text format.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import strategies as st

from compiler.graph import Graph
from compiler.ir import Node, Value, frozen_array
from compiler.location import UNKNOWN, FileLoc, FusedLoc, Location, OnnxLoc, TorchLoc
from compiler.registry import REQUIRED, OpDef, all_ops
from compiler.types import DType, TensorType, tensor_type_of

NAMES = ("", "", "x", "x", "x_1", "y.2", "0", "7", "onnx::Conv_12", 'we"ird\n', "a b", "ü", "_")
SHAPES: tuple[tuple[Any, ...], ...] = ((), (3,), (2, 3), (1, 3), ("batch", 3), (0, 2))
CONST_DTYPES = (
    DType.FLOAT32, DType.FLOAT32, DType.FLOAT16, DType.BFLOAT16, DType.FLOAT64, DType.INT64,
    DType.INT32, DType.INT8, DType.UINT8, DType.BOOL, DType.INT4, DType.FLOAT8E4M3FN,
    DType.FLOAT8E5M2, DType.UINT64, DType.STRING,
)  # fmt: skip
_BITS = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}

names = st.one_of(st.sampled_from(NAMES), st.text(max_size=6))
small_text = st.text(max_size=8)


@st.composite
def locations(draw: st.DrawFn, depth: int = 0) -> Location:
    """Any location form, fused ones included."""
    leaf = st.one_of(
        st.just(UNKNOWN),
        st.builds(OnnxLoc, small_text, small_text),
        st.builds(FileLoc, small_text, st.integers(0, 10**6), st.integers(0, 999)),
        st.builds(TorchLoc, small_text, small_text, st.integers(0, 10**6)),
    )
    if depth == 0 and draw(st.integers(0, 4)) == 0:
        parts = draw(
            st.lists(leaf.filter(lambda loc: not loc.is_unknown()), min_size=2, max_size=3)
        )
        return FusedLoc(tuple(parts))
    return draw(leaf)


@st.composite
def arrays(draw: st.DrawFn, dtype: DType, shape: tuple[int, ...]) -> np.ndarray:
    """Any values of `dtype`: floats from raw bit patterns (NaN, inf, -0.0, subnormals)."""
    n = int(np.prod(shape))
    np_dtype = dtype.to_numpy()
    if dtype == DType.STRING:
        return np.array(draw(st.lists(small_text, min_size=n, max_size=n)), dtype=object).reshape(
            shape
        )
    if dtype == DType.BOOL:
        return np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)), bool).reshape(shape)
    if dtype.is_float or dtype in (DType.COMPLEX64, DType.COMPLEX128):
        parts = 1 if dtype.is_float else 2
        bits = _BITS[np_dtype.itemsize // parts]
        raw = draw(st.lists(st.integers(0, int(np.iinfo(bits).max)), min_size=n * parts,
                            max_size=n * parts))  # fmt: skip
        return np.array(raw, dtype=bits).view(np_dtype).reshape(shape)
    lo, hi = (
        (-8, 7)
        if dtype == DType.INT4
        else (int(np.iinfo(np_dtype).min), int(np.iinfo(np_dtype).max))
    )
    return np.array(draw(st.lists(st.integers(lo, hi), min_size=n, max_size=n)), np_dtype).reshape(
        shape
    )


def _static(shape: tuple[Any, ...]) -> tuple[int, ...]:
    return tuple(d if isinstance(d, int) else 2 for d in shape)


@st.composite
def attr_values(draw: st.DrawFn, kind: str) -> Any:
    """A value of an attribute kind; small ints so that axes and sizes are often valid."""
    ints = st.integers(-2, 4)
    floats = st.floats(allow_nan=False, width=32) | st.sampled_from([0.0, 1.0, 1e-5, 0.5])
    by_kind = {
        "int": ints, "float": floats, "str": st.sampled_from(["", "NOTSET", "constant", "a\"b"]),
        "ints": st.lists(ints, max_size=4).map(tuple),
        "floats": st.lists(floats, max_size=3).map(tuple),
        "strs": st.lists(small_text, max_size=3).map(tuple),
        "dtype": st.sampled_from([DType.FLOAT32, DType.INT64, DType.FLOAT16, DType.BOOL]),
    }  # fmt: skip
    if kind == "tensor":
        shape = draw(st.sampled_from([(), (1,), (3,), (20,)]))
        return frozen_array(draw(arrays(draw(st.sampled_from(CONST_DTYPES[:9])), shape)))
    return draw(by_kind[kind])


def _const(draw: st.DrawFn, graph: Graph, shape: tuple[Any, ...]) -> Value:
    dtype = draw(st.sampled_from(CONST_DTYPES))
    size = draw(st.sampled_from(["shape", "shape", "big"]))
    dims = (17,) if size == "big" else _static(shape)
    array = frozen_array(draw(arrays(dtype, dims)))
    node = Node("const", (), [tensor_type_of(array)], {"value": array}, draw(locations()),
                [draw(names)])  # fmt: skip
    return graph.append(node).output


def _try_node(draw: st.DrawFn, graph: Graph, opdef: OpDef, pool: list[Value]) -> Node | None:
    lo, hi = opdef.inputs
    count = draw(st.integers(lo, min(hi if hi is not None else lo + 2, lo + 2)))
    inputs: list[Value | None] = [draw(st.sampled_from(pool)) for _ in range(count)]
    for i in range(lo, count):
        if draw(st.integers(0, 3)) == 0:
            inputs[i] = None
    attrs = {}
    for key, spec in sorted(opdef.attrs.items()):
        if spec.default is REQUIRED or draw(st.integers(0, 2)) == 0:
            attrs[key] = draw(attr_values(spec.kind))
    outs_lo, outs_hi = opdef.outputs
    num_outputs = draw(st.integers(outs_lo, min(outs_hi if outs_hi is not None else 3, 3)))
    out_names = [draw(names) for _ in range(num_outputs)]
    try:
        return graph.create_node(opdef.name, inputs, attrs, loc=draw(locations()),
                                 num_outputs=num_outputs, names=out_names)  # fmt: skip
    except Exception:  # noqa: BLE001  any op may reject random inputs; the draw just moves on
        return None


@st.composite
def graphs(draw: st.DrawFn, max_nodes: int = 8, ops: list[str] | None = None) -> Graph:
    """A small graph whose nodes all passed inference (canonical attributes, inferred types).

    Args:
        max_nodes: Upper bound of op nodes attempted (constants come on top).
        ops: Op names to draw from; default every registered op except `const`.
    """
    candidates = [d for d in all_ops() if d.name != "const" and (ops is None or d.name in ops)]
    graph = Graph(draw(st.sampled_from(["main", "g", "my graph", ""])))
    shape = draw(st.sampled_from(SHAPES))
    pool: list[Value] = []
    for _ in range(draw(st.integers(0, 2))):
        dtype = draw(st.sampled_from([DType.FLOAT32, DType.FLOAT32, DType.INT64, DType.FLOAT16]))
        pool.append(graph.add_input(draw(names), TensorType(dtype, shape)))
    for _ in range(draw(st.integers(0 if pool else 1, 3))):
        pool.append(_const(draw, graph, shape))
    for _ in range(draw(st.integers(1, max_nodes))):
        if not candidates:
            break
        node = _try_node(draw, graph, draw(st.sampled_from(candidates)), pool)
        if node is not None:
            graph.append(node)
            pool.extend(node.outputs)
    graph.outputs = draw(st.lists(st.sampled_from(pool), max_size=3))
    return graph


__all__ = ["arrays", "attr_values", "graphs", "locations", "names"]
