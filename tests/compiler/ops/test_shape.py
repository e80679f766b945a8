"""Shape ops: inference (static, symbolic, data-dependent), shape functions, kernels."""

from __future__ import annotations

import numpy as np
import pytest
from _nodecheck import Const, check, f32, infer, infer_raw, rand, tensor

from compiler.errors import CompilerError
from compiler.graph import Graph
from compiler.registry import get_op, infer_types
from compiler.types import DType, TensorType
from compiler.verifier import verify


def i64(*v: int) -> Const:
    return Const(np.array(v, np.int64))


# -- Reshape / Flatten / Transpose -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("shape", "attrs"),
    [((4, -1), {}), ((0, 0, -1), {}), ((-1,), {}), ((2, 0, 12), {"allowzero": 1})],
)
def test_reshape_kernel(shape, attrs):
    x = rand(2, 3, 4) if not attrs else rand(2, 0, 12)
    check("reshape", "Reshape", [x, i64(*shape)], attrs)


def test_reshape_inference():
    x = f32("N", 3, "S", 4)
    assert infer_raw("reshape", [x, i64(0, 0, -1)]) == [f32("N", 3, None)]
    assert infer("reshape", [x, i64(0, 3, -1, 4)]) == [f32("N", 3, "S", 4)]
    assert infer("reshape", [x, i64(0, 12, -1)]) == [f32("N", 12, "S")]
    assert infer_raw("reshape", [x, i64(-1, 12)]) == [f32(None, 12)]
    assert infer("reshape", [f32(2, 3, 4), i64(4, -1)]) == [f32(4, 6)]
    assert infer_raw("reshape", [x, tensor(DType.INT64, 3)]) == [f32(None, None, None)]
    with pytest.raises(CompilerError, match="cannot reshape"):
        infer("reshape", [f32(2, 3, 4), i64(5, -1)])
    with pytest.raises(CompilerError, match="invalid"):
        infer("reshape", [f32(2, 3, 4), i64(-1, -1)])


@pytest.mark.parametrize("axis", [0, 1, 3, -1])
def test_flatten(axis):
    check("flatten", "Flatten", [rand(2, 3, 4)], {"axis": axis})
    assert infer("flatten", [f32("N", 3, 4)], {"axis": 1}) == [f32("N", 12)]


def test_transpose():
    check("transpose", "Transpose", [rand(2, 3, 4)], {"perm": (1, 2, 0)})
    check("transpose", "Transpose", [rand(2, 3, 4)])
    assert infer("transpose", [f32("N", 3, "S")]) == [f32("S", 3, "N")]
    with pytest.raises(CompilerError, match="permutation"):
        infer("transpose", [f32(2, 3)], {"perm": (0, 0)})


# -- Squeeze / Unsqueeze / Concat / Split ----------------------------------------------------------


def test_squeeze_unsqueeze():
    x = rand(1, 3, 1, 2)
    check("squeeze", "Squeeze", [x, i64(0, -2)], opset=13)
    check("squeeze", "Squeeze", [x], opset=13)
    check("unsqueeze", "Unsqueeze", [rand(3, 2), i64(0, -1)], opset=13)
    assert infer("squeeze", [f32("N", 1, 4), i64(1)]) == [f32("N", 4)]
    assert infer("unsqueeze", [f32("N", 4), i64(-1, 1)]) == [f32("N", 1, 4, 1)]
    with pytest.raises(CompilerError, match="squeeze dim"):
        infer("squeeze", [f32(2, 3), i64(0)])
    with pytest.raises(CompilerError, match="symbolic"):
        infer("squeeze", [f32("N", 1)])
    with pytest.raises(CompilerError, match="out of range"):
        infer("unsqueeze", [f32(2, 3), i64(3)])
    axes = tensor(DType.INT64, 2)
    assert infer_raw("unsqueeze", [f32(2, 3), axes]) == [f32(None, None, None, None)]
    assert infer_raw("squeeze", [f32(1, 3, 1), axes]) == [f32(None)]


