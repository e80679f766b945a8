"""Symmetric int8 quantization: ours (`compiler.quantize`) against ONNX Runtime's
`quantize_static` on the same models and calibration data.

    .venv/bin/python benchmarks/quant_bench.py [--models mnist_cnn,effnet_lite0,resnet200]
        [--rounds 7] [--budget] [--record]

Models and data (MATERIAL.md §2.4): mnist_cnn calibrates on the 256 real training digits
(8 x 32) and is scored on the 1000 held-out labelled digits; effnet_lite0 calibrates on 40
flipped / shifted copies of the 10 photos and is scored on the 10 photos; resnet200 calibrates
on 8 x 4 random-normal images and is scored on 64 others.

Variants, all QDQ with per-channel symmetric int8 weights:
* `ort sym`  — `quant_pre_process` + `quantize_static(QDQ, per_channel, QInt8/QInt8,
  WeightSymmetric, ActivationSymmetric)`, MinMax calibration (the issue's peer recipe);
* `ort asym` — the same with asymmetric activations (MATERIAL.md's recipe);
* `ours trt` / `ours ort` — `irforge quantize` (mse ranges, calibration run in ONNX Runtime) with
  the TensorRT or the ONNX Runtime Q/DQ layout; `+bc` adds `--bias-correction`.
Every model is run in ONNX Runtime (CPU, 1 thread, ORT_ENABLE_ALL): SQNR (dB) and rel-L2 of the
outputs against the float model, top-1 agreement, accuracy (MNIST), and batch-1 latency as the
median of `--rounds` interleaved samples of >= 0.3 s each. For ours, `ref SQNR` is the NumPy
reference backend's quantized graph against float (what TensorRT's engine should reproduce).
`--budget` adds `--max-drop 0 --metric top1 --eval photos` on effnet_lite0: calibration on the 40
copies, sensitivity and the budget loop on the 10 photos, all on the reference backend (it fits the
photos: no evidence). `--disjoint` is the honest version: effnet_lite0 calibrated on 36 crops of the
18 scikit-image images that are not test photos (tests/quantize/disjoint_images.py), method and
bias correction picked by SQNR on 36 other crops of them, then sensitivity and `--max-drop 0
--metric top1` on those (ONNX Runtime backend), with ORT's quantize_static on the same calibration
crops; the photos are only measured (`--models "" --disjoint` runs just that;
`--selection-seed N` draws other random selection crops, `--disjoint-layout trt` uses the TensorRT
layout). `--record`
appends the tables to benchmarks/results/quantization.md and stores the run (figures as numbers)
as benchmarks/results/quantization.json.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))
sys.path.append(str(REPO / "tests"))

import numpy as np  # noqa: E402
import onnx  # noqa: E402
from benchinfo import Record, machine_line  # noqa: E402

from backends.onnx import save_onnx  # noqa: E402
from backends.onnx.runtime import session  # noqa: E402
from compiler.driver import load_model  # noqa: E402
from compiler.quantize.driver import quantize  # noqa: E402
from compiler.quantize.metrics import sqnr_db  # noqa: E402

RESULTS = REPO / "benchmarks" / "results" / "quantization.md"


def setup(name: str) -> tuple[Path, list[np.ndarray], np.ndarray, np.ndarray | None]:
    """(model path, calibration batches, evaluation inputs, labels or None)."""
    from material import model_path

    path = model_path(name)
    if path is None:
        raise SystemExit(f"{name} needs torch to be generated (tests/material.py)")
    if name == "mnist_cnn":
        d = np.load(path.parent / "mnist_test.npz")
        return path, [d["x_train"][i : i + 32] for i in range(0, 256, 32)], d["x"], d["y"]
    rng = np.random.default_rng(0)
    if name == "resnet200":
        calib = [rng.standard_normal((4, 3, 32, 32)).astype(np.float32) for _ in range(8)]
        return path, calib, rng.standard_normal((64, 3, 32, 32)).astype(np.float32), None
    x = np.load(path.parent / "images.npz")["x"]
    calib = []
    for i in range(40):
        img = x[i % len(x)][:, :, ::-1] if i // len(x) % 2 else x[i % len(x)]
        shift = tuple(int(s) for s in rng.integers(-16, 17, 2))
        calib.append(np.ascontiguousarray(np.roll(img, shift, axis=(1, 2)))[None])
    return path, calib, x, None


def ort_quantize(src: Path, calib: list[np.ndarray], out: Path, symmetric: bool) -> float:
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    name = onnx.load(str(src), load_external_data=False).graph.input[0].name

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.items = iter([{name: b} for b in calib])

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self.items, None)

    start = time.perf_counter()
    pre = out.with_name(out.stem + ".pre.onnx")
    quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)
    quantize_static(str(pre), str(out), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                    weight_type=QuantType.QInt8, activation_type=QuantType.QInt8,
                    extra_options={"WeightSymmetric": True,
                                   "ActivationSymmetric": symmetric})  # fmt: skip
    return time.perf_counter() - start


def ours_quantize(
    src: Path, calib: list[np.ndarray], out: Path, layout: str, bias: bool
) -> tuple[float, Any]:
    start = time.perf_counter()
    graph = load_model(src)
    quantize(graph, calib, layout=layout, bias_correction=bias, backend="onnxruntime",
             show_progress=False)  # fmt: skip
    save_onnx(graph, out)
    return time.perf_counter() - start, graph


def outputs(path: Path, x: np.ndarray, chunk: int = 100) -> np.ndarray:
    sess = session(path, threads=1, optimization="all")
    name = sess.get_inputs()[0].name
    return np.concatenate([sess.run(None, {name: x[i : i + chunk]})[0]
                           for i in range(0, len(x), chunk)])  # fmt: skip


def latencies(paths: dict[str, Path], x1: np.ndarray, rounds: int) -> dict[str, float]:
    """Median ms per batch-1 call, models interleaved round by round."""
    sessions = {k: session(p, threads=1, optimization="all") for k, p in paths.items()}
    names = {k: s.get_inputs()[0].name for k, s in sessions.items()}
    samples: dict[str, list[float]] = {k: [] for k in paths}
    for _ in range(rounds):
        for k, sess in sessions.items():
            sess.run(None, {names[k]: x1})
            calls, start = 0, time.perf_counter()
            while time.perf_counter() - start < 0.3:
                sess.run(None, {names[k]: x1})
                calls += 1
            samples[k].append((time.perf_counter() - start) / calls * 1e3)
    return {k: float(np.median(v)) for k, v in samples.items()}


def bench_model(name: str, rounds: int, tmp: Path) -> list[dict[str, Any]]:
    src, calib, x, labels = setup(name)
    variants: dict[str, Path] = {"float": src}
    rows: dict[str, dict[str, Any]] = {"float": {"quantize s": "-"}}
    for key, sym in (("ort sym", True), ("ort asym", False)):
        variants[key] = tmp / f"{name}.{key.replace(' ', '_')}.onnx"
        rows[key] = {"quantize s": f"{ort_quantize(src, calib, variants[key], sym):.2f}"}
    float_graph = load_model(src)
    from compiler.quantize.driver import run_batches

    float_ref = run_batches(float_graph, [{float_graph.inputs[0].name: x}])
    for layout, bias in (("trt", False), ("ort", False), ("trt", True), ("ort", True)):
        key = f"ours {layout}" + (" +bc" if bias else "")
        variants[key] = tmp / f"{name}.ours_{layout}{'_bc' if bias else ''}.onnx"
        seconds, graph = ours_quantize(src, calib, variants[key], layout, bias)
        ref = run_batches(graph, [{graph.inputs[0].name: x}])
        rows[key] = {"quantize s": f"{seconds:.2f}", "ref SQNR": f"{sqnr_db(float_ref, ref):.2f}"}
    fp = outputs(src, x)
    lat = latencies(variants, x[:1], rounds)
    out = []
    for key, path in variants.items():
        q = outputs(path, x)
        row = {"model": name, "variant": key, **rows[key]}
        row["nodes"] = len(onnx.load(str(path), load_external_data=False).graph.node)
        row["MB"] = f"{os.path.getsize(path) / 1e6:.2f}"
        row["SQNR"] = "-" if key == "float" else f"{sqnr_db([[fp]], [[q]]):.2f}"
        row["rel-L2"] = f"{np.linalg.norm(q - fp) / np.linalg.norm(fp):.4f}"
        row["top-1 agree"] = f"{int((q.argmax(1) == fp.argmax(1)).sum())}/{len(fp)}"
        row["accuracy"] = "-" if labels is None else f"{100 * (q.argmax(1) == labels).mean():.1f} %"
        row["ms"] = f"{lat[key]:.3f}"
        row["vs float"] = f"{lat['float'] / lat[key]:.2f}x"
        out.append(row)
    return out


def budget(rounds: int) -> list[str]:
    """effnet_lite0: sensitivity + --max-drop 0 --metric top1 (on the calibration images)."""
    from compiler.quantize.driver import (
        apply_quantization,
        calibrate,
        keep_for_budget,
        load_batches,
        prepare,
        run_batches,
        sensitivity,
    )
    from compiler.quantize.metrics import top1_agreement

    src, calib, x, _ = setup("effnet_lite0")
    lines = []
    for layout in ("trt", "ort"):
        graph = load_model(src)
        prepare(graph, layout=layout)
        data = load_batches(graph, calib, batch_size=20)
        start = time.perf_counter()
        cal = calibrate(graph, data, layout=layout, show_progress=False, backend="onnxruntime")
        options: dict[str, Any] = {"layout": layout}  # the reference runs the budget loop
        photos = [{"x": x}]
        scores = sensitivity(graph, cal, photos, show_progress=False, **options)
        result = keep_for_budget(graph, cal, photos, [s.unit for s in scores], metric="top1",
                                 max_drop=0.0, **options)  # fmt: skip
        seconds = time.perf_counter() - start
        ref = run_batches(graph, [{"x": x}])
        apply_quantization(graph, cal.amax, keep=result.keep, layout=layout)
        got = run_batches(graph, [{"x": x}])
        lines.append(f"| {layout} | {', '.join(s.unit for s in scores[:3])} | "
                     f"{len(result.keep)} ({', '.join(result.keep)}) | "
                     f"{100 * top1_agreement(ref, got):.0f} % | {sqnr_db(ref, got):.2f} | "
                     f"{seconds:.0f} |")  # fmt: skip
    return lines


Scores = tuple[float, int, int]  # SQNR dB, top-1 agreements, samples


def _disjoint_row(label: str, sel: Scores, photos: Scores, kept: Any = "-",
                  seconds: float | None = None) -> str:  # fmt: skip
    secs = "-" if seconds is None else f"{seconds:.0f}"
    return (f"| {label} | {sel[0]:.2f} | {sel[1]}/{sel[2]} | {photos[0]:.2f} | "
            f"{photos[1]}/{photos[2]} | {kept} | {secs} |")  # fmt: skip


def _scores(path: Path, x: np.ndarray, fp: np.ndarray) -> Scores:
    q = outputs(path, x)
    return sqnr_db([[fp]], [[q]]), int((q.argmax(1) == fp.argmax(1)).sum()), len(fp)


DISJOINT_HEAD = """EfficientNet-Lite0, calibration and every choice on the disjoint images \
(tests/quantize/disjoint_images.py: 36 calibration crops, 36 selection crops of 18 scikit-image \
images); the 10 photos only measured. SQNR / top-1 vs float, int8 model in ONNX Runtime:

