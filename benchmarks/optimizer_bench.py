"""Our `default` pipeline against peer optimizers: node counts, time, memory, numerics, scaling
and ONNX Runtime latency of the exported model.

    .venv/bin/python benchmarks/optimizer_bench.py [--models a,b]
        [--sections models,scaling,latency]
        [--repeat 5] [--peer-repeat 3] [--sizes 1000,10000,50000,100000] [--record]

What is timed (seconds, median over `--repeat` samples, spread = min..max):

* `ours` — `compiler.optimize(graph, "default", verify_each=False)` on an already imported
  graph, against `onnxsim.simplify` on an already loaded ModelProto (a fresh copy made before
  the clock starts). This is the like-for-like core, and the two are alternating in one
  process (ours, onnxsim, ours, ...). `ratio` = ours / onnxsim (target ≤ 0.5).
* `e2e` — ours from the file: import + optimize + export to standard ONNX.
* `+verify` — the same optimize with verify-each on (the default of `compiler.optimize`).
* peers (onnxscript optimizer, onnxoptimizer with MATERIAL's 13 passes, ORT BASIC offline) on a
  loaded ModelProto, `--peer-repeat` samples, not alternated.

Memory, in a fresh process per model: tracemalloc peak above the start during optimize and
during export (the export's includes what the optimized graph holds), and RSS growth, against the
weight bytes of the exported model (target: optimize peak < 2x). Numerics: our exported model
against the original in ORT (no graph optimization), seeded N(0,1) inputs, max abs error within
the derived tolerance of `backends/numpy/tolerance.py`.

`--record` appends the tables, the command, machine and versions to
benchmarks/results/optimizer.md and stores the run as benchmarks/results/optimizer.json.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))
sys.path.append(str(REPO / "tests"))

import numpy as np  # noqa: E402
import onnx  # noqa: E402
from benchinfo import Record  # noqa: E402
from optimizer_bench_extra import (  # noqa: E402
    alternate,
    fresh_memory,
    ladder_model,
    latency,
    ms_stats,
    summary,
    write_record,
)

import compiler  # noqa: E402
from backends.numpy.tolerance import derive_tolerances, max_abs_error  # noqa: E402
from backends.onnx import to_onnx  # noqa: E402

LIGHT = (
    "light_bvlc_alexnet",
    "light_densenet121",
    "light_inception_v1",
    "light_inception_v2",
    "light_resnet50",
    "light_shufflenet",
    "light_squeezenet",
    "light_vgg19",
    "light_zfnet512",
)
MODELS = (
    *LIGHT,
    "effnet_lite0_raw",
    "effnet_lite0_legacy",
    "mnist_cnn_raw",
    "resnet200",
    "resnet200_noisy",
    "transformer64",
    "mlp2000",
)
LATENCY_MODELS = (
    "resnet200",
    "effnet_lite0_raw",
    "mnist_cnn_raw",
    "transformer64",
    "light_resnet50",
)
ONNXOPT_PASSES = [
    "eliminate_deadend",
    "eliminate_identity",
    "eliminate_nop_dropout",
    "eliminate_nop_transpose",
    "fuse_consecutive_transposes",
    "eliminate_nop_reshape",
    "fuse_bn_into_conv",
    "fuse_add_bias_into_conv",
    "fuse_matmul_add_bias_into_gemm",
    "fuse_pad_into_conv",
    "extract_constant_to_initializer",
    "eliminate_unused_initializer",
    "eliminate_duplicate_initializer",
]
PEERS = ("onnxscript", "onnxopt", "ort_basic")
PIPELINE = "default"


def model_file(name: str) -> Path:
    from material import light_model_path, model_path

    path = light_model_path(name) if name.startswith("light_") else model_path(name)
    if path is None or not path.exists():
        raise FileNotFoundError(f"{name}: not available (tests/material.py generates it)")
    return path


@contextlib.contextmanager
def quiet() -> object:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        yield


def ort_basic(model: onnx.ModelProto) -> onnx.ModelProto:
    import onnxruntime as ort

    with tempfile.TemporaryDirectory() as tmp:
        out = str(Path(tmp) / "basic.onnx")
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
        opts.optimized_model_filepath = out
        opts.intra_op_num_threads = 1
        ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
        return onnx.load(out)


def peers() -> dict[str, Callable[[onnx.ModelProto], onnx.ModelProto]]:
    import onnxoptimizer
    import onnxscript.optimizer

    return {
        "onnxscript": lambda m: onnxscript.optimizer.optimize(m),
        "onnxopt": lambda m: onnxoptimizer.optimize(m, ONNXOPT_PASSES),
        "ort_basic": ort_basic,
    }


def clocked(fn: Callable[[], object]) -> tuple[object, float]:
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def feeds_for(graph: compiler.Graph, batch: int) -> dict[str, np.ndarray]:
    """Seeded standard-normal inputs; symbolic dims get `batch` at axis 0 and 1 elsewhere."""
    rng = np.random.default_rng(0)
    feeds = {}
    for value in graph.inputs:
        shape = [
            d if isinstance(d, int) else (batch if i == 0 else 1)
            for i, d in enumerate(value.type.shape or ())
        ]
        feeds[value.name] = rng.standard_normal(shape).astype(value.dtype.to_numpy())
    return feeds


def numerics(
    graph: compiler.Graph, original: onnx.ModelProto, ours: onnx.ModelProto, batch: int
) -> str:
    """'ok (err / atol)' or 'FAIL ...': our export vs the original in ORT (no optimization)."""
    from optimizer_bench_extra import ort_session

    feeds = feeds_for(graph, batch)
    ref, got = (ort_session(m, "none").run(None, feeds) for m in (original, ours))  # type: ignore[attr-defined]
    tol = derive_tolerances(graph, {v.name: r for v, r in zip(graph.outputs, ref, strict=True)})
    worst, verdict = (-1.0, 1.0), "ok"  # (err, atol) of the output nearest its tolerance
    for value, a, b in zip(graph.outputs, got, ref, strict=True):
        err, atol = max_abs_error(a, b), tol[value.name].atol
        worst = max(worst, (err, atol), key=lambda p: p[0] / p[1] if p[1] else p[0])
        if err > atol:
            verdict = "FAIL"
    return f"{verdict} ({worst[0]:.2g} / {worst[1]:.2g})"


def weight_bytes(graph: compiler.Graph) -> int:
    """Bytes of the constants the exported model holds (splats counted at full size)."""
    return sum(int(n.attrs["value"].nbytes) for n in graph.nodes if n.op == "const")


def bench_model(name: str, repeat: int, peer_repeat: int) -> dict[str, object]:
    import onnxsim

    path = model_file(name)
    original = onnx.load(str(path))
    row: dict[str, object] = {"model": name, "original": len(original.graph.node)}

    def ours_core(verify: bool = False) -> float:
        graph = compiler.load(path)
        return clocked(lambda: compiler.optimize(graph, PIPELINE, verify_each=verify))[1]

    def ours_e2e() -> float:
        def run() -> None:
            graph = compiler.load(path)
            compiler.optimize(graph, PIPELINE, verify_each=False)
            to_onnx(graph, pipeline=PIPELINE)

        return clocked(run)[1]

    def onnxsim_core() -> float:
        model = copy.deepcopy(original)
        with quiet():
            out, seconds = clocked(lambda: onnxsim.simplify(model))
        row["onnxsim_nodes"] = len(out[0].graph.node)  # type: ignore[index]
        return seconds

    times = alternate(
        {
            "ours": ours_core,
            "onnxsim": onnxsim_core,
            "e2e": ours_e2e,
            "verify": lambda: ours_core(True),
        },
        repeat,
    )
    row.update({k: summary(v) for k, v in times.items()})
    for peer, fn in peers().items():
        samples = []
        for _ in range(peer_repeat):
            model = copy.deepcopy(original)
            try:
                with quiet():
                    out, seconds = clocked(lambda: fn(model))  # noqa: B023
            except Exception as exc:  # noqa: BLE001  a peer failing is a result
                row[f"{peer}_nodes"] = f"ERR {type(exc).__name__}"
                break
            samples.append(seconds)
            row[f"{peer}_nodes"] = len(out.graph.node)  # type: ignore[attr-defined]
            if seconds > 5:
                break  # a slow peer gets one sample
        row[peer] = summary(samples) if samples else None
    _ours_outputs(row, path, original, name)
    return row


def _ours_outputs(row: dict[str, object], path: Path, original: onnx.ModelProto, name: str) -> None:
    graph = compiler.load(path)
    mem = fresh_memory(path, PIPELINE)
    compiler.optimize(graph, PIPELINE, verify_each=False)
    exported = to_onnx(graph, pipeline=PIPELINE)
    row["ours_nodes"] = len(exported.graph.node)
    row["ir_nodes"] = sum(1 for n in graph.nodes if n.op != "const")
    row["weights"] = weight_bytes(graph)
    row["memory"] = mem
    batch = 1 if name.startswith("light_") else 2
    row["numerics"] = numerics(compiler.load(path), original, exported, batch)


def ms(cell: object) -> str:
    if not isinstance(cell, tuple):
        return "–"
    med, lo, hi = cell
    return f"{med * 1e3:.1f} ({lo * 1e3:.0f}–{hi * 1e3:.0f})"


def models_table(rows: list[dict[str, object]]) -> str:
    head = [
        "model",
        "nodes",
        "ours",
        "IR",
        "onnxsim",
        *PEERS,
        "ours ≤ best",
        "ours ms",
        "onnxsim ms",
        "ratio",
        "e2e ms",
        "+verify ms",
        *(f"{p} ms" for p in PEERS),
        "weights MB",
        "peak opt / export / RSS MB",
        "peak/weights opt / export",
        "max err / atol (ORT)",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        counts = [r.get(f"{p}_nodes") for p in ("onnxsim", *PEERS)]
        best = min((c for c in counts if isinstance(c, int)), default=None)
        ratio = r["ours"][0] / r["onnxsim"][0]  # type: ignore[index]
        mem, weights = r["memory"], max(int(r["weights"]), 1)  # type: ignore[call-overload]
        cells = [
            r["model"],
            r["original"],
            r["ours_nodes"],
            r["ir_nodes"],
            *counts,
            "yes" if best is None or r["ours_nodes"] <= best else "NO",  # type: ignore[operator]
            ms(r["ours"]),
            ms(r["onnxsim"]),
            f"{ratio:.2f}",
            ms(r["e2e"]),
            ms(r["verify"]),
            *(ms(r.get(p)) for p in PEERS),
            f"{weights / 1e6:.1f}",
            " / ".join(f"{mem[k] / 1e6:.1f}" for k in ("optimize", "export", "rss")),  # type: ignore[index]
            " / ".join(f"{mem[k] / weights:.2f}" for k in ("optimize", "export")),  # type: ignore[index]
            r["numerics"],
        ]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(lines)


def scaling_table(sizes: list[int], repeat: int, cases: list[dict[str, object]]) -> str:
    lines = [
        "| nodes | after | ours ms (spread) | ms/node | vs smallest |",
        "|---|---|---|---|---|",
    ]
    first = None
    for size in sizes:
        model = ladder_model(size)

        def core(model: onnx.ModelProto = model) -> float:
            graph = compiler.load(model)
            return clocked(lambda: compiler.optimize(graph, PIPELINE, verify_each=False))[1]

        samples = alternate({"ours": core}, repeat if size <= 10_000 else max(1, repeat // 2))
        med, lo, hi = summary(samples["ours"])
        nodes = len(model.graph.node)
        graph = compiler.load(model)
        compiler.optimize(graph, PIPELINE, verify_each=False)
        per = med * 1e3 / nodes
        first = first or per
        cases.append({"nodes": nodes, "after": len(to_onnx(graph).graph.node),
                      "ms": ms_stats((med, lo, hi), len(samples["ours"])), "ms_per_node": per,
                      "vs_smallest": per / first})  # fmt: skip
        lines.append(
            f"| {nodes} | {len(to_onnx(graph).graph.node)} | {med * 1e3:.0f} "
            f"({lo * 1e3:.0f}–{hi * 1e3:.0f}) | {per:.4f} | {per / first:.2f}× |"
        )
        print(lines[-1], file=sys.stderr, flush=True)
    return "\n".join(lines)


def latency_table(names: list[str], cases: list[dict[str, object]]) -> str:
    lines = [
        "| model | original ms (spread) | ours ms (spread) | ours / original |",
        "|---|---|---|---|",
    ]
    for name in names:
        path = model_file(name)
        graph = compiler.load(path)
        feeds = feeds_for(graph, 1)
        compiler.optimize(graph, PIPELINE, verify_each=False)
        runs = latency({"original": onnx.load(str(path)), "ours": to_onnx(graph)}, feeds)
        a, b = summary(runs["original"]), summary(runs["ours"])
        cases.append({"model": name, "original_ms": ms_stats(a, len(runs["original"])),
                      "ours_ms": ms_stats(b, len(runs["ours"])), "ratio": b[0] / a[0]})  # fmt: skip
        lines.append(f"| {name} | {ms(a)} | {ms(b)} | {b[0] / a[0]:.2f} |")
        print(lines[-1], file=sys.stderr, flush=True)
    return "\n".join(lines)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.machine()}"


def versions() -> str:
    import onnxoptimizer
    import onnxruntime
    import onnxscript
    import onnxsim

    mods = {
        "numpy": np,
        "onnx": onnx,
        "onnxruntime": onnxruntime,
        "onnxsim": onnxsim,
        "onnxscript": onnxscript,
        "onnxoptimizer": onnxoptimizer,
    }
    return ", ".join(
        [
            f"python {platform.python_version()}",
            *(f"{k} {getattr(m, '__version__', '?')}" for k, m in mods.items()),
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--sections", default="models,scaling,latency")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--peer-repeat", type=int, default=3)
    parser.add_argument("--sizes", default="1000,10000,50000,100000")
    parser.add_argument("--latency-models", default=",".join(LATENCY_MODELS))
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args(argv)
    sections = args.sections.split(",")
    run = Record("optimizer", ["onnxsim", "onnxscript", "onnxoptimizer"])
    scaling: list[dict[str, object]] = []
    lat: list[dict[str, object]] = []
    rows = []
    out = []
    if "models" in sections:
        for name in args.models.split(","):
            rows.append(bench_model(name, args.repeat, args.peer_repeat))
            print(models_table(rows[-1:]).splitlines()[-1], file=sys.stderr, flush=True)
        out.append(
            "### Models: nodes after, optimize time, memory, numerics\n\n" + models_table(rows)
        )
    if "scaling" in sections:
        sizes = [int(s) for s in args.sizes.split(",")]
        table = scaling_table(sizes, args.repeat, scaling)
        out.append("### Scaling: generated ladders\n\n" + table)
    if "latency" in sections:
        table = latency_table(args.latency_models.split(","), lat)
        out.append("### ORT latency (ENABLE_ALL, 1 thread, batch 1, 7 × ≥0.5 s)\n\n" + table)
    text = "\n\n".join(out)
    print(text)
    if args.record:
        command = "python benchmarks/optimizer_bench.py " + " ".join(argv or sys.argv[1:])
        head = (
            f"## {time.strftime('%Y-%m-%d %H:%M')}\n\nCommand: `{command}`\n\n"
            f"Machine: {machine()}\n\nVersions: {versions()}\n\n"
        )
        result = REPO / "benchmarks" / "results" / "optimizer.md"
        if not result.exists():
            result.write_text("# Optimizer benchmark (benchmarks/optimizer_bench.py)\n\n")
        with result.open("a") as f:
            f.write(head + text + "\n\n")
        write_record(run, rows, scaling, lat, args, PEERS, PIPELINE)
    return 1 if "FAIL" in text else 0


if __name__ == "__main__":
    raise SystemExit(main())
