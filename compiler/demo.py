"""`irforge demo`: the main job on the bundled MNIST model, end to end, on one screen.

Import and verify → textual IR round trip → the `default` pipeline with every pass checked
against the reference (a per-pass table of time and node delta) → the reference backend against
ONNX Runtime on the original model → the optimized graph exported and run in ONNX Runtime →
symmetric int8 quantization calibrated on bundled digits → the int8 graph exported and run in
ONNX Runtime → TensorRT (or TensorRT-RTX) network builds in fp32 and int8, each checked at every
fusion boundary by interpreting the built network → accuracy on the held-out digits, float and
int8 side by side. `--json` prints the same as one JSON document; `--save DIR` keeps the
exported models, engines and layer maps.

The bundled digits (`examples/models/mnist_digits.npz`, 64 never seen in training) are split:
the first 16 calibrate int8, the other 48 score every backend. Another `--model` gets random
inputs (one float input) and no accuracy.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from compiler.errors import CompilerError

BUNDLED = Path(__file__).resolve().parent.parent / "examples" / "models"
CALIBRATION = 16  # bundled digits used to calibrate int8; the rest score


def run_demo(
    model: Path | None = None, *, as_json: bool = False, save: Path | None = None,
    force: bool = False,
) -> int:  # fmt: skip
    """Run the demo; 0 when every check passed, 1 otherwise (`CompilerError` on bad input)."""
    from compiler import demo_steps as steps
    from compiler.frontend.onnx_import import load

    path = model or BUNDLED / "mnist_cnn_raw.onnx"
    if not path.exists():
        raise CompilerError(f"model not found: {path}")
    if save is not None:
        _prepare_save(save, force)
    start = time.perf_counter()
    graph = load(path)
    loaded = time.perf_counter() - start
    steps.check_inputs(graph)
    calib, score, labels = _data(graph, path)
    state = steps.DemoState(path, graph, calib, score, labels, save)
    plan: list[tuple[str, Callable[[steps.DemoState], steps.StepResult]]] = [
        ("import + verify", steps.import_model),
        ("textual IR round trip", steps.text_round_trip),
        ("`default` pipeline", steps.optimize_default),
        ("reference vs ONNX Runtime", steps.reference_vs_ort),
        ("ONNX export -> ONNX Runtime", steps.export_optimized),
        ("int8 quantization", steps.quantize_int8),
        ("int8 ONNX -> ONNX Runtime", steps.export_int8),
        (f"{_trt_name()} build fp32", lambda s: steps.tensorrt_build(s, "fp32")),
        (f"{_trt_name()} build int8", lambda s: steps.tensorrt_build(s, "int8")),
    ]
    done: list[dict[str, Any]] = []
    if not as_json:  # the header and each step's line as it finishes; the tables at the end
        print(f"irforge demo on {_shown(path)}\n", flush=True)
    for title, step in plan:
        with _spinner(title, enabled=not as_json):
            t0 = time.perf_counter()
            result = step(state)
        seconds = time.perf_counter() - t0 + (loaded if not done else 0.0)
        done.append({"step": title, "ok": result.ok, "seconds": seconds, "text": result.text,
                     **result.details})  # fmt: skip
        if not as_json:
            print(_step_line(len(done), done[-1]), flush=True)
    report = _report(state, path, done, time.perf_counter() - start)
    print(json.dumps(report, indent=1) if as_json else _tail(report))
    return 0 if report["pass"] else 1


def _trt_name() -> str:
    from compiler.demo_steps import have_tensorrt

    return {"tensorrt": "TensorRT", "tensorrt_rtx": "TensorRT-RTX"}.get(have_tensorrt() or "",
                                                                        "TensorRT")  # fmt: skip


def _prepare_save(save: Path, force: bool) -> None:
    if save.exists() and not save.is_dir():
        raise CompilerError(f"--save {save}: not a folder")
    if save.exists() and any(save.iterdir()) and not force:
        raise CompilerError(f"--save {save}: folder is not empty (use --force to overwrite)")
    save.mkdir(parents=True, exist_ok=True)


def _data(graph: Any, path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(calibration inputs, scored inputs, their labels or None)."""
    digits = BUNDLED / "mnist_digits.npz"
    if path.resolve().parent == BUNDLED and digits.exists():
        with np.load(digits) as data:
            x, y = data["x"], data["y"]
        return x[:CALIBRATION], x[CALIBRATION:], y[CALIBRATION:]
    value = graph.inputs[0]
    shape = [d if isinstance(d, int) else 8 for d in value.type.shape or ()]
    if not value.type.shape or not isinstance(value.type.shape[0], int):
        shape = [8, *shape[1:]] if shape else shape
    rng = np.random.default_rng(0)
    dtype = value.type.dtype.to_numpy()
    return (rng.standard_normal(shape).astype(dtype), rng.standard_normal(shape).astype(dtype),
            None)  # fmt: skip