def test_concat():
    check("concat", "Concat", [rand(2, 3), rand(2, 1, seed=1), rand(2, 2, seed=2)], {"axis": -1})
    assert infer("concat", [f32("N", 3), f32("N", 5)], {"axis": 1}) == [f32("N", 8)]
    assert infer("concat", [f32("N", 3), f32(0, 3)], {"axis": 0}) == [f32("N", 3)]
    assert infer_raw("concat", [f32("N", 3), f32(2, 3)], {"axis": 0}) == [f32(None, 3)]
    with pytest.raises(CompilerError, match="differ"):
        infer("concat", [f32(2, 3), f32(2, 4)], {"axis": 0})
    with pytest.raises(CompilerError, match="required"):
        infer("concat", [f32(2, 3)])


@pytest.mark.parametrize(
    ("inputs", "attrs", "n"),
    [([i64(1, 4, 1)], {"axis": 1}, 3), ([], {"axis": 1}, 3), ([], {"num_outputs": 4, "axis": 1}, 4),
     ([], {"axis": -1}, 2)],
)  # fmt: skip
def test_split(inputs, attrs, n):
    x = rand(2, 6, 4)
    check("split", "Split", [x, *inputs], attrs, num_outputs=n, opset=18)


def test_split_inference():
    out = infer("split", [f32("N", 7)], {"axis": 1, "num_outputs": 3}, num_outputs=3)
    assert [t.shape for t in out] == [("N", 3), ("N", 3), ("N", 1)]
    with pytest.raises(CompilerError, match="split"):
        infer("split", [f32(2, 6), i64(1, 2)], {"axis": 1}, num_outputs=2)
    assert [t.shape for t in infer_raw("split", [f32("N", 4)], {}, num_outputs=2)] == [
        (None, 4),
        (None, 4),
    ]


# -- Slice / Gather / Scatter ----------------------------------------------------------------------

BIG = np.iinfo(np.int64).max


@pytest.mark.parametrize(
    ("starts", "ends", "axes", "steps"),
    [((1, 0), (3, 10), None, None), ((-1,), (-BIG,), (1,), (-1,)),
     ((5, -3), (1, BIG), (0, -1), (-2, 1)), ((0,), (100,), (2,), (3,)), ((2,), (2,), (0,), None)],
)  # fmt: skip
def test_slice(starts, ends, axes, steps):
    inputs = [rand(4, 5, 7), i64(*starts), i64(*ends)]
    inputs += [None if axes is None else i64(*axes), None if steps is None else i64(*steps)]
    check("slice", "Slice", inputs)


def test_slice_inference():
    x = f32("N", "S", 8)
    assert infer("slice", [x, i64(0), i64(BIG), i64(1)]) == [x]
    assert infer("slice", [x, i64(-1), i64(-BIG), i64(0), i64(-1)]) == [x]
    assert infer_raw("slice", [x, i64(1), i64(BIG), i64(1)]) == [f32("N", None, 8)]
    assert infer_raw("slice", [x, tensor(DType.INT64, 1), i64(4), i64(2)]) == [f32("N", "S", None)]


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_gather(axis):
    check("gather", "Gather", [rand(3, 4, 5), Const(np.array([[0, -1], [2, 1]], np.int64))],
          {"axis": axis})  # fmt: skip
    assert infer("gather", [f32("N", 4), Const(np.int64(1))], {"axis": 1}) == [f32("N")]


def test_gather_elements_and_nd():
    idx = np.random.default_rng(0).integers(-3, 3, (3, 2)).astype(np.int64)
    check("gather_elements", "GatherElements", [rand(3, 3), Const(idx)], {"axis": 1})
    data = rand(2, 3, 4)
    check("gather_nd", "GatherND", [data, Const(np.array([[0, 1], [1, -1]], np.int64))])
    check("gather_nd", "GatherND", [data, Const(np.array([[1], [2]], np.int64))], {"batch_dims": 1})
    assert infer(
        "gather_nd", [f32("N", 3, 4), tensor(DType.INT64, "N", 5, 1)], {"batch_dims": 1}
    ) == [f32("N", 5, 4)]


