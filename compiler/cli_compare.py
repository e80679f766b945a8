"""`irforge compare MODEL`: run the original and the optimized graph on backends and compare.

Driver layer: backends and passes are imported lazily. For every chosen backend, the original and
the optimized graph run on the same inputs (an `.npz` by input name, or seeded random ones:
standard normal floats, small integers, symbolic dims 2); each output of the optimized graph is
compared with the original's on that backend: max abs error, relative error `‖a−b‖/‖b‖`, SQNR
`10·log10(‖b‖²/‖a−b‖²)` dB, and the derived tolerance of the reference backend
(`backends.numpy.tolerance`: `SAFETY·u·√D·max|b|`). Exit status 1 when any output is outside it.

A backend is one entry of `BACKENDS`: a function running a graph on arrays in graph-input order
and returning arrays in graph-output order; a new backend (TensorRT) plugs in by adding one.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from compiler.errors import CompilerError
from compiler.graph import Graph

BackendRunner = Callable[[Graph, Sequence[np.ndarray]], list[np.ndarray]]


def _run_numpy(graph: Graph, arrays: Sequence[np.ndarray]) -> list[np.ndarray]:
    from backends.numpy import run

    return list(run(graph, list(arrays)).values)


def _run_onnxruntime(graph: Graph, arrays: Sequence[np.ndarray]) -> list[np.ndarray]:
    from backends.onnx import run_onnxruntime, to_onnx

    model = to_onnx(graph)
    feeds = {i.name: a for i, a in zip(model.graph.input, arrays, strict=True)}
    results = run_onnxruntime(model, feeds)
    return [results[o.name] for o in model.graph.output]


BACKENDS: dict[str, BackendRunner] = {"numpy": _run_numpy, "onnxruntime": _run_onnxruntime}
"""Backend name -> runner; add an entry to make a backend available to `compare`."""


@dataclass
class OutputComparison:
    """One output of the optimized graph against the original, on one backend."""

    backend: str
    output: str
    max_abs: float
    relative: float
    sqnr_db: float
    tolerance: float

    @property
    def ok(self) -> bool:
        return self.max_abs <= self.tolerance

    def to_json(self) -> dict[str, Any]:
        data = {k: _json_float(v) for k, v in asdict(self).items()}
        return {**data, "ok": self.ok}


def _json_float(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # JSON has no inf/nan
    return value


def error_metrics(got: np.ndarray, want: np.ndarray) -> tuple[float, float, float]:
    """(max abs error, relative error ‖a−b‖/‖b‖, SQNR in dB) of `got` against `want`."""
    from compiler.passmanager.numerics import max_abs_error

    worst = max_abs_error(got, want)
    if not math.isfinite(worst):
        return worst, math.inf, -math.inf
    a, b = np.asarray(got, np.float64), np.asarray(want, np.float64)
    finite = np.isfinite(b)
    noise = float(np.sum(np.square(a[finite] - b[finite])))
    signal = float(np.sum(np.square(b[finite])))
    relative = math.sqrt(noise / signal) if signal else (0.0 if noise == 0 else math.inf)
    sqnr = 10 * math.log10(signal / noise) if noise else math.inf
    return worst, relative, sqnr


def compare_outputs(
    backend: str,
    graph: Graph,
    got: Sequence[np.ndarray],
    want: Sequence[np.ndarray],
    factor: float = 1.0,
) -> list[OutputComparison]:
    """Compare `got` with the original graph's outputs `want`; tolerances come from `graph` (the
    original) and `want`."""
    from compiler.optimizer import reference_tolerance

    if len(got) != len(want):
        raise CompilerError(f"the optimized graph has {len(got)} outputs, not {len(want)}")
    atols = reference_tolerance()(graph, list(want))
    rows = []
    for i, (value, have, ref, atol) in enumerate(zip(graph.outputs, got, want, atols, strict=True)):
        worst, rel, sqnr = error_metrics(have, ref)
        rows.append(
            OutputComparison(backend, value.name or str(i), worst, rel, sqnr, factor * atol)
        )
    return rows


def graph_inputs(graph: Graph, path: Path | None, seed: int) -> list[np.ndarray]:
    """Arrays in graph-input order: from an `.npz` by input name, or seeded random ones."""
    from compiler.passmanager.numerics import random_inputs

    if path is None:
        return random_inputs(graph.inputs, seed)
    from compiler.cli_run import load_inputs

    given = load_inputs(path)
    names = [v.name for v in graph.inputs]
    missing, extra = [n for n in names if n not in given], sorted(set(given) - set(names))
    if missing or extra:
        raise CompilerError(f"{path} does not match the graph inputs {names} "
                            f"(missing {missing}, unexpected {extra})")  # fmt: skip
    return [np.asarray(given[n]) for n in names]


def parse_backends(text: str) -> list[str]:
    """`numpy,onnxruntime` -> the backend names, checked against `BACKENDS`."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in BACKENDS]
    if unknown or not names:
        raise CompilerError(f"unknown backend {', '.join(unknown) or '(none)'} "
                            f"(valid: {', '.join(BACKENDS)})")  # fmt: skip
    return names


def compare(
    original: Graph,
    optimized: Graph,
    arrays: Sequence[np.ndarray],
    backends: Sequence[str],
    factor: float = 1.0,
) -> list[OutputComparison]:
    """Run both graphs on every backend and compare output by output."""
    rows: list[OutputComparison] = []
    for name in backends:
        runner = BACKENDS[name]
        want = runner(original, arrays)
        rows += compare_outputs(name, original, runner(optimized, arrays), want, factor)
    return rows


