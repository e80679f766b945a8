"""`irforge viz MODEL -o graph.svg|graph.html`: draw the graph, coloured by an overlay.

Driver layer (listed in tests/compiler/test_layering.py): the drawing is `compiler.viz` (pure);
the overlay values that need a backend or a pass are computed here, with lazy imports.

Overlays (values are keyed by each node's printed output name, so a value keeps its colour across
the passes that keep its name):

- `op` (default): the op kind.
- `error`: relative max error `max|a − b| / max|b|` of each node's output `a` (float32 reference
  backend) against `b`, the *original* graph's value of the same name computed in float64 —
  so the original graph shows its own float32 rounding and the optimized graph what the pipeline
  added. Inputs: `--inputs FILE.npz` or seeded random ones (standard normal, symbolic dims 1).
- `sensitivity`: per-layer int8 sensitivity (`compiler.quantize.driver.sensitivity`): each layer
  quantized alone, output SQNR in dB against float; calibrated on `--calib DATA` (else seeded
  random inputs). Units are the layers of the graph after `default`.
- `precision`: what each node computes in: fp32 / fp16 / int8 Q/DQ / int8 compute / cast.
- `trt-group`: the TensorRT engine layer (fusion group) each node ends up in, from a real
  TensorRT(-RTX) build of the drawn graph (`backends.tensorrt.layer_map`).

Without `--pipeline`, the model is drawn as loaded, except `sensitivity` and `trt-group`, which
draw it after `default` (what quantization and `irforge build` see); `--before-after` draws the
graph before and after the pipeline side by side.
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from compiler.errors import CompilerError
from compiler.graph import Graph
from compiler.viz import COLLAPSE

OVERLAYS = ("op", "error", "sensitivity", "precision", "trt-group")
SUFFIXES = {".svg": "svg", ".html": "html", ".htm": "html"}
NEEDS_PIPELINE = ("sensitivity", "trt-group")

EXAMPLES = """examples:
  irforge viz m.onnx -o m.svg                                     op kinds
  irforge viz m.onnx -o m.html --pipeline default --before-after --overlay error
  irforge viz m.onnx -o m.html --overlay sensitivity --calib digits.npz
  irforge viz m.onnx -o m.svg --pipeline trt-fp16 --overlay precision
  irforge viz m.onnx -o m.html --overlay trt-group --max-nodes 80
