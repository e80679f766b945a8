"""`irforge build`: capability check, build with layer map, profiles, and clear errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from _trtcheck import requires_trt

from compiler.cli import main

pytestmark = requires_trt

UNSUPPORTED_IR = """graph @main(%x: f32[2,3]) -> (i64[2,unk], f32[2,3], f32[2,3]) {
  %nz = nonzero(%x) : i64[2,unk]
  %r = relu(%x) : f32[2,3]
  %ax = const() {value = dense<i64[]: [1]>} : i64[]
  %h = cumprod(%r, %ax) {exclusive = 0, reverse = 0} : f32[2,3]
  %s = eye_like(%r) {k = 0} : f32[2,3]
  return %nz, %h, %s
}
"""


def test_check_reports_every_unsupported_node(tmp_path: Path, capsys: Any) -> None:
    model = tmp_path / "m.ir"
    model.write_text(UNSUPPORTED_IR)
    assert main(["build", str(model), "--check", "--pipeline", "O0"]) == 2
    out, err = capsys.readouterr()
    assert "1/4 nodes (25.0%)" in out
    for op in ("nonzero", "cumprod", "eye_like"):
        assert f"= {op}" in out
    assert "cannot be converted" in err and err.count("\n") == 1


def test_check_passes_on_a_material_model(material: Any, capsys: Any) -> None:
    assert main(["build", str(material("mnist_cnn")), "--check"]) == 0
    assert "(100.0%)" in capsys.readouterr().out


def test_build_writes_plan_and_layer_map(material: Any, tmp_path: Path, capsys: Any) -> None:
    plan, layers = tmp_path / "m.plan", tmp_path / "m.json"
    args = ["build", str(material("mnist_cnn")), "-o", str(plan), "--layer-map", str(layers),
            "--shapes", "x:1x1x28x28,4x1x28x28,8x1x28x28", "--opt-level", "1",
            "--timing-cache", str(tmp_path / "cache.bin")]  # fmt: skip
    assert main(args) == 0
    assert plan.stat().st_size > 1000 and (tmp_path / "cache.bin").exists()
    assert "profile x: min 1x1x28x28 opt 4x1x28x28 max 8x1x28x28" in capsys.readouterr().out
    data = json.loads(layers.read_text())
    convs = [k for k, v in data["nodes"].items() if v["op"] == "conv"]
    assert len(convs) == 5 and all("mnist_cnn.onnx" in data["nodes"][k]["loc"] for k in convs)
    traced = [e for e in data["engine"] if e["nodes"]]
    assert traced and {n for e in traced for n in e["nodes"]} >= set(convs)
    assert main(args) == 2  # exists: needs --force
    assert "--force" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("shapes", "message"),
    [
        ("x:1x1x28,2x1x28x28,4x1x28x28", "has rank 3"),
        ("y:1x1x28x28", "which the model lacks"),
        ("x:4x1x28x28,2x1x28x28,8x1x28x28", "min <= opt <= max"),
        ("x:1x2x28x28", "the model fixes it to 1"),
        ("x:1x1x28x28,2", "give one shape or three"),
        ("x1x1x28x28", "expected NAME:MIN,OPT,MAX"),
    ],
)
def test_bad_shapes_exit_2(shapes: str, message: str, material: Any, tmp_path: Path,
                           capsys: Any) -> None:  # fmt: skip
    args = ["build", str(material("mnist_cnn")), "-o", str(tmp_path / "m.plan"), "--shapes", shapes]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "m.plan").exists()


def test_python_api_returns_plan_bytes(material: Any) -> None:
    import compiler

    plan = compiler.build_tensorrt(material("mnist_cnn"), precision="fp16",
                                   shapes=["x:1x1x28x28,2x1x28x28,4x1x28x28"])  # fmt: skip
    assert isinstance(plan, bytes) and len(plan) > 1000
