"""Pipeline strings: parsing, canonical printing (round trip), caret errors, named pipelines."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import pytest
from pm_testing import CountPass, OptionsPass

from compiler.errors import PassError
from compiler.graph import Graph
from compiler.passmanager import (
    Pass,
    Pipeline,
    PipelineError,
    Repeat,
    named_pipelines,
    parse_pipeline,
    pass_names,
    register_pass,
)
from passes.prune_dead_nodes import PruneDeadNodesPass

OPTIONS_SPEC = "test-options{bits=8,per-channel=false,mode=relu,scale=0.5,limit=none}"


@pytest.mark.parametrize(
    "spec",
    [
        "",
        "prune-dead-nodes",
        OPTIONS_SPEC,
        'test-options{bits=4,per-channel=true,mode="a b",scale=1e-05,limit=3}',
        "repeat(prune-dead-nodes; max-iterations=4,strict=false)",
        "prune-dead-nodes,repeat(test-count{changes=1},repeat(prune-dead-nodes; "
        "max-iterations=2,strict=true); max-iterations=10,strict=false),prune-dead-nodes",
    ],
)
def test_canonical_spec_round_trips(spec: str) -> None:
    assert parse_pipeline(spec).spec() == spec


@pytest.mark.parametrize(
    ("text", "spec"),
    [
        (" prune-dead-nodes , prune-dead-nodes ", "prune-dead-nodes,prune-dead-nodes"),
        ("test-options", OPTIONS_SPEC),
        ("test-options{}", OPTIONS_SPEC),
        ("test-options{ per-channel = true , bits=4 }",
         "test-options{bits=4,per-channel=true,mode=relu,scale=0.5,limit=none}"),
        ('test-options{mode="relu"}', OPTIONS_SPEC),
        ("repeat(prune-dead-nodes)", "repeat(prune-dead-nodes; max-iterations=10,strict=false)"),
        ("repeat(prune-dead-nodes; strict=true)",
         "repeat(prune-dead-nodes; max-iterations=10,strict=true)"),
        ("O0", ""),
        ("O0,prune-dead-nodes,O0", "prune-dead-nodes"),
    ],
)  # fmt: skip
def test_text_prints_canonically(text: str, spec: str) -> None:
    assert parse_pipeline(text).spec() == spec
    assert parse_pipeline(spec).spec() == spec


def test_options_reach_the_pass_fields() -> None:
    pipeline = parse_pipeline('test-options{bits=4,per-channel=true,mode="x,y",scale=2,limit=7}')
    (p,) = pipeline.steps
    assert p == OptionsPass(bits=4, per_channel=True, mode="x,y", scale=2.0, limit=7)
    assert isinstance(p.scale, float)
    assert p.spec() == 'test-options{bits=4,per-channel=true,mode="x,y",scale=2.0,limit=7}'


def test_pipeline_built_from_objects_prints_the_same() -> None:
    pipeline = Pipeline((PruneDeadNodesPass(), Repeat((CountPass(changes=1),), max_iterations=3)))
    text = "prune-dead-nodes,repeat(test-count{changes=1}; max-iterations=3,strict=false)"
    assert pipeline.spec() == text
    assert parse_pipeline(text) == pipeline
    assert [p.name for p in pipeline.passes()] == ["prune-dead-nodes", "test-count"]


@pytest.mark.parametrize(
    ("text", "message", "column"),
    [
        ("prune-dead-node", "unknown pass 'prune-dead-node'", 1),
        ("prune-dead-nodes,fold-everything", "unknown pass 'fold-everything'", 18),
        ("test-options{bitz=4}", "unknown option 'bitz' of test-options", 14),
        ("test-options{bits=x}",
         "bad value 'x' for test-options option bits: expected an integer", 19),
        ("test-options{bits=16}", "invalid options for test-options: bits must be 4 or 8", 1),
        ("test-options{per-channel=yes}",
         "bad value 'yes' for test-options option per-channel: expected true or false", 26),
        ("test-options{bits=4,bits=8}", "option 'bits' of test-options is given twice", 21),
        ("test-options{bits}", "expected '=', found '}'", 18),
        ("test-options{bits=4", "expected ',' or '}', found end of input", 20),
        ("prune-dead-nodes,", "expected a pass name, found end of input", 18),
        ("prune-dead-nodes prune-dead-nodes",
         "expected ',' or end of input, found 'prune-dead-nodes'", 18),
        ("repeat(prune-dead-nodes", "expected ')', found end of input", 24),
        ("repeat()", "repeat needs at least one pass", 1),
        ("repeat(prune-dead-nodes; max-iterations=0)", "max-iterations must be at least 1", 1),
        ("repeat(prune-dead-nodes; max-iter=2)", "unknown option 'max-iter' of repeat", 26),
        ("O0{x=1}", "named pipeline 'O0' takes no options", 3),
        ("prune-dead-nodes;", "expected ',' or end of input, found ';'", 17),
        ("prune-dead-nodes,$", "unexpected character '$'", 18),
        ('test-options{mode="open', "unterminated string", 19),
    ],
)  # fmt: skip
def test_errors_point_at_the_column(text: str, message: str, column: int) -> None:
    with pytest.raises(PipelineError) as exc:
        parse_pipeline(text)
    err = exc.value
    assert isinstance(err, PassError)
    assert err.message == message
    assert err.loc is not None and err.loc.col == column  # type: ignore[attr-defined]
    lines = str(err).splitlines()
    assert lines[0] == f"pipeline:1:{column}: error: {message}"
    assert lines[1] == text and lines[2] == " " * (column - 1) + "^"


def test_unknown_pass_lists_valid_names_and_suggests() -> None:
    with pytest.raises(PipelineError) as exc:
        parse_pipeline("prune-dead-node")
    notes = exc.value.notes
    assert f"valid passes: {', '.join(pass_names())}" in notes
    assert any(n.startswith("named pipelines: ") and "O0" in n and "default" in n for n in notes)
    assert "did you mean 'prune-dead-nodes'?" in notes


def test_unknown_option_lists_valid_options() -> None:
    with pytest.raises(PipelineError) as exc:
        parse_pipeline("test-options{per_channel=true}")
    assert "valid options of test-options: bits, per-channel, mode, scale, limit" in exc.value.notes
    assert "did you mean 'per-channel'?" in exc.value.notes


def test_named_pipelines_table() -> None:
    table = named_pipelines()
    assert table["O0"] == "" and "default" in table
    assert not set(table) & set(pass_names()), "names must differ from pass names"
    for name in table:
        parse_pipeline(name)  # every entry refers only to passes that exist


def test_named_pipelines_expand_and_nest(monkeypatch: pytest.MonkeyPatch) -> None:
    table = named_pipelines()
    monkeypatch.setitem(table, "test-inner", "prune-dead-nodes,test-count{changes=1}")
    monkeypatch.setitem(table, "test-outer", "test-inner,repeat(test-inner)")
    spec = parse_pipeline("test-outer").spec()
    assert spec == ("prune-dead-nodes,test-count{changes=1},repeat(prune-dead-nodes,"
                    "test-count{changes=1}; max-iterations=10,strict=false)")  # fmt: skip


def test_errors_inside_named_pipelines_point_into_their_text(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(named_pipelines(), "test-broken", "prune-dead-nodes,no-such-pass")
    monkeypatch.setitem(named_pipelines(), "test-loop", "prune-dead-nodes,test-loop")
    with pytest.raises(PipelineError) as exc:
        parse_pipeline("test-broken")
    assert str(exc.value).startswith("named pipeline 'test-broken':1:18: error: unknown pass")
    with pytest.raises(PipelineError, match=r"refers to itself \(test-loop -> test-loop\)"):
        parse_pipeline("test-loop")


def test_register_pass_rejects_malformed_classes() -> None:
    class NotDataclass(Pass):
        name: ClassVar[str] = "test-plain"

    @dataclass
    class NotFrozen(Pass):
        name: ClassVar[str] = "test-not-frozen"

    @dataclass(frozen=True)
    class BadName(Pass):
        name: ClassVar[str] = "Test_Bad"

    @dataclass(frozen=True)
    class NoDefault(Pass):
        name: ClassVar[str] = "test-no-default"
        bits: int

    @dataclass(frozen=True)
    class BadType(Pass):
        name: ClassVar[str] = "test-bad-type"
        bits: list[int] | None = None

    @dataclass(frozen=True)
    class Duplicate(Pass):
        name: ClassVar[str] = "prune-dead-nodes"

    for cls in (NotDataclass, NotFrozen, BadName, NoDefault, BadType, Duplicate):
        with pytest.raises(TypeError):
            register_pass(cls)
    assert "test-plain" not in pass_names()


def test_parse_checks_everything_before_running() -> None:
    graph = Graph()
    with pytest.raises(PipelineError):
        Pipeline.parse("test-count,unknown-pass")
    assert len(graph) == 0
