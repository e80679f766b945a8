"""Golden tests for passes: every `tests/golden/<pass>/*.ir` file.

File format:

```
# RUN: <pipeline>
# any other comment lines
<input IR, in canonical printed form>
# EXPECTED:
<the exact printed IR after running the pipeline>
```

or `# EXPECTED-ERROR:` followed by the exact error text (`str(err)`) for diagnostics. Each case
also checks that the input is canonical (`print(parse(input)) == input`), that the verifier and
check-numerics (the reference backend on seeded inputs) pass after every pass, and that running
the pipeline again on the output changes nothing. Set `IRFORGE_UPDATE_GOLDEN=1` to rewrite the
expectations from the current results (then review the diff).

(Named `test_pass_golden.py`: pytest needs unique test-module basenames and tests/text has a
`test_golden.py`.)
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

import compiler
from compiler.errors import CompilerError
from compiler.text import parse_graph, print_graph

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
OUTPUT, ERROR = "# EXPECTED:", "# EXPECTED-ERROR:"
UPDATE = os.environ.get("IRFORGE_UPDATE_GOLDEN") == "1"


@dataclass
class Case:
    path: Path
    pipeline: str
    header: str
    input: str
    marker: str
    expected: str

    @classmethod
    def read(cls, path: Path) -> Case:
        lines = path.read_text().splitlines(keepends=True)
        header_end = next(i for i, line in enumerate(lines) if not line.startswith("#"))
        marker_at = next(i for i, line in enumerate(lines) if line.rstrip() in (OUTPUT, ERROR))
        runs = [line[len("# RUN:") :].strip() for line in lines[:header_end]
                if line.startswith("# RUN:")]  # fmt: skip
        assert len(runs) == 1, f"{path}: exactly one '# RUN: <pipeline>' header line"
        return cls(path, runs[0], "".join(lines[:header_end]), "".join(lines[header_end:marker_at]),
                   lines[marker_at].rstrip(), "".join(lines[marker_at + 1 :]))  # fmt: skip

    def write(self, marker: str, expected: str) -> None:
        self.path.write_text(f"{self.header}{self.input}{marker}\n{expected}")


def _cases() -> list[Path]:
    return sorted(GOLDEN.glob("*/*.ir"))


def _run(case: Case) -> tuple[str, str]:
    """(marker, result text) of running the case's pipeline on its input."""
    graph = parse_graph(case.input, filename=case.path.name)
    try:
        compiler.optimize(graph, case.pipeline, check_numerics=True)
    except CompilerError as exc:
        return ERROR, f"{exc}\n"
    return OUTPUT, print_graph(graph)


@pytest.mark.parametrize("path", _cases(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_golden(path: Path) -> None:
    case = Case.read(path)
    assert print_graph(parse_graph(case.input)) == case.input, "input is not in canonical form"
    marker, result = _run(case)
    if UPDATE and (marker, result) != (case.marker, case.expected):
        case.write(marker, result)
        case = Case.read(path)
    assert (marker, result) == (case.marker, case.expected)
    if marker == OUTPUT:
        again = parse_graph(result)
        compiler.optimize(again, case.pipeline)
        assert print_graph(again) == result, "a second run changed the result (not idempotent)"


def test_every_pass_with_golden_files_exists() -> None:
    from compiler.passmanager import pass_names

    assert _cases(), "no golden files found"
    for folder in {p.parent.name for p in _cases()}:
        assert folder in pass_names(), f"tests/golden/{folder}: no such pass"