"""


def add_parser(sub: Any, commands: dict[str, Any]) -> None:
    """Register the `viz` subcommand on the CLI's subparsers and its body in `commands`."""
    commands["viz"] = run
    p = sub.add_parser(
        "viz", help="draw the graph (SVG or HTML), coloured by an overlay", epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    p.add_argument("model", type=Path)
    p.add_argument("-o", "--output", type=Path, required=True, help="graph.svg or graph.html")
    p.add_argument("--overlay", default="op", help=f"{', '.join(OVERLAYS)} (default: op)")
    p.add_argument("--pipeline", default=None, help="draw the graph after this pipeline")
    p.add_argument("--before-after", action="store_true",
                   help="draw the graph before and after the pipeline side by side")  # fmt: skip
    p.add_argument("--collapse", default="auto", choices=COLLAPSE,
                   help="fold repeated blocks and/or linear chains (auto: when over "
                        "--max-nodes)")  # fmt: skip
    p.add_argument("--max-nodes", type=int, default=150,
                   help="most boxes on one page (default: %(default)s)")  # fmt: skip
    p.add_argument("--inputs", type=Path, metavar="FILE.npz", help="error: inputs by name")
    p.add_argument("--seed", type=int, default=0, help="seed of random inputs (default 0)")
    p.add_argument("--calib", type=Path, metavar="DATA",
                   help="sensitivity: calibration data (.npz or image folder)")  # fmt: skip
    p.add_argument("--eval-samples", type=int, default=32,
                   help="sensitivity: samples scored (default: %(default)s)")  # fmt: skip
    p.add_argument("--opt-level", type=int, choices=range(6), metavar="0-5",
                   help="trt-group: builder optimization level (default: TensorRT's)")  # fmt: skip
    p.add_argument("--force", action="store_true", help="overwrite an existing output")


def _check(args: argparse.Namespace) -> str:
    """The output format; every argument checked before the model is loaded."""
    if args.overlay not in OVERLAYS:
        raise CompilerError(f"unknown overlay {args.overlay!r} (valid: {', '.join(OVERLAYS)})")
    fmt = SUFFIXES.get(args.output.suffix.lower())
    if fmt is None:
        raise CompilerError(f"{args.output}: the output must end in .svg or .html")
    if args.max_nodes < 2 or args.eval_samples < 1:
        raise CompilerError("--max-nodes must be at least 2 and --eval-samples at least 1")
    for path in (args.inputs, args.calib):
        if path is not None and not path.exists():
            raise CompilerError(f"no such file: {path}")
    return fmt


def run(args: argparse.Namespace) -> int:
    """Body of `irforge viz`; returns the exit status."""
    from compiler.driver import check_outputs, load_model
    from compiler.fileio import atomic_write
    from compiler.passmanager import Pipeline
    from compiler.viz import GraphView, render

    start = time.perf_counter()
    fmt = _check(args)
    spec = args.pipeline
    if spec is None and (args.overlay in NEEDS_PIPELINE or args.before_after):
        spec = "default"
    pipeline = Pipeline.parse(spec) if spec is not None else None
    check_outputs([args.model, args.inputs, args.calib], [args.output], force=args.force)
    original = load_model(args.model)
    drawn = original
    if pipeline is not None:
        from compiler.optimizer import optimize

        drawn = original.clone()
        optimize(drawn, pipeline)
    label = f"after {spec or 'O0'}" if spec is not None else args.model.name
    graphs = [("before", original), (label, drawn)] if args.before_after else [(label, drawn)]
    values_of = _overlay_values(args, original)
    views = [GraphView(title, g, values_of(g)) for title, g in graphs]
    title = f"{args.model.name} · overlay: {args.overlay}"
    if spec is not None:
        title += f" · pipeline: {spec}"
    text = render(views, _scheme(args.overlay, views), fmt=fmt, collapse=args.collapse,
                  max_nodes=args.max_nodes, title=title)  # fmt: skip
    atomic_write(args.output, text.encode())
    counts = " / ".join(str(len(g)) for _, g in graphs)
    print(f"wrote {args.output} ({fmt}, {len(text)} bytes; {counts} nodes) in "
          f"{time.perf_counter() - start:.2f}s")  # fmt: skip
    return 0


def _overlay_values(args: argparse.Namespace, original: Graph) -> Callable[[Graph], Any]:
    """A function giving a graph's overlay values (by printed node name)."""
    from compiler.viz.values import op_values, precision_values

    if args.overlay == "op":
        return op_values
    if args.overlay == "precision":
        return precision_values
    if args.overlay == "error":
        return _error_values(original, args.inputs, args.seed)
    if args.overlay == "sensitivity":
        scores = _sensitivity(original, args)
        return lambda graph: scores
    return lambda graph: trt_groups(graph, args.opt_level)


def _scheme(overlay: str, views: list[Any]) -> Any:
    from compiler.viz.overlay import CategoryScheme, error_scheme, sqnr_scheme
    from compiler.viz.values import PRECISIONS

    if overlay == "error":
        return error_scheme("relative max error vs the original graph in float64")
    if overlay == "sensitivity":
        return sqnr_scheme("int8 sensitivity: output SQNR with only this layer quantized")
    if overlay == "precision":
        return CategoryScheme("precision", list(PRECISIONS))
    seen = [str(v) for view in views for v in view.values.values()]
    if overlay == "op":
        return CategoryScheme("op kind", sorted(set(seen)))
    return CategoryScheme("TensorRT engine layer (fusion group)", list(dict.fromkeys(seen)))


def relative_error(got: np.ndarray, want: np.ndarray) -> float:
    """`max|got − want| / max|want|` over finite entries (inf where shapes or non-finite
    entries disagree; 0 for two zero tensors)."""
    from compiler.passmanager.numerics import max_abs_error

    worst = max_abs_error(got, want)
    if worst == 0 or not math.isfinite(worst):
        return worst
    ref = np.asarray(want, np.float64)
    scale = float(np.max(np.abs(ref[np.isfinite(ref)]), initial=0.0))
    return worst / scale if scale else math.inf


def _error_values(original: Graph, inputs: Path | None,
                  seed: int) -> Callable[[Graph], dict[str, float]]:  # fmt: skip
    from backends.numpy import compile as compile_program
    from compiler.cli_compare import graph_inputs
    from compiler.passmanager.numerics import random_inputs

    if inputs is None:  # symbolic dims 1: the float64 run of a large model is the slow part
        ones = {d: 1 for v in original.inputs for d in (v.shape or ()) if isinstance(d, str)}
        arrays = random_inputs(original.inputs, seed, ones)
    else:
        arrays = graph_inputs(original, inputs, seed)
    truth = compile_program(original)(arrays, float64=True, capture=True).captured

    def values(graph: Graph) -> dict[str, float]:
        from compiler.viz.values import node_names

        got = compile_program(graph)(arrays, capture=True).captured
        names = node_names(graph).values()
        return {n: relative_error(got[n], truth[n]) for n in names if n in got and n in truth}

    return values


def _random_batches(graph: Graph, seed: int, count: int = 4) -> list[dict[str, np.ndarray]]:
    from compiler.passmanager.numerics import random_inputs

    symbols = {d: 8 for v in graph.inputs for d in (v.shape or ()) if isinstance(d, str)}
    batches = []
    for k in range(count):
        arrays = random_inputs(graph.inputs, seed + k, symbols)
        batches.append({v.name: a for v, a in zip(graph.inputs, arrays, strict=True)})
    return batches


def _sensitivity(original: Graph, args: argparse.Namespace) -> dict[str, float]:
    """SQNR (dB) of each layer quantized alone, by unit name (the layer's printed output)."""
    from compiler.quantize.driver import (
        calibrate,
        first_samples,
        load_batches,
        prepare,
        sensitivity,
    )

    graph = original.clone()
    prepare(graph, "default")
    if args.calib is not None:
        data = load_batches(graph, args.calib, batch_size=8)
    else:
        data = _random_batches(graph, args.seed)
    if not data:
        raise CompilerError(f"calibration data {args.calib} holds no samples")
    calib = calibrate(graph, data, show_progress=False)
    scores = sensitivity(graph, calib, first_samples(data, args.eval_samples), show_progress=False)
    return {s.unit: float(s.sqnr) for s in scores}


def trt_groups(graph: Graph, opt_level: int | None = None) -> dict[str, str]:
    """The engine layer (after TensorRT's fusions) of each node, by printed node name, from a
    real build of `graph` (`L<k> <layer type>`, k in engine order)."""
    from backends.tensorrt.build import BuildOptions, build_plan
    from backends.tensorrt.layer_map import layer_map

    result = build_plan(graph, BuildOptions(verbose=True, optimization_level=opt_level))
    groups: dict[str, str] = {}
    for k, layer in enumerate(layer_map(result)["engine"]):
        for node in layer["nodes"]:
            name = node.split(" = ", 1)[0].removeprefix("%")
            groups.setdefault(name, f"L{k} {layer['type']}")
    return groups
