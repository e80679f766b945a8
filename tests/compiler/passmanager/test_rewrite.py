"""The pattern rewriter: matching, refusals with reasons, the greedy driver, its loop guard, rule
tracing in the pass report, and fused locations on new nodes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import pytest
from pm_testing import SMALL, small_graph

from compiler.errors import PassError
from compiler.graph import Graph
from compiler.ir import Value
from compiler.location import FusedLoc, OnnxLoc
from compiler.passmanager import Pass, VerifyEach, register_pass, run_pipeline, unregister_pass
from compiler.passmanager.rewrite import (
    Match,
    P,
    RewriteBuilder,
    RewriteDriver,
    RewriteRule,
    apply_rules,
)
from compiler.text import parse_graph, print_graph


class DoubleNeg(RewriteRule):
    name = "double-neg"
    pattern = P("neg", P("neg", "x", capture="inner"), capture="outer")

    def check(self, match: Match) -> str | None:
        if match["inner"].output.num_uses > 1 or match["inner"].output.is_graph_output:
            return "the inner neg has other users"
        return None

    def rewrite(self, match: Match, b: RewriteBuilder) -> Value:
        return match.value("x")


class NegOfAdd(RewriteRule):
    """-(x + w) -> (-x) - w: builds new nodes (to test their location)."""

    name = "neg-of-add"
    pattern = P("neg", P("add", "x", "w"), where=lambda n: n.output.num_uses == 1)

    def rewrite(self, match: Match, b: RewriteBuilder) -> Value:
        return b.sub(b.neg(match.value("x")), match.value("w"))


class Churn(RewriteRule):
    """Replaces every relu by a fresh relu: never converges."""

    name = "churn"
    pattern = P("relu")

    def rewrite(self, match: Match, b: RewriteBuilder) -> Value:
        return b.relu(match.root.inputs[0])


class TwoValues(RewriteRule):
    name = "two-values"
    pattern = P("relu")

    def rewrite(self, match: Match, b: RewriteBuilder) -> list[Value]:
        return [match.root.inputs[0]] * 2  # type: ignore[list-item]


def test_pattern_captures_nodes_and_values() -> None:
    graph = small_graph()
    n2 = next(n for n in graph.nodes if n.output.name == "n2")
    match = DoubleNeg.pattern.match(n2)
    assert match is not None
    assert match["outer"] is n2 and match["inner"].output.name == "n1"
    assert match.value("x").name == "y"
    assert [n.output.name for n in match.matched] == ["n2", "n1"]
    assert DoubleNeg.pattern.match(next(n for n in graph.nodes if n.op == "add")) is None
    n1 = match["inner"]
    assert DoubleNeg.pattern.match(n1) is None  # its input comes from an add


def test_driver_rewrites_to_a_fixed_point_and_erases_dead_matches() -> None:
    graph = small_graph()
    driver = RewriteDriver([DoubleNeg()])
    assert driver.run(graph)
    assert [n.op for n in graph.nodes] == ["const", "add", "relu", "relu"]
    relu = next(n for n in graph.nodes if n.output.name == "z")
    assert relu.inputs[0] is not None and relu.inputs[0].name == "y"
    assert driver.stats["double-neg"].applied == 1
    assert not RewriteDriver([DoubleNeg()]).run(graph)


def test_chains_collapse_through_the_worklist() -> None:
    text = SMALL.replace(
        "%z = relu(%n2)", "%n3 = neg(%n2) : f32[2,4]\n  %n4 = neg(%n3) : f32[2,4]\n  %z = relu(%n4)"
    )
    graph = parse_graph(text)
    assert apply_rules(graph, [DoubleNeg()])
    assert "neg" not in graph.op_histogram()


def test_refusal_reason_is_traced() -> None:
    graph = parse_graph(SMALL.replace("return %z", "return %z, %n1").replace(
        "-> (f32[2,4])", "-> (f32[2,4], f32[2,4])"))  # fmt: skip
    driver = RewriteDriver([DoubleNeg()])
    assert not driver.run(graph)
    stats = driver.stats["double-neg"]
    assert (stats.matched, stats.applied, stats.refused) == (1, 0, 1)
    assert stats.last_refusal == (
        "the inner neg has other users (at %n2 = neg(%n1) at ONNX node 'Neg_2' of m.onnx)"
    )


def test_new_nodes_get_the_fused_location_of_what_they_replace() -> None:
    graph = small_graph()
    assert apply_rules(graph, [NegOfAdd()])
    made = [n for n in graph.nodes if n.op in ("sub", "neg") and n.output.name == ""]
    assert len(made) == 2
    fused = FusedLoc((OnnxLoc("m.onnx", "Add_0"), OnnxLoc("m.onnx", "Neg_1")))
    assert all(n.loc == fused for n in made)
    assert 'loc(fused["m.onnx":"Add_0", "m.onnx":"Neg_1"])' in print_graph(graph)


def test_loop_guard_names_the_rules() -> None:
    with pytest.raises(PassError, match=r"did not converge after 5 rewrites; .*churn \(6×\)"):
        RewriteDriver([Churn()], max_rewrites=5).run(small_graph())


def test_default_loop_guard_scales_with_the_graph() -> None:
    with pytest.raises(PassError, match="did not converge after 160 rewrites"):
        apply_rules(small_graph(), [Churn()])


def test_wrong_number_of_replacements_is_an_error() -> None:
    with pytest.raises(PassError, match="rule two-values returned 2 values for 1 outputs"):
        apply_rules(small_graph(), [TwoValues()])


@dataclass(frozen=True)
class DoubleNegPass(Pass):
    name: ClassVar[str] = "test-double-neg"

    def run(self, graph: Graph) -> bool:
        return apply_rules(graph, [DoubleNeg()])


def test_rule_statistics_appear_in_the_pass_report() -> None:
    register_pass(DoubleNegPass)
    try:
        report = run_pipeline(small_graph(), "test-double-neg,prune-dead-nodes", [VerifyEach()])
    finally:
        unregister_pass(DoubleNegPass.name)
    stats = report.records[0].rules["double-neg"]
    assert (stats.matched, stats.applied, stats.refused) == (1, 1, 0)
    assert report.records[0].touched is not None and len(report.records[0].touched) == 3
    assert report.to_json()["records"][0]["rules"]["double-neg"]["applied"] == 1
