"""`benchmarks/report.py`: RESULTS.md is exactly what the committed JSON records give, every
benchmark has a record with its provenance, and a missing or corrupt record is one clear error."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import benchinfo  # noqa: E402
import report  # noqa: E402
from report_sections import SECTIONS  # noqa: E402


def _records() -> dict[str, dict[str, Any]]:
    return {s.name: report.load_record(s.name) for s in SECTIONS}


def test_results_md_is_what_the_records_give() -> None:
    expected = report.render()
    assert (BENCHMARKS / "RESULTS.md").read_text(encoding="utf-8") == expected, (
        "benchmarks/RESULTS.md is stale: run `python benchmarks/report.py`"
    )
    assert report.main(["--check"]) == 0


def test_every_benchmark_script_has_a_record_with_provenance() -> None:
    scripts = {s.script for s in SECTIONS}
    for script in scripts:
        assert (BENCHMARKS / script).exists(), script
    for name, record in _records().items():
        assert record["benchmark"] == name
        assert record["command"].startswith("python benchmarks/"), name
        assert record["machine"]["line"] and record["versions"], name
        assert record["cases"] or record["summary"], name
        if not record.get("transcribed"):  # a run of this project's scripts: its load is known
            assert len(record["load_avg"]["start"]) == 3, name


def _stats(obj: Any) -> list[dict[str, float]]:
    if isinstance(obj, dict):
        if {"median", "min", "max"} <= obj.keys():
            return [obj]
        return [s for v in obj.values() for s in _stats(v)]
    if isinstance(obj, list):
        return [s for v in obj for s in _stats(v)]
    return []


def test_recorded_spreads_hold_their_medians() -> None:
    spreads = [s for record in _records().values() for s in _stats(record)]
    assert len(spreads) > 20
    for s in spreads:
        assert s["min"] <= s["median"] <= s["max"], s


def test_every_section_renders_its_figures() -> None:
    text = report.render()
    records = _records()
    for section in SECTIONS:
        assert f"## {section.title}" in text
        assert f"`{records[section.name]['command']}`" in text
    load = records["load"]["cases"][0]
    assert f"**{load['ratio']:.2f}**" in text
    assert "–" not in report.headline("{ratio_min:.2f}", records["load"])


@pytest.fixture
def results(tmp_path: Path) -> Path:
    folder = tmp_path / "results"
    folder.mkdir()
    for path in (BENCHMARKS / "results").glob("*.json"):
        shutil.copy(path, folder / path.name)
    return folder


def test_a_missing_record_is_one_clear_error(results: Path, capsys: Any) -> None:
    (results / "memory.json").unlink()
    message = r"memory\.json: missing; run `make bench` \(or `python benchmarks/memory\.py`"
    with pytest.raises(report.ReportError, match=message):
        report.render(results)
    assert report.main(["--results", str(results), "--output", str(results / "R.md")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "memory.json: missing" in err[0]
    assert not (results / "R.md").exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [("{\"cases\": [", "not a readable JSON record"),
     ("[1, 2]", "not a benchmark record \\(a JSON list"),
     ("{\"command\": \"x\", \"machine\": 3}", "not a benchmark record \\(no started_utc, machine")],
)  # fmt: skip
def test_a_corrupt_record_is_one_clear_error(results: Path, content: str, message: str) -> None:
    (results / "fuzz.json").write_text(content)
    with pytest.raises(report.ReportError, match=rf"fuzz\.json: {message}"):
        report.render(results)


def test_record_writes_the_run_atomically(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setattr(benchinfo, "RESULTS_DIR", tmp_path)
    run = benchinfo.Record("demo")
    path = run.write([{"case": "a", "ms": benchinfo.stats([0.003, 0.001, 0.002], 1e3)}],
                     {"x": 1}, {"repeat": 3})  # fmt: skip
    record = json.loads(path.read_text())
    assert record["cases"][0]["ms"] == {"median": 2.0, "min": 1.0, "max": 3.0, "n": 3}
    assert record["settings"] == {"repeat": 3} and record["summary"] == {"x": 1}
    assert record["machine"]["cores"] and "numpy" in record["versions"]
    assert [p.name for p in tmp_path.iterdir()] == ["demo.json"]  # no temporary left behind