def format_table(rows: Sequence[OutputComparison]) -> str:
    """The comparison as an aligned text table with a verdict per row."""
    head = (f"{'backend':<12} {'output':<24} {'max abs':>10} {'relative':>10} {'SQNR dB':>8} "
            f"{'tolerance':>10}  verdict")  # fmt: skip
    lines = [head]
    for r in rows:
        verdict = "ok" if r.ok else "FAIL"
        lines.append(f"{r.backend:<12} {r.output[:24]:<24} {r.max_abs:>10.3g} {r.relative:>10.3g} "
                     f"{r.sqnr_db:>8.1f} {r.tolerance:>10.3g}  {verdict}")  # fmt: skip
    return "\n".join(lines)


COMPARE_EXAMPLES = """examples:
  irforge compare m.onnx                                   default pipeline, numpy, random inputs
  irforge compare m.onnx --pipeline cleanup --backends numpy,onnxruntime --inputs in.npz
  irforge compare m.onnx --json                            the comparison as JSON (for scripts)
"""

BISECT_EXAMPLES = """examples:
  irforge bisect m.onnx                                    the default pipeline, random inputs
  irforge bisect m.onnx --pipeline 'fold-constants,fuse-conv-bn-relu' --inputs in.npz
  irforge bisect m.onnx --tolerance-factor 10 --json       looser tolerances; JSON result
"""


def add_parser(sub: Any) -> None:
    """Register the `compare` subcommand."""
    p = sub.add_parser(
        "compare", help="compare a model with its optimized form on backends",
        epilog=COMPARE_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    _model_arguments(p)
    p.add_argument("--backends", default="numpy", help="comma-separated: "
                   f"{', '.join(BACKENDS)} (default: %(default)s)")  # fmt: skip


def _model_arguments(p: argparse.ArgumentParser) -> None:
    """What `compare` and `bisect` share: the model, the pipeline, the inputs and the output."""
    p.add_argument("model", type=Path, help="the model: .onnx or textual IR (.ir)")
    p.add_argument("--pipeline", default="default", help="pipeline string (default: %(default)s)")
    p.add_argument("--inputs", type=Path, metavar="FILE.npz", help="inputs by graph input name")
    p.add_argument("--seed", type=int, default=0, help="seed of random inputs (default 0)")
    p.add_argument("--tolerance-factor", type=float, default=1.0,
                   help="multiply the derived tolerances (default 1)")  # fmt: skip
    p.add_argument("--json", action="store_true", help="print the result as JSON")


def run(args: argparse.Namespace) -> int:
    """Body of `irforge compare`: 0 when every output is within tolerance, else 1."""
    from compiler.driver import count_nodes, describe_change, load_model
    from compiler.optimizer import optimize
    from compiler.passmanager import Pipeline

    pipeline = Pipeline.parse(args.pipeline)
    backends = parse_backends(args.backends)
    original = load_model(args.model)
    arrays = graph_inputs(original, args.inputs, args.seed)
    optimized = original.clone()
    report = optimize(optimized, pipeline)
    ops = (count_nodes(original)[0], count_nodes(optimized)[0])
    rows = compare(original, optimized, arrays, backends, args.tolerance_factor)
    ok = all(r.ok for r in rows)
    if args.json:
        data = {"model": str(args.model), "pipeline": pipeline.spec(),
                "nodes_before": report.nodes_before, "nodes_after": report.nodes_after,
                "ok": ok, "outputs": [r.to_json() for r in rows]}  # fmt: skip
        print(json.dumps(data, indent=2))
    else:
        print(f"compare {args.model}: original vs optimized (pipeline: {args.pipeline}) on "
              f"{', '.join(backends)}; {inputs_text(args)}")  # fmt: skip
        if getattr(args, "verbose", False):
            print(f"pipeline spec: {pipeline.spec() or '(empty)'}")
        print(f"optimized: {describe_change(ops, (report.nodes_before, report.nodes_after))}")
        print(format_table(rows))
        print("all outputs within tolerance" if ok else "some outputs are OUTSIDE tolerance")
    return 0 if ok else 1


def inputs_text(args: argparse.Namespace) -> str:
    """Where the inputs come from: `inputs from in.npz` or `random inputs, seed 0`."""
    if args.inputs is not None:
        return f"inputs from {args.inputs}"
    return f"random inputs, seed {args.seed}"


def add_bisect_parser(sub: Any) -> None:
    """Register the `bisect` subcommand."""
    p = sub.add_parser(
        "bisect", help="find the first pass and rewrite that change the results",
        epilog=BISECT_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    _model_arguments(p)


def run_bisect(args: argparse.Namespace) -> int:
    """Body of `irforge bisect`: 0 when nothing diverges, 1 when a culprit was found."""
    from compiler.bisect import bisect
    from compiler.driver import load_model
    from compiler.passmanager import Pipeline

    pipeline = Pipeline.parse(args.pipeline)
    graph = load_model(args.model)
    result = bisect(graph, pipeline, graph_inputs(graph, args.inputs, args.seed),
                    args.tolerance_factor)  # fmt: skip
    if args.json:
        print(json.dumps(asdict(result), indent=2, default=_json_float))
    else:
        print(f"bisect {args.model}: original vs each pass (pipeline: {args.pipeline}) on numpy; "
              f"{inputs_text(args)}")  # fmt: skip
        if getattr(args, "verbose", False):
            print(f"pipeline spec: {pipeline.spec() or '(empty)'}")
        print(result.report(pipeline_name=args.pipeline))
    return 0 if result.pass_label is None else 1


__all__ = ["BACKENDS", "OutputComparison", "compare", "compare_outputs", "error_metrics"]
