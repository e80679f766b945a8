"""Speed of the NumPy reference backend vs `onnx.reference.ReferenceEvaluator` and ONNX Runtime.

Run (OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE, where the machine sets them, slow a current numpy: unset
them in the benchmark command alone, never in tests or CI):

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv/bin/python benchmarks/reference_bench.py

All engines run side by side in one process, alternating, at the same thread count: ORT with
`intra_op_num_threads`, numpy's BLAS limited with threadpoolctl (checked to have taken effect). A
sample is the mean of as many calls as fill `--min-sample` seconds (at least one call); each cell is
the median of `--samples` samples with the min–max spread. ORT runs the original file with all
graph optimizations; ours runs the imported graph (the light model constant-folded first).
The run is appended to `results/reference.md` and stored as `results/reference.json`.
"""

from __future__ import annotations

import argparse
import datetime
import logging
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import numpy as np  # noqa: E402
import onnx  # noqa: E402
from benchinfo import Record, cpu_model, stats  # noqa: E402

from backends.numpy import compile  # noqa: E402
from compiler.frontend.onnx_import import load  # noqa: E402
from compiler.graph import Graph  # noqa: E402
from compiler.registry import get_op  # noqa: E402

log = logging.getLogger("reference_bench")
RESULTS = Path(__file__).resolve().parent / "results" / "reference.md"
CASES = ("resnet200:1", "resnet200:8", "effnet_lite0:1", "effnet_lite0:8", "light_resnet50:1")


@dataclass
class Cell:
    """Per-call seconds of one engine's samples."""

    samples: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    def describe(self) -> str:
        ms = [s * 1e3 for s in self.samples]
        return f"{statistics.median(ms):.1f} ({min(ms):.1f}–{max(ms):.1f})"


# -- models and inputs ---------------------------------------------------------------------------


def fold_constants(graph: Graph) -> int:
    """Replace every node whose inputs are all constants by a `const` of its kernel's result.

    Only for this benchmark (the light models compute their weights with ConstantOfShape); the
    real fold-constants pass lives in `passes/`.
    """
    folded = 0
    for node in graph.nodes:
        if node.op == "const" or not node.inputs:
            continue
        if not all(v is None or v.const_value() is not None for v in node.inputs):
            continue
        args = [None if v is None else v.const_value() for v in node.inputs]
        results = get_op(node.op).kernel(args, node.attrs)
        with graph.inserting_before(node) as b:
            for value, array in zip(node.outputs, results, strict=False):
                new = b.const(np.asarray(array, dtype=value.type.dtype.to_numpy()), value.name)
                value.replace_all_uses_with(new, include_graph_outputs=True)
        graph.erase(node)
        folded += 1
    return folded


def model_and_feeds(name: str, batch: int) -> tuple[Path, Graph, dict[str, np.ndarray]]:
    from material import model_path

    path = model_path(name)
    if path is None:
        raise SystemExit(f"{name} cannot be generated here (needs torch)")
    graph = load(path)
    if name.startswith("light_"):
        log.info("  folded %d constant nodes of %s", fold_constants(graph), name)
    return path, graph, _feeds(name, graph, batch, path)


def _feeds(name: str, graph: Graph, batch: int, path: Path) -> dict[str, np.ndarray]:
    value = graph.inputs[0]
    if name.startswith("effnet"):
        with np.load(path.parent / "images.npz") as data:
            photos = data["x"]
        return {value.name: np.ascontiguousarray(photos[:batch])}
    shape = [d if isinstance(d, int) else batch for d in value.type.shape]
    if name.startswith("light_") and shape[0] != batch:
        raise SystemExit(f"{name} has a fixed batch of {shape[0]}")
    rng = np.random.default_rng(0)
    return {value.name: rng.standard_normal(shape).astype(np.float32)}


# -- engines -------------------------------------------------------------------------------------


def engines(path: Path, graph: Graph, threads: int) -> dict[str, Callable[..., object]]:
    import onnxruntime as ort
    from onnx.reference import ReferenceEvaluator

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    reference = ReferenceEvaluator(onnx.load(str(path)))
    program = compile(graph)
    return {
        "ours": lambda feeds: program(feeds).values,
        "ort": lambda feeds: session.run(None, feeds),
        "refeval": lambda feeds: reference.run(None, feeds),
    }


def sample(fn: Callable[..., object], feeds: dict[str, np.ndarray], min_seconds: float) -> float:
    """Mean seconds per call over as many calls as fill `min_seconds` (at least one)."""
    calls, start = 0, time.perf_counter()
    while True:
        fn(feeds)
        calls += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds:
            return elapsed / calls


def agreement(runs: dict[str, Callable[..., object]], feeds: dict[str, np.ndarray]) -> str:
    ort_out = np.asarray(runs["ort"](feeds)[0])  # type: ignore[index]
    ours = np.asarray(runs["ours"](feeds)[0])  # type: ignore[index]
    return f"{float(np.max(np.abs(ours - ort_out))):.2g}"


