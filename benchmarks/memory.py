"""Memory of the NumPy interpreter: largest live set vs what the process really allocates.

Run: `python benchmarks/memory.py [--model resnet200] [--batch 8] [--record]`. Runs the model once
(after one warm-up run, so that first-call allocations do not count) with
`track_memory=True` (peak bytes of live tensors, constants excluded) under `tracemalloc` (numpy
reports its buffers to it: the peak of everything allocated during the run, kernel temporaries
such as conv buffers included), and reports the growth of peak RSS (`getrusage`) over the run.
The target (issue 3) is tracemalloc peak <= 2x the largest live set; `--record` appends the figures
to `benchmarks/results/memory.md` and stores the run as `benchmarks/results/memory.json`.
"""

from __future__ import annotations

import argparse
import datetime
import logging
import resource
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from benchinfo import Record  # noqa: E402

from backends.numpy import compile  # noqa: E402
from compiler.frontend.onnx_import import load  # noqa: E402

log = logging.getLogger("memory")
MB = 1024.0 * 1024.0
RESULTS = Path(__file__).resolve().parent / "results" / "memory.md"


def _max_rss() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024.0  # Linux reports KiB


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="resnet200", help="a material model name")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--record", action="store_true", help="append to results/memory.md")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    run = Record("memory")
    from material import model_path

    path = model_path(args.model)
    if path is None:
        log.error("%s cannot be generated here (needs torch)", args.model)
        return 1
    graph = load(path)
    program = compile(graph)
    rng = np.random.default_rng(0)
    feeds = {
        v.name: rng.standard_normal([d if isinstance(d, int) else args.batch for d in v.type.shape])
        .astype(v.type.dtype.to_numpy())
        for v in graph.inputs
    }  # fmt: skip
    input_bytes = sum(a.nbytes for a in feeds.values())
    program(feeds)  # warm-up
    rss_before = _max_rss()
    tracemalloc.start()
    start = time.perf_counter()
    result = program(feeds, track_memory=True)
    elapsed = time.perf_counter() - start
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss_growth = _max_rss() - rss_before
    assert result.memory is not None
    log.info("%s, batch %d: %d nodes, %.2f s (under tracemalloc)", args.model, args.batch,
             len(graph), elapsed)  # fmt: skip
    log.info("  inputs:                        %8.2f MB", input_bytes / MB)
    log.info("  largest live set (interpreter): %8.2f MB  (reached at %%%s)",
             result.memory.peak_bytes / MB, result.memory.peak_at)  # fmt: skip
    log.info("  tracemalloc peak during run:    %8.2f MB  (live set + kernel temporaries)",
             traced_peak / MB)  # fmt: skip
    log.info("  peak RSS growth during run:     %8.2f MB  (process high-water mark)",
             rss_growth / MB)  # fmt: skip
    log.info("  peak RSS of the process:        %8.2f MB  (weights, imports, allocator caches)",
             _max_rss() / MB)  # fmt: skip
    ratio = traced_peak / result.memory.peak_bytes
    log.info("  ratio tracemalloc peak / live set: %.2f  (target <= 2)", ratio)
    if args.record:
        _record(args, len(graph), result.memory.peak_bytes, traced_peak, rss_growth, ratio)
        case = {"model": args.model, "batch": args.batch, "nodes": len(graph),
                "live_set_mb": result.memory.peak_bytes / MB, "traced_peak_mb": traced_peak / MB,
                "ratio": ratio, "rss_growth_mb": rss_growth / MB, "run_s": elapsed}  # fmt: skip
        run.write([case], {"ratio": ratio, "target": "<= 2"}, {"model": args.model,
                                                              "batch": args.batch})  # fmt: skip
    return 0


def _record(args: argparse.Namespace, nodes: int, live: int, traced: int, rss: float,
            ratio: float) -> None:  # fmt: skip
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    fresh = not RESULTS.exists()
    with RESULTS.open("a") as out:
        if fresh:
            out.write("| date | command | model | batch | nodes | largest live set MB | "
                      "tracemalloc peak MB | ratio (<= 2) | peak RSS growth MB |\n"
                      "|---|---|---|---:|---:|---:|---:|---:|---:|\n")  # fmt: skip
        out.write(f"| {datetime.date.today()} | `python {' '.join(sys.argv)}` | {args.model} | "
                  f"{args.batch} | {nodes} | {live / MB:.2f} | {traced / MB:.2f} | "
                  f"**{ratio:.2f}** | {rss / MB:.2f} |\n")  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