@pytest.mark.parametrize("reduction", ["none", "add", "mul", "max", "min"])
def test_scatter(reduction):
    data = rand(4, 3)
    idx = Const(np.array([[1], [3]], np.int64))
    check("scatter_nd", "ScatterND", [data, idx, rand(2, 3, seed=1)], {"reduction": reduction})
    idx_e = Const(np.array([[1, 0, 2], [0, 2, 1]], np.int64))
    check("scatter_elements", "ScatterElements", [data, idx_e, rand(2, 3, seed=2)],
          {"axis": 1, "reduction": reduction})  # fmt: skip


# -- Shape / Size / Expand / Tile / Pad ------------------------------------------------------------


@pytest.mark.parametrize("attrs", [{}, {"start": 1}, {"start": -2, "end": -1}, {"end": 10}])
def test_shape_and_size(attrs):
    check("shape", "Shape", [rand(2, 3, 4)], attrs)
    check("size", "Size", [rand(2, 3, 4)])


def test_expand_and_tile():
    check("expand", "Expand", [rand(3, 1), i64(2, 1, 4)])
    check("tile", "Tile", [rand(2, 3), i64(2, 1)])
    assert infer("expand", [f32("N", 1), i64(1, 5)]) == [f32("N", 5)]
    assert infer_raw("expand", [f32("N", 1), tensor(DType.INT64, 3)]) == [f32(None, "N", None)]
    assert infer("tile", [f32("N", 3), i64(1, 2)]) == [f32("N", 6)]


@pytest.mark.parametrize("mode", ["constant", "reflect", "edge", "wrap"])
def test_pad(mode):
    x = rand(3, 4)
    check("pad", "Pad", [x, i64(1, 2, 2, 0)], {"mode": mode})
    if mode == "constant":
        check("pad", "Pad", [x, i64(1, 2), Const(np.float32(3.5)), i64(-1)], {"mode": mode})
        # negative pads crop (onnx.reference cannot: compare with slicing)
        (y,) = get_op("pad").kernel([x, np.array([1, -1, 0, -2]), np.float32(2)], {"mode": mode})
        np.testing.assert_array_equal(y, np.pad(x[:, 1:2], [(1, 0), (0, 0)], constant_values=2))
        assert infer("pad", [x, i64(1, -1, 0, -2)]) == [f32(4, 1)]
    assert infer("pad", [f32("N", 4), i64(0, 1, 0, 1)], {"mode": mode}) == [f32("N", 6)]


# -- creation ops ----------------------------------------------------------------------------------


def test_constant_of_shape_and_range():
    check("constant_of_shape", "ConstantOfShape", [i64(2, 3)])
    value = np.array([7], np.int64)
    check("constant_of_shape", "ConstantOfShape", [i64(3)], {"value": value})
    assert infer("constant_of_shape", [i64(2, 3)]) == [f32(2, 3)]
    for args in [(0, 10, 3), (10, 4, -2), (5, 1, 1)]:
        check("range", "Range", [Const(np.int64(a)) for a in args])
    check("range", "Range", [Const(np.float32(a)) for a in (0.5, 2.0, 0.3)])
    assert infer_raw("range", [np.int64(0), Const(np.int64(4)), Const(np.int64(1))]) == [
        tensor(DType.INT64, None)
    ]


def test_nonzero_trilu_onehot_eyelike():
    x = (rand(3, 4) > 0).astype(np.float32)
    (nz,) = get_op("nonzero").kernel([x], {})
    np.testing.assert_array_equal(nz, np.array(np.nonzero(x)))
    assert infer_raw("nonzero", [f32("N", 4)]) == [tensor(DType.INT64, 2, None)]
    for upper in (0, 1):
        check("trilu", "Trilu", [rand(2, 3, 4), Const(np.int64(1))], {"upper": upper})
    idx = Const(np.array([[0, 2], [-1, 5]], np.int64))
    values = Const(np.array([0, 3], np.float32))
    check("one_hot", "OneHot", [idx, Const(np.int64(4)), values], {"axis": 1})
    check("eye_like", "EyeLike", [rand(3, 5)], {"k": 1}, onnx_attrs={"k": 1})
    (t,) = infer("eye_like", [f32(3, 5)], {"dtype": DType.INT32})
    assert t == tensor(DType.INT32, 3, 5)


# -- shape functions: Shape -> Gather -> Concat -> Reshape ----------------------------------------


