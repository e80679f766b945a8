"""`irforge optimize IN -o OUT`: run a pass pipeline on a model and write the result.

Driver layer: imports the frontend, backends and passes lazily. The pipeline string (and any
`--print-ir-after` name) is checked before the model is loaded; the output model records the
canonical pipeline spec in its metadata (`irforge.pipeline`), and every file is written atomically.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

EXAMPLES = """examples:
  irforge optimize m.onnx -o m.opt.onnx                         the default pipeline
  irforge optimize m.onnx -o m.opt.onnx --pipeline 'prune-dead-nodes' --check-numerics
  irforge optimize m.onnx -o m.opt.ir --pipeline 'repeat(default; max-iterations=4)' --time-passes
"""


def add_parser(sub: Any) -> None:
    """Register the `optimize` subcommand on the CLI's subparsers."""
    p = sub.add_parser(
        "optimize", help="run a pass pipeline on a model (ONNX or textual IR)", epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    p.add_argument("input", type=Path, help="the model: .onnx or textual IR (.ir)")
    p.add_argument("-o", "--output", type=Path, required=True, help=".onnx or .ir")
    p.add_argument("--pipeline", default="default", help="pipeline string (default: %(default)s)")
    p.add_argument("--check-numerics", action="store_true",
                   help="compare reference results before and after every pass")  # fmt: skip
    p.add_argument("--inputs", type=Path, help="check-numerics inputs (.npz by input name)")
    p.add_argument("--seed", type=int, default=0, help="seed of random check-numerics inputs")
    p.add_argument("--no-verify-each", action="store_true", help="skip the verifier after passes")
    p.add_argument("--print-ir-after-all", action="store_true", help="print the IR after each pass")
    p.add_argument("--print-ir-after", action="append", metavar="PASS", default=[],
                   help="print the IR after this pass (repeatable)")  # fmt: skip
    p.add_argument(
        "--time-passes", action="store_true", help="print per-pass times and node deltas"
    )
    p.add_argument("--report", type=Path, metavar="FILE.json", help="write the pass report as JSON")
    p.add_argument("--opset", type=int, default=None, help="ONNX opset of the output")
    p.add_argument("--force", action="store_true", help="overwrite an existing output")


def run(args: argparse.Namespace) -> int:
    """Body of `irforge optimize`; returns the exit status."""
    from compiler.driver import check_outputs, count_nodes, describe_change, load_model
    from compiler.optimizer import optimize
    from compiler.passmanager import Pipeline

    pipeline = Pipeline.parse(args.pipeline)
    check_outputs([args.input, args.inputs], [args.output, args.report], force=args.force)
    graph = load_model(args.input)
    ops_before = count_nodes(graph)[0]
    report = optimize(
        graph, pipeline, verify_each=not args.no_verify_each,
        check_numerics=args.check_numerics, inputs=_inputs(args.inputs), seed=args.seed,
        print_ir_after=_print_after(args), time_passes=args.time_passes, stream=sys.stdout,
    )  # fmt: skip
    _save(graph, args.output, pipeline.spec(), args.opset)
    if args.report is not None:
        data = {"input": str(args.input), "output": str(args.output), **report.to_json()}
        _write_json(args.report, data)
    change = describe_change((ops_before, count_nodes(graph)[0]),
                             (report.nodes_before, report.nodes_after))  # fmt: skip
    print(f"optimized {args.input}: {change}; wrote {args.output}")
    print(f"time: pipeline {report.seconds:.3f}s, whole command {_elapsed(args):.3f}s")
    return 0


def _elapsed(args: argparse.Namespace) -> float:
    """Seconds since the command started (`irforge` sets `args.started`; else since import)."""
    return time.perf_counter() - getattr(args, "started", _IMPORTED)


_IMPORTED = time.perf_counter()


def _print_after(args: argparse.Namespace) -> str | list[str] | None:
    if args.print_ir_after_all:
        return "all"
    return args.print_ir_after or None


def _inputs(path: Path | None) -> dict[str, Any] | None:
    if path is None:
        return None
    import numpy as np

    from compiler.errors import CompilerError

    try:
        with np.load(path) as data:
            return {name: data[name] for name in data.files}
    except (OSError, ValueError) as exc:
        raise CompilerError(f"cannot read inputs from {path}: {exc}") from exc


def _save(graph: Any, path: Path, spec: str, opset: int | None) -> None:
    if path.suffix == ".onnx":
        from backends.onnx import save_onnx

        save_onnx(graph, path, opset=opset, pipeline=spec)
        return
    from compiler.driver import save_model

    save_model(graph, path, opset=opset)


def _write_json(path: Path, data: dict[str, Any]) -> None:
    from compiler.fileio import atomic_write

    atomic_write(path, (json.dumps(data, indent=2) + "\n").encode())
