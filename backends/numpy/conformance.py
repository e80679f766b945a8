"""The NumPy interpreter as an `onnx.backend.base.Backend`, for the ONNX backend node tests.

`prepare(model)` imports the model with the irforge frontend and compiles it for the interpreter.
A model is *not covered* when it uses an op the registry does not support (checked up front, and
whatever the frontend rejects with UnsupportedOpError) or a value the IR cannot hold (sequences,
optionals, element types without a `DType` such as int2 or float4): `prepare` raises
`unittest.SkipTest` with the reason, so the runner reports it as skipped.
`check_case` runs one `onnx.backend.test` case outside unittest (for `benchmarks/conformance.py`).
"""

from __future__ import annotations

import unittest
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
import onnx.backend.base as base

from backends.numpy.interpreter import Program
from compiler.errors import UnsupportedOpError
from compiler.frontend.onnx_coverage import coverage_gaps


class NumpyRep(base.BackendRep):
    """A prepared model: runs the interpreter on inputs given in graph-input order or by name."""

    def __init__(self, program: Program, input_names: Sequence[str]) -> None:
        self.program = program
        self.input_names = list(input_names)

    def run(self, inputs: Any, **kwargs: Any) -> tuple[np.ndarray, ...]:
        if isinstance(inputs, np.ndarray):
            inputs = [inputs]
        if not isinstance(inputs, Mapping):
            inputs = dict(zip(self.input_names, inputs, strict=False))
        return tuple(self.program(inputs).values)


class NumpyBackend(base.Backend):
    """`onnx.backend` entry point of the NumPy reference interpreter (CPU only)."""

    @classmethod
    def prepare(cls, model: onnx.ModelProto, device: str = "CPU", **kwargs: Any) -> NumpyRep:
        from compiler.frontend.onnx_import import load

        gaps = coverage_gaps(model)
        if gaps:
            raise unittest.SkipTest(f"not covered: {'; '.join(gaps)}")
        try:
            graph = load(model)
        except UnsupportedOpError as exc:
            raise unittest.SkipTest(f"not covered: {str(exc).splitlines()[0]}") from exc
        inits = {t.name for t in model.graph.initializer}
        names = [vi.name for vi in model.graph.input if vi.name not in inits]
        return NumpyRep(Program(graph), names)

    @classmethod
    def supports_device(cls, device: str) -> bool:
        return device == "CPU"


@dataclass(frozen=True)
class CaseOutcome:
    """One node case: `status` is pass, fail or uncovered; `reason` says why for the latter two."""

    name: str
    status: str
    reason: str = ""


def check_case(case: Any) -> CaseOutcome:
    """Prepare, run and compare one `onnx.backend.test.loader` TestCase like the runner does."""
    from onnx.backend.test.runner import Runner, _normalize_tensor

    try:
        rep = NumpyBackend.prepare(case.model)
        for inputs, expected in case.data_sets:
            got = rep.run([_normalize_tensor(x) for x in inputs])
            Runner.assert_similar_outputs(
                [_normalize_tensor(x) for x in expected], got, rtol=case.rtol, atol=case.atol
            )
    except unittest.SkipTest as exc:
        return CaseOutcome(case.name, "uncovered", str(exc))
    except Exception as exc:  # noqa: BLE001  every failure is reported with its reason
        first = next((line for line in str(exc).splitlines() if line.strip()), "")
        return CaseOutcome(case.name, "fail", f"{type(exc).__name__}: {first}"[:300])
    return CaseOutcome(case.name, "pass")
