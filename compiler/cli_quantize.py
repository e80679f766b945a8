"""`irforge quantize IN -o OUT --calib DATA`: symmetric int8 quantization to explicit Q/DQ.

Driver layer (listed in tests/compiler/test_layering.py): imports the frontend, passes and
backends lazily. Steps: load, run the clean-up pipeline, calibrate activations on DATA, optionally
rank layers by sensitivity (`--report`) and keep the most sensitive in float until the metric is
within budget (`--max-drop`), insert Q/DQ, quantize weights, write the model atomically.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

log = logging.getLogger("irforge.quantize")

EXAMPLES = """examples:
  irforge quantize m.onnx -o m.int8.onnx --calib calib.npz
  irforge quantize m.onnx -o m.int8.onnx --calib images/ --mean 0.485,0.456,0.406 \\
      --std 0.229,0.224,0.225 --method percentile --layout ort
  irforge quantize m.onnx -o m.int8.onnx --calib calib.npz --report --max-drop 1 --metric top1
"""


def add_parser(sub: Any, commands: dict[str, Any] | None = None) -> None:
    """Register the `quantize` subcommand on the CLI's subparsers (and its handler in
    `commands`, the CLI's command table)."""
    if commands is not None:
        commands["quantize"] = run
    p = sub.add_parser(
        "quantize", help="symmetric int8 quantization (explicit Q/DQ) from calibration data",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    p.add_argument("input", type=Path)
    p.add_argument("-o", "--output", type=Path, required=True, help=".onnx or .ir")
    p.add_argument("--calib", required=True, type=Path,
                   help="a .npz file or a folder of .npy/.npz/images")  # fmt: skip
    group = p.add_mutually_exclusive_group()
    group.add_argument("--per-channel", dest="per_channel", action="store_true", default=True,
                       help="per-output-channel weight scales (default)")  # fmt: skip
    group.add_argument("--per-tensor", dest="per_channel", action="store_false",
                       help="one weight scale per tensor")  # fmt: skip
    p.add_argument("--bits", type=int, choices=(8, 4), default=8, help="weight bits (default 8)")
    p.add_argument("--method", choices=("minmax", "percentile", "entropy", "mse"),
                   default="mse", help="activation range method (default: mse)")  # fmt: skip
    p.add_argument("--percentile", type=float, default=99.99, help="for --method percentile")
    p.add_argument("--layout", choices=("trt", "ort"), default="trt",
                   help="Q/DQ placement: TensorRT fusion points (default) or ONNX Runtime "
                        "integer kernels")  # fmt: skip
    p.add_argument(
        "--bias-correction",
        action="store_true",
        help="correct biases for the mean weight-rounding error (calibration means)",
    )
    p.add_argument(
        "--backend",
        choices=("numpy", "onnxruntime"),
        default="numpy",
        help="what runs calibration and --report (default: numpy, the reference)",
    )
    p.add_argument("--pipeline", default="default", help="clean-up pipeline run first")
    p.add_argument("--batch-size", type=int, default=8, help="calibration batch size")
    p.add_argument("--limit", type=int, default=None, help="most calibration samples used")
    p.add_argument("--mean", default="0", help="image mean per channel, e.g. 0.485,0.456,0.406")
    p.add_argument("--std", default="1", help="image std per channel")
    p.add_argument("--keep", action="append", default=[], metavar="LAYER",
                   help="leave this layer (printed output name) in float; repeatable")  # fmt: skip
    p.add_argument("--report", action="store_true",
                   help="per-layer sensitivity table, OUT.sensitivity.md/.png")  # fmt: skip
    p.add_argument(
        "--max-drop",
        type=float,
        default=None,
        help="keep the most sensitive layers in float until the metric is in budget",
    )
    p.add_argument("--metric", choices=("top1", "sqnr"), default="top1",
                   help="top1: points of top-1 disagreement with float (at most MAX_DROP); "
                        "sqnr: output SQNR in dB (at least MAX_DROP)")  # fmt: skip
    p.add_argument(
        "--eval-samples",
        type=int,
        default=64,
        help="samples used for --report / --max-drop (default 64)",
    )
    p.add_argument(
        "--eval",
        type=Path,
        default=None,
        metavar="DATA",
        help="data for --report / --max-drop (default: the calibration data)",
    )
    p.add_argument("--save-ranges", type=Path, default=None, metavar="FILE.json",
                   help="write the activation ranges; the model's pipeline metadata then "
                        "replays with quantize-activations{ranges=FILE.json}")  # fmt: skip
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--opset", type=int, default=None, help="ONNX opset of the output")
    p.add_argument("--force", action="store_true", help="overwrite existing outputs")


def _floats(text: str, what: str) -> tuple[float, ...]:
    from compiler.errors import CompilerError

    try:
        return tuple(float(t) for t in text.split(","))
    except ValueError:
        raise CompilerError(
            f"--{what}: expected numbers separated by commas, got {text!r}"
        ) from None


def _report_paths(args: argparse.Namespace) -> list[Path]:
    if not (args.report or args.max_drop is not None):
        return []
    base = args.output.with_name(args.output.name + ".sensitivity")
    return [base.with_name(base.name + ".md"), base.with_name(base.name + ".png")]


def run(args: argparse.Namespace) -> int:
    """Body of `irforge quantize`; returns the exit status."""
    from compiler.driver import check_outputs, load_model
    from compiler.errors import CompilerError
    from compiler.quantize.data import ImageOptions
    from compiler.quantize.driver import calibrate, load_batches, prepare

    if args.batch_size < 1 or (args.eval_samples < 1):
        raise CompilerError("--batch-size and --eval-samples must be at least 1")
    if not args.calib.exists():
        raise CompilerError(f"no such calibration data: {args.calib}")
    reports = _report_paths(args)
    if args.eval is not None and not args.eval.exists():
        raise CompilerError(f"no such evaluation data: {args.eval}")
    outputs = [args.output, *reports, args.save_ranges]
    check_outputs([args.input, args.calib, args.eval], outputs, force=args.force)
    images = ImageOptions(_floats(args.mean, "mean"), _floats(args.std, "std"))
    graph = load_model(args.input)
    before = len(graph)
    prepare(graph, args.pipeline, args.layout)
    data = load_batches(graph, args.calib, batch_size=args.batch_size, limit=args.limit,
                        images=images)  # fmt: skip
    if not data:
        raise CompilerError(f"calibration data {args.calib} holds no samples")
    calib = calibrate(graph, data, method=args.method, percentile=args.percentile,
                      layout=args.layout, show_progress=not args.no_progress,
                      backend=args.backend)  # fmt: skip
    keep = list(args.keep)
    if reports:
        evaluation = calib.batches
        if args.eval is not None:
            evaluation = load_batches(graph, args.eval, batch_size=args.batch_size, images=images)
        keep = _sensitivity(graph, calib, evaluation, args, keep, reports)
    _finish(graph, calib, args, keep, before)
    return 0


def _sensitivity(graph: Any, calib: Any, evaluation: Any, args: argparse.Namespace,
                 keep: list[str], reports: list[Path]) -> list[str]:  # fmt: skip
    from compiler.fileio import atomic_write
    from compiler.quantize.driver import first_samples, keep_for_budget, sensitivity
    from compiler.quantize.sensitivity import chart, table

    data = first_samples(evaluation, args.eval_samples)
    options = {"bits": args.bits, "per_channel": args.per_channel, "layout": args.layout,
               "bias_correction": args.bias_correction, "backend": args.backend}  # fmt: skip
    scores = sensitivity(graph, calib, data, show_progress=not args.no_progress, **options)
    samples = sum(len(next(iter(b.values()))) for b in data)
    source = (
        f"{args.eval} (--eval)"
        if args.eval is not None
        else f"{args.calib} (the calibration data; --eval for held-out data)"
    )
    print(f"sensitivity scored on {samples} sample(s) of {source}")
    lines = []
    if args.max_drop is not None:
        ranked = [s.unit for s in scores if s.unit not in keep]
        result = keep_for_budget(graph, calib, data, ranked, metric=args.metric,
                                 max_drop=args.max_drop, **options)  # fmt: skip
        keep = keep + result.keep
        status = "within" if result.within else "NOT within"
        lines.append(f"--max-drop {args.max_drop} --metric {args.metric}: kept {len(result.keep)}"
                     f" layer(s) in float, loss {result.loss:.4g} ({status} budget)")  # fmt: skip
        lines += [f"  float layers {k}: loss {loss:.4g}" for k, loss in result.trace]
    text = table(scores, keep)
    print(text)
    for line in lines:
        print(line)
    body = f"# quantization sensitivity of {args.input}\n\n{text}\n\n" + "\n".join(lines) + "\n"
    atomic_write(reports[0], body.encode())
    try:
        chart(scores, str(reports[1]), keep)
    except ImportError:
        log.warning("no chart: matplotlib is not installed (pip install irforge[viz])")
        print(f"wrote {reports[0]}")
        return keep
    print(f"wrote {reports[0]} and {reports[1]}")
    return keep


def _finish(graph: Any, calib: Any, args: argparse.Namespace, keep: list[str], before: int) -> None:
    from compiler.passmanager import Pipeline
    from compiler.quantize.driver import apply_quantization
    from passes.quantize_symmetric import QuantizeSymmetricPass

    means = calib.means if args.bias_correction else None
    pairs, layers = apply_quantization(graph, calib.amax, bits=args.bits,
                                       per_channel=args.per_channel, keep=keep,
                                       layout=args.layout, means=means)  # fmt: skip
    spec = Pipeline.parse(args.pipeline).spec()
    weights = QuantizeSymmetricPass(args.bits, args.per_channel, ",".join(keep)).spec()
    acts = _save_ranges(args, calib.amax, keep)
    recipe = ",".join(p for p in (spec, acts, weights) if p)
    _save(graph, args.output, recipe, args.opset)
    print(f"quantized {args.input}: {layers} layer(s) with {args.bits}-bit weights, {pairs} "
          f"activation Q/DQ pair(s) ({args.method}, {args.layout} layout), {len(keep)} kept in "
          f"float; {before} -> {len(graph)} nodes; wrote {args.output}")  # fmt: skip


def _save_ranges(args: argparse.Namespace, amax: dict[str, float], keep: list[str]) -> str:
    """Write `--save-ranges` and return the replaying pass spec ("" when not asked, or when bias
    correction changed biases that the ranges cannot replay)."""
    if args.save_ranges is None:
        return ""
    import json

    from compiler.fileio import atomic_write
    from passes.quantize_activations_pass import QuantizeActivationsPass

    data = {"layout": args.layout, "method": args.method, "ranges": amax}
    atomic_write(args.save_ranges, (json.dumps(data, indent=1, sort_keys=True) + "\n").encode())
    if args.bias_correction:
        return ""
    return QuantizeActivationsPass(str(args.save_ranges), ",".join(keep)).spec()


def _save(graph: Any, path: Path, spec: str, opset: int | None) -> None:
    if path.suffix == ".onnx":
        from backends.onnx import save_onnx

        save_onnx(graph, path, opset=opset, pipeline=spec)
        return
    from compiler.driver import save_model

    save_model(graph, path, opset=opset)


if __name__ == "__main__":  # pragma: no cover
    from compiler.cli import main

    sys.exit(main(["quantize", *sys.argv[1:]]))
