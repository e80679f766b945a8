"""`compiler.optimize`: run a pass pipeline on a graph with the standard hooks.

Driver layer: it imports the reference backend (`backends.numpy`) lazily, only for
check-numerics, and hands it to the core as a runner.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from typing import TextIO

import numpy as np

from compiler.errors import PassError
from compiler.graph import Graph
from compiler.passmanager import (
    CheckNumerics,
    Hook,
    PassManager,
    PassReport,
    Pipeline,
    PrintIRAfter,
    Runner,
    TimePasses,
    ToleranceFn,
    VerifyEach,
    pass_names,
)

ALL = "all"


def optimize(
    graph: Graph,
    pipeline: str | Pipeline = "default",
    *,
    verify_each: bool = True,
    check_numerics: bool = False,
    inputs: Mapping[str, np.ndarray] | None = None,
    seed: int = 0,
    tolerance_factor: float = 1.0,
    runner: Runner | None = None,
    tolerance: ToleranceFn | None = None,
    print_ir_after: str | Collection[str] | None = None,
    time_passes: bool = False,
    stream: TextIO | None = None,
    hooks: Sequence[Hook] = (),
) -> PassReport:
    """Optimize `graph` in place with a pass pipeline.

    Args:
        graph: The graph; transformed in place.
        pipeline: Pipeline text (`"fold-constants,prune-dead-nodes"`, a named pipeline such as
            `"default"` or `"O0"`) or a parsed `Pipeline`.
        verify_each: Verify the graph after every pass that changed it.
        check_numerics: Run the reference backend before and after every pass and compare.
        inputs: Inputs for check-numerics by graph input name (default: seeded random ones).
        seed: Seed of the random inputs.
        tolerance_factor: Loosen (> 1) or tighten (< 1) the derived tolerance.
        runner: The backend used by check-numerics (default: the NumPy reference backend).
        tolerance: The tolerance formula of check-numerics (default: the reference backend's).
        print_ir_after: Pass names whose result to print, or `"all"`.
        time_passes: Write the per-pass timing table at the end.
        stream: Where printed IR and the timing table go (default: the log, at INFO level).
        hooks: More hooks, called after the standard ones.

    Returns:
        The report: one record per pass execution (time, node counts, touched nodes, rules).

    Raises:
        PassError: a bad pipeline (before anything runs), a failing pass, or a failed check.
    """
    parsed = Pipeline.parse(pipeline) if isinstance(pipeline, str) else pipeline
    standard: list[Hook] = [VerifyEach()] if verify_each else []
    if check_numerics:
        check = CheckNumerics(runner or reference_runner(), tolerance or reference_tolerance(),
                              inputs, seed=seed, factor=tolerance_factor)  # fmt: skip
        standard.append(check)
    if print_ir_after is not None:
        standard.append(PrintIRAfter(_print_set(print_ir_after), stream))
    if time_passes:
        standard.append(TimePasses(stream))
    return PassManager(parsed, [*standard, *hooks]).run(graph)


def _print_set(names: str | Collection[str]) -> frozenset[str] | None:
    if names == ALL:
        return None
    chosen = frozenset([names] if isinstance(names, str) else names)
    unknown = sorted(chosen - set(pass_names()))
    if unknown:
        valid = ", ".join(pass_names())
        raise PassError(f"print-ir-after: unknown pass {', '.join(unknown)} (valid: {valid}, all)")
    return chosen


def reference_runner(float64: bool = False) -> Runner:
    """A check-numerics runner calling the NumPy reference backend (`backends.numpy.run`)."""
    from backends.numpy import run

    def runner(graph: Graph, arrays: Sequence[np.ndarray]) -> list[np.ndarray]:
        return list(run(graph, list(arrays), float64=float64).values)

    return runner


def reference_tolerance() -> ToleranceFn:
    """The tolerance formula of `backends.numpy.tolerance`, per output position (two outputs may
    share a name): `SAFETY · u(dtype) · sqrt(D) · max|reference|`, D the accumulation depth."""
    from backends.numpy.tolerance import SAFETY, UNIT_ROUNDOFF, accumulation_depths

    def tolerance(graph: Graph, outputs: Sequence[np.ndarray]) -> list[float]:
        depths = accumulation_depths(graph)
        atols = []
        for value, ref in zip(graph.outputs, outputs, strict=True):
            u = UNIT_ROUNDOFF.get(value.type.dtype, 0.0)
            scale = float(np.max(np.abs(ref), initial=0.0)) if u and np.size(ref) else 0.0
            atols.append(SAFETY * u * math.sqrt(max(depths.get(value, 1), 1)) * scale)
        return atols

    return tolerance


__all__ = ["optimize", "reference_runner", "reference_tolerance"]
