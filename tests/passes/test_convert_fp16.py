"""`convert-fp16`: float16 rewrite with the fp16 lint (constants beyond ±65504 stay float32)."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given
from test_pass_properties import models

from backends.numpy import run
from backends.numpy.tolerance import SAFETY, accumulation_depths, max_abs_error
from compiler.graph import Graph
from compiler.passmanager.numerics import random_inputs
from compiler.types import DType, TensorType
from compiler.verifier import verify
from passes.convert_fp16 import ConvertFp16Pass, fp16_lint

F16, F32 = DType.FLOAT16, DType.FLOAT32


def masked_softmax(mask_value: float) -> Graph:
    g = Graph()
    x = g.add_input("x", TensorType(F32, (2, 4)))
    b = g.builder()
    w = b.const(np.array([1.0, 2.0, 3.0, 4.0], np.float32), "w")
    m = b.const(np.array([0.0, mask_value, 0.0, 0.0], np.float32), "m")
    a = b.op("mul", x, w, names=["a"])
    s = b.op("add", a, m, names=["s"])
    g.outputs = [b.op("softmax", s, axis=-1, names=["y"])]
    verify(g)
    return g


def _ops(g: Graph) -> dict[str, DType]:
    return {n.outputs[0].name: n.outputs[0].type.dtype for n in g.nodes if n.op != "const"}


def test_mask_add_stays_fp32_and_is_reported() -> None:
    g = masked_softmax(-3.4e38)
    add, softmax = fp16_lint(g)
    assert add.node.op == "add" and "3.4e+38" in add.reason
    assert softmax.node.op == "softmax" and "%s" in softmax.reason
    assert ConvertFp16Pass().run(g)
    verify(g)
    dtypes = _ops(g)
    assert dtypes["a"] == F16 and dtypes["s"] == F32 and dtypes["y"] == F32
    assert [v.name for v in g.outputs] == ["y"] and g.outputs[0].type.dtype == F32


def test_only_what_follows_a_bounded_op_converts_back() -> None:
    g = masked_softmax(-3.4e38)
    y = g.outputs[0]
    with g.inserting_after(y.producer) as b:  # type: ignore[arg-type]
        g.outputs = [b.op("mul", y, y, names=["z"])]
    assert [f.node.op for f in fp16_lint(g)] == ["add", "softmax"]
    ConvertFp16Pass().run(g)
    verify(g)
    assert _ops(g)["z_f16"] == F16 and g.outputs[0].type.dtype == F32


def test_numerics_within_fp16_tolerance_and_finite() -> None:
    ref_graph = masked_softmax(-3.4e38)
    x = np.random.default_rng(0).standard_normal((2, 4)).astype(np.float32)
    want = run(ref_graph, {"x": x}).outputs["y"]
    g = masked_softmax(-3.4e38)
    ConvertFp16Pass().run(g)
    got = run(g, {"x": x}).outputs["y"]
    assert np.all(np.isfinite(got)) and got[:, 1].max() == 0.0
    depth = accumulation_depths(ref_graph)[ref_graph.outputs[0]]
    atol = SAFETY * 2.0**-11 * math.sqrt(depth) * float(np.abs(want).max())
    assert max_abs_error(got, want) <= atol


def test_without_overflow_everything_converts() -> None:
    g = masked_softmax(-100.0)
    assert fp16_lint(g) == []
    ConvertFp16Pass().run(g)
    verify(g)
    casts = [n for n in g.nodes if n.op == "cast"]
    assert len(casts) == 2  # entry and exit
    assert all(t == F16 for name, t in _ops(g).items() if name not in ("x_f16", "y"))


def test_is_idempotent() -> None:
    g = masked_softmax(-3.4e38)
    assert ConvertFp16Pass().run(g)
    assert not ConvertFp16Pass().run(g)
    verify(g)


def test_tiny_epsilon_keeps_layer_norm_fp32() -> None:
    g = Graph()
    x = g.add_input("x", TensorType(F32, (2, 8)))
    b = g.builder()
    scale = b.const(np.ones(8, np.float32), "scale")
    g.outputs = [b.op("layer_normalization", x, scale, epsilon=1e-12, names=["y"])]
    (finding,) = fp16_lint(g)
    assert "epsilon" in finding.reason
    assert not ConvertFp16Pass().run(g)


def test_run_time_mask_from_constant_of_shape_stays_fp32() -> None:
    g = Graph()
    x = g.add_input("x", TensorType(F32, (2, 4)))
    b = g.builder()
    shape = b.const(np.array([2, 4], np.int64), "shape")
    mask = b.op("constant_of_shape", shape, value=np.array([-3.4e38], np.float32), names=["m"])
    g.outputs = [b.op("softmax", b.op("add", x, mask, names=["s"]), axis=-1, names=["y"])]
    kept = {f.node.outputs[0].name: f.reason for f in fp16_lint(g)}
    assert set(kept) == {"m", "s", "y"} and "value" in kept["m"]
    ConvertFp16Pass().run(g)
    verify(g)
    assert np.all(np.isfinite(run(g, {"x": np.ones((2, 4), np.float32)}).outputs["y"]))


@given(graph=models())
def test_random_models_verify_stay_close_and_are_idempotent(graph: Graph) -> None:
    """On the pass property tests' random CNN blocks: verify holds, the interface stays float32,
    outputs are within fp16-derived tolerance of the float32 graph, a second run is a no-op."""
    x = random_inputs(graph.inputs, seed=0)
    want = list(run(graph, x).values)
    depths = accumulation_depths(graph)
    atols = [SAFETY * 2.0**-11 * math.sqrt(max(depths.get(v, 1), 1)) * float(np.abs(w).max())
             for v, w in zip(graph.outputs, want, strict=True)]  # fmt: skip
    ConvertFp16Pass().run(graph)
    verify(graph)
    got = list(run(graph, x).values)
    for have, ref, atol in zip(got, want, atols, strict=True):
        assert have.dtype == np.float32 and max_abs_error(have, ref) <= atol
    assert not ConvertFp16Pass().run(graph)