@contextmanager
def _spinner(title: str, *, enabled: bool) -> Iterator[None]:
    """A transient spinner on a terminal's stderr while a step runs (nothing otherwise)."""
    if not (enabled and sys.stderr.isatty()):
        yield
        return
    try:
        from rich.console import Console
    except ImportError:
        yield
        return
    with Console(stderr=True).status(f"{title} ...", spinner="dots"):
        yield


def _report(state: Any, path: Path, done: list[dict[str, Any]], seconds: float) -> dict[str, Any]:
    from compiler.demo_steps import accuracy_rows

    failed = [d["step"] for d in done if d["ok"] is False]
    return {
        "model": _shown(path),
        "calibration_inputs": len(state.calib),
        "scored_inputs": len(state.score),
        "labelled": state.labels is not None,
        "steps": done,
        "accuracy": accuracy_rows(state),
        "seconds": seconds,
        "failed": failed,
        "skipped": [d["step"] for d in done if d["ok"] is None],
        "saved": str(state.save) if state.save else None,
        "pass": not failed,
    }


def _shown(path: Path) -> str:
    """`path` relative to the working directory when it is under it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _step_line(k: int, d: dict[str, Any]) -> str:
    mark = {True: "ok", False: "FAIL", None: "skip"}[d["ok"]]
    return f"{k:>2} {d['step']:<29} {mark:<4} {d['seconds']:5.2f}s  {d['text']}"


def _tail(report: dict[str, Any]) -> str:
    """Everything after the step lines: the pass and accuracy tables and the verdict."""
    lines = ["", *_pass_table(report), "", *_accuracy_table(report), ""]
    if report["saved"]:
        lines.append(f"artifacts in {report['saved']}")
    verdict = "PASS" if report["pass"] else "FAIL: " + ", ".join(report["failed"])
    skipped = f", {len(report['skipped'])} skipped" if report["skipped"] else ""
    lines.append(f"{verdict} ({len(report['steps'])} steps{skipped}, {report['seconds']:.1f} s;"
                 " `irforge demo --json` for scripts)")  # fmt: skip
    return "\n".join(lines)


def _pass_table(report: dict[str, Any]) -> list[str]:
    step = next(d for d in report["steps"] if d["step"] == "`default` pipeline")
    rows = step["passes"]
    lines = [f"   {'`default` pass (changed the graph)':<40} {'runs':>5} {'ms':>8} {'nodes Δ':>8}"]
    for r in (r for r in rows if r["changed"]):
        lines.append(f"   {r['pass']:<40} {r['runs']:>5} {1e3 * r['seconds']:>8.2f} "
                     f"{r['nodes_delta']:>+8}")  # fmt: skip
    idle = [r for r in rows if not r["changed"]]
    lines.append(f"   {f'{len(idle)} other passes (no change)':<40} "
                 f"{sum(r['runs'] for r in idle):>5} {1e3 * sum(r['seconds'] for r in idle):>8.2f}"
                 f" {0:>+8}")  # fmt: skip
    return lines


def _accuracy_table(report: dict[str, Any]) -> list[str]:
    n = report["scored_inputs"]
    what = f"top-1 on {n} held-out digits" if report["labelled"] else f"{n} random inputs"
    lines = [f"   {what:<44} {'top-1':>7} {'same as float':>14}"]
    for row in report["accuracy"]:
        top1 = f"{row['top1']:.1%}" if "top1" in row else "-"
        agree = f"{row['agrees_with_float']:.1%}" if "agrees_with_float" in row else "-"
        lines.append(f"   {row['run']:<44} {top1:>7} {agree:>14}")
    if any("TensorRT" in row["run"] for row in report["accuracy"]):
        lines.append("   (TensorRT rows: the built network run by irforge's NumPy interpreter; "
                     "engines run on a GPU)")  # fmt: skip
    return lines
