"""The pass manager: runs a `Pipeline` on a graph, in place, with hooks around every pass.

Fixed-point loops (`Repeat`) stop as soon as an iteration changes nothing; when the last allowed
iteration still changed the graph, the manager logs a warning naming the passes that kept changing
it, or raises a `PassError` when the loop is `strict`.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Sequence

from compiler.errors import CompilerError, PassError
from compiler.graph import Graph
from compiler.passmanager.base import Pass
from compiler.passmanager.changes import Snapshot, diff
from compiler.passmanager.hooks import Hook, PassRun, blame_notes
from compiler.passmanager.pipeline import Pipeline, Repeat, Step
from compiler.passmanager.report import PassRecord, PassReport, running

log = logging.getLogger(__name__)


class PassManager:
    """Runs a pipeline with hooks.

    Args:
        pipeline: What to run.
        hooks: Called around every pass, in order (see `compiler.passmanager.hooks`).
    """

    def __init__(self, pipeline: Pipeline, hooks: Sequence[Hook] = ()) -> None:
        self.pipeline = pipeline
        self.hooks = list(hooks)
        self.track = any(h.tracks_changes for h in self.hooks)
        self.report = PassReport(pipeline.spec())

    def run(self, graph: Graph) -> PassReport:
        """Transform `graph` in place and return the report.

        Raises:
            PassError: a pass failed, a hook caught a broken pass, or a strict loop did not
                converge.
        """
        self.report = PassReport(self.pipeline.spec(), nodes_before=len(graph))
        start = time.perf_counter()
        for hook in self.hooks:
            hook.start(graph, self.pipeline)
        # The graph's thousands of long-lived nodes and values would be rescanned by every
        # full cyclic collection that the passes' allocations trigger (a quarter of the time
        # on mlp2000); frozen, collections see only the objects made during the run.
        gc.freeze()
        try:
            self._steps(self.pipeline.steps, graph, ())
        finally:
            gc.unfreeze()
        self.report.nodes_after = len(graph)
        self.report.seconds = time.perf_counter() - start
        for hook in self.hooks:
            hook.finish(graph, self.report)
        return self.report

    def _steps(self, steps: Sequence[Step], graph: Graph, iteration: tuple[int, ...]) -> bool:
        changed = False
        for step in steps:
            if isinstance(step, Repeat):
                changed |= self._repeat(step, graph, iteration)
            else:
                changed |= self._run_pass(step, graph, iteration)
        return changed

    def _repeat(self, loop: Repeat, graph: Graph, iteration: tuple[int, ...]) -> bool:
        for i in range(1, loop.max_iterations + 1):
            first_record = len(self.report.records)
            if not self._steps(loop.body, graph, (*iteration, i)):
                return i > 1
        self._not_converged(loop, first_record)
        return True

    def _not_converged(self, loop: Repeat, first_record: int) -> None:
        still = [r.spec for r in self.report.records[first_record:] if r.changed]
        message = (
            f"{loop.spec()} did not reach a fixed point: {', '.join(dict.fromkeys(still))} still "
            f"changed the graph in iteration {loop.max_iterations}"
        )
        if loop.strict:
            raise PassError(
                message, notes=["raise max-iterations, or fix the passes that oscillate"]
            )
        log.warning("%s", message)
        self.report.warnings.append(message)

    def _run_pass(self, pass_: Pass, graph: Graph, iteration: tuple[int, ...]) -> bool:
        records = self.report.records
        record = PassRecord(pass_.name, pass_.spec(), len(records), iteration,
                            nodes_before=len(graph))  # fmt: skip
        run = PassRun(pass_, graph, record, tuple(r.label() for r in records))
        for hook in self.hooks:
            hook.before_pass(run)
        snapshot = Snapshot.take(graph) if self.track else None
        record.changed = self._call(run)
        # What the pass made is long-lived too: left unfrozen, the objects every pass adds are
        # rescanned by each full collection of the later passes (a quarter of the time of a
        # 100k-node graph); frozen, the young generations stay as small as one pass makes them.
        gc.freeze()
        record.nodes_after = len(graph)
        if snapshot is not None:
            run.changes = diff(snapshot, graph)
            record.touched = run.changes.describe()
        records.append(record)
        log.info("%s: %s in %.4fs, %d -> %d nodes", record.label(),
                 "changed" if record.changed else "no change", record.seconds,
                 record.nodes_before, record.nodes_after)  # fmt: skip
        for hook in self.hooks:
            hook.after_pass(run)
        return record.changed

    @staticmethod
    def _call(run: PassRun) -> bool:
        start = time.perf_counter()
        try:
            with running(run.record):
                changed = bool(run.pass_.run(run.graph))
        except PassError:
            raise
        except CompilerError as exc:
            message = f"pass {run.record.label()} failed: {exc.message}"
            raise PassError(message, exc.loc, [*exc.notes, *blame_notes(run)]) from exc
        finally:
            run.record.seconds = time.perf_counter() - start
        return changed


def run_pipeline(graph: Graph, pipeline: Pipeline | str, hooks: Sequence[Hook] = ()) -> PassReport:
    """Parse `pipeline` when it is text, then run it on `graph` in place with `hooks`."""
    if isinstance(pipeline, str):
        pipeline = Pipeline.parse(pipeline)
    return PassManager(pipeline, hooks).run(graph)


__all__ = ["PassManager", "run_pipeline"]
