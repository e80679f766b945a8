"""Parts of `optimizer_bench.py`: generated scale graphs, timing helpers, ORT latency, memory.

Generated graphs are ladders of residual blocks with exporter-style clutter, built with
`onnx.helper` from a seed, so every run times the same model:

    x -> Identity -> Conv-BN-Relu -> Transpose pair (cancelling) -> Dropout -> Conv-BN
      -> Add(skip) -> Relu -> Reshape(x, Concat(Unsqueeze(Gather(Shape(x), 0)), [C, H, W]))

16 nodes a block; `default` removes the clutter, folds the BNs and fuses the activations.
"""

from __future__ import annotations

import gc
import statistics
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

CHANNELS, SIDE = 8, 4
BLOCK_NODES = 16


def ladder_model(nodes: int, seed: int = 0) -> onnx.ModelProto:
    """A model of about `nodes` nodes (16 per residual block), seeded."""
    rng = np.random.default_rng(seed)
    blocks = max(1, nodes // BLOCK_NODES)
    inits = [numpy_helper.from_array(np.array([CHANNELS, SIDE, SIDE], np.int64), "chw"),
             numpy_helper.from_array(np.array([0], np.int64), "axes0"),
             numpy_helper.from_array(np.array(0, np.int64), "zero")]  # fmt: skip
    body: list[onnx.NodeProto] = []
    x = "x"
    for i in range(blocks):
        x = _block(body, inits, rng, x, i)
    shape = ["N", CHANNELS, SIDE, SIDE]
    graph = helper.make_graph(
        body, f"ladder{nodes}",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info(x, TensorProto.FLOAT, shape)], inits,
    )  # fmt: skip
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _block(body: list, inits: list, rng: np.random.Generator, x: str, i: int) -> str:
    def name(s: str) -> str:
        return f"b{i}_{s}"

    def weight(s: str, scale: float) -> str:
        w = (rng.standard_normal((CHANNELS, CHANNELS, 3, 3)) * scale).astype(np.float32)
        inits.append(numpy_helper.from_array(w, name(s)))
        return name(s)

    def bn(src: str, s: str) -> str:
        params = [rng.uniform(0.05, 0.15, CHANNELS), rng.standard_normal(CHANNELS) * 0.1,
                  rng.standard_normal(CHANNELS) * 0.1, rng.uniform(0.5, 1.5, CHANNELS)]  # fmt: skip
        names = [name(f"{s}_{p}") for p in ("g", "b", "m", "v")]
        for p, n in zip(params, names, strict=True):
            inits.append(numpy_helper.from_array(p.astype(np.float32), n))
        body.append(helper.make_node("BatchNormalization", [src, *names], [name(s)]))
        return name(s)

    conv = {"pads": [1, 1, 1, 1], "kernel_shape": [3, 3]}
    mk = helper.make_node
    body += [mk("Identity", [x], [name("id")]),
             mk("Conv", [name("id"), weight("w1", 0.2)], [name("c1")], **conv)]  # fmt: skip
    body.append(mk("Relu", [bn(name("c1"), "bn1")], [name("r1")]))
    body += [mk("Transpose", [name("r1")], [name("t1")], perm=[0, 2, 3, 1]),
             mk("Transpose", [name("t1")], [name("t2")], perm=[0, 3, 1, 2]),
             mk("Dropout", [name("t2")], [name("d")]),
             mk("Conv", [name("d"), weight("w2", 0.2)], [name("c2")], **conv)]  # fmt: skip
    body += [mk("Add", [bn(name("c2"), "bn2"), x], [name("a")]),
             mk("Relu", [name("a")], [name("r2")]),
             mk("Shape", [name("r2")], [name("s")]),
             mk("Gather", [name("s"), "zero"], [name("n")], axis=0),
             mk("Unsqueeze", [name("n"), "axes0"], [name("u")]),
             mk("Concat", [name("u"), "chw"], [name("shape")], axis=0),
             mk("Reshape", [name("r2"), name("shape")], [name("out")])]  # fmt: skip
    return name("out")


