"""Donation: in-place kernels overwrite a dead input only when nothing else can see its buffer,
and give the same bits as the out-of-place kernels; first-output-only kernels and the derived
constant cache keep their promises too."""

from __future__ import annotations

import gc
from typing import Any

import numpy as np
import pytest

from backends.numpy import compile
from backends.numpy.plan import donatable
from compiler.frontend.onnx_import import load
from compiler.graph import Graph
from compiler.ops.derived import _CACHE, derived
from compiler.registry import get_op
from compiler.types import DType, TensorType

F32 = DType.FLOAT32


def chain(*ops: str) -> tuple[Graph, list[Any]]:
    """x -> relu -> op1 -> op2 ... with every intermediate kept as a value (returned)."""
    graph = Graph()
    x = graph.add_input("x", TensorType(F32, (2, 3, 4, 4)))
    b = graph.builder()
    values = [x]
    for op in ops:
        values.append(b.op(op, values[-1]))
    graph.outputs = [values[-1]]
    return graph, values


def donated_steps(program: Any) -> list[str]:
    return [step.node.op for step in program.steps if step.donor >= 0]


def test_dead_intermediates_are_donated_and_results_match() -> None:
    graph, _ = chain("relu", "relu", "sigmoid", "relu")
    program = compile(graph)
    # input 0 of the first relu is the graph input: never donated; sigmoid has no in-place form
    assert donated_steps(program) == ["relu", "relu"]
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 4)).astype(np.float32)
    before = x.copy()
    y = program({"x": x}).values[0]
    assert np.array_equal(x, before)  # the caller's input is untouched
    expected = np.maximum(1 / (1 + np.exp(-np.maximum(x, 0))), 0)
    np.testing.assert_allclose(y, expected, rtol=1e-6)


def test_donation_is_observed_and_captured_values_are_not_overwritten(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    graph, values = chain("relu", "neg", "relu")
    seen: list[bool] = []
    real = get_op("relu").kernel_inplace
    assert real is not None

    def spy(inputs: list[Any], attrs: Any) -> list[np.ndarray]:
        seen.append(True)
        return real(inputs, attrs)

    monkeypatch.setattr(get_op("relu"), "kernel_inplace", spy)
    program = compile(graph)
    x = np.arange(96, dtype=np.float32).reshape(2, 3, 4, 4) - 40
    program({"x": x})
    assert seen == [True]  # the relu after neg overwrote neg's dead result
    seen.clear()
    result = program({"x": x}, capture=True)
    assert seen == []  # captured: the capture dict holds the buffer, so no donation
    neg = [v for name, v in result.captured.items() if name != "x"]
    np.testing.assert_array_equal(result.captured[_name(program, values[2])], -np.maximum(x, 0))
    assert len(neg) == 3


def _name(program: Any, value: Any) -> str:
    return program.names[value]


def test_a_value_read_later_or_aliased_is_never_donated() -> None:
    graph = Graph()
    x = graph.add_input("x", TensorType(F32, (4, 6)))
    b = graph.builder()
    a = b.neg(x)
    view = b.reshape(a, b.const(np.array([6, 4], np.int64)))  # a view of a's buffer
    r = b.relu(a)  # a dies here, but `view` (still live) shares its buffer
    both = b.add(b.reshape(r, b.const(np.array([6, 4], np.int64))), view)
    same = b.add(both, both)  # input 0 and input 1 are one array: never in place
    graph.outputs = [same, view]
    program = compile(graph)
    xv = np.arange(24, dtype=np.float32).reshape(4, 6) - 12
    out, kept = program({"x": xv}).values
    a_ref = -xv
    np.testing.assert_array_equal(kept, a_ref.reshape(6, 4))
    summed = np.maximum(a_ref, 0).reshape(6, 4) + a_ref.reshape(6, 4)
    np.testing.assert_array_equal(out, 2 * summed)


def test_donatable_checks_ownership() -> None:
    # (results are taken outside `assert`: pytest's rewriting would hold the argument too)
    fresh = [np.ones(8)]
    ok_fresh = donatable(fresh[0])
    keeper = np.ones(8)
    shared = [keeper]
    ok_shared = donatable(shared[0])  # a second holder
    readonly = np.ones(8)
    readonly.flags.writeable = False
    ok_readonly = donatable([readonly][0])
    view = [np.ones(8).reshape(2, 4)]
    ok_view = donatable(view[0])  # a view whose base only it holds
    base = np.ones(8)
    held_view = [base.reshape(2, 4)]
    ok_held_view = donatable(held_view[0])  # the base has another holder
    ok_scalar = donatable([np.float32(1.0)][0])  # a numpy scalar is not a buffer
    assert (ok_fresh, ok_shared, ok_readonly, ok_view, ok_held_view, ok_scalar) == (
        True, False, False, True, False, False
    )  # fmt: skip


@pytest.mark.parametrize("model", ["resnet200", "light_resnet50"])
def test_in_place_kernels_give_the_same_bits(material, monkeypatch: pytest.MonkeyPatch,
                                             model: str) -> None:  # fmt: skip
    if model == "light_resnet50":
        from material import light_model_path

        path = light_model_path("light_resnet50")
        if path is None:
            pytest.skip("light_resnet50 needs torch to be generated")
    else:
        path = material(model)
    graph = load(path)
    shape = (2, 3, 32, 32) if model == "resnet200" else (1, 3, 224, 224)
    x = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
    name = graph.inputs[0].name
    donating = compile(graph)
    assert donated_steps(donating)
    with_donation = donating({name: x}).values
    for op in ("relu", "batch_normalization", "add", "sub", "mul", "clip", "sum"):
        monkeypatch.setattr(get_op(op), "kernel_inplace", None)
    plain = compile(graph)
    assert not donated_steps(plain)
    for a, b in zip(with_donation, plain({name: x}).values, strict=True):
        assert np.array_equal(a, b)


def test_max_pool_values_only_form_matches_the_full_kernel() -> None:
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 3, 9, 8)).astype(np.float32)
    x[0, 0, 2, 3] = np.nan
    opdef = get_op("max_pool")
    assert opdef.kernel is not None and opdef.kernel_first is not None
    for attrs in (
        {"kernel_shape": (3, 3), "strides": (2, 2), "pads": (1, 1, 1, 1), "dilations": (1, 1),
         "ceil_mode": 0, "auto_pad": "NOTSET", "storage_order": 0},
        {"kernel_shape": (2, 3), "strides": (2, 1), "pads": (0, 1, 1, 0), "dilations": (2, 1),
         "ceil_mode": 1, "auto_pad": "NOTSET", "storage_order": 0},
    ):  # fmt: skip
        full = opdef.kernel([x], attrs)[0]
        first = opdef.kernel_first([x], attrs)[0]
        assert first.dtype == full.dtype and np.array_equal(first, full, equal_nan=True)


