"""Property tests for every registered pass (and the `default` pipeline) on random models.

`models()` draws small well-typed float32 graphs in the shape of real networks: conv / conv
transpose / BN / activation chains, elementwise trees with broadcast constants, reshapes and
transposes, flatten + gemm/matmul heads, dropout and identity clutter, constants shared between
nodes, and 1-3 graph outputs (intermediates included). For each pass: the verifier holds after it,
the outputs stay within the derived tolerance of the reference backend (for passes that do not
declare `changes_numerics`), and a second run changes nothing (returns False).

(Named `test_pass_properties.py`: pytest needs unique test-module basenames and tests/text has a
`test_properties.py`.)
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import compiler
from backends.numpy import run
from compiler.graph import Builder, Graph
from compiler.ir import Value
from compiler.optimizer import reference_tolerance
from compiler.passmanager import find_pass, pass_names
from compiler.passmanager.numerics import max_abs_error, random_inputs
from compiler.types import DType, TensorType
from compiler.verifier import verify

ACTIVATIONS = ("relu", "sigmoid", "tanh", "hard_swish", "leaky_relu", "clip")
Step = Callable[[st.DrawFn, "Model"], Value | None]


class Model:
    """A graph under construction: a builder, a seeded RNG for weights, values by rank."""

    def __init__(self, rng: np.random.Generator, batch: int, channels: int, size: int) -> None:
        self.graph = Graph("main")
        x = self.graph.add_input("x", TensorType(DType.FLOAT32, (batch, channels, size, size)))
        self.b: Builder = self.graph.builder()
        self.rng = rng
        self.values: list[Value] = [x]
        self.shared: dict[tuple[int, ...], Value] = {}

    def const(self, shape: tuple[int, ...], positive: bool = False, share: bool = False) -> Value:
        """A constant; with `share`, the same node for every request of this shape."""
        if share and shape in self.shared:
            return self.shared[shape]
        data = self.rng.uniform(0.5, 1.5, shape) if positive else self.rng.standard_normal(shape)
        value = self.b.const(data.astype(np.float32) * (1 if positive else 0.5))
        if share:
            self.shared[shape] = value
        return value

    def pick(self, draw: st.DrawFn, rank: int) -> Value | None:
        """A value of `rank`: mostly the newest one, so that chains (conv-bn-relu) form."""
        found = [v for v in self.values if len(v.type.shape or ()) == rank]
        if not found:
            return None
        return found[-1] if draw(st.integers(0, 3)) else draw(st.sampled_from(found))


def _conv(draw: st.DrawFn, m: Model) -> Value | None:
    x = m.pick(draw, 4)
    if x is None:
        return None
    c = int(x.type.shape[1])
    out, k = draw(st.sampled_from([2, 3, 4])), draw(st.sampled_from([1, 3]))
    group = draw(st.sampled_from([g for g in (1, c) if out % g == 0]))
    w = m.const((out, c // group, k, k), share=draw(st.booleans()))
    bias = [m.const((out,))] if draw(st.booleans()) else []
    return m.b.op("conv", x, w, *bias, group=group, pads=(k // 2,) * 4)


def _conv_transpose(draw: st.DrawFn, m: Model) -> Value | None:
    x = m.pick(draw, 4)
    if x is None:
        return None
    c = int(x.type.shape[1])
    return m.b.op("conv_transpose", x, m.const((c, draw(st.sampled_from([1, 2])), 1, 1)))


def _bn(draw: st.DrawFn, m: Model) -> Value | None:
    x = m.pick(draw, draw(st.sampled_from([2, 4])))
    return None if x is None else _bn_on(draw, m, x)


def _bn_on(draw: st.DrawFn, m: Model, x: Value) -> Value:
    c = (int(x.type.shape[1]),)
    share = draw(st.booleans())
    params = [m.const(c, True, share), m.const(c, share=share), m.const(c), m.const(c, True)]
    return m.b.op("batch_normalization", x, *params)


def _activation(draw: st.DrawFn, m: Model) -> Value | None:
    x = m.pick(draw, draw(st.sampled_from([4, 4, 2])))
    return None if x is None else _activation_on(draw, m, x)


def _activation_on(draw: st.DrawFn, m: Model, x: Value) -> Value:
    act = draw(st.sampled_from(ACTIVATIONS))
    if act == "clip":
        zero, six = m.b.const(np.float32(0)), m.b.const(np.float32(6))
        return m.b.op("clip", x, zero, six)
    return m.b.op(act, x, **({"alpha": 0.1} if act == "leaky_relu" else {}))


def _binary(draw: st.DrawFn, m: Model) -> Value | None:
    x = draw(st.sampled_from(m.values))
    same = [v for v in m.values if v.type == x.type]
    op = draw(st.sampled_from(["add", "mul", "sub"]))
    if draw(st.booleans()):
        return m.b.op(op, x, draw(st.sampled_from(same)))
    shape = x.type.shape or ()
    tail = (int(shape[1]),) + (1,) * (len(shape) - 2) if len(shape) >= 2 else ()
    return m.b.op(op, x, m.const(tail, share=True))


def _reshape(draw: st.DrawFn, m: Model) -> Value | None:
    x = m.pick(draw, 4)
    if x is None:
        return None
    n, c, h, w = (int(d) for d in x.type.shape)
    kind = draw(st.sampled_from(["flatten", "roundtrip", "transpose", "identity", "dropout"]))
    if kind == "flatten":
        return m.b.op("reshape", x, m.b.const(np.array([n, -1], np.int64)))
    if kind == "roundtrip":
        flat = m.b.op("reshape", x, m.b.const(np.array([n, c * h * w], np.int64)))
        return m.b.op("reshape", flat, m.b.const(np.array([n, c, h, w], np.int64)))
    if kind == "transpose":
        return m.b.op("transpose", m.b.op("transpose", x, perm=(0, 2, 3, 1)), perm=(0, 3, 1, 2))
    return m.b.op(kind, x) if kind == "identity" else m.b.op("dropout", x, None, None)


def _linear(draw: st.DrawFn, m: Model) -> Value | None:
    x = m.pick(draw, 2)
    if x is None:
        return None
    k, n = int(x.type.shape[1]), draw(st.sampled_from([3, 5]))
    if draw(st.booleans()):
        return m.b.op("matmul", x, m.const((k, n)))
    y = m.b.op("gemm", x, m.const((n, k)), m.const((n,)), transB=1)
    return m.b.op("add", y, m.const((n,))) if draw(st.booleans()) else y


def _block(draw: st.DrawFn, m: Model) -> Value | None:
    """conv / conv_transpose / gemm, then maybe BN, then maybe an activation: the fusion target."""
    y = draw(st.sampled_from([_conv, _conv, _conv_transpose, _linear]))(draw, m)
    if y is None:
        return None
    if draw(st.integers(0, 2)):
        m.values.append(y)
        y = _bn_on(draw, m, y)
    return _activation_on(draw, m, y) if draw(st.integers(0, 2)) else y


STEPS: tuple[Step, ...] = (_block, _block, _conv, _conv_transpose, _bn, _activation, _binary,
                           _reshape, _reshape, _linear)  # fmt: skip


@st.composite
def models(draw: st.DrawFn, max_steps: int = 10) -> Graph:
    """A random small network (see the module docstring)."""
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    m = Model(rng, draw(st.sampled_from([1, 2])), draw(st.sampled_from([2, 3])), 3)
    for _ in range(draw(st.integers(1, max_steps))):
        value = draw(st.sampled_from(STEPS))(draw, m)
        if value is not None:
            m.values.append(value)
    outputs = draw(st.lists(st.sampled_from(m.values[1:] or m.values), min_size=1, max_size=3))
    m.graph.outputs = outputs
    return m.graph


def _outputs(graph: Graph, arrays: list[np.ndarray]) -> list[np.ndarray]:
    return list(run(graph, arrays).values)


def _passes() -> list[str]:
    return [name for name in pass_names() if not name.startswith("test-")]


def _check(
    graph: Graph, pipeline: str, again: Callable[[Graph], bool], numerics: bool = True
) -> None:
    verify(graph)
    arrays = random_inputs(graph.inputs, seed=0)
    want = _outputs(graph, arrays)
    atols = reference_tolerance()(graph, want)
    compiler.optimize(graph, pipeline, verify_each=True)
    got = _outputs(graph, arrays)
    assert len(got) == len(want)
    assert [g.shape for g in got] == [w.shape for w in want]
    for i, (have, ref, atol) in enumerate(zip(got, want, atols, strict=True)):
        if not numerics:  # fp16 / quantizing passes: their own tests bound the error
            break
        err = max_abs_error(have, ref)
        assert err <= atol, f"{pipeline}: output {i} off by {err:.3g} > {atol:.3g}"
    assert not again(graph), f"{pipeline}: a second run changed the graph (not idempotent)"


@pytest.mark.parametrize("name", _passes())
@given(graph=models())
def test_pass_preserves_verify_numerics_and_is_idempotent(name: str, graph: Graph) -> None:
    cls = find_pass(name)
    assert cls is not None
    # passes that change numerics on purpose (changes_numerics) are held to verify, shapes and
    # idempotence here; their error bounds are tested in their own modules
    _check(graph, name, lambda g: cls().run(g), numerics=not cls.changes_numerics)


@given(graph=models())
def test_default_pipeline(graph: Graph) -> None:
    def again(g: Graph) -> bool:
        return compiler.optimize(g, "default").changed

    _check(graph, "default", again)
