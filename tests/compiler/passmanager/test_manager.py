"""The pass manager: fixed points and their loop guard, and the hooks (verify-each, check-numerics,
print-IR-after, time-passes) catching deliberately broken passes."""

from __future__ import annotations

import io
import json
import logging

import numpy as np
import pytest
from pm_testing import CALLS, small_graph

import compiler
from compiler.errors import PassError
from compiler.location import OnnxLoc
from compiler.optimizer import reference_runner, reference_tolerance
from compiler.passmanager import CheckNumerics, PassManager, Pipeline, VerifyEach, run_pipeline
from compiler.text import print_graph


def test_fixed_point_stops_when_an_iteration_changes_nothing() -> None:
    report = run_pipeline(small_graph(), "repeat(test-count{changes=2}; max-iterations=10)")
    assert CALLS["test-count"] == 3
    assert [(r.iteration, r.changed) for r in report.records] == [
        ((1,), True), ((2,), True), ((3,), False),
    ]  # fmt: skip
    assert report.warnings == [] and report.changed


def test_nested_loops_number_their_iterations() -> None:
    report = run_pipeline(small_graph(), "repeat(repeat(test-count{changes=1}; max-iterations=2))")
    assert [r.iteration for r in report.records] == [(1, 1), (1, 2), (2, 1)]
    assert report.records[1].label() == "test-count{changes=1} [iteration 1.2]"


