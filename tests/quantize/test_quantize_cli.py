"""`irforge quantize`: QDQ ONNX that ONNX Runtime runs and that matches the reference, image
folders, the sensitivity report and budget, refusals with exit status 2, the trt-int8 pipeline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest

from backends.numpy import run
from backends.onnx import run_onnxruntime
from compiler.cli import main
from compiler.driver import load_model
from compiler.quantize.metrics import sqnr_db


@pytest.fixture
def mnist(material: Any, tmp_path: Path) -> tuple[Path, Path, Any]:
    model = material("mnist_cnn")
    d = np.load(Path(model).parent / "mnist_test.npz")
    calib = tmp_path / "calib.npz"
    np.savez(calib, x=d["x_train"][:128])
    return model, calib, d


def test_quantize_writes_qdq_onnx_that_ort_runs(mnist: Any, tmp_path: Path, capsys: Any) -> None:
    model, calib, d = mnist
    out = tmp_path / "q.onnx"
    argv = ["quantize", str(model), "-o", str(out), "--calib", str(calib), "--no-progress"]
    assert main(argv) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    proto = onnx.load(out)
    ops = {n.op_type for n in proto.graph.node}
    assert {"QuantizeLinear", "DequantizeLinear", "Conv", "Gemm"} <= ops
    props = {p.key: p.value for p in proto.metadata_props}
    assert "quantize-symmetric{bits=8,per-channel=true" in props["irforge.pipeline"]
    x = d["x"][:200]
    theirs = run_onnxruntime(out, {"x": x})["logits"]
    ours = run(load_model(out), {"x": x}).values[0]  # the written model, re-imported
    assert sqnr_db([[ours]], [[theirs]]) > 60  # rare rounding flips only
    assert np.mean(theirs.argmax(1) == d["y"][:200]) > 0.9
    assert main(argv) == 2  # exists without --force
    assert "--force" in capsys.readouterr().err


def test_image_folder_calibration(mnist: Any, tmp_path: Path) -> None:
    pytest.importorskip("PIL", reason="image folders need Pillow")
    from PIL import Image

    model, _, d = mnist
    folder = tmp_path / "digits"
    folder.mkdir()
    for i, digit in enumerate(d["x_train"][:16]):
        pixels = np.clip((digit[0] * 0.3081 + 0.1307) * 255, 0, 255).round().astype(np.uint8)
        Image.fromarray(pixels).save(folder / f"{i:02d}.png")
    out = tmp_path / "q.onnx"
    argv = ["quantize", str(model), "-o", str(out), "--calib", str(folder), "--mean", "0.1307",
            "--std", "0.3081", "--layout", "ort", "--per-tensor", "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    logits = run_onnxruntime(out, {"x": d["x"][:200]}, optimization="all")["logits"]
    assert np.mean(logits.argmax(1) == d["y"][:200]) > 0.9


def test_report_and_max_drop(mnist: Any, tmp_path: Path, capsys: Any) -> None:
    pytest.importorskip("matplotlib", reason="the chart needs the viz extra")
    model, calib, d = mnist
    out, held_out = tmp_path / "q.onnx", tmp_path / "eval.npz"
    np.savez(held_out, x=d["x"][:48])
    argv = ["quantize", str(model), "-o", str(out), "--calib", str(calib), "--report",
            "--max-drop", "0", "--metric", "top1", "--eval", str(held_out),
            "--eval-samples", "32", "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "| rank | unit | SQNR (dB)" in text and "--max-drop 0.0 --metric top1" in text
    assert f"sensitivity scored on 32 sample(s) of {held_out} (--eval)" in text
    report = Path(f"{out}.sensitivity.md").read_text()
    assert report.count("\n| ") >= 7  # header + 6 layers
    assert Path(f"{out}.sensitivity.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    ("extra", "message"),
    [(["--calib", "missing.npz"], "no such calibration data"),
     (["--calib", "{model}"], "expected a .npz file or a folder"),
     (["--calib", "{calib}", "--batch-size", "0"], "must be at least 1"),
     (["--calib", "{calib}", "--mean", "a,b"], "--mean: expected numbers"),
     (["--calib", "{calib}", "--eval", "missing.npz"], "no such evaluation data"),
     (["--calib", "{zeros}"], "input x is 0 everywhere in all 16 sample(s)")],
)  # fmt: skip
def test_bad_input_exits_2(
    mnist: Any, tmp_path: Path, capsys: Any, extra: list[str], message: str
) -> None:
    model, calib, _ = mnist
    zeros = tmp_path / "zeros.npz"
    np.savez(zeros, y=np.zeros((16, 1, 28, 28), np.float32))  # the wrong array, saved by mistake
    extra = [e.format(model=model, calib=calib, zeros=zeros) for e in extra]
    argv = ["quantize", str(model), "-o", str(tmp_path / "q.onnx"), *extra]
    assert main(argv) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "q.onnx").exists()


def test_trt_int8_pipeline_quantizes_weights(mnist: Any, tmp_path: Path) -> None:
    model, _, _ = mnist
    out = tmp_path / "w.onnx"
    argv = ["optimize", str(model), "-o", str(out), "--pipeline", "trt-int8", "--check-numerics"]
    assert main(argv) == 0
    inits = {t.name: t.data_type for t in onnx.load(out).graph.initializer}
    assert sum(1 for t in inits.values() if t == onnx.TensorProto.INT8) >= 6


def test_saved_ranges_replay_the_same_model(mnist: Any, tmp_path: Path) -> None:
    model, calib, _ = mnist
    for layout in ("trt", "ort"):
        first, again = tmp_path / f"{layout}1.onnx", tmp_path / f"{layout}2.onnx"
        ranges = tmp_path / f"{layout}.json"
        argv = ["quantize", str(model), "-o", str(first), "--calib", str(calib), "--layout",
                layout, "--save-ranges", str(ranges), "--no-progress"]  # fmt: skip
        assert main(argv) == 0
        pipeline = {p.key: p.value for p in onnx.load(first).metadata_props}["irforge.pipeline"]
        assert "quantize-activations{ranges=" in pipeline and str(ranges) in pipeline
        assert main(["optimize", str(model), "-o", str(again), "--pipeline", pipeline]) == 0
        assert onnx.load(first).graph == onnx.load(again).graph


def test_quantize_activations_pass_refuses_foreign_ranges(mnist: Any, tmp_path: Path) -> None:
    import compiler
    from compiler.errors import PassError

    model, _, _ = mnist
    ranges = tmp_path / "r.json"
    ranges.write_text('{"layout": "trt", "ranges": {"x": 2.8}}')
    with pytest.raises(PassError, match="no range for"):
        compiler.optimize(load_model(model), f'default,quantize-activations{{ranges="{ranges}"}}')
    report = compiler.optimize(load_model(model), "quantize-activations")
    assert not report.records[0].changed and "no ranges" in report.records[0].notes[0]
    with pytest.raises(PassError, match="cannot read ranges"):
        compiler.optimize(load_model(model), f'quantize-activations{{ranges="{ranges}.x"}}')


@pytest.mark.parametrize(
    ("options", "weight_type"),
    [(["--method", "minmax", "--bias-correction"], onnx.TensorProto.INT8),
     (["--method", "percentile", "--percentile", "99.9", "--per-tensor"], onnx.TensorProto.INT8),
     (["--method", "entropy", "--bits", "4"], onnx.TensorProto.INT4)],
)  # fmt: skip
def test_options_reach_the_model(
    mnist: Any, tmp_path: Path, options: list[str], weight_type: int
) -> None:
    model, calib, d = mnist
    out = tmp_path / "q.onnx"
    assert main(["quantize", str(model), "-o", str(out), "--calib", str(calib),
                 "--no-progress", *options]) == 0  # fmt: skip
    proto = onnx.load(out)
    weights = [t for t in proto.graph.initializer if t.name.endswith(".q")]
    assert len(weights) == 6 and {t.data_type for t in weights} == {weight_type}
    scales = [t for t in proto.graph.initializer if t.name.endswith("weight.scale")]
    assert all(len(t.dims) == (0 if "--per-tensor" in options else 1) for t in scales)
    logits = run_onnxruntime(out, {"x": d["x"][:100]})["logits"]
    assert np.isfinite(logits).all()
