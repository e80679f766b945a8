"""TensorRT build benchmark: irforge's layer-by-layer emitter vs TensorRT's own ONNX parser.

For every MATERIAL model: load, run the `default` pipeline (and `trt-fp16`), emit the network,
build it with the CPU-side TensorRT(-RTX) builder (VERBOSE, DETAILED profiling) and record the
build time, the network layers emitted, the engine's fused layers (from the engine layer
information) and the plan size. Side by side, the same ONNX file goes through
`OnnxParser.parse_from_file` (when the package has it): did it parse, how many layers, and its
engine's layers and build time. Results are added to benchmarks/results/tensorrt.md (newest first)
and the run is stored as benchmarks/results/tensorrt.json.

    python benchmarks/trt_build_bench.py [--models mnist_cnn,resnet200] [--no-fp16]

`--precisions fp32,fp16,int8 [--opt-levels 3,0]` instead times one build per model, precision
(`default`, `trt-fp16`, `trt-int8`) and builder optimization level, without the verbose log or
the parser: the build times the backend tests pay.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "benchmarks")]
sys.path.append(str(REPO / "tests"))

from benchinfo import Record, machine_line  # noqa: E402

RESULTS = REPO / "benchmarks" / "results" / "tensorrt.md"
MODELS = (
    "mnist_cnn", "light_squeezenet", "light_shufflenet", "light_inception_v1",
    "light_inception_v2", "light_densenet121", "light_resnet50", "light_bvlc_alexnet",
    "light_zfnet512", "light_vgg19", "resnet200", "effnet_lite0", "effnet_lite0_legacy",
    "transformer64", "mlp2000",
)  # fmt: skip


def ours(name: str, path: Path, pipeline: str) -> dict[str, Any]:
    import compiler
    from backends.tensorrt.build import BuildOptions, build_plan
    from backends.tensorrt.layer_map import layer_map

    graph = compiler.load(path)
    compiler.optimize(graph, pipeline)
    start = time.perf_counter()
    result = build_plan(graph, BuildOptions(verbose=True))
    total = time.perf_counter() - start
    lm = layer_map(result)
    traced = sum(1 for e in lm["engine"] if e["nodes"])
    return {"build": result.seconds, "total": total, "layers": lm["network_layers"],
            "engine": lm["engine_layers"], "traced": traced, "plan": len(result.plan),
            "nodes": len(graph)}  # fmt: skip


def onnx_parser(path: Path) -> dict[str, Any]:
    from backends.tensorrt import _trt
    from backends.tensorrt.build import RecordingLogger
    from backends.tensorrt.layer_map import engine_layers

    trt = _trt.load()
    if not hasattr(trt, "OnnxParser"):
        return {"parsed": "no OnnxParser in this package"}
    logger = RecordingLogger(trt, verbose=True)
    builder = trt.Builder(logger)
    network = builder.create_network(0)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(path)):
        errors = [str(parser.get_error(i).desc()) for i in range(parser.num_errors)]
        return {"parsed": "no: " + "; ".join(errors)[:120]}
    config = builder.create_builder_config()
    config.profiling_verbosity = trt.ProfilingVerbosity.DETAILED
    profile = _profile(trt, builder, network)
    if profile is not None:
        config.add_optimization_profile(profile)
    start = time.perf_counter()
    plan = builder.build_serialized_network(network, config)
    seconds = time.perf_counter() - start
    built = plan is not None and not logger.errors
    return {"parsed": "yes", "layers": network.num_layers, "build": seconds if built else None,
            "engine": len(engine_layers(logger.messages)) if built else None}  # fmt: skip


def _profile(trt: Any, builder: Any, network: Any) -> Any:
    from backends.tensorrt.build import default_profile

    dynamic = [network.get_input(i) for i in range(network.num_inputs)
               if any(d < 0 for d in network.get_input(i).shape)]  # fmt: skip
    if not dynamic:
        return None
    profile = builder.create_optimization_profile()
    for t in dynamic:
        profile.set_shape(t.name, *default_profile(tuple(t.shape)))
    return profile


def _fmt(v: Any, spec: str = ".2f") -> str:
    return "—" if v is None else format(v, spec)


def main(argv: list[str] | None = None) -> int:
    from material import model_path

    from backends.tensorrt._trt import package_version

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--no-fp16", action="store_true")
    parser.add_argument("--precisions", help="e.g. fp32,fp16,int8: the per-precision table")
    parser.add_argument("--opt-levels", default="3", help="builder optimization levels (0-5)")
    args = parser.parse_args(argv)
    run = Record("tensorrt", ["tensorrt-rtx", "tensorrt"])
    if args.precisions:
        levels = [int(v) for v in args.opt_levels.split(",")]
        table = precision_rows(args.models.split(","), args.precisions.split(","), levels)
        _write_precisions(table, argv, package_version())
        return 0
    rows, cases = [], []
    for name in args.models.split(","):
        path = model_path(name)
        if path is None:
            print(f"{name}: skipped (needs torch to be generated)")
            continue
        r32 = ours(name, path, "default")
        r16 = None if args.no_fp16 else ours(name, path, "trt-fp16")
        p = onnx_parser(path)
        gc.collect()
        rows.append(_row(name, r32, r16, p))
        cases.append({"model": name, "fp32": r32, "fp16": r16, "parser": p})
        print(rows[-1], flush=True)
    _write(rows, argv, package_version())
    parsed = sum(c["parser"]["parsed"] == "yes" for c in cases)
    built = sum(c["fp32"]["plan"] > 0 for c in cases)
    run.write(cases, {"models": len(cases), "built_fp32": built, "parser_parsed": parsed,
                      "builder": package_version()}, {"models": args.models,
                                                      "fp16": not args.no_fp16})  # fmt: skip
    return 0


PIPELINES = {"fp32": "default", "fp16": "trt-fp16", "int8": "trt-int8"}


def precision_rows(models: list[str], precisions: list[str], levels: list[int]) -> list[str]:
    """One row per model, precision and optimization level: emit + build once, timed."""
    from material import model_path

    import compiler
    from backends.tensorrt.build import BuildOptions, build_plan

    rows = []
    for name in models:
        path = model_path(name)
        if path is None:
            print(f"{name}: skipped (needs torch to be generated)")
            continue
        for precision in precisions:
            graph = compiler.load(path)
            compiler.optimize(graph, PIPELINES[precision])
            for level in levels:
                start = time.perf_counter()
                result = build_plan(graph, BuildOptions(optimization_level=level))
                total = time.perf_counter() - start
                errors = len(result.emission.logger.errors)
                cells = [name, precision, str(level), f"{result.seconds:.2f}", f"{total:.2f}",
                         str(result.emission.network.num_layers),
                         f"{len(result.plan) / 2**20:.1f}", str(errors)]  # fmt: skip
                rows.append("| " + " | ".join(cells) + " |")
                print(rows[-1], flush=True)
                del result
                gc.collect()
    return rows


def _write_precisions(rows: list[str], argv: list[str] | None, version: str) -> None:
    import numpy

    cmd = "python benchmarks/trt_build_bench.py " + " ".join(argv or sys.argv[1:])
    head = [
        f"## {datetime.date.today()} — `{cmd.strip()}`", "",
        f"Machine: {machine_line()}, no GPU; {version} (CPU-side ahead-of-time builder), "
        f"numpy {numpy.__version__}. Times in seconds, single runs; build = "
        "`build_serialized_network`, emit+build = network emission and build; pipelines: fp32 "
        "`default`, fp16 `trt-fp16`, int8 `trt-int8` (int8 weights); level = "
        "`builder_optimization_level` (3 is TensorRT's default).", "",
        "| model | precision | level | build s | emit+build s | network layers | plan MiB "
        "| builder errors |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]  # fmt: skip
    _prepend("\n".join(head + rows) + "\n\n")


def _row(name: str, r32: dict[str, Any], r16: dict[str, Any] | None, p: dict[str, Any]) -> str:
    cells = [name, str(r32["nodes"]), str(r32["layers"]), str(r32["engine"]),
             f"{r32['traced']}/{r32['engine']}", _fmt(r32["build"]), _fmt(r32["total"]),
             f"{r32['plan'] / 2**20:.1f}", _fmt(r16 and r16["build"]),
             str(r16["engine"]) if r16 else "—", p["parsed"], str(p.get("layers", "—")),
             str(p.get("engine") if p.get("engine") is not None else "—"),
             _fmt(p.get("build"))]  # fmt: skip
    return "| " + " | ".join(cells) + " |"


def _write(rows: list[str], argv: list[str] | None, version: str) -> None:
    import numpy

    cmd = "python benchmarks/trt_build_bench.py " + " ".join(argv or sys.argv[1:])
    head = [
        f"## {datetime.date.today()} — `{cmd.strip()}`", "",
        f"Machine: {machine_line()}, no GPU; {version} (CPU-side ahead-of-time builder), "
        f"numpy {numpy.__version__}. Times in seconds; builds are single runs.", "",
        "Columns: IR nodes after `default` (constants included); network layers irforge "
        "emitted; engine layers after TensorRT's fusion (from the VERBOSE engine layer "
        "information); engine layers traced back to IR nodes by the layer map; build = "
        "`build_serialized_network`; total = emit + build; fp16 = the `trt-fp16` graph; "
        "parser = TensorRT's `OnnxParser` on the same ONNX file (its network layers, engine "
        "layers, build).", "",
        "| model | IR nodes | layers | engine layers | traced | build s | emit+build s | plan MiB "
        "| fp16 build s | fp16 engine layers | parser parsed | parser layers | parser engine "
        "layers | parser build s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|",
    ]  # fmt: skip
    _prepend("\n".join(head + rows) + "\n\n")


def _prepend(text: str) -> None:
    """Newest run first in the results file."""
    old = RESULTS.read_text() if RESULTS.exists() else ""
    RESULTS.write_text(text + old)


if __name__ == "__main__":
    raise SystemExit(main())
