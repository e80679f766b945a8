"""The `irforge` command line.

Driver layer: it may import `passes` and `backends`, lazily, inside functions. Every `CompilerError`
becomes one clear message on stderr and exit status 2; nothing else is caught.
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from compiler.errors import CompilerError

EPILOG = """examples:
  irforge inspect model.onnx                 op histogram, inputs/outputs, parameter count
  irforge inspect model.onnx --ir            ... and the full textual IR
  irforge convert model.onnx model.ir        ONNX -> textual IR (+ model.ir.npz for large weights)
  irforge convert model.ir out.onnx --opset 18
  irforge run model.onnx --random --shape x=1x3x224x224        reference outputs (numpy backend)
  irforge run model.onnx --inputs in.npz --backend onnxruntime --save out.npz
  irforge optimize model.onnx -o opt.onnx --pipeline default --check-numerics --time-passes
  irforge compare model.onnx --pipeline default --backends numpy,onnxruntime
  irforge bisect model.onnx --pipeline default   first pass/rewrite that changes the results
  irforge quantize model.onnx -o int8.onnx --calib data.npz --report   symmetric int8 Q/DQ
  irforge build model.onnx --check           TensorRT coverage: every unconvertible node, why
  irforge build model.onnx -o model.plan --precision fp16 --layer-map layers.json
  irforge viz model.onnx -o graph.html --pipeline default --before-after --overlay error
  irforge demo                               the main job on the bundled MNIST model
  irforge demo --json                        ... as one JSON report (for scripts)
"""


INSPECT_EXAMPLES = """examples:
  irforge inspect model.onnx                 op histogram, inputs/outputs, parameter count
  irforge inspect model.ir --ir              ... and the full textual IR
"""

CONVERT_EXAMPLES = """examples:
  irforge convert model.onnx model.ir        ONNX -> textual IR (+ model.ir.npz for large weights)
  irforge convert model.ir out.onnx --opset 18
"""

DEMO_EXAMPLES = """examples:
  irforge demo                               the main job on the bundled MNIST model
  irforge demo --json                        ... as one JSON report (for scripts)
  irforge demo --model m.onnx --save out/    another model; keep the exported files in out/
"""

_RAW = argparse.RawDescriptionHelpFormatter
_LOCATED_ERROR = re.compile(r"^\S+:\d+:\d+: error: ")


def version() -> str:
    """The installed package's version, or "unknown" when it is not installed."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as package_version

    try:
        return package_version("irforge")
    except PackageNotFoundError:
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="irforge", description="irforge: a graph-optimization compiler for neural networks.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    p = sub.add_parser("inspect", help="summarize a model (ONNX or textual IR)",
                       epilog=INSPECT_EXAMPLES, formatter_class=_RAW)  # fmt: skip
    p.add_argument("model", type=Path, help="the model: .onnx, or textual IR (.ir)")
    p.add_argument("--ir", action="store_true", help="print the full textual IR")
    p.add_argument("--no-verify", action="store_true", help="skip the verifier")
    p = sub.add_parser("convert", help="convert between ONNX (.onnx) and textual IR (.ir)",
                       epilog=CONVERT_EXAMPLES, formatter_class=_RAW)  # fmt: skip
    p.add_argument("input", type=Path, help="the model to read: .onnx or .ir")
    p.add_argument("output", type=Path, help="the file to write: .onnx or .ir (by extension)")
    p.add_argument("--opset", type=int, default=None, help="ONNX opset of the output")
    p.add_argument("--force", action="store_true", help="overwrite an existing output")
    from compiler.cli_run import add_parser as add_run_parser

    add_run_parser(sub)
    from compiler.cli_optimize import add_parser as add_optimize_parser

    add_optimize_parser(sub)
    from compiler.cli_build import add_parser as add_build_parser

    add_build_parser(sub, _COMMANDS)
    from compiler.cli_compare import add_bisect_parser
    from compiler.cli_compare import add_parser as add_compare_parser

    add_compare_parser(sub)
    add_bisect_parser(sub)
    from compiler.cli_quantize import add_parser as add_quantize_parser

    add_quantize_parser(sub, _COMMANDS)
    from compiler.cli_viz import add_parser as add_viz_parser

    add_viz_parser(sub, _COMMANDS)
    p = sub.add_parser("demo", help="run the main job on the bundled MNIST model",
                       epilog=DEMO_EXAMPLES, formatter_class=_RAW)  # fmt: skip
    p.add_argument("--model", type=Path, default=None, help="another ONNX model instead")
    p.add_argument("--json", action="store_true", help="print the report as JSON (for scripts)")
    p.add_argument("--save", type=Path, metavar="DIR",
                   help="keep the exported models, engines and layer maps in DIR")  # fmt: skip
    p.add_argument("--force", action="store_true", help="allow a non-empty --save DIR")
    _describe(sub)
    return parser


def _describe(sub: Any) -> None:
    """Give every subcommand's `--help` a description: its one-line help, as a sentence."""
    for action in sub._choices_actions:
        command = sub.choices[action.dest]
        if command.description is None and action.help:
            command.description = f"{action.help[0].upper()}{action.help[1:]}."


def format_error(exc: CompilerError) -> str:
    """`irforge: error: MESSAGE`, or `irforge: FILE:LINE:COL: error: ...` when the message
    already carries its own located `error:` (one "error:" either way)."""
    text = str(exc)
    if _LOCATED_ERROR.match(text):
        return f"irforge: {text}"
    return f"irforge: error: {text}"


def main(argv: Sequence[str] | None = None) -> int:
    started = time.perf_counter()
    args = build_parser().parse_args(argv)
    args.started = started
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s: %(message)s"
    )
    if args.command is None:
        build_parser().print_help()
        return 2
    try:
        return _COMMANDS[args.command](args)
    except CompilerError as exc:
        print(format_error(exc), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `irforge inspect m.onnx --ir | head`: the reader left early
        sys.stderr.close()
        return 0


def _inspect(args: argparse.Namespace) -> int:
    from compiler.driver import load_model, summarize

    graph = load_model(args.model, verify=not args.no_verify)
    print(summarize(graph, title=str(args.model)))
    if args.ir:
        from compiler.text import print_graph

        print(print_graph(graph))
    return 0


def _convert(args: argparse.Namespace) -> int:
    from compiler.driver import check_output_path, describe_nodes, load_model, save_model

    check_output_path(args.input, args.output, force=args.force)
    graph = load_model(args.input)
    save_model(graph, args.output, opset=args.opset)
    print(f"wrote {args.output} ({describe_nodes(graph)})")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from compiler.demo import run_demo

    return run_demo(args.model, as_json=args.json, save=args.save, force=args.force)


def _run(args: argparse.Namespace) -> int:
    from compiler.cli_run import run_command

    return run_command(args)


def _optimize(args: argparse.Namespace) -> int:
    from compiler.cli_optimize import run

    return run(args)


def _compare(args: argparse.Namespace) -> int:
    from compiler.cli_compare import run

    return run(args)


def _bisect(args: argparse.Namespace) -> int:
    from compiler.cli_compare import run_bisect

    return run_bisect(args)


_COMMANDS = {
    "inspect": _inspect, "convert": _convert, "run": _run, "optimize": _optimize, "demo": _demo,
    "compare": _compare, "bisect": _bisect,
}  # fmt: skip