def test_loop_guard_warns_by_default(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        report = run_pipeline(
            small_graph(), "repeat(prune-dead-nodes,test-always; max-iterations=3)"
        )
    assert len(report.records) == 6
    assert report.warnings == [
        "repeat(prune-dead-nodes,test-always; max-iterations=3,strict=false) did not reach a fixed "
        "point: test-always still changed the graph in iteration 3"
    ]
    assert report.warnings[0] in caplog.text


def test_loop_guard_raises_when_strict() -> None:
    with pytest.raises(PassError, match="test-always still changed the graph in iteration 2"):
        run_pipeline(small_graph(), "repeat(test-always; max-iterations=2,strict=true)")


def test_report_counts_nodes_and_serializes() -> None:
    graph = small_graph()
    report = run_pipeline(graph, "prune-dead-nodes", [VerifyEach()])
    assert (report.nodes_before, report.nodes_after) == (6, 5)
    (record,) = report.records
    assert record.touched == ["- %dead = relu(%x) at ONNX node 'Dead_4' of m.onnx"]
    json.dumps(report.to_json())
    table = report.timing_table().splitlines()
    assert table[0].split()[:5] == ["pass", "(pipeline", "order)", "runs", "changed"]
    assert table[1].split()[:3] == ["prune-dead-nodes", "1", "1"] and table[1].endswith("-1")
    assert table[-1].startswith("total (time inside passes) ") and table[-1].endswith("-1")
    assert len(table) == 3


def test_verify_each_names_the_pass_touched_nodes_and_history() -> None:
    with pytest.raises(PassError) as exc:
        run_pipeline(small_graph(), "prune-dead-nodes,test-break-types", [VerifyEach()])
    err = exc.value
    assert err.message.startswith("verifier failed after pass test-break-types: verifier: relu:")
    assert "differs from inferred" in err.message
    assert "nodes touched by test-break-types (0 added, 0 removed, 1 modified):" in err.notes
    assert "  ~ %z = relu(%n2) at ONNX node 'Relu_3' of m.onnx" in err.notes
    assert "passes before it: prune-dead-nodes" in err.notes
    assert any(line.startswith(">>%z = relu") for line in "\n".join(err.notes).splitlines())


def test_verify_each_off_lets_a_broken_pass_through() -> None:
    report = compiler.optimize(small_graph(), "test-break-types", verify_each=False)
    assert report.records[0].changed


def test_verify_each_catches_a_pass_that_hides_its_changes() -> None:
    with pytest.raises(
        PassError, match="test-lying returned False .* but changed the graph"
    ) as exc:
        run_pipeline(small_graph(), "test-lying", [VerifyEach()])
    assert "passes before it: none (it was the first)" in exc.value.notes


def test_check_numerics_catches_a_wrong_rewrite() -> None:
    with pytest.raises(PassError) as exc:
        compiler.optimize(small_graph(), "prune-dead-nodes,test-wrong-math", check_numerics=True)
    err = exc.value
    assert err.message == "check-numerics: pass test-wrong-math changed the results"
    assert "nodes touched by test-wrong-math (1 added, 1 removed, 1 modified):" in err.notes
    assert "  - %y = add(%x, %w) at ONNX node 'Add_0' of m.onnx" in err.notes
    assert "passes before it: prune-dead-nodes" in err.notes
    assert any(n.startswith("output 0 (%z): max abs error") for n in err.notes)


def test_check_numerics_passes_a_correct_pass_and_notes_the_error() -> None:
    report = compiler.optimize(small_graph(), "prune-dead-nodes", check_numerics=True)
    assert report.records[0].notes == ["check-numerics: ok, max abs error 0"]


def test_check_numerics_rebaselines_after_passes_that_change_numerics() -> None:
    report = compiler.optimize(small_graph(), "test-scale,prune-dead-nodes", check_numerics=True)
    assert report.records[0].notes == ["check-numerics: re-baselined (the pass changes numerics)"]
    assert report.records[1].notes == ["check-numerics: ok, max abs error 0"]


def test_check_numerics_uses_given_inputs_and_the_tolerance() -> None:
    x = np.zeros((2, 4), np.float32) - 10.0  # add/sub results all negative: relu hides the bug
    report = compiler.optimize(
        small_graph(), "test-wrong-math", check_numerics=True, inputs={"x": x}
    )
    assert report.records[0].changed
    loose = CheckNumerics(reference_runner(), lambda g, outs: [1e9] * len(outs))
    PassManager(Pipeline.parse("test-wrong-math"), [loose]).run(small_graph())
    with pytest.raises(PassError, match="missing \\['x'\\]"):
        compiler.optimize(small_graph(), "O0", check_numerics=True, inputs={"y": x})


def test_reference_tolerance_scales_with_depth_and_magnitude() -> None:
    graph = small_graph()
    out = [np.full((2, 4), 8.0, np.float32)]
    (atol,) = reference_tolerance()(graph, out)
    assert 0 < atol < 1e-4
    assert reference_tolerance()(graph, [out[0] * 2])[0] == pytest.approx(2 * atol)


def test_print_ir_after_selected_or_all_passes() -> None:
    stream = io.StringIO()
    compiler.optimize(small_graph(), "test-count,prune-dead-nodes",
                      print_ir_after={"prune-dead-nodes"}, stream=stream)  # fmt: skip
    text = stream.getvalue()
    assert text.startswith("# ----- IR after prune-dead-nodes (changed) -----\ngraph @main")
    assert text.count("# ----- IR after") == 1 and "Dead_4" not in text
    stream = io.StringIO()
    graph = small_graph()
    compiler.optimize(graph, "test-count{changes=0},prune-dead-nodes", print_ir_after="all",
                      stream=stream)  # fmt: skip
    assert stream.getvalue().count("# ----- IR after") == 2
    assert "IR after test-count{changes=0} (unchanged)" in stream.getvalue()
    assert stream.getvalue().endswith(print_graph(graph))


def test_print_ir_after_rejects_unknown_pass_names() -> None:
    with pytest.raises(PassError, match="unknown pass fold-constantz"):
        compiler.optimize(small_graph(), "O0", print_ir_after=["fold-constantz"])


def test_time_passes_writes_the_table() -> None:
    stream = io.StringIO()
    report = compiler.optimize(small_graph(), "default", time_passes=True, stream=stream)
    assert stream.getvalue() == report.timing_table() + "\n"


def test_pass_compiler_errors_become_pass_errors_naming_the_pass() -> None:
    with pytest.raises(PassError) as exc:
        run_pipeline(small_graph(), "prune-dead-nodes,test-raise", [VerifyEach()])
    assert exc.value.message == "pass test-raise failed: cannot erase relu: still used"
    assert str(exc.value.loc) == str(OnnxLoc("m.onnx", "Relu_3"))
    assert "passes before it: prune-dead-nodes" in exc.value.notes


def test_timing_table_rows_in_pipeline_order_with_long_specs_elided() -> None:
    from compiler.passmanager.report import PassRecord, PassReport

    long_a = "fuse-conv-bn-relu{fold-bn=true,fuse-activation=true}"
    long_b = "fuse-conv-bn-relu{fold-bn=false,fuse-activation=true}"
    specs = [("cse", "cse{constants=true}", 0.001), ("fuse-conv-bn-relu", long_a, 0.5),
             ("fuse-conv-bn-relu", long_b, 0.2), ("cse", "cse{constants=true}", 0.003)]  # fmt: skip
    records = [PassRecord(name, spec, i, seconds=secs, nodes_before=10, nodes_after=10 - i)
               for i, (name, spec, secs) in enumerate(specs)]  # fmt: skip
    table = PassReport("p", records, nodes_before=10, nodes_after=4).timing_table().splitlines()
    labels = [line.split()[0] for line in table[1:-1]]
    assert labels == ["cse{constants=true}", "fuse-conv-bn-relu{…}", "fuse-conv-bn-relu{…}#2"]
    assert table[1].split()[1:4] == ["2", "0", "0.0040"] and table[1].endswith("-3")
    assert table[-1].split()[:6] == ["total", "(time", "inside", "passes)", "4", "0.7040"]