def summary(samples: list[float]) -> tuple[float, float, float]:
    """(median, min, max) in seconds."""
    return statistics.median(samples), min(samples), max(samples)


def alternate(fns: dict[str, Callable[[], object]], repeat: int) -> dict[str, list[float]]:
    """Time each function `repeat` times, interleaved (a, b, c, a, b, c, ...), after one warm-up
    each; the work each function does before its clock starts is its own business."""
    out: dict[str, list[float]] = {k: [] for k in fns}
    for fn in fns.values():
        fn()
    for _ in range(repeat):
        for key, fn in fns.items():
            out[key].append(float(fn()))  # type: ignore[arg-type]
    return out


def ort_session(model: onnx.ModelProto, level: str = "all") -> object:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.graph_optimization_level = {
        "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
        "none": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
    }[level]
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])


def latency(models: dict[str, onnx.ModelProto], feeds: dict[str, np.ndarray], samples: int = 7,
            min_seconds: float = 0.5) -> dict[str, list[float]]:  # fmt: skip
    """Seconds per run of each model in ORT (ENABLE_ALL, 1 thread): `samples` samples of at
    least `min_seconds` each, the models alternating sample by sample."""
    sessions = {k: ort_session(m) for k, m in models.items()}
    runs = {}
    for key, sess in sessions.items():
        names = {i.name for i in sess.get_inputs()}  # type: ignore[attr-defined]
        runs[key] = (sess, {k: v for k, v in feeds.items() if k in names})
        sess.run(None, runs[key][1])  # type: ignore[attr-defined]
    out: dict[str, list[float]] = {k: [] for k in models}
    for _ in range(samples):
        for key, (sess, feed) in runs.items():
            count, start = 0, time.perf_counter()
            while (elapsed := time.perf_counter() - start) < min_seconds:
                sess.run(None, feed)  # type: ignore[attr-defined]
                count += 1
            out[key].append(elapsed / count)
    return out


def _rss_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def memory(graph_factory: Callable[[], object], optimize: Callable[[object], None],
           export: Callable[[object], object]) -> dict[str, float]:  # fmt: skip
    """Peak traced bytes above the start during optimize, during export, and RSS growth (peak
    resident minus resident before; Linux only, 0 elsewhere)."""
    graph = graph_factory()
    gc.collect()
    try:
        Path("/proc/self/clear_refs").write_text("5")  # resets the peak RSS (VmHWM)
    except OSError:
        pass
    rss0 = _rss_kib("VmRSS")
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    optimize(graph)
    opt_peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.reset_peak()
    model = export(graph)
    export_peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    del model
    rss = (_rss_kib("VmHWM") - rss0) * 1024 if rss0 else 0
    return {"optimize": opt_peak, "export": export_peak, "rss": rss}


def fresh_memory(path: Path, pipeline: str) -> dict[str, float]:
    """`memory` of loading, optimizing and exporting the model at `path`, measured in a fresh
    process: a warm one reuses the heap that earlier models freed, which hides RSS growth. The
    child first optimizes a small ladder so module imports and one-time caches are not counted."""
    import json
    import subprocess
    import sys

    out = subprocess.run([sys.executable, __file__, str(path), pipeline], check=True,
                         capture_output=True, text=True, timeout=900)  # fmt: skip
    return json.loads(out.stdout.splitlines()[-1])  # type: ignore[no-any-return]


def _memory_child(path: str, pipeline: str) -> None:
    import json
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import compiler
    from backends.onnx import to_onnx

    warm = compiler.load(ladder_model(256))
    compiler.optimize(warm, pipeline, verify_each=False)
    to_onnx(warm, pipeline=pipeline)
    del warm
    mem = memory(lambda: compiler.load(Path(path)),
                 lambda g: compiler.optimize(g, pipeline, verify_each=False),  # type: ignore[arg-type]
                 lambda g: to_onnx(g, pipeline=pipeline))  # type: ignore[arg-type]  # fmt: skip
    print(json.dumps(mem))