| variant | SQNR selection | top-1 selection | SQNR photos | top-1 photos | kept float | s |
|---|---|---|---|---|---|---|
"""


def disjoint(tmp: Path, layout: str = "ort", seed: int = 0) -> list[str]:
    """effnet_lite0 calibrated and tuned on scikit-image images disjoint from the photos
    (tests/quantize/disjoint_images.py): every choice is made on the selection set; the photos
    are only measured. Rows: ORT quantize_static, each method with and without bias correction,
    then the best by selection-set SQNR with `--max-drop 0 --metric top1` on the selection set."""
    sys.path.insert(0, str(REPO / "tests" / "quantize"))
    from disjoint_images import calibration_set, selection_set

    from compiler.quantize.driver import (
        apply_quantization,
        calibrate,
        keep_for_budget,
        prepare,
        sensitivity,
    )
    from compiler.quantize.observer import METHODS

    src, _, photos, _ = setup("effnet_lite0")
    cal, sel = calibration_set(), selection_set(seed)
    fp_photos, fp_sel = outputs(src, photos), outputs(src, sel)
    lines = []
    for key, sym in (("ort sym", True), ("ort asym", False)):
        path = tmp / f"disjoint_{key.replace(' ', '_')}.onnx"
        ort_quantize(src, [c[None] for c in cal], path, sym)
        lines.append(_disjoint_row(f"ORT quantize_static {key[4:]}", _scores(path, sel, fp_sel),
                                   _scores(path, photos, fp_photos)))  # fmt: skip
    graph = load_model(src)
    prepare(graph, layout=layout)
    data = [{"x": cal[i : i + 8]} for i in range(0, len(cal), 8)]
    best: tuple[float, str, bool, Any] = (-np.inf, "", False, None)
    for method in METHODS:
        calib = calibrate(graph, data, method=method, layout=layout, show_progress=False,
                          backend="onnxruntime")  # fmt: skip
        for bias in (False, True):
            q = graph.clone()
            apply_quantization(q, calib.amax, layout=layout, means=calib.means if bias else None)
            path = tmp / f"disjoint_{method}_{bias}.onnx"
            save_onnx(q, path)
            on_sel = _scores(path, sel, fp_sel)
            label = f"ours {layout} {method}" + (" +bc" if bias else "")
            lines.append(_disjoint_row(label, on_sel, _scores(path, photos, fp_photos), 0))
            best = max(best, (on_sel[0], method, bias, calib), key=lambda b: b[0])
    _, method, bias, calib = best
    start = time.perf_counter()
    sel_batches = [{"x": sel[i : i + 12]} for i in range(0, len(sel), 12)]
    options: dict[str, Any] = {"layout": layout, "bias_correction": bias, "backend": "onnxruntime"}
    ranked = [s.unit for s in sensitivity(graph, calib, sel_batches, show_progress=False,
                                          **options)]  # fmt: skip
    result = keep_for_budget(graph, calib, sel_batches, ranked, metric="top1", max_drop=0.0,
                             **options)  # fmt: skip
    seconds = time.perf_counter() - start
    apply_quantization(graph, calib.amax, layout=layout, keep=result.keep,
                       means=calib.means if bias else None)  # fmt: skip
    path = tmp / "disjoint_budget.onnx"
    save_onnx(graph, path)
    label = f"ours {layout} {method}" + (" +bc" if bias else "") + ", --max-drop 0 --metric top1"
    kept = f"{len(result.keep)} ({', '.join(result.keep)})"
    lines.append(_disjoint_row(label, _scores(path, sel, fp_sel),
                               _scores(path, photos, fp_photos), kept, seconds))  # fmt: skip
    return lines


def table(rows: list[dict[str, Any]]) -> str:
    keys = ["model", "variant", "quantize s", "nodes", "MB", "SQNR", "ref SQNR", "rel-L2",
            "top-1 agree", "accuracy", "ms", "vs float"]  # fmt: skip
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(str(r.get(k, "-")) for k in keys) + " |" for r in rows]
    return "\n".join(lines)


def versions() -> str:
    import onnxruntime

    return (f"numpy {np.__version__}, onnx {onnx.__version__}, "
            f"onnxruntime {onnxruntime.__version__}")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", default="mnist_cnn,effnet_lite0,resnet200")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--budget", action="store_true")
    ap.add_argument("--disjoint", action="store_true", help="effnet_lite0 tuned on disjoint images")
    ap.add_argument("--disjoint-layout", default="ort", choices=("ort", "trt"))
    ap.add_argument("--selection-seed", type=int, default=0, help="random crops of --disjoint")
    ap.add_argument("--record", action="store_true")
    args = ap.parse_args()
    run = Record("quantization", ["onnxruntime"])
    rows: list[dict[str, Any]] = []
    tables: dict[str, list[str]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in filter(None, args.models.split(",")):
            rows += bench_model(name, args.rounds, Path(tmp))
            print(table(rows), flush=True)
        text = table(rows) if rows else ""
        if args.disjoint:
            lines = disjoint(Path(tmp), args.disjoint_layout, args.selection_seed)
            text += "\n\n" + DISJOINT_HEAD + "\n".join(lines)
            tables["disjoint"] = [*DISJOINT_HEAD.rstrip("\n").split("\n"), *lines]
    if args.budget:
        head = ["| layout | most sensitive (top 3) | kept in float | top-1 agree (10 photos) | "
                "SQNR dB | s |", "|---|---|---|---|---|---|"]  # fmt: skip
        caption = "EfficientNet-Lite0, `--max-drop 0 --metric top1`:"
        tables["budget"] = [caption, "", *head, *budget(args.rounds)]
        text += "\n\n" + "\n".join(tables["budget"])
    print(text)
    if args.record:
        stamp = time.strftime("%Y-%m-%d %H:%M", time.gmtime())
        command = "python benchmarks/quant_bench.py " + shlex.join(sys.argv[1:])
        body = (f"\n## {stamp} UTC\n\nCommand: `{command}`\n\nMachine: {machine_line()}\n\n"
                f"Versions: {versions()}\n\n{text}\n")  # fmt: skip
        with RESULTS.open("a") as f:
            f.write(body)
        write_record(run, rows, tables, args)


def _number(text: str) -> float | str | list[int]:
    """A formatted cell as a number: '95.5 %' -> 95.5, '1.36x' -> 1.36, '9/10' -> [9, 10]."""
    cell = str(text).removesuffix(" %").removesuffix("x")
    if "/" in cell:
        a, b = cell.split("/")
        return [int(a), int(b)]
    try:
        return float(cell)
    except ValueError:
        return str(text)


def summarize(cases: list[dict[str, Any]]) -> dict[str, Any]:
    """MNIST accuracy per variant (`mnist_accuracy_ours_ort_bc`, ...) and the ORT int8 speed-up
    of the `ort` layout per model (`ort_int8_speedup_resnet200`, ...)."""
    summary: dict[str, Any] = {}
    for case in cases:
        variant = case["variant"].replace(" +", "_").replace(" ", "_")
        if case["model"] == "mnist_cnn" and isinstance(case["accuracy"], float):
            summary[f"mnist_accuracy_{variant}"] = case["accuracy"]
        if case["variant"] == "ours ort" and isinstance(case["vs_float"], float):
            summary[f"ort_int8_speedup_{case['model']}"] = case["vs_float"]
    return summary


def write_record(run: Record, rows: list[dict[str, Any]], tables: dict[str, list[str]],
                 args: argparse.Namespace) -> None:  # fmt: skip
    """Store the run as benchmarks/results/quantization.json (the `--disjoint`/`--budget` tables
    as their markdown lines)."""
    cases = [{k.replace(" ", "_").replace("-", "_"): (v if k in ("model", "variant")
              else _number(v)) for k, v in row.items()} for row in rows]  # fmt: skip
    summary = summarize(cases)
    if tables.get("disjoint"):  # its last row: the budgeted model, measured on the 10 photos
        cells = [c.strip() for c in tables["disjoint"][-1].strip("|").split("|")]
        summary["disjoint_photos_sqnr"] = float(cells[3])
        summary["disjoint_photos_top1"] = [int(n) for n in cells[4].split("/")]
    settings = {"models": args.models, "rounds": args.rounds, "budget": args.budget,
                "disjoint": args.disjoint, "disjoint_layout": args.disjoint_layout,
                "peer": "onnxruntime.quantization.quantize_static (QDQ, per-channel)"}  # fmt: skip
    run.write(cases, summary, settings, tables=tables)


if __name__ == "__main__":
    main()
