"""Node counts after our `default` pipeline against peer optimizers, on the MATERIAL models.

For every model: import -> `compiler.optimize(graph, PIPELINE)` -> `backends.onnx.to_onnx`, and
count the nodes of that standard ONNX model; then the same model through onnxsim,
onnxscript's optimizer, onnxoptimizer (MATERIAL's 13 passes) and ONNX Runtime's BASIC offline
optimization. Our exported model is also run in ONNX Runtime (no graph optimization) against
the original on seeded inputs and compared with the derived tolerance of the reference backend.

    .venv/bin/python benchmarks/node_counts.py [--models a,b] [--pipeline default]
        [--fused-pipeline SPEC] [--markdown benchmarks/results/node_counts.md]

`--fused-pipeline` adds a column for a pipeline with conv-BN fusion (default: the clean-ups,
`fuse-conv-bn-relu`, `prune-dead-nodes`, when that pass is registered).
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.append(str(REPO / "tests"))

import numpy as np  # noqa: E402
import onnx  # noqa: E402

import compiler  # noqa: E402
from backends.numpy.tolerance import derive_tolerances, max_abs_error  # noqa: E402
from backends.onnx import to_onnx  # noqa: E402

MODELS = [
    "light_bvlc_alexnet", "light_densenet121", "light_inception_v1", "light_inception_v2",
    "light_resnet50", "light_shufflenet", "light_squeezenet", "light_vgg19", "light_zfnet512",
    "effnet_lite0_raw", "effnet_lite0_legacy", "effnet_lite0", "mnist_cnn_raw", "mnist_cnn",
    "resnet200", "resnet200_noisy", "transformer64", "mlp2000",
]  # fmt: skip
ONNXOPT_PASSES = [
    "eliminate_deadend", "eliminate_identity", "eliminate_nop_dropout", "eliminate_nop_transpose",
    "fuse_consecutive_transposes", "eliminate_nop_reshape", "fuse_bn_into_conv",
    "fuse_add_bias_into_conv", "fuse_matmul_add_bias_into_gemm", "fuse_pad_into_conv",
    "extract_constant_to_initializer", "eliminate_unused_initializer",
    "eliminate_duplicate_initializer",
]  # fmt: skip
PEERS = ("onnxsim", "onnxscript", "onnxopt", "ort_basic")
# Exported standard ONNX writes an activation epilogue back as its own node, so the exported
# count uses BN folding only; the IR column shows the count with epilogues fused.
FUSED = "cleanup,fuse-conv-bn-relu{fuse-activation=false},cse,prune-dead-nodes"
FUSED_IR = "cleanup,fuse-conv-bn-relu,cse,prune-dead-nodes"


def model_file(name: str) -> Path | None:
    from material import model_path

    return model_path(name)


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


def peer_functions() -> dict[str, Callable[[onnx.ModelProto], onnx.ModelProto]]:
    import onnxoptimizer
    import onnxscript.optimizer
    import onnxsim

    return {
        "onnxsim": lambda m: onnxsim.simplify(copy.deepcopy(m))[0],
        "onnxscript": lambda m: onnxscript.optimizer.optimize(copy.deepcopy(m)),
        "onnxopt": lambda m: onnxoptimizer.optimize(copy.deepcopy(m), ONNXOPT_PASSES),
        "ort_basic": ort_basic,
    }


def feeds_for(graph: compiler.Graph, batch: int) -> dict[str, np.ndarray]:
    """Seeded standard-normal inputs; symbolic dims get `batch` at axis 0 and 1 elsewhere."""
    rng = np.random.default_rng(0)
    feeds = {}
    for value in graph.inputs:
        shape = [d if isinstance(d, int) else (batch if i == 0 else 1)
                 for i, d in enumerate(value.type.shape or ())]  # fmt: skip
        feeds[value.name] = rng.standard_normal(shape).astype(value.dtype.to_numpy())
    return feeds


def run_ort(model: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(model.SerializeToString(), opts,
                                providers=["CPUExecutionProvider"])  # fmt: skip
    names = {i.name for i in sess.get_inputs()}
    return sess.run(None, {k: v for k, v in feeds.items() if k in names})


def ours(
    path: Path, pipeline: str, export: bool = True
) -> tuple[onnx.ModelProto | None, int, float]:
    """(exported model or None, IR node count without consts, optimize seconds)."""
    graph = compiler.load(path)
    start = time.perf_counter()
    compiler.optimize(graph, pipeline)
    seconds = time.perf_counter() - start
    ir_nodes = sum(1 for n in graph.nodes if n.op != "const")
    model = to_onnx(graph, pipeline=pipeline) if export else None
    return model, ir_nodes, seconds


def numerics(path: Path, original: onnx.ModelProto, optimized: onnx.ModelProto, batch: int) -> str:
    """'ok (max err / atol)' or 'FAIL ...' for our exported model against the original, in ORT."""
    graph = compiler.load(path)
    feeds = feeds_for(graph, batch)
    ref = run_ort(original, feeds)
    got = run_ort(optimized, feeds)
    tolerances = derive_tolerances(
        graph, {v.name: r for v, r in zip(graph.outputs, ref, strict=True)}
    )
    worst, verdict = 0.0, "ok"
    for value, a, b in zip(graph.outputs, got, ref, strict=True):
        err, atol = max_abs_error(a, b), tolerances[value.name].atol
        worst = max(worst, err)
        if err > atol:
            verdict = f"FAIL {value.name}: {err:.3g} > atol {atol:.3g}"
    return verdict if verdict != "ok" else f"ok ({worst:.2g})"


def measure(name: str, pipeline: str, fused: str | None) -> dict[str, object]:
    path = model_file(name)
    if path is None:
        return {"model": name, "error": "model not available (needs torch to generate)"}
    original = onnx.load(str(path))
    row: dict[str, object] = {"model": name, "original": len(original.graph.node)}
    exported, row["ir"], row["seconds"] = ours(path, pipeline)
    assert exported is not None
    row["ours"] = len(exported.graph.node)
    batch = 1 if name.startswith("light_") else 2
    row["numerics"] = numerics(path, original, exported, batch)
    if fused:
        try:
            fused_model, _, _ = ours(path, fused)
            row["ours_fused"] = len(fused_model.graph.node)  # type: ignore[union-attr]
            row["numerics_fused"] = numerics(path, original, fused_model, batch)  # type: ignore[arg-type]
            _, row["ir_fused"], _ = ours(path, FUSED_IR, export=False)
        except compiler.CompilerError as exc:
            row["ours_fused"] = f"ERR {str(exc).splitlines()[0][:60]}"
    for peer, fn in peer_functions().items():
        try:
            with quiet():
                row[peer] = len(fn(original).graph.node)
        except Exception as exc:  # noqa: BLE001  a peer failing is a result, not a crash
            row[peer] = f"ERR {type(exc).__name__}"
    return row


def best_peer(row: dict[str, object]) -> tuple[str, int]:
    counts = [(row[p], p) for p in PEERS if isinstance(row.get(p), int)]
    count, peer = min(counts)  # type: ignore[type-var]
    return peer, int(count)  # type: ignore[arg-type]


def table(rows: list[dict[str, object]], fused: bool) -> str:
    head = ["model", "original", "ours", "ours+fusion", "IR+fusion", "best peer", *PEERS,
            "ours ≤ best", "numerics (ORT)", "numerics+fusion (ORT)", "ours s"]  # fmt: skip
    if not fused:
        head = [h for h in head if "fusion" not in h]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        if "error" in row:
            lines.append(f"| {row['model']} | {row['error']} |")
            continue
        peer, count = best_peer(row)
        mine = row.get("ours_fused", row["ours"]) if fused else row["ours"]
        cells = [row["model"], row["original"], row["ours"]]
        if fused:
            cells += [row.get("ours_fused"), row.get("ir_fused")]
        cells += [f"{count} ({peer})", *(row[p] for p in PEERS)]
        ok = isinstance(mine, int) and mine <= count
        cells += ["yes" if ok else "NO", row["numerics"]]
        cells += [row.get("numerics_fused")] if fused else []
        cells += [f"{row['seconds']:.2f}"]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(lines)


def versions() -> str:
    import onnxoptimizer
    import onnxruntime
    import onnxscript
    import onnxsim

    parts = [f"python {platform.python_version()}", f"numpy {np.__version__}",
             f"onnx {onnx.__version__}", f"onnxruntime {onnxruntime.__version__}",
             f"onnxsim {onnxsim.__version__}", f"onnxscript {onnxscript.__version__}",
             f"onnxoptimizer {onnxoptimizer.__version__}"]  # fmt: skip
    return ", ".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--pipeline", default="default")
    parser.add_argument("--fused-pipeline", default=None)
    parser.add_argument("--markdown", type=Path, default=None)
    args = parser.parse_args(argv)
    from compiler.passmanager import pass_names

    fused = args.fused_pipeline
    if fused is None and "fuse-conv-bn-relu" in pass_names():
        fused = FUSED
    rows = []
    for name in args.models.split(","):
        rows.append(measure(name, args.pipeline, fused))
        print(rows[-1], file=sys.stderr, flush=True)
    text = table(rows, fused is not None)
    print(text)
    if args.markdown is not None:
        command = "python benchmarks/node_counts.py " + " ".join(argv or sys.argv[1:])
        args.markdown.write_text(
            f"# Node counts: ours vs peer optimizers\n\nCommand: `{command}`\n\n"
            f"Pipeline: `{args.pipeline}`; fused column: `{fused}`\n\n"
            f"Versions: {versions()}; machine: {platform.machine()} {platform.system()}\n\n"
            f"{text}\n"
        )
    failed = [r for r in rows if "FAIL" in str(r.get("numerics")) + str(r.get("numerics_fused"))]
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