__all__ = [
    "alternate", "fresh_memory", "ladder_model", "latency", "memory", "ort_session", "summary",
]  # fmt: skip

if __name__ == "__main__":
    import sys

    _memory_child(*sys.argv[1:3])


# -- the JSON record of a run (benchmarks/results/optimizer.json) ---------------------------------


def ms_stats(cell: tuple[float, float, float], n: int) -> dict[str, float]:
    """A (median, min, max) tuple of seconds as milliseconds for the JSON record."""
    return {"median": cell[0] * 1e3, "min": cell[1] * 1e3, "max": cell[2] * 1e3, "n": n}


def model_case(
    r: dict[str, Any], repeat: int, peer_repeat: int, peers: tuple[str, ...]
) -> dict[str, Any]:
    """One models-table row as plain figures."""
    counts = {p: r.get(f"{p}_nodes") for p in ("onnxsim", *peers)}
    best = min((c for c in counts.values() if isinstance(c, int)), default=None)
    weights, mem = max(int(r["weights"]), 1), r["memory"]
    times = {k: ms_stats(r[k], repeat) for k in ("ours", "onnxsim", "e2e", "verify")}
    return {
        "model": r["model"], "original": r["original"], "ours_nodes": r["ours_nodes"],
        "ir_nodes": r["ir_nodes"], "peer_nodes": counts, "best_peer_nodes": best,
        "ours_le_best": best is None or r["ours_nodes"] <= best,
        **{f"{k}_ms": v for k, v in times.items()},
        "peer_ms": {p: ms_stats(r[p], peer_repeat) if r.get(p) else None for p in peers},
        "ratio": r["ours"][0] / r["onnxsim"][0], "weights_mb": weights / 1e6,
        "optimize_peak_mb": mem["optimize"] / 1e6, "export_peak_mb": mem["export"] / 1e6,
        "rss_growth_mb": mem["rss"] / 1e6, "optimize_peak_over_weights": mem["optimize"] / weights,
        "export_peak_over_weights": mem["export"] / weights, "numerics": r["numerics"],
        "numerics_ok": str(r["numerics"]).startswith("ok"),
    }  # fmt: skip


def write_record(run: Any, rows: list[dict[str, Any]], scaling: list[dict[str, object]],
                 lat: list[dict[str, object]], args: Any, peers: tuple[str, ...],
                 pipeline: str) -> None:  # fmt: skip
    """Store the run as benchmarks/results/optimizer.json."""
    cases = [model_case(r, args.repeat, args.peer_repeat, peers) for r in rows]
    summary: dict[str, Any] = {}
    if cases:
        summary |= {"models": len(cases), "models_le_best": sum(c["ours_le_best"] for c in cases),
                    "ratio_max": max(c["ratio"] for c in cases),
                    "numerics_ok": sum(c["numerics_ok"] for c in cases),
                    "optimize_peak_over_weights_max": max(c["optimize_peak_over_weights"]
                                                          for c in cases)}  # fmt: skip
    if scaling:
        spread = [float(c["vs_smallest"]) for c in scaling]  # type: ignore[arg-type]
        summary |= {"scaling_min": min(spread), "scaling_max": max(spread)}
    if lat:
        ratios = [float(c["ratio"]) for c in lat]  # type: ignore[arg-type]
        summary |= {"latency_ratio_min": min(ratios), "latency_ratio_max": max(ratios)}
    settings = {"pipeline": pipeline, "repeat": args.repeat, "peer_repeat": args.peer_repeat,
                "sections": args.sections}  # fmt: skip
    run.write(cases, summary, settings, scaling=scaling, latency=lat)
