"""The supported-ops tables, generated from the registries: `python -m compiler.opstable`.

Sources: the op registry (`compiler.registry.all_ops`: every IR op, its ONNX op type, the opset
of its IR form, its NumPy kernel, which the reference backend runs), the ONNX exporter's
downgrade rules (`backends.onnx.downgrade`: older opsets written in attribute form) and the
TensorRT converter table (`backends.tensorrt.capability.registry_coverage`: a converter, or the
stated reason for none; converters with a per-node `check` refuse some nodes). Nothing here
imports tensorrt itself.

Two tables: a summary by category (README.md's "Supported ops" section) and the full per-op
table (docs/OPS.md). Each lives between the markers `<!-- ops-table:NAME:begin -->` and
`<!-- ops-table:NAME:end -->`; `--write` replaces that text, `--check` exits 1 when it differs.

Driver layer (tests/compiler/test_layering.py): imports `backends` lazily, inside functions.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGETS = {"summary": ROOT / "README.md", "full": ROOT / "docs" / "OPS.md"}

# (category, op modules in compiler/ops/) in display order
CATEGORIES = (
    ("convolution, pooling", ("nn", "nn_pool")),
    ("linear algebra", ("nn_linalg",)),
    ("normalization", ("nn_norm",)),
    ("activations, softmax", ("activations",)),
    ("attention", ("attention", "rotary")),
    ("elementwise math", ("elementwise",)),
    ("comparison, logic", ("logic",)),
    ("reductions, top-k, scans", ("reduce",)),
    ("shape, indexing, data movement", ("shape", "shape2", "gather")),
    ("resize", ("nn_resize",)),
    ("quantization", ("quant", "quant_linalg")),
    ("constants", ("core",)),
    ("other", ("misc",)),
)
NO_TRT = "†"
# Ops the exporter writes as a formula of older ops below their form's opset (checked by
# tests/test_opstable.py, which exports each one at the opset before).
FORMULA_BELOW = {"gelu": "Erf"}


@dataclass(frozen=True)
class OpRow:
    """What the registries say about one IR op."""

    name: str
    category: str
    onnx: str  # ONNX op type ("" for IR-only ops)
    since: int  # opset of the IR form
    kernel: bool  # NumPy kernel (reference backend, constant folding)
    older_forms: bool  # the exporter writes opsets below `since` (attribute form)
    trt: str | None  # None: converted to TensorRT; else the reason it is not
    trt_checked: bool  # the converter refuses some nodes (a per-node check)


def _category(module: str) -> str:
    stem = module.rsplit(".", 1)[-1]
    return next((name for name, stems in CATEGORIES if stem in stems), "other")


def collect() -> list[OpRow]:
    """One row per registered IR op, in name order."""
    from backends.onnx.downgrade import has_downgrade
    from backends.tensorrt.capability import registry_coverage
    from backends.tensorrt.registry import load_converters
    from compiler.registry import all_ops

    trt = registry_coverage()
    converters = load_converters()
    rows = []
    for op in sorted(all_ops(), key=lambda o: o.name):
        onnx_type = op.onnx or ""
        converter = converters.get(op.name)
        rows.append(OpRow(
            op.name, _category(op.infer.__module__), onnx_type, op.since, op.kernel is not None,
            bool(onnx_type) and has_downgrade(onnx_type, op.since - 1), trt[op.name],
            converter is not None and converter.check is not None,
        ))  # fmt: skip
    return rows


def summary_table(rows: Sequence[OpRow]) -> str:
    """Ops by category; `†` marks ops without a TensorRT converter."""
    exported = sum(1 for r in rows if r.onnx or r.name == "const")
    lines = [
        f"{len(rows)} IR ops: {sum(r.kernel for r in rows)} with a NumPy reference kernel, "
        f"{exported} written back to ONNX, {sum(r.trt is None for r in rows)} converted to "
        f"TensorRT ({NO_TRT}: no TensorRT converter; the reason is in "
        "[docs/OPS.md](docs/OPS.md)).",
        "",
        "| category | ops |",
        "|---|---|",
    ]
    for name, _ in CATEGORIES:
        members = [r for r in rows if r.category == name]
        if members:
            ops = ", ".join(r.name + ("" if r.trt is None else NO_TRT) for r in members)
            lines.append(f"| {name} ({len(members)}) | {ops} |")
    return "\n".join(lines)


def full_table(rows: Sequence[OpRow]) -> str:
    """Every op: ONNX op type, reference kernel, ONNX export opsets, TensorRT."""
    lines = [
        "| op | ONNX | reference | ONNX export (opsets) | TensorRT |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        onnx_type = f"`{r.onnx}`" if r.onnx else "initializer / `Constant`"
        export = f"opset {r.since}+" if r.onnx else "initializer"
        if r.older_forms:
            export += "; older opsets in attribute form"
        if r.name in FORMULA_BELOW:
            export += f"; older opsets as a formula with {FORMULA_BELOW[r.name]}"
        if r.trt is None:
            trt = "yes, per-node checks" if r.trt_checked else "yes"
        else:
            trt = f"no: {r.trt}"
        kernel = "yes" if r.kernel else "no kernel"
        lines.append(f"| `{r.name}` | {onnx_type} | {kernel} | {export} | {trt} |")
    return "\n".join(lines)


def render(kind: str, rows: Sequence[OpRow] | None = None) -> str:
    """The generated text of one table ("summary" or "full")."""
    table = summary_table if kind == "summary" else full_table
    return table(collect() if rows is None else rows)


def markers(kind: str) -> tuple[str, str]:
    return f"<!-- ops-table:{kind}:begin -->", f"<!-- ops-table:{kind}:end -->"


def embedded(text: str, kind: str) -> str | None:
    """The table text between the markers of `kind` in `text`, or None without markers."""
    begin, end = markers(kind)
    start, stop = text.find(begin), text.find(end)
    if start < 0 or stop < start:
        return None
    return text[start + len(begin) : stop].strip("\n")


def replace(text: str, kind: str, table: str) -> str:
    """`text` with the table between the markers of `kind` replaced by `table`."""
    begin, end = markers(kind)
    if embedded(text, kind) is None:
        raise ValueError(f"no {begin} ... {end} markers")
    head, rest = text.split(begin, 1)
    return f"{head}{begin}\n{table}\n{end}{rest.split(end, 1)[1]}"


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("kind", nargs="?", choices=("summary", "full"), default="full")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--write", action="store_true", help="update README.md and docs/OPS.md")
    mode.add_argument("--check", action="store_true", help="exit 1 when either is out of date")
    args = p.parse_args(argv)
    if not (args.write or args.check):
        print(render(args.kind))
        return 0
    rows = collect()
    stale = []
    for kind, path in TARGETS.items():
        text = path.read_text()
        current = embedded(text, kind)
        table = render(kind, rows)
        if current == table:
            continue
        stale.append(str(path.relative_to(ROOT)))
        if args.write:
            from compiler.fileio import atomic_write

            atomic_write(path, replace(text, kind, table).encode())
    if stale:
        print(("updated: " if args.write else "out of date: ") + ", ".join(stale))
    return 1 if stale and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
