"""EngineRunner on a GPU with NVIDIA's tensorrt: outputs match the reference across shape
changes inside the profile, buffers are reused (grown only when needed), the benchmark reports
percentiles, and `irforge run --backend tensorrt --plan --iterations` prints them. Skips with the
reason elsewhere (TENSORRT.md §11)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _trtcheck import compare

import compiler
from backends.tensorrt.runtime import engine_execution_skip
from compiler.cli import main

SKIP = engine_execution_skip()
pytestmark = pytest.mark.skipif(SKIP is not None, reason=SKIP or "")  # needs tensorrt too


def batch(graph: Any, n: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {v.name: rng.standard_normal([n, *v.type.shape[1:]]).astype(np.float32)
            for v in graph.inputs}  # fmt: skip


def test_dynamic_batch_reuses_buffers(material: Any) -> None:
    from backends.tensorrt.build import BuildOptions, build_plan
    from backends.tensorrt.runtime import EngineRunner

    graph = compiler.load(material("mnist_cnn"))
    compiler.optimize(graph, "default")
    name = graph.inputs[0].name
    shapes = {name: ((1, 1, 28, 28), (4, 1, 28, 28), (8, 1, 28, 28))}
    with EngineRunner(build_plan(graph, BuildOptions(shapes=shapes)).plan) as runner:
        for n, allocations in ((2, 2), (8, 4), (1, 4), (8, 4)):
            feeds = batch(graph, n, seed=n)
            compare(graph, feeds, runner(feeds), factor=64.0)
            assert runner.buffers.allocations == allocations
        report = runner.benchmark(batch(graph, 4, 0), warmup=3, iterations=20)
    assert len(report.latencies_ms) == 20 and len(report.gpu_ms) == 20
    assert 0 < report.percentile(50, gpu=True) <= report.percentile(50)


def test_cli_runs_a_plan_with_a_report(material: Any, tmp_path: Path, capsys: Any) -> None:
    plan = tmp_path / "m.plan"
    assert main(["build", str(material("mnist_cnn")), "-o", str(plan)]) == 0
    args = ["run", str(material("mnist_cnn")), "--backend", "tensorrt", "--random",
            "--plan", str(plan), "--iterations", "10", "--warmup", "2"]  # fmt: skip
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "latency over 10 iterations (after 2 warmup): p50" in out and "inferences/s" in out
