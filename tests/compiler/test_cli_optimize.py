"""`irforge optimize`: pipeline metadata, hooks on the command line, reports, exit status 2."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest

from compiler.cli import main

ROOT = Path(__file__).resolve().parents[2]
MNIST = ROOT / "examples" / "models" / "mnist_cnn_raw.onnx"
DEAD = """\
graph @main(%x: f32[2]) -> (f32[2]) {
  %k = const() {value = dense<f32[2]: [1.0, 1.0]>} : f32[2]
  %y = add(%x, %k) : f32[2]
  %z = sigmoid(%y) : f32[2]
  return %y
}
"""


def test_optimize_writes_the_model_with_its_pipeline(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    from backends.onnx import run_onnxruntime

    out, report = tmp_path / "opt.onnx", tmp_path / "report.json"
    pipeline = "repeat(prune-dead-nodes; max-iterations=2)"
    argv = ["optimize", str(MNIST), "-o", str(out), "--pipeline", pipeline,
            "--check-numerics", "--report", str(report)]  # fmt: skip
    assert main(argv) == 0
    spec = "repeat(prune-dead-nodes; max-iterations=2,strict=false)"
    props = {p.key: p.value for p in onnx.load(out).metadata_props}
    assert props["irforge.pipeline"] == spec
    data = json.loads(report.read_text())
    assert data["pipeline"] == spec and data["output"] == str(out)
    assert data["records"][0]["name"] == "prune-dead-nodes"
    assert f"wrote {out}" in capsys.readouterr().out
    x = np.random.default_rng(0).standard_normal((2, 1, 28, 28)).astype(np.float32)
    ref, got = run_onnxruntime(MNIST, {"x": x}), run_onnxruntime(out, {"x": x})
    assert all(np.array_equal(ref[k], got[k]) for k in ref)


def test_optimize_text_ir_prints_and_times(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    src, out = tmp_path / "in.ir", tmp_path / "out.ir"
    src.write_text(DEAD)
    argv = ["optimize", str(src), "-o", str(out), "--pipeline", "prune-dead-nodes",
            "--print-ir-after", "prune-dead-nodes", "--time-passes"]  # fmt: skip
    assert main(argv) == 0
    stdout = capsys.readouterr().out
    assert "# ----- IR after prune-dead-nodes (changed) -----" in stdout
    assert "sigmoid" not in out.read_text()
    assert stdout.count("3 -> 2") == 1  # the counts once, in ops and in IR nodes
    assert ": 2 -> 1 op (3 -> 2 IR nodes with constants); wrote " in stdout
    table = stdout[stdout.index("pass (pipeline order) ") :].splitlines()
    assert table[0].startswith("pass (pipeline order) ")
    assert table[1].startswith("prune-dead-nodes ")
    assert table[2].startswith("total (time inside passes) ") and table[2].endswith("-1")
    assert "time: pipeline " in table[-1] and "s, whole command " in table[-1]
    assert main([*argv, "--force", "--print-ir-after-all"]) == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--pipeline", "prune-dead-nodes,fold-everything"],
         "irforge: pipeline:1:18: error: unknown pass 'fold-everything'\n"
         "prune-dead-nodes,fold-everything\n                 ^\n"),
        (["--print-ir-after", "nope"],
         "irforge: error: print-ir-after: unknown pass nope (valid: "),
    ],
)  # fmt: skip
def test_bad_arguments_exit_2_before_writing(tmp_path: Path, capsys, args, message) -> None:  # type: ignore[no-untyped-def]
    src, out = tmp_path / "in.ir", tmp_path / "out.ir"
    src.write_text(DEAD)
    assert main(["optimize", str(src), "-o", str(out), *args]) == 2
    assert capsys.readouterr().err.startswith(message)
    assert not out.exists()


def test_refuses_to_overwrite_without_force(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    src, out = tmp_path / "in.ir", tmp_path / "out.ir"
    src.write_text(DEAD)
    out.write_text("keep")
    assert main(["optimize", str(src), "-o", str(out)]) == 2
    assert "--force" in capsys.readouterr().err and out.read_text() == "keep"


def test_given_inputs_for_check_numerics(tmp_path: Path) -> None:
    src, out, inputs = tmp_path / "in.ir", tmp_path / "out.ir", tmp_path / "x.npz"
    src.write_text(DEAD)
    np.savez(inputs, x=np.ones(2, np.float32))
    assert main(["optimize", str(src), "-o", str(out), "--check-numerics", "--inputs",
                 str(inputs)]) == 0  # fmt: skip
    np.savez(inputs, y=np.ones(2, np.float32))
    assert main(["optimize", str(src), "-o", str(out), "--force", "--check-numerics",
                 "--inputs", str(inputs)]) == 2  # fmt: skip