def _infer_all(graph: Graph) -> dict[str, TensorType]:
    """Re-infer every node with shape values propagated (as the verifier and frontend do)."""
    shape_values: dict = {}
    out = {}
    for node in graph.nodes:
        opdef = get_op(node.op)
        types, sv = infer_types(opdef, node.attrs, node.inputs, len(node.outputs), shape_values)
        if sv is not None:
            shape_values[node.outputs[0]] = sv
        out[node.outputs[0].name] = types[0]
    return out


def _chain(batch: int | str, tail: bool) -> tuple[Graph, TensorType]:
    """reshape(x, concat(unsqueeze(gather(shape(x), 0)), [-1], [shape(x)[2:4]])) as exported."""
    graph = Graph()
    x = graph.add_input("x", f32(batch, 3, 4, 5))
    b = graph.builder()
    shape = b.shape(x)
    n = b.unsqueeze(b.gather(shape, b.const(np.int64(0))), b.const(np.array([0], np.int64)))
    parts = [n, b.const(np.array([-1], np.int64))]
    if tail:
        parts.append(b.slice(shape, b.const(np.array([2], np.int64)), b.const(np.array([4]))))
    target = b.concat(*parts, axis=0)
    want = f32(batch, 3, 4, 5) if tail else f32(batch, 60)
    node = graph.create_node("reshape", [x, target], output_types=[want], names=["y"])
    graph.append(node)
    graph.outputs = [node.output]
    return graph, want


@pytest.mark.parametrize("batch", [2, "N"])
@pytest.mark.parametrize("tail", [False, True])
def test_shape_gather_concat_reshape_chain_is_static(batch, tail):
    graph, want = _chain(batch, tail)
    verify(graph)
    assert _infer_all(graph)["y"] == want


def test_shape_functions_of_size_and_constant_of_shape():
    graph = Graph()
    x = graph.add_input("x", f32(2, 3))
    b = graph.builder()
    size = b.unsqueeze(b.size(x), b.const(np.array([0], np.int64)))
    ones = b.constant_of_shape(b.const(np.array([2], np.int64)), value=np.array([1], np.int64))
    target = b.concat(ones, size, axis=0)
    node = graph.create_node("reshape", [x, target], output_types=[f32(1, 1, 6)], names=["y"])
    graph.append(node)
    graph.outputs = [node.output]
    verify(graph)
    assert _infer_all(graph)["y"] == f32(1, 1, 6)


def test_expanded_layer_norm_reduced_shape_is_static():
    """concat(shape(x)[0:-1], constant_of_shape(neg([-1]), 1)): the LayerNorm function body."""
    graph = Graph()
    x = graph.add_input("x", f32("N", 3, 4))
    b = graph.builder()
    prefix = b.slice(b.shape(x), b.const(np.array([0], np.int64)), b.const(np.int64([-1])))
    count = b.neg(b.const(np.array([-1], np.int64)))
    ones = np.array([1], np.int64)
    suffix = b.insert(graph.create_node("constant_of_shape", [count], {"value": ones},
                                        output_types=[tensor(DType.INT64, 1)])).output  # fmt: skip
    target = b.concat(prefix, suffix, axis=0)
    mean = graph.add_input("mean", f32("N", 3))
    node = graph.create_node("reshape", [mean, target], output_types=[f32("N", 3, 1)], names=["y"])
    graph.append(node)
    graph.outputs = [node.output]
    verify(graph)
    assert _infer_all(graph)["y"] == f32("N", 3, 1)


def test_concat_keeps_known_dims_beside_a_vector_of_static_length():
    graph = Graph()
    x = graph.add_input("x", f32("N", 3, 4))
    tail = graph.add_input("tail", tensor(DType.INT64, 2))
    b = graph.builder()
    head = b.slice(b.shape(x), b.const(np.array([0], np.int64)), b.const(np.int64([1])))
    target = b.concat(head, tail, axis=0)
    node = graph.create_node("reshape", [x, target], output_types=[f32("N", "a", "b")])
    graph.append(node)
    graph.outputs = [node.output]
    verify(graph)
    types = _infer_all(graph)
    assert types[node.output.name].shape[0] == "N"
    assert types[node.output.name].rank == 3
