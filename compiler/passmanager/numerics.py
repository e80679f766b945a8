"""The check-numerics hook: run the reference backend before and after every pass and compare.

The hook runs the graph once on its inputs before the first pass, then again after every pass that
touched the graph, and compares each output with the previous run's: the max abs difference must
stay within the output's derived tolerance (`atol`, from dtype, accumulation depth and magnitude),
computed on the graph before the pass. Comparing with the state just before the pass (not with the
original) attributes any divergence to exactly one pass. Passes with `changes_numerics = True`
(quantization) are not compared; the hook re-baselines after them.

The backend and the tolerance formula are injected (`Runner`, `ToleranceFn`), so the core never
imports `backends`: the driver layer passes `backends.numpy.run` and the formula of
`backends.numpy.tolerance` (see `compiler.optimizer`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from compiler.errors import CompilerError, PassError
from compiler.graph import Graph
from compiler.ir import Value
from compiler.passmanager.hooks import Hook, PassRun, pass_failure

if TYPE_CHECKING:
    from compiler.passmanager.pipeline import Pipeline

Runner = Callable[[Graph, Sequence[np.ndarray]], Sequence[np.ndarray]]
"""Runs a graph on arrays in graph-input order; returns arrays in graph-output order."""

ToleranceFn = Callable[[Graph, Sequence[np.ndarray]], Sequence[float]]
"""Given a graph and its outputs (graph-output order), the allowed max abs error of each output."""

DEFAULT_DIM = 2


class CheckNumerics(Hook):
    """Compare outputs before and after every pass on fixed inputs.

    Args:
        runner: Runs a graph (see `Runner`).
        tolerance: Derives each output's allowed max abs error (see `ToleranceFn`).
        inputs: Arrays by graph input name; None draws seeded random ones.
        seed: Seed of the random inputs.
        dims: Values of symbolic dims for random inputs (default 2 each, so batch bugs show).
        factor: Multiplies the derived tolerances (> 1 loosens them).
    """

    tracks_changes = True

    def __init__(
        self,
        runner: Runner,
        tolerance: ToleranceFn,
        inputs: Mapping[str, np.ndarray] | None = None,
        *,
        seed: int = 0,
        dims: Mapping[str, int] | None = None,
        factor: float = 1.0,
    ) -> None:
        self.runner = runner
        self.tolerance = tolerance
        self.given = inputs
        self.seed = seed
        self.dims = dict(dims or {})
        self.factor = factor
        self.arrays: list[np.ndarray] = []
        self.expected: list[np.ndarray] = []
        self.atol: list[float] = []

    def start(self, graph: Graph, pipeline: Pipeline) -> None:
        if self.given is None:
            self.arrays = random_inputs(graph.inputs, self.seed, self.dims)
        else:
            self.arrays = _bind_given(graph.inputs, self.given)
        try:
            self._baseline(graph, list(self.runner(graph, self.arrays)))
        except CompilerError as exc:
            message = f"check-numerics: the reference backend cannot run the input graph: {exc}"
            raise PassError(message, exc.loc) from exc

    def _baseline(self, graph: Graph, outputs: list[np.ndarray]) -> None:
        self.expected = outputs
        self.atol = [self.factor * t for t in self.tolerance(graph, outputs)]

    def after_pass(self, run: PassRun) -> None:
        if run.untouched:
            return
        try:
            got = list(self.runner(run.graph, self.arrays))
        except CompilerError as exc:
            message = f"check-numerics: the graph after {run.record.label()} no longer runs"
            raise pass_failure(message, run, exc.loc, [str(exc)]) from exc
        if run.pass_.changes_numerics:
            run.record.notes.append("check-numerics: re-baselined (the pass changes numerics)")
            self._baseline(run.graph, got)
            return
        problems, worst = self._compare(run.graph, got)
        if problems:
            message = f"check-numerics: pass {run.record.label()} changed the results"
            raise pass_failure(message, run, notes=problems)
        run.record.notes.append(f"check-numerics: ok, max abs error {worst:.3g}")
        self._baseline(run.graph, got)

    def _compare(self, graph: Graph, got: list[np.ndarray]) -> tuple[list[str], float]:
        """Lines for the outputs outside tolerance, and the largest error."""
        if len(got) != len(self.expected) or len(graph.outputs) != len(got):
            return [f"the graph now has {len(got)} outputs instead of {len(self.expected)}"], 0.0
        problems, worst = [], 0.0
        rows = zip(graph.outputs, got, self.expected, self.atol, strict=True)
        for i, (value, have, want, atol) in enumerate(rows):
            err = max_abs_error(have, want)
            worst = max(worst, err)
            if not err <= atol:
                name = value.name or str(i)
                problems.append(
                    f"output {i} (%{name}): max abs error {err:.3g} > tolerance {atol:.3g}"
                )
        return problems, worst


def random_inputs(
    values: Sequence[Value], seed: int = 0, dims: Mapping[str, int] | None = None
) -> list[np.ndarray]:
    """Seeded random arrays for graph inputs: standard normal floats, integers in [0, 4), random
    bools; symbolic dims take `dims[symbol]` or 2.

    Integers are kept small so that index inputs (gather, embedding ids) stay in range for
    typical models; give explicit inputs when a model needs other values.
    """
    rng = np.random.default_rng(seed)
    arrays = []
    for value in values:
        if value.shape is None:
            raise PassError(f"check-numerics: input %{value.name} has unknown rank; give inputs")
        shape = tuple(d if isinstance(d, int) else (dims or {}).get(d, DEFAULT_DIM)
                      for d in value.shape)  # fmt: skip
        arrays.append(_random_array(rng, value, shape))
    return arrays


def _random_array(rng: np.random.Generator, value: Value, shape: tuple[int, ...]) -> np.ndarray:
    dtype = value.dtype.to_numpy()
    if value.dtype.is_float:
        return rng.standard_normal(shape).astype(dtype)
    if value.dtype.is_int:
        return rng.integers(0, 4, shape).astype(dtype)
    if dtype == np.bool_:
        return rng.random(shape) < 0.5
    raise PassError(f"check-numerics: cannot draw random {value.dtype.short} input %{value.name}")


def _bind_given(values: Sequence[Value], given: Mapping[str, np.ndarray]) -> list[np.ndarray]:
    names = [v.name for v in values]
    missing = [n for n in names if n not in given]
    extra = sorted(set(given) - set(names))
    if missing or extra:
        raise PassError(
            f"check-numerics: inputs do not match the graph (missing {missing}, unexpected {extra})"
        )
    return [np.asarray(given[n]) for n in names]


def max_abs_error(got: np.ndarray, want: np.ndarray) -> float:
    """The largest absolute difference; inf when shapes differ or NaN/inf sit in other places."""
    got, want = np.asarray(got), np.asarray(want)
    if got.shape != want.shape:
        return math.inf
    if got.dtype.kind not in "fciub" or want.dtype.kind not in "fciub":
        return 0.0 if np.array_equal(got, want) else math.inf
    a, b = got.astype(np.float64), want.astype(np.float64)
    finite = np.isfinite(b)
    if not np.array_equal(finite, np.isfinite(a)):
        return math.inf
    if not np.array_equal(a[~finite], b[~finite], equal_nan=True):
        return math.inf
    return float(np.max(np.abs(a[finite] - b[finite]), initial=0.0))


__all__ = ["CheckNumerics", "Runner", "ToleranceFn", "max_abs_error", "random_inputs"]