def test_derived_caches_only_read_only_arrays_and_dies_with_them() -> None:
    calls = [0]

    def double(a: np.ndarray) -> np.ndarray:
        calls[0] += 1
        return a * 2

    w = np.arange(4.0)
    derived((w,), "x2", double)
    derived((w,), "x2", double)
    assert calls[0] == 2  # writeable: recomputed
    w.flags.writeable = False
    first = derived((w,), "x2", double)
    assert derived((w,), "x2", double) is first and calls[0] == 3
    other = np.arange(4.0)
    other.flags.writeable = False
    assert derived((other,), "x2", double) is not first  # equal contents, another array
    slot = ((id(w),), "x2")
    assert slot in _CACHE
    del w, first
    gc.collect()
    assert slot not in _CACHE


def test_dropout_output_only_form_matches_the_full_kernel() -> None:
    opdef = get_op("dropout")
    assert opdef.kernel is not None and opdef.kernel_first is not None
    x = np.random.default_rng(3).standard_normal((4, 5)).astype(np.float32)
    ratio, training = np.array(0.3, np.float32), np.array(True)
    for inputs, attrs in (([x], {"seed": None}), ([x, ratio, training], {"seed": 7})):
        full = opdef.kernel(inputs, attrs)[0]
        first = opdef.kernel_first(inputs, attrs)[0]
        assert np.array_equal(first, full)


def test_derived_keeps_within_its_byte_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    import compiler.ops.derived as cache

    monkeypatch.setattr(cache, "BUDGET", 1000)
    arrays = []
    for _ in range(3):
        a = np.zeros(50)  # 400-byte results
        a.flags.writeable = False
        arrays.append(a)
    slots = [((id(a),), "copy") for a in arrays]
    for a in arrays:
        cache.derived((a,), "copy", lambda x: x.copy())
    assert slots[0] not in cache._CACHE  # least recently used, evicted for the third
    assert slots[1] in cache._CACHE and slots[2] in cache._CACHE
    big = np.zeros(200)
    big.flags.writeable = False
    cache.derived((big,), "copy", lambda x: x.copy())  # 1600 bytes: never kept
    assert ((id(big),), "copy") not in cache._CACHE
    held = cache._held[0]
    del a
    arrays.pop()
    gc.collect()
    assert slots[2] not in cache._CACHE and cache._held[0] == held - 400
