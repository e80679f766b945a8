"""The supported-ops tables in README.md and docs/OPS.md are the ones the registries generate."""

from __future__ import annotations

from pathlib import Path

import onnx
import pytest

from compiler import opstable
from compiler.registry import all_ops

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def rows() -> list[opstable.OpRow]:
    return opstable.collect()


@pytest.mark.parametrize("kind", ["summary", "full"])
def test_committed_table_is_the_generated_one(kind: str, rows: list[opstable.OpRow]) -> None:
    path = opstable.TARGETS[kind]
    current = opstable.embedded(path.read_text(), kind)
    assert current is not None, f"{path.name} has no ops-table:{kind} markers"
    assert current == opstable.render(kind, rows), (
        f"{path.relative_to(ROOT)} is out of date: run python -m compiler.opstable --write"
    )


def test_rows_follow_the_registries(rows: list[opstable.OpRow]) -> None:
    from backends.tensorrt.registry import UNSUPPORTED, load_converters

    assert sorted(r.name for r in rows) == sorted(op.name for op in all_ops())
    converters = load_converters()
    for r in rows:
        if r.onnx:
            assert onnx.defs.has(r.onnx), r.onnx
            onnx.defs.get_schema(r.onnx, r.since)  # the op exists at its form's opset
        if r.name in converters or r.name == "const":
            assert r.trt is None
        else:
            assert r.trt == UNSUPPORTED.get(r.name, "no converter written")
    assert all(r.category != "other" or r.name in {"acosh", "asinh", "atanh", "compress",
               "cumprod", "det", "reverse_sequence", "swish"} for r in rows)  # fmt: skip


@pytest.mark.parametrize("op", sorted(opstable.FORMULA_BELOW))
def test_formula_exports_hold(op: str) -> None:

    from backends.onnx import to_onnx
    from compiler.graph import Graph
    from compiler.registry import get_op
    from compiler.types import DType, TensorType

    g = Graph("main")
    x = g.add_input("x", TensorType(DType.FLOAT32, (2, 3)))
    g.outputs = [g.builder().op(op, x)]
    opdef = get_op(op)
    older = to_onnx(g, opset=opdef.since - 1)
    types = {n.op_type for n in older.graph.node}
    assert opdef.onnx not in types and opstable.FORMULA_BELOW[op] in types
    onnx.checker.check_model(older)


def test_every_op_is_in_the_summary_once(rows: list[opstable.OpRow]) -> None:
    summary = opstable.render("summary", rows)
    cells = [line.split(" | ")[1].rstrip(" |") for line in summary.splitlines()[4:]]
    listed = [op.rstrip(opstable.NO_TRT) for cell in cells for op in cell.split(", ")]
    assert sorted(listed) == sorted(r.name for r in rows)
    marked = {op.rstrip(opstable.NO_TRT) for cell in cells for op in cell.split(", ")
              if op.endswith(opstable.NO_TRT)}  # fmt: skip
    assert marked == {r.name for r in rows if r.trt is not None}


def test_check_and_write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stale = "intro\n<!-- ops-table:{0}:begin -->\nold\n<!-- ops-table:{0}:end -->\noutro\n"
    targets = {kind: tmp_path / f"{kind}.md" for kind in ("summary", "full")}
    for kind, path in targets.items():
        path.write_text(stale.format(kind))
    monkeypatch.setattr(opstable, "TARGETS", targets)
    monkeypatch.setattr(opstable, "ROOT", tmp_path)
    assert opstable.main(["--check"]) == 1
    assert opstable.main(["--write"]) == 0
    assert opstable.main(["--check"]) == 0
    text = targets["full"].read_text()
    assert text.startswith("intro\n") and text.endswith("\noutro\n") and "| `conv` |" in text
