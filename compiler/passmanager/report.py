"""What a pipeline run did: one `PassRecord` per pass execution, gathered in a `PassReport`.

A running pass can add to its own record through `current_record()` (the rewrite driver stores its
rule statistics there; a pass may add notes such as skipped folds).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class RuleStats:
    """How a rewrite rule fared: how often its pattern matched, was applied or refused, and the
    last refusal (`reason` at `node`)."""

    matched: int = 0
    applied: int = 0
    refused: int = 0
    last_refusal: str | None = None

    def merge(self, other: RuleStats) -> None:
        self.matched += other.matched
        self.applied += other.applied
        self.refused += other.refused
        self.last_refusal = other.last_refusal or self.last_refusal


@dataclass
class PassRecord:
    """One execution of one pass.

    Attributes:
        name: The pass name.
        spec: The pass with its options, as pipeline text.
        index: Position among all executions in this run (0-based).
        iteration: The iteration of each enclosing `repeat` (1-based), outermost first.
        changed: What the pass returned.
        seconds: Time inside `run` (hooks excluded).
        nodes_before: Node count before the pass.
        nodes_after: Node count after the pass.
        touched: Lines describing touched nodes (when change tracking was on), else None.
        rules: Rewrite-rule statistics by rule name.
        notes: Anything else the pass or a hook reported.
    """

    name: str
    spec: str
    index: int
    iteration: tuple[int, ...] = ()
    changed: bool = False
    seconds: float = 0.0
    nodes_before: int = 0
    nodes_after: int = 0
    touched: list[str] | None = None
    rules: dict[str, RuleStats] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def label(self) -> str:
        """`fold-constants` or, inside loops, `fold-constants [iteration 2]`."""
        if not self.iteration:
            return self.spec
        its = ".".join(str(i) for i in self.iteration)
        return f"{self.spec} [iteration {its}]"

    def add_rule_stats(self, stats: dict[str, RuleStats]) -> None:
        for name, stat in stats.items():
            self.rules.setdefault(name, RuleStats()).merge(stat)


@dataclass
class PassReport:
    """The result of running a pipeline.

    Attributes:
        pipeline: The canonical spec of the pipeline that ran.
        records: One record per pass execution, in order.
        nodes_before: Node count of the input graph.
        nodes_after: Node count of the result.
        seconds: Wall time of the whole run, hooks included.
        warnings: Loops that did not converge, and similar.
    """

    pipeline: str
    records: list[PassRecord] = field(default_factory=list)
    nodes_before: int = 0
    nodes_after: int = 0
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return any(r.changed for r in self.records)

    def to_json(self) -> dict[str, Any]:
        """A JSON-serializable dict (for `--report FILE.json`)."""
        return asdict(self)

    def timing_table(self) -> str:
        """Per pass spec, in the order the pipeline first ran it: runs, changes, time inside the
        pass, share, node-count delta (IR nodes, constants included); then the totals."""
        rows: dict[str, list[float]] = {}
        names: dict[str, str] = {}
        for r in self.records:
            row = rows.setdefault(r.spec, [0, 0, 0.0, 0])
            names.setdefault(r.spec, r.name)
            row[0] += 1
            row[1] += r.changed
            row[2] += r.seconds
            row[3] += r.nodes_after - r.nodes_before
        labels = _pass_labels(names)
        total = sum(row[2] for row in rows.values()) or 1e-12
        width = max([len(label) for label in labels.values()] + [len(_TOTAL), len(_PASS)])
        lines = [f"{_PASS:<{width}} {'runs':>5} {'changed':>7} {'time (s)':>10} {'%':>6} "
                 f"{'nodes Δ':>8}"]  # fmt: skip
        for spec, (runs, changed, secs, delta) in rows.items():
            lines.append(f"{labels[spec]:<{width}} {runs:>5.0f} {changed:>7.0f} {secs:>10.4f} "
                         f"{100 * secs / total:>5.1f}% {delta:>+8.0f}")  # fmt: skip
        lines.append(f"{_TOTAL:<{width}} {len(self.records):>5} {'':>7} {total:>10.4f} {'':>6} "
                     f"{self.nodes_after - self.nodes_before:>+8}")  # fmt: skip
        return "\n".join(lines)


_PASS = "pass (pipeline order)"
_TOTAL = "total (time inside passes)"
_LABEL_WIDTH = 40


def _pass_labels(names: dict[str, str]) -> dict[str, str]:
    """A row label per pass spec: the spec when it fits in `_LABEL_WIDTH` characters, else the
    name with its options elided (`fuse-conv-bn-relu{…}`); specs that would share a label are
    numbered (`{…}#2`) so that different options stay on distinct rows."""
    labels: dict[str, str] = {}
    seen: dict[str, int] = {}
    for spec, name in names.items():
        label = spec if len(spec) <= _LABEL_WIDTH else f"{name[: _LABEL_WIDTH - 3]}{{…}}"
        seen[label] = seen.get(label, 0) + 1
        labels[spec] = label if seen[label] == 1 else f"{label}#{seen[label]}"
    return labels


_CURRENT: ContextVar[PassRecord | None] = ContextVar("irforge_current_pass", default=None)


def current_record() -> PassRecord | None:
    """The record of the pass running now, or None outside a pass manager."""
    return _CURRENT.get()


@contextmanager
def running(record: PassRecord) -> Iterator[PassRecord]:
    """Make `record` the current record while a pass runs."""
    token = _CURRENT.set(record)
    try:
        yield record
    finally:
        _CURRENT.reset(token)


def note(message: str) -> None:
    """Add a note to the current pass's record (ignored outside a pass manager)."""
    record = _CURRENT.get()
    if record is not None:
        record.notes.append(message)


__all__ = ["PassRecord", "PassReport", "RuleStats", "current_record", "note", "running"]
