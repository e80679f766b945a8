"""`irforge build MODEL -o model.plan`: a TensorRT engine from a model, and `--check`.

Driver layer: imports the frontend, passes and the TensorRT backend lazily. The precision picks
the pipeline that prepares the IR (`fp32`: `default`, `fp16`: `trt-fp16`, `int8`: `trt-int8`,
whose Q/DQ nodes become TensorRT Q/DQ layers); `--pipeline` overrides it. `trt-int8` quantizes
the weights only; `--calib DATA` (with `--precision int8`) calibrates the activations on DATA
(`.npz` or image folder, as `irforge quantize --calib`) and inserts int8 Q/DQ pairs on them too
(`compiler.quantize`, TensorRT placement). `--check` prints the
capability report (every node that cannot be converted, with the reason, and the coverage) and
exits 2 when a node cannot be converted. Outputs are written atomically; existing ones need
`--force`.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from compiler.errors import CompilerError

PRECISION_PIPELINES = {"fp32": "default", "fp16": "trt-fp16", "int8": "trt-int8"}

EXAMPLES = """examples:
  irforge build m.onnx --check                              what converts, what does not and why
  irforge build m.onnx -o m.plan                            fp32 engine
  irforge build m.onnx -o m.plan --precision fp16 --shapes x:1x3x224x224,8x3x224x224,32x3x224x224
  irforge build m.onnx -o m.plan --layer-map m.layers.json  IR node <-> network/engine layers
  irforge build m.onnx -o m.plan --precision int8 --calib digits.npz   int8 weights + activations
