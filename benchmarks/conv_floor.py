"""The GEMM floor of a model's convolutions in NumPy, next to ORT and RefEval/10 in the same run.

Run (as `reference_bench.py`, OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE unset for this command only):

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv/bin/python benchmarks/conv_floor.py

For every dense conv of the model (shapes from the imported graph at the given batch), the floor
is the fastest single matrix product that any NumPy conv kernel must at least perform: the im2col
GEMM `W[M, C*k*k] @ cols[C*k*k, N*Ho*Wo]` in both operand orientations on prebuilt contiguous
operands with a preallocated output, and for 3x3 stride-1 convs also Winograd F(2x2, 3x3)'s
16 batched GEMMs `[M, C] @ [C, tiles]` (4/9 of the multiplies) — each without any copy,
padding, transform, crop, allocation or interpreter step, with warm caches. The sum over the
model's convs is a lower bound for any NumPy reference run of it: when the floor alone exceeds
`RefEval / 10`, the issue-3 target "10x faster than ReferenceEvaluator" cannot be met by a NumPy
kernel design on this machine. Depthwise/grouped convs are left out (they only add to the floor).
The run is appended to `results/conv_floor.md` and stored as `results/conv_floor.json`.
"""

from __future__ import annotations

import argparse
import collections
import datetime
import logging
import platform
import statistics
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from benchinfo import Record, call_times  # noqa: E402
from reference_bench import engines, limit_threads, machine, model_and_feeds  # noqa: E402

from compiler.graph import Graph  # noqa: E402

log = logging.getLogger("conv_floor")
RESULTS = Path(__file__).resolve().parent / "results" / "conv_floor.md"
Shape = tuple[int, int, int, int, int, int, int]  # n, c, m, k, ho, wo, winograd-eligible


def conv_shapes(graph: Graph, batch: int) -> collections.Counter[Shape]:
    """Dense conv shapes of the graph at `batch` (static dims only), with their counts."""
    shapes: collections.Counter[Shape] = collections.Counter()
    for node in graph.nodes:
        if node.op != "conv" or node.attrs["group"] != 1:
            continue
        x, w, y = node.inputs[0].type.shape, node.inputs[1].type.shape, node.outputs[0].type.shape
        kh, kw = w[2], w[3]
        eligible = (
            (kh, kw) == (3, 3)
            and tuple(node.attrs["strides"]) == (1, 1)
            and tuple(node.attrs["dilations"]) == (1, 1)
        )
        shapes[(batch, x[1], w[0], kh * kw, y[2], y[3], int(eligible))] += 1
    return shapes


def best_of(fn: Callable[[], object], repeats: int) -> float:
    return min(call_times(fn, repeats))


def floor_seconds(shape: Shape, repeats: int) -> float:
    n, c, m, k, ho, wo, eligible = shape
    rng = np.random.default_rng(0)
    p = n * ho * wo
    w = rng.standard_normal((m, c * k), np.float32)
    cols = rng.standard_normal((c * k, p), np.float32)
    out = np.empty((m, p), np.float32)
    wt, colst = np.ascontiguousarray(w.T), np.ascontiguousarray(cols.T)
    outt = np.empty((p, m), np.float32)
    best = min(best_of(lambda: np.matmul(w, cols, out=out), repeats),
               best_of(lambda: np.matmul(colst, wt, out=outt), repeats))  # fmt: skip
    if eligible:
        tiles = n * -(-ho // 2) * -(-wo // 2)
        u = rng.standard_normal((16, m, c), np.float32)
        v = rng.standard_normal((16, c, tiles), np.float32)
        mo = np.empty((16, m, tiles), np.float32)
        best = min(best, best_of(lambda: np.matmul(u, v, out=mo), repeats))
    return best


def median_call(fn: Callable[[], object], samples: int) -> float:
    return statistics.median(call_times(fn, samples))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", nargs="*", default=["resnet200:1", "resnet200:8"])
    parser.add_argument("--repeats", type=int, default=50, help="GEMM timings per shape (best)")
    parser.add_argument("--samples", type=int, default=5, help="model runs per engine (median)")
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    run = Record("conv_floor", ["threadpoolctl"])
    limiter = limit_threads(1)
    rows = []
    for case in args.cases:
        name, batch = case.split(":")[0], int(case.split(":")[1])
        path, graph, feeds = model_and_feeds(name, batch)
        shapes = conv_shapes(graph, batch)
        floor = sum(floor_seconds(s, args.repeats) * count for s, count in shapes.items())
        runs = engines(path, graph, 1)
        ours, ort, ref = (
            median_call(lambda f=runs[e], x=feeds: f(x), 3 if e == "refeval" else args.samples)
            for e in ("ours", "ort", "refeval")
        )
        convs = sum(shapes.values())
        log.info(
            "%s b%d: %d dense convs, GEMM floor %.1f ms | ours %.1f | ORT %.1f | RefEval %.1f ms",
            name, batch, convs, floor * 1e3, ours * 1e3, ort * 1e3, ref * 1e3,
        )  # fmt: skip
        rows.append((name, batch, convs, floor, ours, ort, ref))
    del limiter
    stamp = datetime.date.today().isoformat()
    lines = [
        f"## {stamp} — `python benchmarks/conv_floor.py {' '.join(sys.argv[1:])}`".rstrip(),
        "",
        f"Machine: {machine()}. Python {platform.python_version()}, numpy {np.__version__}; one "
        "thread everywhere. Floor = the sum over dense convs of the best bare GEMM (see the "
        "script's docstring); engines: median ms of whole-model calls in the same run.",
        "",
        "| model | batch | dense convs | GEMM floor ms | ours ms | ORT ms | RefEval ms | "
        "RefEval/10 ms | floor > RefEval/10 |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for name, batch, convs, floor, ours, ort, ref in rows:
        lines.append(f"| {name} | {batch} | {convs} | {floor * 1e3:.1f} | {ours * 1e3:.1f} | "
                     f"{ort * 1e3:.1f} | {ref * 1e3:.1f} | {ref * 1e2:.1f} | "
                     f"{'**yes**' if floor > ref / 10 else 'no'} |")  # fmt: skip
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.no_record:
        with RESULTS.open("a") as handle:
            handle.write(text + "\n")
        keys = ("model", "batch", "dense_convs", "floor_ms", "ours_ms", "ort_ms", "refeval_ms")
        cases = [dict(zip(keys, (n, b, c, *(x * 1e3 for x in t)), strict=True))
                 for n, b, c, *t in rows]  # fmt: skip
        for case in cases:
            case["floor_over_refeval10"] = case["floor_ms"] / (case["refeval_ms"] / 10)
        share = max(c["floor_over_refeval10"] for c in cases)
        settings = {"repeats": args.repeats, "samples": args.samples, "blas": machine()}
        run.write(cases, {"floor_over_refeval10_max": share}, settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
