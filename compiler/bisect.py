"""Locate the first pass, and within it the first rewrite, that makes a graph diverge.

Driver layer (the reference backend comes through `compiler.optimizer.reference_runner`).

1. The pipeline runs with a hook that, after every pass, runs the reference backend on fixed
   inputs and compares the outputs with the ORIGINAL graph's (tolerance derived on the original:
   `SAFETY·u·√D·max|ref|`); the graph is cloned before each pass, so the state just before the
   first diverging (or failing) pass is kept.
2. That pass runs again on copies of that state with a rewrite budget: the pattern rewriter
   stops after `k` rewrites. A binary search over `k` finds the first rewrite after which the
   outputs diverge, and reports its rule and the nodes it matched (with their locations).
   Passes that do not use the rewriter are reported at the pass level, with the nodes they touched.

The budget is the rewrite driver's own (`compiler.passmanager.rewrite.rewrite_budget`), active
for the duration of a probe, so passes need no cooperation beyond using `apply_rules`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from compiler.errors import CompilerError
from compiler.graph import Graph
from compiler.passmanager import Hook, Pass, PassManager, PassRun, Pipeline, VerifyEach
from compiler.passmanager.rewrite import AppliedRewrite as Rewrite  # one applied rewrite
from compiler.passmanager.rewrite import rewrite_budget as driver_budget


@dataclass
class Probe:
    """The outcome of running a graph state: max abs error per output, or a failure message."""

    names: list[str] = field(default_factory=list)
    errors: list[float] = field(default_factory=list)
    tolerances: list[float] = field(default_factory=list)
    failure: str | None = None

    @property
    def diverged(self) -> bool:
        if self.failure is not None:
            return True
        return any(not e <= t for e, t in zip(self.errors, self.tolerances, strict=True))

    def describe(self) -> str:
        """The failure, or the outputs outside tolerance (else the worst error)."""
        if self.failure is not None:
            return f"fails: {self.failure}"
        rows = list(zip(self.names, self.errors, self.tolerances, strict=True))
        bad = [f"%{n}: {e:.3g} > tol {t:.3g}" for n, e, t in rows if not e <= t]
        if bad:
            return f"{'; '.join(bad[:3])} ({len(bad)} of {len(rows)} outputs outside)"
        worst = max(rows, key=lambda r: r[1] / r[2] if r[2] else float(r[1] > 0), default=None)
        if worst is None:
            return "no outputs"
        return f"within tolerance (worst %{worst[0]}: {worst[1]:.3g}, tol {worst[2]:.3g})"


@dataclass
class BisectResult:
    """Where the divergence starts; `pass_label` None when the pipeline does not diverge."""

    pipeline: str
    pass_label: str | None = None
    pass_index: int = -1
    before: Probe | None = None
    after: Probe | None = None
    touched: list[str] = field(default_factory=list)
    rewrites: int = 0
    rewrite_index: int = 0
    rewrite: Rewrite | None = None
    rewrite_before: Probe | None = None
    rewrite_after: Probe | None = None

    def report(self, pipeline_name: str | None = None) -> str:
        """A short human-readable report; `pipeline_name` names the pipeline as the user gave it
        (default: the canonical spec)."""
        if self.pass_label is None:
            name = pipeline_name or self.pipeline or "(empty)"
            return f"no divergence: every pass of {name} stays in tolerance"
        assert self.before is not None and self.after is not None
        lines = [f"first diverging pass: {self.pass_label} (pass #{self.pass_index + 1})",
                 f"  max abs error before: {self.before.describe()}",
                 f"  max abs error after:  {self.after.describe()}"]  # fmt: skip
        if self.rewrite is None:
            lines.append("  not located to a rewrite (no rewrite changes the result on its own)")
            lines += [f"  touched: {t}" for t in self.touched]
            return "\n".join(lines)
        assert self.rewrite_before is not None and self.rewrite_after is not None
        lines += [f"first diverging rewrite: #{self.rewrite_index} of {self.rewrites} "
                  f"(rule {self.rewrite.rule})"]  # fmt: skip
        lines += [f"  matched: {n}" for n in self.rewrite.nodes]
        lines += [f"  max abs error before it: {self.rewrite_before.describe()}",
                  f"  max abs error after it:  {self.rewrite_after.describe()}"]  # fmt: skip
        return "\n".join(lines)


class _Checker:
    """Runs graph states on fixed inputs and compares with the original graph's outputs."""

    def __init__(self, original: Graph, arrays: Sequence[np.ndarray], factor: float) -> None:
        from compiler.optimizer import reference_runner, reference_tolerance

        self.runner = reference_runner()
        self.arrays = list(arrays)
        self.want = list(self.runner(original, self.arrays))
        self.atol = [factor * t for t in reference_tolerance()(original, self.want)]
        self.names = [v.name or str(i) for i, v in enumerate(original.outputs)]

    def probe(self, graph: Graph) -> Probe:
        from compiler.passmanager.numerics import max_abs_error

        try:
            got = list(self.runner(graph, self.arrays))
        except CompilerError as exc:
            return Probe(failure=str(exc).splitlines()[0])
        if len(got) != len(self.want):
            return Probe(failure=f"{len(got)} outputs instead of {len(self.want)}")
        errors = [max_abs_error(g, w) for g, w in zip(got, self.want, strict=True)]
        return Probe(self.names, errors, self.atol)


