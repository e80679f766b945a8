"""Hooks: objects that see the graph before and after every pass.

The pass manager calls, for each hook in order, `start` once, `before_pass` / `after_pass` around
every pass execution, and `finish` once. A hook that sets `tracks_changes` makes the manager diff
node snapshots around each pass, so `run.changes` lists the nodes the pass touched.

Standard hooks: `VerifyEach` (on by default), `PrintIRAfter`, `TimePasses`, and `CheckNumerics` (in
`compiler.passmanager.numerics`). A failure is a `PassError` naming the pass, the nodes it touched
and the passes that ran before it (`pass_failure`).
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, TextIO

from compiler.errors import PassError, VerifyError
from compiler.graph import Graph
from compiler.location import Location
from compiler.passmanager.base import Pass
from compiler.passmanager.changes import ChangeSet
from compiler.passmanager.report import PassRecord, PassReport

if TYPE_CHECKING:
    from compiler.passmanager.pipeline import Pipeline

log = logging.getLogger(__name__)
MAX_HISTORY = 20


@dataclass
class PassRun:
    """One pass execution as hooks see it.

    Attributes:
        pass_: The pass object.
        graph: The graph being transformed (in place).
        record: Its report record (`changed`, `seconds`, node counts are filled after the pass).
        history: Labels of the passes that ran before it, in order.
        changes: The nodes it touched (after the pass, when a hook tracks changes), else None.
    """

    pass_: Pass
    graph: Graph
    record: PassRecord
    history: tuple[str, ...]
    changes: ChangeSet | None = None

    @property
    def untouched(self) -> bool:
        """True when the pass certainly changed nothing (it said so and tracking agrees)."""
        return not self.record.changed and self.changes is not None and not self.changes


class Hook:
    """Base of pass-manager hooks; every method is optional."""

    tracks_changes: ClassVar[bool] = False

    def start(self, graph: Graph, pipeline: Pipeline) -> None:
        """Called once before the first pass."""

    def before_pass(self, run: PassRun) -> None:
        """Called before each pass execution."""

    def after_pass(self, run: PassRun) -> None:
        """Called after each pass execution, with `run.record` and `run.changes` filled."""

    def finish(self, graph: Graph, report: PassReport) -> None:
        """Called once after the last pass."""


def pass_failure(
    message: str, run: PassRun, loc: Location | None = None, notes: Collection[str] = ()
) -> PassError:
    """A `PassError` for a failure caused by `run`'s pass: the message, the touched nodes, the
    passes that ran before it, then `notes`."""
    return PassError(message, loc, [*blame_notes(run), *notes])


def blame_notes(run: PassRun) -> list[str]:
    """Lines naming the nodes `run`'s pass touched and the passes that ran before it."""
    if run.changes is None:
        why = "no change tracking, or the pass did not finish"
        touched = [f"nodes touched by {run.record.spec}: not known ({why})"]
    else:
        touched = [f"nodes touched by {run.record.spec} ({run.changes.summary()}):"]
        touched += [f"  {line}" for line in run.changes.describe()]
    history = list(run.history)
    if not history:
        return [*touched, "passes before it: none (it was the first)"]
    shown = history[-MAX_HISTORY:]
    skipped = f"{len(history) - len(shown)} earlier, then " if len(shown) < len(history) else ""
    return [*touched, f"passes before it: {skipped}{', '.join(shown)}"]


class VerifyEach(Hook):
    """Run the verifier on the input and after every pass that changed the graph.

    It also catches a pass that returns False although it changed the graph (that would end
    fixed-point loops too early).
    """

    tracks_changes = True

    def start(self, graph: Graph, pipeline: Pipeline) -> None:
        from compiler.verifier import verify

        verify(graph)

    def after_pass(self, run: PassRun) -> None:
        from compiler.verifier import verify

        if run.untouched:
            return
        if run.changes and not run.record.changed:
            raise pass_failure(
                f"pass {run.record.spec} returned False (no change) but changed the graph", run
            )
        try:
            verify(run.graph)
        except VerifyError as exc:
            message = f"verifier failed after pass {run.record.label()}: {exc.message}"
            raise pass_failure(message, run, exc.loc, exc.notes) from exc


class PrintIRAfter(Hook):
    """Print the IR after the named passes (all passes when `passes` is None).

    Args:
        passes: Pass names (`fold-constants`), or None for every pass.
        stream: Where to write; None logs at INFO level instead.
        only_changed: Skip passes that changed nothing.
    """

    def __init__(
        self,
        passes: Collection[str] | None = None,
        stream: TextIO | None = None,
        only_changed: bool = False,
    ) -> None:
        self.passes = None if passes is None else frozenset(passes)
        self.stream = stream
        self.only_changed = only_changed

    def after_pass(self, run: PassRun) -> None:
        from compiler.text import print_graph

        if self.passes is not None and run.pass_.name not in self.passes:
            return
        if self.only_changed and not run.record.changed:
            return
        state = "changed" if run.record.changed else "unchanged"
        text = f"# ----- IR after {run.record.label()} ({state}) -----\n{print_graph(run.graph)}"
        if self.stream is None:
            log.info("%s", text)
            return
        self.stream.write(text)
        self.stream.flush()


class TimePasses(Hook):
    """Write the per-pass timing table (time, share, node-count delta) when the run finishes.

    Args:
        stream: Where to write; None logs at INFO level instead.
    """

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream

    def finish(self, graph: Graph, report: PassReport) -> None:
        table = report.timing_table()
        if self.stream is None:
            log.info("pass timings:\n%s", table)
            return
        self.stream.write(table + "\n")
        self.stream.flush()


__all__ = [
    "Hook", "PassRun", "PrintIRAfter", "TimePasses", "VerifyEach", "blame_notes", "pass_failure",
]  # fmt: skip