"""


def add_parser(sub: Any, commands: dict[str, Any]) -> None:
    """Register the `build` subcommand on the CLI's subparsers and its body in `commands`."""
    commands["build"] = run
    p = sub.add_parser(
        "build", help="build a TensorRT engine (or --check what converts)", epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    p.add_argument("model", type=Path, help="the model: .onnx or textual IR (.ir)")
    p.add_argument("-o", "--output", type=Path, help="the serialized engine (.plan)")
    p.add_argument("--check", action="store_true", help="print the capability report only")
    p.add_argument("--precision", choices=sorted(PRECISION_PIPELINES), default="fp32")
    p.add_argument("--pipeline", help="pipeline preparing the IR (default: by precision)")
    p.add_argument("--calib", type=Path, metavar="DATA",
                   help="int8: calibrate activations on DATA (.npz or image folder); without "
                        "it int8 quantizes the weights only")  # fmt: skip
    p.add_argument("--shapes", action="append", default=[], metavar="NAME:MIN,OPT,MAX",
                   help="optimization profile of an input, e.g. x:1x3x224x224,8x3x224x224,"
                        "32x3x224x224 (repeatable; symbolic dims default to 1,1,16)")  # fmt: skip
    p.add_argument("--workspace", type=int, default=1024, metavar="MiB",
                   help="workspace memory limit (default: %(default)s MiB)")  # fmt: skip
    p.add_argument("--opt-level", type=int, choices=range(6), metavar="0-5",
                   help="builder optimization level (TensorRT's default: 3)")  # fmt: skip
    p.add_argument("--timing-cache", type=Path, metavar="FILE",
                   help="timing cache to load (if present) and save after the build")  # fmt: skip
    p.add_argument("--layer-map", type=Path, metavar="FILE.json",
                   help="write IR node -> layers and engine layer -> source nodes")  # fmt: skip
    p.add_argument("--force", action="store_true", help="overwrite existing outputs")


def build_model(
    model: Path | str,
    *,
    precision: str = "fp32",
    pipeline: str | None = None,
    shapes: Sequence[str] = (),
    workspace_mib: int | None = 1024,
    opt_level: int | None = None,
    timing_cache: Path | None = None,
    verbose: bool = False,
    calib: Path | str | None = None,
) -> Any:
    """Load `model`, prepare it for `precision` and build a TensorRT engine.

    Returns:
        A `backends.tensorrt.build.BuildResult`; `.plan` holds the serialized engine bytes.

    Raises:
        CompilerError: a bad model, pipeline or shape spec, unsupported nodes (all listed), or
            a failed build (with the builder's errors).
    """
    from backends.tensorrt.build import BuildOptions, build_plan, parse_shapes

    graph = prepare(model, precision, pipeline, calib)
    options = BuildOptions(
        workspace=None if workspace_mib is None else workspace_mib << 20,
        optimization_level=opt_level, timing_cache=timing_cache,
        shapes=parse_shapes(list(shapes)), verbose=verbose,
    )  # fmt: skip
    return build_plan(graph, options)


def prepare(
    model: Path | str, precision: str, pipeline: str | None, calib: Path | str | None = None
) -> Any:
    """The model's graph after the precision's pipeline (or `pipeline`); with `calib` (int8
    only), after `compiler.quantize.quantize` on that data (`pipeline` or `default` first)."""
    from compiler.driver import load_model
    from compiler.optimizer import optimize
    from compiler.passmanager import Pipeline

    if precision not in PRECISION_PIPELINES:
        raise CompilerError(f"unknown precision {precision!r} (fp32, fp16 or int8)")
    if calib is not None:
        if precision != "int8":
            raise CompilerError(f"--calib calibrates int8 activations; not for {precision}")
        from compiler.quantize import quantize

        graph = load_model(model)
        quantize(graph, Path(calib), pipeline=pipeline or "default", show_progress=False)
        return graph
    if pipeline is None and precision == "int8" and not _has_pipeline("trt-int8"):
        raise CompilerError(
            "--precision int8 needs the `trt-int8` pipeline, which this build lacks; "
            "pass --pipeline with a quantizing pipeline (Q/DQ nodes)"
        )
    parsed = Pipeline.parse(pipeline or PRECISION_PIPELINES[precision])
    graph = load_model(model)
    optimize(graph, parsed)
    return graph


def _has_pipeline(name: str) -> bool:
    from passes.pipelines import PIPELINES

    return name in PIPELINES


def run(args: argparse.Namespace) -> int:
    """Body of `irforge build`; returns the exit status."""
    from compiler.driver import check_outputs

    if args.output is None and not args.check:
        raise CompilerError("give -o MODEL.plan to build, or --check for the capability report")
    check_outputs([args.model, args.calib], [args.output, args.layer_map], force=args.force)
    if args.check:
        return _check(args)
    result = build_model(
        args.model, precision=args.precision, pipeline=args.pipeline, shapes=args.shapes,
        workspace_mib=args.workspace, opt_level=args.opt_level, timing_cache=args.timing_cache,
        verbose=True, calib=args.calib,
    )  # fmt: skip
    _write(args.output, result.plan)
    what = args.precision
    if what == "int8" and args.pipeline is None:
        what += ": weights and calibrated activations" if args.calib else ": weights only"
    from backends.tensorrt.layer_map import engine_layers

    summary = f"built {args.output} ({len(result.plan)} bytes, {what}): "
    summary += f"{len(result.emission.layers)} network layers, "
    summary += f"{len(engine_layers(result.log))} engine layers"
    if args.layer_map is not None:
        from backends.tensorrt.layer_map import layer_map

        _write(args.layer_map, (json.dumps(layer_map(result), indent=1) + "\n").encode())
        summary += f"; wrote {args.layer_map}"
    for name, (lo, opt, hi) in result.profiles.items():
        summary += f"\n  profile {name}: min {_dims(lo)} opt {_dims(opt)} max {_dims(hi)}"
    summary += (
        f"\n  time: TensorRT builder {result.seconds:.2f}s, whole command {_elapsed(args):.2f}s"
    )
    print(summary)
    return 0


def _check(args: argparse.Namespace) -> int:
    from backends.tensorrt.capability import capability_report

    graph = prepare(args.model, args.precision, args.pipeline, args.calib)
    report = capability_report(graph)
    print(report.format())
    if report.ok:
        return 0
    raise CompilerError(f"{len(report.problems)} node(s) of {args.model} cannot be converted "
                        "to TensorRT (listed above)")  # fmt: skip


def _elapsed(args: argparse.Namespace) -> float:
    """Seconds since the command started (`irforge` sets `args.started`; else since import)."""
    return time.perf_counter() - getattr(args, "started", _IMPORTED)


_IMPORTED = time.perf_counter()


def _dims(shape: Sequence[int]) -> str:
    return "x".join(str(d) for d in shape)


def _write(path: Path, data: bytes) -> None:
    from compiler.fileio import atomic_write

    atomic_write(path, data)