def bench_case(case: str, args: argparse.Namespace) -> dict[str, object]:
    name, batch = case.split(":")[0], int(case.split(":")[1])
    log.info("%s batch %s", name, batch)
    path, graph, feeds = model_and_feeds(name, batch)
    runs = engines(path, graph, args.threads)
    for fn in runs.values():  # warm-up: first-call allocations, ORT's lazy init
        fn(feeds)
    cells = {engine: Cell([]) for engine in runs}
    for _ in range(args.samples):
        for engine, fn in runs.items():
            if engine == "refeval" and len(cells[engine].samples) >= args.ref_samples:
                continue
            cells[engine].samples.append(sample(fn, feeds, args.min_sample))
    row = {"model": name, "batch": batch, "cells": cells, "maxdiff": agreement(runs, feeds)}
    log.info("  ours %s ms | ORT %s ms | RefEval %s ms", cells["ours"].describe(),
             cells["ort"].describe(), cells["refeval"].describe())  # fmt: skip
    return row


# -- environment and report ----------------------------------------------------------------------


def limit_threads(threads: int) -> object:
    """Limit numpy's BLAS (and any OpenMP pool) to `threads`; fail if it did not take effect."""
    from threadpoolctl import threadpool_info, threadpool_limits

    limiter = threadpool_limits(limits=threads)
    pools = threadpool_info()
    wrong = [p for p in pools if p["num_threads"] != threads]
    if not pools or wrong:
        raise SystemExit(f"thread limit did not take effect: {pools}")
    return limiter


def machine() -> str:
    from threadpoolctl import threadpool_info

    cpu = cpu_model()
    blas = ", ".join(f"{p['internal_api']} {p['version']} kernel {p.get('architecture')}"
                     for p in threadpool_info() if p["user_api"] == "blas")  # fmt: skip
    coretype = os.environ.get("OPENBLAS_CORETYPE", "unset")
    return (f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.machine()}; BLAS: {blas}"
            f" (OPENBLAS_CORETYPE {coretype})")  # fmt: skip


def versions() -> str:
    import onnxruntime

    return (f"Python {platform.python_version()}, numpy {np.__version__}, onnx {onnx.__version__},"
            f" onnxruntime {onnxruntime.__version__}")  # fmt: skip


def report(rows: list[dict[str, object]], args: argparse.Namespace) -> str:
    lines = [
        f"## {datetime.date.today()} — `{' '.join(['python', *sys.argv])}`",
        "",
        f"Machine: {machine()}.  ",
        f"{versions()}. Threads: {args.threads} for every engine.  ",
        f"Per-call ms: median of {args.samples} samples ({args.ref_samples} for RefEval), each ≥ "
        f"{args.min_sample} s of calls, alternating engines (min–max in brackets). maxdiff = max "
        "|ours − ORT| on output 0.",
        "",
        "| model | batch | ours ms | ORT ms | RefEval ms | ours/ORT (≤ 3) | RefEval/ours (≥ 10) "
        "| maxdiff |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        c = row["cells"]
        ours, ort, ref = c["ours"], c["ort"], c["refeval"]  # type: ignore[index]
        lines.append(
            f"| {row['model']} | {row['batch']} | {ours.describe()} | {ort.describe()} | "
            f"{ref.describe()} | **{ours.median / ort.median:.2f}** | "
            f"**{ref.median / ours.median:.1f}** | {row['maxdiff']} |"
        )
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", nargs="*", default=list(CASES), help="MODEL:BATCH ...")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--samples", type=int, default=7)
    parser.add_argument("--ref-samples", type=int, default=3)
    parser.add_argument("--min-sample", type=float, default=0.5)
    parser.add_argument("--no-record", action="store_true", help="do not append to the results")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    run = Record("reference", ["threadpoolctl"])
    limiter = limit_threads(args.threads)
    log.info("%s", machine())
    rows = [bench_case(case, args) for case in args.cases]
    text = report(rows, args)
    del limiter
    print(text)
    if not args.no_record:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        with RESULTS.open("a") as out:
            out.write(text + "\n")
        write_record(run, rows, args)
    return 0


def write_record(run: Record, rows: list[dict[str, object]], args: argparse.Namespace) -> None:
    """Store the run as results/reference.json (per-call ms: median, min, max of the samples)."""
    cases: list[dict[str, Any]] = []
    for row in rows:
        cells = row["cells"]
        ms = {e: stats(c.samples, 1e3) for e, c in cells.items()}  # type: ignore[attr-defined]
        cases.append({"model": row["model"], "batch": row["batch"], "ours_ms": ms["ours"],
                      "ort_ms": ms["ort"], "refeval_ms": ms["refeval"],
                      "ours_over_ort": ms["ours"]["median"] / ms["ort"]["median"],
                      "refeval_over_ours": ms["refeval"]["median"] / ms["ours"]["median"],
                      "maxdiff": float(str(row["maxdiff"]))})  # fmt: skip
    summary = {
        "ours_over_ort_max": max(c["ours_over_ort"] for c in cases),
        "refeval_over_ours_min": min(c["refeval_over_ours"] for c in cases),
        "targets": "ours/ORT <= 3, RefEval/ours >= 10",
    }
    settings = {"threads": args.threads, "samples": args.samples, "ref_samples": args.ref_samples,
                "min_sample_s": args.min_sample, "blas": machine()}  # fmt: skip
    run.write(cases, summary, settings)


if __name__ == "__main__":
    sys.exit(main())
