"""The fuzzing oracle: one case (a seed, a mutation kind, a case seed) runs through the compiler and
ends in an outcome: `ok`, `CompilerError:<class>`, or a bug: `BUG:<exception type>` (anything
else escaped), `BUG:no-location` (a node error without a location) or `timeout`.

ONNX cases: `compiler.load` -> `verify` -> (graphs up to `OPTIMIZE_MAX_NODES`) `optimize(default,
verify_each=True)` -> `to_onnx` -> print/parse/verify of the result. Text cases: `parse_graph` ->
`verify` -> (small graphs) `optimize` -> print/parse.
"""

from __future__ import annotations

import signal
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import onnx

import compiler
from compiler.errors import CompilerError, FrontendError
from compiler.graph import Graph
from compiler.verifier import verify
from tests.fuzz.corpus import seed_model, seed_text
from tests.fuzz.mutators import mutate
from tests.fuzz.text_mutators import mutate_text

OPTIMIZE_MAX_NODES = 2000
TEXT_ROUNDTRIP_MAX_NODES = 600
CASE_SECONDS = 10


class CaseTimeout(BaseException):  # noqa: N818  not an Exception: no `except Exception` swallows it
    """The case ran past its deadline."""


@dataclass(frozen=True)
class Case:
    seed_name: str
    kind: str
    seed: int

    @property
    def is_text(self) -> bool:
        return self.kind.startswith("t_")

    def __str__(self) -> str:
        return f"{self.seed_name}/{self.kind}/{self.seed}"


@dataclass
class Result:
    outcome: str
    detail: str = ""

    @property
    def is_bug(self) -> bool:
        return self.outcome.startswith("BUG") or self.outcome == "timeout"


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Raise CaseTimeout in the main thread after `seconds` (no-op outside the main thread)."""

    def fire(signum: int, frame: object) -> None:
        raise CaseTimeout(f"case ran past {seconds} s")

    try:
        old = signal.signal(signal.SIGALRM, fire)
    except ValueError:  # not the main thread
        yield
        return
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def run_case(case: Case, seconds: float = CASE_SECONDS) -> Result:
    """Build and run one case; never raises (but CaseTimeout becomes a `timeout` result)."""
    try:
        with deadline(seconds):
            run = _prepare(case)  # a mutator error is a harness bug: it propagates
            return _guarded(run)
    except CaseTimeout:
        return Result("timeout", traceback.format_exc(limit=-8))


def _prepare(case: Case) -> Callable[[], None]:
    """The mutated input, and the function that runs the compiler on it."""
    if case.is_text:
        text, resources = seed_text(case.seed_name)
        mutated = mutate_text(text, case.kind, case.seed)
        return lambda: _run_text(mutated, resources)
    model = seed_model(case.seed_name)
    assert model is not None, case.seed_name
    data = mutate(model, case.kind, case.seed)
    return lambda: _run_onnx(data)


def _run_text(text: str, resources: dict[str, np.ndarray]) -> None:
    graph = compiler.text.parse_graph(text, resources=resources)
    verify(graph)
    _after(graph, export=False)


def _run_onnx(data: onnx.ModelProto | bytes) -> None:
    graph = compiler.load(data)
    verify(graph)
    _after(graph, export=True)


def _after(graph: Graph, export: bool) -> None:
    from compiler.text import parse_graph, print_graph_with_resources

    if len(graph) > OPTIMIZE_MAX_NODES:
        return
    compiler.optimize(graph, "default", verify_each=True)
    if export and sum(n.attrs["value"].nbytes for n in graph.nodes if n.op == "const") < 2**25:
        from backends.onnx import to_onnx

        to_onnx(graph)
    if len(graph) <= TEXT_ROUNDTRIP_MAX_NODES:
        text, resources = print_graph_with_resources(graph)
        verify(parse_graph(text, resources=resources))


def _guarded(fn: Callable[[], None]) -> Result:
    try:
        fn()
    except CompilerError as exc:
        if isinstance(exc, FrontendError) and "node '" in exc.message and exc.loc is None:
            return Result("BUG:no-location", f"{type(exc).__name__}: {exc.message}")
        return Result(f"CompilerError:{type(exc).__name__}")
    except CaseTimeout:
        raise
    except BaseException as exc:  # noqa: BLE001  everything else is a bug (KeyboardInterrupt aside)
        if isinstance(exc, KeyboardInterrupt):
            raise
        return Result(f"BUG:{type(exc).__name__}", traceback.format_exc(limit=-12))
    return Result("ok")


# `compiler.text` is a subpackage: import it so `compiler.text.parse_graph` resolves.
import compiler.text  # noqa: E402,F401
