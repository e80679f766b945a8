"""The fuzzing oracle: one case (a seed, a mutation kind, a case seed) runs through the compiler and
ends in an outcome: `ok`, `CompilerError:<class>`, or a bug: `BUG:<exception type>` (anything
else escaped), `BUG:no-location` (a node error without a location) or `timeout`.

ONNX cases: `compiler.load` -> `verify` -> (graphs up to `OPTIMIZE_MAX_NODES`) `optimize(default,
verify_each=True)` -> `to_onnx` -> print/parse/verify of the result. Text cases: `parse_graph` ->
`verify` -> (small graphs) `optimize` -> print/parse. Then (graphs up to `REFERENCE_MAX_NODES` with
small inputs) the optimized graph runs on the NumPy reference backend twice, as a differential
test of its execution machinery: a plain run (in-place kernels on donated buffers) and a run
capturing every value (so nothing is overwritten) must give the same bits, else
`BUG:reference-mismatch`. The same small graphs then go through the deployment passes on copies
(`quantize-symmetric`, `convert-fp16`, verify-each on) and the TensorRT capability check.
"""

from __future__ import annotations

import math
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
REFERENCE_MAX_NODES = 400
REFERENCE_MAX_ELEMENTS = 1 << 18  # inputs of at most this many elements in all
REFERENCE_MAX_WEIGHTS = 16 << 20  # and constants of at most this many bytes (run time bound)
REFERENCE_BUDGET = 1 << 28  # bytes one node's outputs may take in those runs
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
    weights = sum(n.attrs["value"].nbytes for n in graph.nodes if n.op == "const")
    if len(graph) <= REFERENCE_MAX_NODES and weights <= REFERENCE_MAX_WEIGHTS:
        _reference_runs(graph)
        _deployment(graph)


def _deployment(graph: Graph) -> None:
    """The int8 / fp16 preparation on copies, and the TensorRT converters' capability check."""
    from backends.tensorrt import capability_report

    for pipeline in ("quantize-symmetric", "convert-fp16,cse,prune-dead-nodes"):
        compiler.optimize(graph.clone(), pipeline, verify_each=True)
    capability_report(graph)


class ReferenceMismatch(AssertionError):
    """The plain and the capturing reference runs disagree (a bug in the interpreter)."""


def _reference_runs(graph: Graph) -> None:
    from backends.numpy import compile as compile_graph

    inputs = _random_inputs(graph)
    if inputs is None:
        return
    program = compile_graph(graph, memory_budget=REFERENCE_BUDGET)
    plain = program(inputs).values
    observed = program(inputs, capture=True).values
    for i, (a, b) in enumerate(zip(plain, observed, strict=True)):
        a, b = np.asarray(a), np.asarray(b)
        same = (
            a.shape == b.shape
            and a.dtype == b.dtype
            and (np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"))
        )
        if not same:
            raise ReferenceMismatch(f"output {i}: the plain and the capturing runs differ")


def _random_inputs(graph: Graph) -> list[np.ndarray] | None:
    """Seeded inputs in graph-input order for the declared types (symbols bound to 2, unknown
    dims to 1); None when a type has no numpy form or the inputs would be large."""
    from backends.numpy.checks import numpy_dtype

    rng = np.random.default_rng(0)
    symbols: dict[str, int] = {}
    inputs: list[np.ndarray] = []
    total = 0
    for value in graph.inputs:
        if value.type.shape is None:
            return None
        shape = tuple(d if isinstance(d, int) else symbols.setdefault(d, 2) if d else 1
                      for d in value.type.shape)  # fmt: skip
        total += math.prod(shape)  # Python ints: a fuzzed dim may be near 2**63
        if total > REFERENCE_MAX_ELEMENTS:
            return None
        try:
            dtype = numpy_dtype(value.type.dtype)
        except (CompilerError, KeyError, TypeError, ValueError):
            return None
        if dtype.kind == "f":
            array = rng.standard_normal(shape).astype(dtype)
        elif dtype.kind in "iu":
            array = rng.integers(0, 3, shape).astype(dtype)
        elif dtype.kind == "b":
            array = rng.integers(0, 2, shape).astype(bool)
        else:
            return None
        inputs.append(array)
    return inputs


def _guarded(fn: Callable[[], None]) -> Result:
    try:
        fn()
    except CompilerError as exc:
        if isinstance(exc, FrontendError) and "node '" in exc.message and exc.loc is None:
            return Result("BUG:no-location", f"{type(exc).__name__}: {exc.message}")
        return Result(f"CompilerError:{type(exc).__name__}")
    except CaseTimeout:
        raise
    except ReferenceMismatch as exc:
        return Result("BUG:reference-mismatch", str(exc))
    except BaseException as exc:  # noqa: BLE001  everything else is a bug (KeyboardInterrupt aside)
        if isinstance(exc, KeyboardInterrupt):
            raise
        return Result(f"BUG:{type(exc).__name__}", traceback.format_exc(limit=-12))
    return Result("ok")


# `compiler.text` is a subpackage: import it so `compiler.text.parse_graph` resolves.
import compiler.text  # noqa: E402,F401
