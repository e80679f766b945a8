"""The one error hierarchy of irforge.

Every error carries a message, an optional source location (`loc`) and a list of notes. `str(err)`
renders all three so a CLI can print it as one clear message.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from compiler.location import Location


class CompilerError(Exception):
    """Base of every error irforge raises on purpose.

    Args:
        message: What went wrong, in one sentence.
        loc: Where it came from (an ONNX node, a text position, a torch frame), if known.
        notes: Extra lines: context, the IR with the offending node marked, hints.
    """

    def __init__(
        self, message: str, loc: Location | None = None, notes: list[str] | tuple[str, ...] = ()
    ) -> None:
        super().__init__(message)
        self.message = message
        self.loc = loc
        self.notes = list(notes)

    def __str__(self) -> str:
        head = self.message
        if self.loc is not None and not self.loc.is_unknown():
            head = f"{head} at {self.loc.describe()}"
        return "\n".join([head, *self.notes])


class ParseError(CompilerError):
    """Textual IR that cannot be parsed."""


class VerifyError(CompilerError):
    """An IR graph that breaks an invariant."""


class PassError(CompilerError):
    """A pass or pipeline that failed or was misconfigured."""


class UnsupportedOpError(CompilerError):
    """One or more ops that irforge (or a backend) does not support.

    Args:
        message: Summary line.
        ops: `(op_type, node_name, location)` for every unsupported node, not just the first.
    """

    def __init__(
        self,
        message: str,
        loc: Location | None = None,
        notes: list[str] | tuple[str, ...] = (),
        ops: list[tuple[str, str, Location | None]] | None = None,
    ) -> None:
        super().__init__(message, loc, notes)
        self.ops = list(ops or [])


class FrontendError(CompilerError):
    """A model file that cannot be imported (corrupt, malformed, inconsistent)."""


class BackendError(CompilerError):
    """A backend that cannot run or emit a graph."""
