"""A pass-pipeline script: write a pass, use it in a pipeline string, check every pass numerically.

    python examples/pipeline_script.py                      # default + the new pass, checked
    python examples/pipeline_script.py --pool max           # a wrong rewrite: the check names it

The pass, `mean-to-global-pool`, rewrites the classifier head's spatial mean into the dedicated
pooling op (what an engine has a kernel for):

    %mean = reduce_mean(%x, [2, 3]) {keepdims = 0} : f32[N,C]       x: f32[N,C,H,W]
 -> %pool = global_average_pool(%x) : f32[N,C,1,1]
    %mean = flatten(%pool) {axis = 1} : f32[N,C]

Math: both are (1/HW)·Σ_{h,w} x[n,c,h,w]; the sum order may differ, so the results agree within
float32 rounding (what check-numerics allows). Its `pool` option picks the pooling op;
`pool=max` is wrong on purpose, and check-numerics stops the pipeline at that pass.

The script loads the bundled model, runs `default,mean-to-global-pool,prune-dead-nodes` with the
verifier and check-numerics after every pass on the bundled digits, prints one line per pass
(node delta, time, max abs error against the graph before the pass), exports the result to ONNX
and compares ONNX Runtime with the reference backend.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np

import compiler
from compiler.graph import Graph
from compiler.ir import Value
from compiler.passmanager import Pass, PassReport, Pipeline, register_pass
from compiler.passmanager.rewrite import Match, P, RewriteBuilder, RewriteRule, apply_rules

MODELS = Path(__file__).resolve().parent / "models"
POOLS = {"average": "global_average_pool", "max": "global_max_pool"}


class MeanToPool(RewriteRule):
    """reduce_mean over H and W of an NCHW tensor, keepdims=0 -> flatten(global pool)."""

    name = "mean-to-pool"
    pattern = P("reduce_mean", "x", "axes", where=lambda node: node.attrs["keepdims"] == 0)

    def __init__(self, pool_op: str) -> None:
        self.pool_op = pool_op

    def check(self, match: Match) -> str | None:
        shape = match.value("x").type.shape
        axes = match.value("axes").const_value()
        if shape is None or len(shape) != 4:
            return "input is not 4-D"
        if axes is None or sorted(int(a) % 4 for a in axes.reshape(-1)) != [2, 3]:
            return "axes are not the spatial axes [2, 3]"
        return None

    def rewrite(self, match: Match, b: RewriteBuilder) -> Value:
        pooled = b.op(self.pool_op, match.value("x"))
        return b.op_like("flatten", pooled, like=match.root.output, axis=1)


@register_pass
@dataclass(frozen=True)
class MeanToGlobalPoolPass(Pass):
    """Spatial `reduce_mean` -> `flatten(global_average_pool)` (see the module docstring)."""

    name: ClassVar[str] = "mean-to-global-pool"
    pool: str = "average"  # pipeline text: mean-to-global-pool{pool=max}

    def __post_init__(self) -> None:
        if self.pool not in POOLS:
            raise ValueError(f"pool must be one of {', '.join(POOLS)}")

    def run(self, graph: Graph) -> bool:
        return apply_rules(graph, [MeanToPool(POOLS[self.pool])])


def print_report(report: PassReport) -> None:
    """One line per pass execution: node delta, time and the check-numerics note."""
    for record in report.records:
        checked = next((n for n in record.notes if n.startswith("check-numerics")), "")
        delta = record.nodes_after - record.nodes_before
        rounds = f" (round {record.iteration[-1]})" if record.iteration else ""
        print(f"  {record.name + rounds:<32} {delta:+4d} nodes {1000 * record.seconds:7.2f} ms"
              f"  {checked.removeprefix('check-numerics: ')}")  # fmt: skip
    print(f"  nodes {report.nodes_before} -> {report.nodes_after} in {report.seconds:.2f} s")


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pool", choices=sorted(POOLS), default="average")
    args = p.parse_args(argv)
    from backends.numpy import run
    from backends.onnx import run_onnxruntime, to_onnx

    digits = np.load(MODELS / "mnist_digits.npz")
    graph = compiler.load(MODELS / "mnist_cnn_raw.onnx")
    text = f"default,mean-to-global-pool{{pool={args.pool}}},prune-dead-nodes"
    pipeline = Pipeline.parse(text)  # checked before anything runs
    print(f"pipeline {text}; the passes that changed the graph:")
    try:
        report = compiler.optimize(graph, pipeline, check_numerics=True, inputs={"x": digits["x"]})
    except compiler.PassError as exc:
        print(f"stopped: {exc}", file=sys.stderr)
        return 2
    # only the passes that changed the graph, so the table fits a screen
    report.records = [r for r in report.records if r.changed]
    print_report(report)
    print("ops:", graph.op_histogram())
    reference = run(graph, {"x": digits["x"]}).outputs["logits"]
    ort = run_onnxruntime(to_onnx(graph, pipeline=pipeline.spec()), {"x": digits["x"]})["logits"]
    top1 = float((reference.argmax(1) == digits["y"]).mean())
    print(
        f"ONNX Runtime vs reference: max abs diff {np.abs(ort - reference).max():.2g}; "
        f"top-1 on {len(digits['y'])} digits {100 * top1:.1f} %"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
