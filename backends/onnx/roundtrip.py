"""Round-trip checks: ONNX -> IR -> ONNX must compute bitwise the same in ONNX Runtime.

Used by the tests and by `benchmarks/node_roundtrip.py`. ORT runs with graph optimizations
disabled and one thread, so both models execute the same kernels in the same order. Where ORT
cannot run the original (old opsets, exotic types), the exported model is checked against stored
expected outputs with `onnx.reference.ReferenceEvaluator` and the case's tolerances.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import onnx

from compiler.errors import CompilerError, UnsupportedOpError
from compiler.frontend.onnx_coverage import coverage_gaps

log = logging.getLogger(__name__)


@dataclass
class CaseResult:
    """Outcome of one round trip: `status` is pass, fail or uncovered."""

    name: str
    status: str
    op_types: tuple[str, ...]
    detail: str = ""
    oracle: str = ""


@dataclass
class SweepReport:
    """Counts over many cases and the failures grouped by op type."""

    results: list[CaseResult] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.results)

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.results)

    @property
    def covered(self) -> int:
        return self.total - self.count("uncovered")

    def failures_by_op(self) -> dict[str, list[CaseResult]]:
        """Failures keyed by the failing node's op type (from the error), else the case's ops."""
        out: dict[str, list[CaseResult]] = {}
        for r in self.results:
            if r.status == "fail":
                match = re.search(r"node '[^']*' \((\w+)\)", r.detail)
                op = match.group(1) if match else "/".join(r.op_types)
                out.setdefault(op, []).append(r)
        return dict(sorted(out.items()))

    def summary(self) -> str:
        oracles = Counter(r.oracle for r in self.results if r.status == "pass")
        return (f"node round trip: covered {self.covered}/{self.total}, pass {self.count('pass')}, "
                f"fail {self.count('fail')} (oracles: {dict(oracles)})")  # fmt: skip


def roundtrip(model: onnx.ModelProto, opset: int | None = None) -> onnx.ModelProto:
    """Import, verify, export and check a model; returns the exported ModelProto."""
    from backends.onnx.export import to_onnx
    from backends.onnx.opset import default_opset
    from compiler.frontend.onnx_import import load
    from compiler.verifier import verify

    graph = load(model)
    verify(graph)
    if opset is None:  # same opset as the original where possible: ORT picks kernels by version
        opset = max(default_opset(graph), original_opset(model))
    exported = to_onnx(graph, opset=opset)
    onnx.checker.check_model(exported, full_check=True)
    return exported


def original_opset(model: onnx.ModelProto) -> int:
    return next((int(i.version) for i in model.opset_import if i.domain in ("", "ai.onnx")), 1)


def feeds_for(model: onnx.ModelProto, arrays: Sequence[Any]) -> dict[str, Any]:
    inits = {t.name for t in model.graph.initializer}
    names = [vi.name for vi in model.graph.input if vi.name not in inits]
    return dict(zip(names, arrays, strict=False))


def compare_bitwise(expected: Sequence[np.ndarray], got: Sequence[np.ndarray]) -> str:
    """An empty string when every output has the same dtype, shape and bits, else the problem."""
    if len(expected) != len(got):
        return f"{len(got)} outputs instead of {len(expected)}"
    for i, (a, b) in enumerate(zip(expected, got, strict=False)):
        a, b = np.asarray(a), np.asarray(b)
        if a.dtype != b.dtype or a.shape != b.shape:
            return f"output {i}: {b.dtype}{list(b.shape)} instead of {a.dtype}{list(a.shape)}"
        nan = a.dtype.kind in "fc"
        if not np.array_equal(a, b, equal_nan=nan):
            diff = np.max(np.abs(a.astype(np.float64) - b.astype(np.float64))) if nan else "-"
            return f"output {i} differs (max abs diff {diff})"
    return ""


def _arrays(values: Sequence[Any]) -> list[np.ndarray] | None:
    """The case's data as arrays (numpy scalars and TensorProtos included); None for sequences,
    maps or optionals, which the IR does not hold."""
    out = []
    for x in values:
        if isinstance(x, onnx.TensorProto):
            x = onnx.numpy_helper.to_array(x)
        elif isinstance(x, np.generic):
            x = np.asarray(x)
        if not isinstance(x, np.ndarray):
            return None
        out.append(x)
    return out


def _run_ort(model: onnx.ModelProto, feeds: dict[str, Any]) -> list[np.ndarray]:
    from backends.onnx.runtime import session

    sess = session(model, threads=1, optimization="disable")
    return sess.run(None, feeds)


def check_case(case: Any) -> CaseResult:
    """Round-trip one `onnx.backend.test` node case and compare outputs."""
    model = case.model
    ops = tuple(sorted({n.op_type for n in model.graph.node}))
    gaps = coverage_gaps(model)
    if gaps or not case.data_sets:
        return CaseResult(case.name, "uncovered", ops, "; ".join(gaps))
    inputs, expected = (_arrays(x) for x in case.data_sets[0])
    if inputs is None or expected is None:
        return CaseResult(case.name, "uncovered", ops, "non-tensor data")
    try:
        exported = roundtrip(model)
    except UnsupportedOpError as exc:  # a covered op type in an unsupported form (training BN)
        return CaseResult(case.name, "uncovered", ops, str(exc).split("\n")[0])
    except (
        CompilerError,
        onnx.checker.ValidationError,
        onnx.shape_inference.InferenceError,
    ) as exc:
        return CaseResult(case.name, "fail", ops, f"{type(exc).__name__}: {exc}".split("\n")[0])
    feeds = feeds_for(model, inputs)
    try:
        reference = _run_ort(model, feeds)
    except Exception:  # noqa: BLE001  ORT lacks this op/version/type: use the stored outputs
        return _check_reference(case, exported, feeds, expected, ops)
    try:
        got = _run_ort(exported, feeds_for(exported, inputs))
    except Exception as exc:  # noqa: BLE001
        return CaseResult(case.name, "fail", ops, f"ORT rejects the export: {exc}"[:300], "ort")
    problem = compare_bitwise(reference, got)
    return CaseResult(case.name, "fail" if problem else "pass", ops, problem, "ort")


def _check_reference(
    case: Any,
    exported: onnx.ModelProto,
    feeds: dict[str, Any],
    expected: Sequence[np.ndarray],
    ops: tuple[str, ...],
) -> CaseResult:
    from onnx.reference import ReferenceEvaluator

    try:
        got = ReferenceEvaluator(exported).run(None, feeds)
        for a, b in zip(expected, got, strict=False):
            np.testing.assert_allclose(b, a, rtol=case.rtol, atol=case.atol)
    except Exception as exc:  # noqa: BLE001
        return CaseResult(case.name, "fail", ops, f"reference: {exc}".split("\n")[0][:300],
                          "reference")  # fmt: skip
    return CaseResult(case.name, "pass", ops, "", "reference")


def node_cases() -> list[Any]:
    """All `onnx.backend.test` node cases (generated in memory, about 5 s)."""
    from onnx.backend.test.loader import load_node_model_tests

    return list(load_node_model_tests())


def sweep(cases: Iterable[Any] | None = None) -> SweepReport:
    """Round-trip every node case; returns the report."""
    report = SweepReport()
    for case in cases if cases is not None else node_cases():
        result = check_case(case)
        if result.status == "fail":
            log.debug("%s: %s", result.name, result.detail)
        report.results.append(result)
    return report
