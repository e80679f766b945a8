"""Helpers of the TensorRT backend tests: one-node graphs, build + interpret + compare.

Every check builds with the real TensorRT(-RTX) builder (no logged errors allowed), evaluates the
emitted network with the NumPy network interpreter and compares with the reference backend
within tolerances derived from dtype and reduction depth (`backends.numpy.tolerance`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from backends.numpy import run
from backends.numpy.tolerance import derive_tolerances, max_abs_error
from backends.tensorrt import _trt
from compiler.graph import Graph
from compiler.types import tensor_type_of
from compiler.verifier import verify

NO_TRT = "the TensorRT backend tests need tensorrt or tensorrt_rtx (pip install irforge[tensorrt])"
requires_trt = pytest.mark.skipif(not _trt.available(), reason=NO_TRT)


@dataclass(frozen=True)
class Const:
    """An input that becomes a `const` node."""

    value: Any


def rand(*shape: int, dtype: Any = np.float32, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def one_node(op: str, inputs: Sequence[Any], attrs: Mapping[str, Any] | None = None,
             num_outputs: int = 1) -> tuple[Graph, dict[str, np.ndarray]]:  # fmt: skip
    """A verified graph of one `op` node and its feeds (arrays become inputs `x<i>`)."""
    graph = Graph()
    b = graph.builder()
    values, feeds = [], {}
    for i, x in enumerate(inputs):
        if x is None:
            values.append(None)
        elif isinstance(x, Const):
            values.append(b.const(np.asarray(x.value), f"c{i}"))
        else:
            values.append(graph.add_input(f"x{i}", tensor_type_of(np.asarray(x))))
            feeds[f"x{i}"] = np.asarray(x)
    names = [f"y{k}" for k in range(num_outputs)]
    node = graph.create_node(op, values, dict(attrs or {}), num_outputs=num_outputs, names=names)
    b.insert(node)
    graph.outputs = list(node.outputs)
    verify(graph)
    return graph, feeds


def build_and_compare(graph: Graph, feeds: Mapping[str, np.ndarray], **options: Any) -> Any:
    """Build `graph` (no builder errors), interpret the network, compare with the reference;
    returns the `BuildResult`."""
    from backends.tensorrt.build import BuildOptions, build_plan
    from backends.tensorrt.interpreter import interpret

    result = build_plan(graph, BuildOptions(**options))
    assert result.plan and not result.emission.logger.errors
    got = interpret(result.emission.network, feeds)
    compare(graph, feeds, got)
    return result


def compare(
    graph: Graph,
    feeds: Mapping[str, np.ndarray],
    got: Mapping[str, np.ndarray],
    reference: Mapping[str, np.ndarray] | None = None,
    factor: float = 1.0,
) -> None:
    """Every graph output of `got` within the derived tolerance of the reference run."""
    ref = dict(reference) if reference is not None else run(graph, feeds).outputs
    tols = derive_tolerances(graph, ref)
    for name, want in ref.items():
        have = got[name]
        assert have.dtype == want.dtype, (name, have.dtype, want.dtype)
        err = max_abs_error(have, want)
        assert err <= tols[name].atol * factor, (
            f"{name}: max error {err:.3g} > {tols[name].describe()}"
        )
