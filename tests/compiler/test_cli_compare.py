"""`irforge compare` and `irforge bisect`: metrics, verdicts, exit status, and a planted wrong
rewrite caught by check-numerics and located by bisect (exact pass and rewrite index)."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest

import compiler
from compiler.cli import main
from compiler.cli_compare import error_metrics
from compiler.errors import PassError
from compiler.graph import Graph
from compiler.passmanager import Pass, register_pass, unregister_pass
from compiler.passmanager.rewrite import Match, P, RewriteBuilder, RewriteRule, apply_rules
from compiler.text import print_graph
from compiler.types import DType, TensorType

PLANTED = "r3"  # the one relu (of six) that the planted rule gets wrong: rewrite #4


class PlantedRelu(RewriteRule):
    """relu(x) -> max(x, 0) (exact), except on `PLANTED`, which becomes identity (wrong)."""

    name = "test-relu-to-max"
    pattern = P("relu")

    def rewrite(self, match: Match, b: RewriteBuilder) -> object:
        x, name = match.root.inputs[0], match.root.output.name
        if name == PLANTED:
            return b.op("identity", x, names=[name])
        return b.op("max", x, b.const(np.zeros((), np.float32)), names=[name])


@dataclass(frozen=True)
class PlantedPass(Pass):
    name: ClassVar[str] = "test-planted"

    def run(self, graph: Graph) -> bool:
        return apply_rules(graph, [PlantedRelu()])


@pytest.fixture
def planted() -> Iterator[None]:
    register_pass(PlantedPass)
    yield
    unregister_pass(PlantedPass.name)


def _chain() -> Graph:
    """Six add+relu stages; every relu is a graph output, so no error is masked."""
    g = Graph("m")
    y = g.add_input("x", TensorType(DType.FLOAT32, (2, 8)))
    b, outs = g.builder(), []
    for i in range(6):
        y = b.op("add", y, b.const(np.full((8,), -0.1 * i, np.float32)), names=[f"a{i}"])
        y = b.op("relu", y, names=[f"r{i}"])
        outs.append(y)
    g.outputs = outs
    return g


@pytest.fixture
def model(tmp_path: Path) -> Path:
    path = tmp_path / "chain.ir"
    path.write_text(print_graph(_chain()))
    return path


def test_error_metrics() -> None:
    want = np.array([3.0, 4.0], np.float32)
    assert error_metrics(want, want) == (0.0, 0.0, math.inf)
    worst, rel, sqnr = error_metrics(np.array([3.0, 4.5], np.float32), want)
    assert worst == 0.5 and rel == pytest.approx(0.1) and sqnr == pytest.approx(20.0)
    assert error_metrics(np.zeros(3), want)[0] == math.inf  # shapes differ


def test_compare_passes_and_prints_a_table(model: Path, capsys: pytest.CaptureFixture) -> None:
    argv = ["compare", str(model), "--pipeline", "default", "--backends", "numpy,onnxruntime"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "all outputs within tolerance" in out
    assert out.count("numpy ") == 6 and out.count("onnxruntime ") == 6
    head = f"compare {model}: original vs optimized (pipeline: default) on numpy, onnxruntime; "
    assert out.startswith(head + "random inputs, seed 0\n") and "repeat(" not in out
    assert re.search(r"^optimized: \d+ -> \d+ ops? \(\d+ -> \d+ IR nodes with constants\)$", out,
                     re.M)  # fmt: skip
    assert main(["-v", *argv]) == 0  # -v adds the canonical spec
    assert "\npipeline spec: repeat(fold-constants{" in capsys.readouterr().out


def test_compare_fails_on_a_wrong_pass(model: Path, planted: None, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["compare", str(model), "--pipeline", "test-planted", "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    bad = [row for row in data["outputs"] if not row["ok"]]
    assert [row["output"] for row in bad] == [PLANTED]
    assert bad[0]["max_abs"] > bad[0]["tolerance"] > 0 and bad[0]["backend"] == "numpy"


@pytest.mark.parametrize(
    ("argv", "message"),
    [(["--backends", "numpy,tensorrt9"], "unknown backend tensorrt9"),
     (["--pipeline", "no-such-pass"], "unknown pass"),
     (["--inputs", "missing.npz"], "no such file")],
)  # fmt: skip
def test_compare_bad_arguments_exit_2(model: Path, argv: list[str], message: str, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["compare", str(model), *argv]) == 2
    assert message in capsys.readouterr().err


def test_check_numerics_catches_the_planted_rewrite(planted: None) -> None:
    with pytest.raises(PassError, match="pass test-planted changed the results") as info:
        compiler.optimize(_chain(), "prune-dead-nodes,test-planted", check_numerics=True)
    assert f"output 3 (%{PLANTED}): max abs error 0.3 > tolerance" in str(info.value)


def test_bisect_locates_the_pass_and_the_rewrite(model: Path, planted: None, capsys) -> None:  # type: ignore[no-untyped-def]
    argv = ["bisect", str(model), "--pipeline", "prune-dead-nodes,test-planted,prune-dead-nodes"]
    assert main(argv) == 1
    out = capsys.readouterr().out
    assert "first diverging pass: test-planted (pass #2)" in out
    assert "first diverging rewrite: #4 of 6 (rule test-relu-to-max)" in out
    assert f"matched: %{PLANTED} = relu(%a3)" in out
    assert f"%{PLANTED}: 0.3 > tol" in out


def test_bisect_json_and_no_divergence(model: Path, planted: None, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["bisect", str(model), "--pipeline", "test-planted", "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert (data["pass_label"], data["rewrite_index"], data["rewrites"]) == ("test-planted", 4, 6)
    assert data["rewrite"]["rule"] == "test-relu-to-max"
    assert main(["bisect", str(model), "--pipeline", "default"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"bisect {model}: original vs each pass (pipeline: default) on numpy; "
        "random inputs, seed 0",
        "no divergence: every pass of default stays in tolerance",
    ]


def test_bisect_finds_a_slightly_wrong_bn_fold(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from compiler.bisect import bisect
    from passes import fuse_conv_bn_relu as fuse

    g = Graph("m")
    y = g.add_input("x", TensorType(DType.FLOAT32, (1, 4, 5, 5)))
    b, rng = g.builder(), np.random.default_rng(1)
    for i in range(5):
        y = b.op("conv", y, b.const(rng.standard_normal((4, 4, 1, 1)).astype(np.float32)))
        params = [rng.uniform(0.5, 1.5, 4), rng.standard_normal(4), rng.standard_normal(4),
                  rng.uniform(0.5, 2, 4)]  # fmt: skip
        y = b.op("batch_normalization", y, *(b.const(p.astype(np.float32)) for p in params),
                 names=[f"bn{i}"])  # fmt: skip
    g.outputs = [y]
    right = fuse._bn_scale_shift

    def off_on_bn2(bn):  # type: ignore[no-untyped-def]
        s, mean, shift = right(bn)
        return (s * 1.001 if bn.output.name == "bn2" else s), mean, shift

    monkeypatch.setattr(fuse, "_bn_scale_shift", off_on_bn2)
    x = [rng.standard_normal((1, 4, 5, 5)).astype(np.float32)]
    result = bisect(g, "fuse-conv-bn-relu", x)
    assert result.pass_label == "fuse-conv-bn-relu{fold-bn=true,fuse-activation=true}"
    assert (result.rewrite_index, result.rewrites) == (3, 5)
    assert result.rewrite is not None and result.rewrite.nodes[0].startswith("%bn2 = ")
