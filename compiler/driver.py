"""Driver helpers shared by the CLI and the Python API: load/save by extension, summaries.

This is the driver layer: it imports `backends` lazily, inside functions.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from compiler.errors import CompilerError
from compiler.graph import Graph

ONNX_SUFFIXES = (".onnx",)
TEXT_SUFFIXES = (".ir", ".mlir")
CORRUPT_ONNX = "not a valid ONNX model (truncated or corrupt): "

log = logging.getLogger("irforge")


def load_model(path: Path | str, *, verify: bool = True) -> Graph:
    """Load an ONNX model or a textual IR file (by extension) and verify it."""
    path = Path(path)
    if not path.exists():
        raise CompilerError(f"no such file: {path}")
    if path.suffix in TEXT_SUFFIXES:
        from compiler.text import load_text

        graph = load_text(path)
    else:
        graph = _load_onnx(path)
    if verify:
        from compiler.verifier import verify as run_verifier

        run_verifier(graph)
    return graph


def _load_onnx(path: Path) -> Graph:
    """The frontend's import; a protobuf parse failure becomes one plain sentence (the
    parser's own words are logged at INFO level: `irforge -v` shows them)."""
    from compiler.errors import FrontendError
    from compiler.frontend.onnx_import import load

    try:
        return load(path)
    except FrontendError as exc:
        head, marker, detail = exc.message.partition(CORRUPT_ONNX)
        if not marker:
            raise
        log.info("protobuf: %s", detail)
        message = f"{head}not a valid ONNX model (protobuf parse failed)"
        raise FrontendError(message, exc.loc, exc.notes) from exc


def save_model(graph: Graph, path: Path | str, *, opset: int | None = None) -> None:
    """Write ONNX (`.onnx`) or textual IR (`.ir`) atomically, chosen by extension."""
    path = Path(path)
    if path.suffix in TEXT_SUFFIXES:
        from compiler.text import save_text

        save_text(graph, path)
        return
    if path.suffix in ONNX_SUFFIXES:
        from backends.onnx import save_onnx

        save_onnx(graph, path, opset=opset)
        return
    raise CompilerError(f"cannot tell the format of {path}: use .onnx or .ir")


def side_files(path: Path) -> list[Path]:
    """The files a save to `path` may write besides it (ONNX external data, IR resources)."""
    if path.suffix in ONNX_SUFFIXES:
        return [path.with_name(f"{path.name}.data")]
    if path.suffix in TEXT_SUFFIXES:
        return [path.with_name(f"{path.name}.npz")]
    return []


def input_files(path: Path) -> list[Path]:
    """`path` and the files it reads: an ONNX model's external data, a text file's resources."""
    files = [path, *(p for p in side_files(path) if path.suffix in TEXT_SUFFIXES)]
    if path.suffix in ONNX_SUFFIXES and path.is_file():
        files += _external_data_files(path)
    return files


def _external_data_files(path: Path) -> list[Path]:
    import onnx

    try:
        proto = onnx.load(path, load_external_data=False)
    except Exception:  # noqa: BLE001  an unreadable model fails later, with the loader's message
        return []
    tensors = list(proto.graph.initializer)
    tensors += [a.t for n in proto.graph.node for a in n.attribute if a.HasField("t")]
    locations = {e.value for t in tensors for e in t.external_data if e.key == "location"}
    return [path.parent / loc for loc in sorted(locations) if "\0" not in loc]


def check_outputs(
    inputs: Sequence[Path | None], outputs: Sequence[Path | None], *, force: bool
) -> None:
    """Refuse outputs that would clobber an input or each other, or exist without `force`.

    Each output stands for itself and its side files (`side_files`); each input for itself and
    the files it reads (`input_files`), so that neither an input model nor its external data can
    be overwritten, whatever the spelling of the path (symlinks, `..`, hard links). An output's
    folder must exist.

    Raises:
        CompilerError: naming the offending path.
    """
    targets = [(out, f) for out in outputs if out is not None for f in [out, *side_files(out)]]
    for out, _ in targets:
        if not out.parent.resolve().is_dir():
            raise CompilerError(f"cannot write {out}: no such folder {out.parent}")
    existing = [(out, f) for out, f in targets if f.exists()]
    if existing:
        sources = [f for p in inputs if p is not None for f in input_files(p) if f.exists()]
        for out, f in existing:
            for source in sources:
                if os.path.samefile(f, source):
                    what = "the input" if f == out else f"{f} (written with {out}), the input"
                    raise CompilerError(f"refusing to overwrite {what} {source}")
    named = [(i, f) for i, out in enumerate(outputs) if out is not None
             for f in [out, *side_files(out)]]  # fmt: skip
    for k, (i, f) in enumerate(named):
        for j, g in named[:k]:
            if i != j and _same_path(f, g):
                raise CompilerError(f"outputs {outputs[j]} and {outputs[i]} are the same file")
    if existing and not force:
        out, f = existing[0]
        raise CompilerError(f"{f} exists; pass --force to overwrite it")


def _same_path(a: Path, b: Path) -> bool:
    if a.exists() and b.exists():
        return os.path.samefile(a, b)
    return a.resolve() == b.resolve()


def check_output_path(source: Path, output: Path, *, force: bool) -> None:
    """Refuse to overwrite the input (or its external data), or an existing output without `force`.

    See `check_outputs`.
    """
    check_outputs([source], [output], force=force)


def parameter_count(graph: Graph) -> int:
    """Elements held in constants (weights, biases, buffers)."""
    total = 0
    for node in graph.nodes:
        if node.op == "const":
            total += int(np.asarray(node.attrs["value"]).size)
    return total


def count_nodes(graph: Graph) -> tuple[int, int]:
    """`(ops, constants)`: the nodes that compute and the `const` nodes (weights, biases, ...)."""
    constants = sum(1 for node in graph.nodes if node.op == "const")
    return len(graph) - constants, constants


def describe_nodes(graph: Graph) -> str:
    """`"38 ops, 35 constants"`: the vocabulary every command uses for node counts."""
    ops, constants = count_nodes(graph)
    return f"{_plural(ops, 'op')}, {_plural(constants, 'constant')}"


def describe_change(ops: tuple[int, int], nodes: tuple[int, int]) -> str:
    """`"38 -> 7 ops (73 -> 20 IR nodes with constants)"` from (before, after) pairs."""
    return f"{ops[0]} -> {_plural(ops[1], 'op')} ({nodes[0]} -> {nodes[1]} IR nodes with constants)"


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def summarize(graph: Graph, title: str = "") -> str:
    """A short human-readable summary: inputs, outputs, parameters, op histogram."""
    lines = [f"graph @{graph.name}" + (f"  ({title})" if title else "")]
    counts = f"{len(graph)} ({describe_nodes(graph)})"
    lines.append(f"  nodes: {counts}   parameters: {parameter_count(graph):,}")
    for value in graph.inputs:
        lines.append(f"  input  %{value.name}: {value.type}")
    for value in graph.outputs:
        lines.append(f"  output %{value.name}: {value.type}")
    lines.append("  ops:")
    for op, count in graph.op_histogram().items():
        lines.append(f"    {op:<28} {count:>6}")
    return "\n".join(lines)
