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
import sys
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
    from compiler.viz import GraphView, op_count, render

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
    notes: list[str] = []
    values_of = _overlay_values(args, original, notes)
    views = [GraphView(title, g, values_of(g)) for title, g in graphs]
    title = f"{args.model.name} · overlay: {args.overlay}"
    if spec is not None:
        title += f" · pipeline: {spec}"
    scheme = _scheme(args.overlay, views)
    text = render(views, scheme, fmt=fmt, collapse=args.collapse, max_nodes=args.max_nodes,
                  title=title, notes=notes)  # fmt: skip
    atomic_write(args.output, text.encode())
    counts = " / ".join(op_count(g) for _, g in graphs)
    print(f"wrote {args.output} ({fmt}, {len(text)} bytes; {counts}) in "
          f"{time.perf_counter() - start:.2f}s")  # fmt: skip
    return 0


def _random_note(overlay: str, flag: str, seed: int, what: str, detail: str = "") -> str:
    """The header line saying the overlay ran on random data; also said once on stderr."""
    print(f"irforge viz: note: the {overlay} overlay ran on random inputs (seed {seed}); pass "
          f"{flag} for real data", file=sys.stderr)  # fmt: skip
    return f"{what}: random inputs (seed {seed}{detail}) — pass {flag} for real data"


def _overlay_values(args: argparse.Namespace, original: Graph,
                    notes: list[str]) -> Callable[[Graph], Any]:  # fmt: skip
    """A function giving a graph's overlay values (by printed node name); appends the header
    lines saying where the values come from to `notes`."""
    from compiler.viz.values import op_values, precision_values

    if args.overlay == "op":
        return op_values
    if args.overlay == "precision":
        return precision_values
    if args.overlay == "error":
        if args.inputs is None:
            notes.append(_random_note("error", "--inputs FILE.npz", args.seed, "inputs"))
        else:
            notes.append(f"inputs: {args.inputs.name}")
        return _error_values(original, args.inputs, args.seed)
    if args.overlay == "sensitivity":
        scores = _sensitivity(original, args, notes)
        return lambda graph: scores

    def groups(graph: Graph) -> dict[str, str]:
        hint = graph is not original and not args.before_after
        found, summary = trt_groups(graph, args.opt_level, hint=hint)
        tag = ("before: " if graph is original else "after: ") if args.before_after else ""
        notes.append(tag + summary)
        return {name: tag + label for name, label in found.items()}

    return groups


def _scheme(overlay: str, views: list[Any]) -> Any:
    from compiler.viz.overlay import CategoryScheme, error_scheme, sqnr_scheme
    from compiler.viz.values import PRECISIONS

    if overlay == "error":
        return error_scheme("relative max error vs the original graph in float64")
    if overlay == "sensitivity":
        return sqnr_scheme("int8 sensitivity: output SQNR with only this layer quantized")
    if overlay == "precision":
        return CategoryScheme("precision", list(PRECISIONS), notes=True)
    seen = [str(v) for view in views for v in view.values.values()]
    if overlay == "op":
        return CategoryScheme("op kind", sorted(set(seen)))
    order = list(dict.fromkeys(seen))
    short = {label: label.split(": ")[-2] for label in order}  # "[before: ]engine layer 3: …"
    return CategoryScheme("TensorRT engine layer (the IR nodes fused into it)", order,
                          notes=True, short=short)  # fmt: skip


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


def _sensitivity(original: Graph, args: argparse.Namespace, notes: list[str]) -> dict[str, float]:
    """SQNR (dB) of each layer quantized alone, by unit name (the layer's printed output); the
    calibration data's source goes to `notes`."""
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
    scored = first_samples(data, args.eval_samples)
    count = sum(len(next(iter(b.values()))) for b in data)
    used = sum(len(next(iter(b.values()))) for b in scored)
    if args.calib is None:
        detail = f", {count} samples"
        notes.append(_random_note("sensitivity", "--calib DATA", args.seed, "calibration", detail))
    else:
        notes.append(f"calibration: {args.calib.name}, {count} samples; SQNR over the first {used}")
    calib = calibrate(graph, data, show_progress=False)
    scores = sensitivity(graph, calib, scored, show_progress=False)
    return {s.unit: float(s.sqnr) for s in scores}


# shape arithmetic and weight preparation: named after the compute ops in a fused layer's name
HELPER_OPS = frozenset(
    "cast cast_like expand reshape shape unsqueeze squeeze identity flatten constant_of_shape "
    "gather concat slice".split()
)


def trt_groups(
    graph: Graph, opt_level: int | None = None, *, hint: bool = False
) -> tuple[dict[str, str], str]:
    """The engine layer (after TensorRT's fusions) of each node, by printed node name, from a
    real build of `graph`, and a header line saying how many nodes went into how many layers
    (with `hint`, one without cross-node fusion suggests drawing the unoptimized graph).

    Engine layers that hold IR nodes are numbered from 1 in engine order and named by the ops
    they fuse, compute ops before shape/weight helpers: `engine layer 3: conv +
    batch_normalization + relu + 2 more (5 nodes)`; a node TensorRT split over several engine
    layers belongs to the first. TensorRT's internal layers (shape calls, copies) hold no node
    and are not numbered; nodes in no engine layer stay `n/a`."""
    from backends.tensorrt._trt import package_version
    from backends.tensorrt.build import BuildOptions, build_plan
    from backends.tensorrt.layer_map import layer_map
    from compiler.viz.values import node_names

    result = build_plan(graph, BuildOptions(verbose=True, optimization_level=opt_level))
    order = {name: i for i, name in enumerate(node_names(graph).values())}
    groups: dict[str, str] = {}
    sizes: list[int] = []
    for layer in layer_map(result)["engine"]:
        members: dict[str, str] = {}
        for node in layer["nodes"]:
            name, _, op = node.partition(" = ")
            if name.removeprefix("%") not in groups:
                members[name.removeprefix("%")] = op
        if members:
            sizes.append(len(members))
            label = f"engine layer {len(sizes)}: {_fused_ops(members, order)}"
            groups.update((name, label) for name in members)
    build = package_version() + ("" if opt_level is None else f", opt level {opt_level}")
    return groups, _trt_summary(len(order), sizes, build, hint)


def _fused_ops(members: dict[str, str], order: dict[str, int]) -> str:
    """`conv + batch_normalization + relu + 2 more (5 nodes)`: distinct ops, compute first."""
    ops = [members[n] for n in sorted(members, key=lambda n: order.get(n, 0))]
    ops = sorted(dict.fromkeys(ops), key=lambda op: op in HELPER_OPS)
    what = " + ".join(ops[:3]) + (f" + {len(ops) - 3} more" if len(ops) > 3 else "")
    return f"{what} ({len(members)} node{'s' * (len(members) > 1)})"


def _trt_summary(ops: int, sizes: list[int], build: str, hint: bool) -> str:
    """`tensorrt_rtx 1.7: 27 IR ops → 7 engine layers; 11 ops in no engine layer (n/a)`."""
    mapped = sum(sizes)
    text = f"{build}: {mapped} IR ops → {len(sizes)} engine layers"
    if sizes and max(sizes) == 1:
        text += " — no cross-node fusion"
        if hint:
            text += " (--pipeline O0 draws TensorRT's own fusions)"
    if mapped < ops:
        text += f"; {ops - mapped} ops in no engine layer (n/a)"
    return text