class _Divergence(Exception):
    def __init__(self, run: PassRun, state: Graph, before: Probe, after: Probe) -> None:
        self.run, self.state, self.before, self.after = run, state, before, after


class _WatchHook(Hook):
    """Clones the graph before each pass; raises `_Divergence` at the first diverging pass."""

    tracks_changes = True

    def __init__(self, checker: _Checker) -> None:
        self.checker = checker
        self.state: Graph | None = None
        self.last = Probe(failure="not run")

    def start(self, graph: Graph, pipeline: Pipeline) -> None:
        self.last = self.checker.probe(graph)

    def before_pass(self, run: PassRun) -> None:
        self.state = run.graph.clone()

    def after_pass(self, run: PassRun) -> None:
        if run.untouched:
            return
        probe = self.checker.probe(run.graph)
        if probe.diverged:
            assert self.state is not None
            raise _Divergence(run, self.state, self.last, probe)
        self.last = probe


@contextmanager
def rewrite_budget(limit: int | None) -> Iterator[list[Rewrite]]:
    """While active, every `RewriteDriver` together applies at most `limit` rewrites (None: no
    limit); yields the list of applied rewrites, in order (filled as they happen)."""
    with driver_budget(limit) as budget:
        yield budget.applied


def _run_limited(pass_: Pass, state: Graph, limit: int | None) -> tuple[Graph, list[Rewrite]]:
    graph = state.clone()
    with rewrite_budget(limit) as applied:
        try:
            pass_.run(graph)
        except CompilerError:
            pass  # the probe of the half-done graph reports what matters
    return graph, applied


def bisect(
    graph: Graph, pipeline: Pipeline | str, arrays: Sequence[np.ndarray], factor: float = 1.0
) -> BisectResult:
    """Find the first pass and rewrite of `pipeline` that makes `graph`'s outputs diverge from
    the original's on `arrays` (graph-input order). `graph` is not modified."""
    parsed = Pipeline.parse(pipeline) if isinstance(pipeline, str) else pipeline
    checker = _Checker(graph, arrays, factor)
    result = BisectResult(parsed.spec())
    try:
        PassManager(parsed, [VerifyEach(), _WatchHook(checker)]).run(graph.clone())
    except _Divergence as found:
        _locate(found, checker, result)
    return result


def _locate(found: _Divergence, checker: _Checker, result: BisectResult) -> None:
    run = found.run
    result.pass_label, result.pass_index = run.record.label(), run.record.index
    result.before, result.after = found.before, found.after
    result.touched = list(run.record.touched or [])
    _, applied = _run_limited(run.pass_, found.state, None)
    result.rewrites = len(applied)
    lo, hi = 0, len(applied)  # invariant: budget lo does not diverge, budget hi does
    if not hi or not checker.probe(_run_limited(run.pass_, found.state, hi)[0]).diverged:
        return
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if checker.probe(_run_limited(run.pass_, found.state, mid)[0]).diverged:
            hi = mid
        else:
            lo = mid
    state, applied = _run_limited(run.pass_, found.state, hi)
    result.rewrite_index, result.rewrite = hi, applied[hi - 1]
    result.rewrite_before = checker.probe(_run_limited(run.pass_, found.state, lo)[0])
    result.rewrite_after = checker.probe(state)


__all__ = ["BisectResult", "Probe", "Rewrite", "bisect", "rewrite_budget"]
