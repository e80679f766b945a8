"""`irforge demo` (the README's main job) passes on the bundled model, on one screen."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import onnx
import pytest
from onnx import TensorProto, helper

from compiler import demo_steps
from compiler.cli import main
from compiler.demo import run_demo

ROOT = Path(__file__).resolve().parents[2]
HAVE_TRT = any(importlib.util.find_spec(m) for m in ("tensorrt", "tensorrt_rtx"))
STEPS = ("import + verify", "textual IR round trip", "`default` pipeline",
         "reference vs ONNX Runtime", "ONNX export -> ONNX Runtime", "int8 quantization",
         "int8 ONNX -> ONNX Runtime", "build fp32", "build int8")  # fmt: skip


def test_demo_passes_on_one_screen(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_demo() == 0
    out = capsys.readouterr().out
    lines = out.rstrip().splitlines()
    assert len(lines) <= 40 and max(map(len, lines)) <= 100, out
    for k, step in enumerate(STEPS, 1):
        row = next(line for line in lines if line.startswith(f"{k:>2} "))
        assert step in row and (" ok " in row or (" skip " in row and not HAVE_TRT)), row
    assert "46 -> 12 ONNX nodes" in out and "38 -> 7 ops" in out
    for row in ("float, ONNX Runtime (original model)", "int8, reference backend",
                "int8, ONNX Runtime"):  # fmt: skip
        assert row in out
    assert "top-1 on 48 held-out digits" in out
    assert lines[-1].startswith("PASS (9 steps")


def test_demo_json_report_has_accuracy_before_and_after_int8(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["demo", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["pass"] and not report["failed"] and len(report["steps"]) == 9
    assert report["calibration_inputs"] == 16 and report["scored_inputs"] == 48
    top1 = {row["run"]: row["top1"] for row in report["accuracy"]}
    float_top1 = top1["float, ONNX Runtime (original model)"]
    assert float_top1 >= 0.9  # the bundled CNN scores 95.7 % on 1000 held-out digits
    for run in ("optimized, reference backend", "optimized, ONNX Runtime"):
        assert top1[run] == float_top1  # the optimizer does not change a prediction
    assert abs(top1["int8, reference backend"] - float_top1) <= 2 / 48  # two digits at most
    assert top1["int8, ONNX Runtime"] == top1["int8, reference backend"]
    passes = report["steps"][2]["passes"]
    assert {"fuse-conv-bn-relu", "prune-dead-nodes"} <= {p["pass"] for p in passes if p["changed"]}
    assert sum(p["nodes_delta"] for p in passes) == -53
    if HAVE_TRT:
        fp32, int8 = report["steps"][7], report["steps"][8]
        assert fp32["boundaries_ok"] == fp32["boundaries"] > 0
        assert int8["boundaries_ok"] == int8["boundaries"] > fp32["boundaries"]
        assert top1["int8, TensorRT network (interpreted)"] == top1["int8, reference backend"]


def test_demo_saves_artifacts_and_refuses_a_non_empty_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "demo"
    assert main(["demo", "--save", str(out)]) == 0
    names = {p.name for p in out.iterdir()}
    assert {"optimized.onnx", "int8.onnx"} <= names
    if HAVE_TRT:
        assert {"fp32.plan", "int8.plan", "fp32.layers.json", "int8.layers.json"} <= names
    onnx.checker.check_model(onnx.load(out / "int8.onnx"))
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    capsys.readouterr()
    assert main(["demo", "--save", str(out)]) == 2
    assert "not empty" in capsys.readouterr().err
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == before  # nothing touched


def test_demo_bad_models_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--model", str(tmp_path / "missing.onnx")]) == 2
    assert "model not found" in capsys.readouterr().err
    two = helper.make_model(helper.make_graph(
        [helper.make_node("Add", ["a", "b"], ["c"])], "two",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, [2]) for n in "ab"],
        [helper.make_tensor_value_info("c", TensorProto.FLOAT, [2])],
    ))  # fmt: skip
    onnx.save(two, tmp_path / "two.onnx")
    assert main(["demo", "--model", str(tmp_path / "two.onnx")]) == 2
    assert "one float input (this one has 2)" in capsys.readouterr().err


def test_demo_without_tensorrt_skips_the_builds_and_says_why(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(demo_steps, "have_tensorrt", lambda: None)  # as on a machine without it
    assert run_demo() == 0
    out = capsys.readouterr().out
    assert out.count(" skip ") == 2 and "pip install 'irforge[tensorrt]'" in out
    assert "2 skipped" in out.splitlines()[-1]


def _masked(text: str) -> str:
    """The transcript without its timings (they vary from run to run)."""
    text = re.sub(r"\b\d+\.\d+s\b", "T", text)
    text = re.sub(r"(steps, )\d+\.\d+ s;", r"\1T s;", text)
    return re.sub(r"(\S)\s+(\d+\.\d+)(\s+[+-]\d+)$", r"\1 T\3", text, flags=re.M)


@pytest.mark.skipif(not HAVE_TRT, reason="the README transcript includes the TensorRT-RTX builds")
def test_readme_transcript_is_what_the_demo_prints(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    readme = (ROOT / "README.md").read_text()
    shown = re.search(r"## Quick start.*?```text\n(.*?)```", readme, re.S)
    assert shown is not None
    monkeypatch.chdir(ROOT)
    assert run_demo() == 0
    assert _masked(capsys.readouterr().out.rstrip()) == _masked(shown.group(1).rstrip())
