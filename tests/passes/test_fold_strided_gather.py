"""`fold-strided-gather` beyond its golden file: random `as_strided` index expansions fold
exactly when they enumerate the flat input in row-major order (checked against NumPy), with
bit-identical results; the refusals name their reason; the real dynamo EfficientNet export loses
its 14-node expansion with unchanged outputs."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from material import model_path

import compiler
from backends.numpy import run
from compiler.graph import Graph
from compiler.ir import Value
from compiler.types import DType, TensorType
from compiler.verifier import verify


def _as_strided(sizes: list[int], strides: list[int], offset: int, total: int) -> Graph:
    """gather(reshape(x, [-1]), I) with I built as the dynamo exporter builds it: one
    `range · stride` per axis, unsqueezed onto its axis, summed (+ offset)."""
    g = Graph("main")
    x = g.add_input("x", TensorType(DType.FLOAT32, (total,)))
    b = g.builder()
    flat = b.op("reshape", x, b.const(np.array([-1], np.int64)))
    rank = len(sizes)
    index: Value | None = None
    for axis, (n, stride) in enumerate(zip(sizes, strides, strict=True)):
        r = b.op("range", b.const(np.int64(0)), b.const(np.int64(n)), b.const(np.int64(1)))
        term = b.op("mul", r, b.const(np.int64(stride)))
        others = [a for a in range(rank) if a != axis]
        if others:
            term = b.op("unsqueeze", term, b.const(np.array(others, np.int64)))
        index = term if index is None else b.op("add", index, term)
    assert index is not None
    if offset:
        index = b.op("add", b.const(np.int64(offset)), index)
    g.outputs = [b.op("gather", flat, index, axis=0)]
    return g


@st.composite
def expansions(draw: st.DrawFn) -> tuple[Graph, bool]:
    sizes = draw(st.lists(st.integers(1, 4), min_size=1, max_size=4))
    order = draw(st.permutations(range(len(sizes))))  # axis order of the strides
    strides = [0] * len(sizes)
    step = 1
    for axis in reversed(order):
        strides[axis] = step
        step *= sizes[axis]
    offset = draw(st.sampled_from([0, 0, 1]))
    extra = draw(st.sampled_from([0, 0, 3]))  # a flat input longer than the index range
    total = math.prod(sizes) + offset + extra
    want = np.arange(total)[offset:][: math.prod(sizes)].reshape(sizes)
    index = offset + sum(
        s * np.arange(n).reshape([-1 if j == a else 1 for j in range(len(sizes))])
        for a, (n, s) in enumerate(zip(sizes, strides, strict=True))
    )
    folds = offset == 0 and extra == 0 and np.array_equal(index, want)
    return _as_strided(sizes, strides, offset, total), bool(folds)


@settings(max_examples=40, deadline=None)
@given(case=expansions())
def test_folds_exactly_the_row_major_expansions_bit_identically(case: tuple[Graph, bool]) -> None:
    graph, folds = case
    total = int(graph.inputs[0].type.shape[0])  # type: ignore[index]
    x = np.random.default_rng(0).standard_normal(total).astype(np.float32)
    want = run(graph, [x]).values[0]
    report = compiler.optimize(graph, "fold-constants,fold-strided-gather,prune-dead-nodes")
    verify(graph)
    assert ("gather" not in graph.op_histogram()) == folds, graph.op_histogram()
    np.testing.assert_array_equal(run(graph, [x]).values[0], want)
    stats = report.records[1].rules["strided-gather-to-reshape"]
    assert stats.applied == int(folds) and (folds or stats.last_refusal)
    assert not compiler.optimize(graph, "fold-strided-gather").changed


@pytest.mark.parametrize(
    ("sizes", "strides", "offset", "total", "reason"),
    [
        ([2, 3], [1, 2], 0, 6, "not row-major"),
        ([2, 3], [3, 1], 1, 7, "not row-major"),
        ([2, 3], [3, 1], 0, 9, "do not cover the flat input exactly"),
    ],
)
def test_refusals_say_why(sizes: list[int], strides: list[int], offset: int, total: int,
                          reason: str) -> None:  # fmt: skip
    graph = _as_strided(sizes, strides, offset, total)
    report = compiler.optimize(graph, "fold-strided-gather")
    stats = report.records[0].rules["strided-gather-to-reshape"]
    assert stats.applied == 0 and reason in str(stats.last_refusal)


def test_dynamo_effnet_loses_its_expansion_with_identical_outputs() -> None:
    path = model_path("effnet_lite0")
    if path is None:
        pytest.skip("the EfficientNet material models could not be generated here")
    graph = compiler.load(path)
    photos = np.load(path.parent / "images.npz")["x"][:2]
    want = run(graph, [photos]).values[0]
    before = graph.op_histogram()
    report = compiler.optimize(graph, "fold-strided-gather,prune-dead-nodes")
    assert report.records[0].rules["strided-gather-to-reshape"].applied == 1
    after = graph.op_histogram()
    assert before["gather"] - after.get("gather", 0) == 1 and "range" not in after
    assert graph.outputs[0].type.shape == ("batch", 1000)  # was unk_1: the batch is known now
    np.testing.assert_array_equal(run(graph, [photos]).values[0], want)
