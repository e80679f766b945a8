"""Driver helpers shared by the CLI and the Python API: load/save by extension, summaries.

This is the driver layer: it imports `backends` lazily, inside functions.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from compiler.errors import CompilerError
from compiler.graph import Graph

ONNX_SUFFIXES = (".onnx",)
TEXT_SUFFIXES = (".ir", ".mlir")


def load_model(path: Path | str, *, verify: bool = True) -> Graph:
    """Load an ONNX model or a textual IR file (by extension) and verify it."""
    path = Path(path)
    if not path.exists():
        raise CompilerError(f"no such file: {path}")
    if path.suffix in TEXT_SUFFIXES:
        from compiler.text import load_text

        graph = load_text(path)
    else:
        from compiler.frontend.onnx_import import load

        graph = load(path)
    if verify:
        from compiler.verifier import verify as run_verifier

        run_verifier(graph)
    return graph


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


def check_output_path(source: Path, output: Path, *, force: bool) -> None:
    """Refuse to overwrite the input, or an existing output without `force`."""
    if output.exists() and source.exists() and output.resolve() == source.resolve():
        raise CompilerError(f"refusing to overwrite the input {source}")
    if output.exists() and not force:
        raise CompilerError(f"{output} exists; pass --force to overwrite it")


def parameter_count(graph: Graph) -> int:
    """Elements held in constants (weights, biases, buffers)."""
    total = 0
    for node in graph.nodes:
        if node.op == "const":
            total += int(np.asarray(node.attrs["value"]).size)
    return total


def summarize(graph: Graph, title: str = "") -> str:
    """A short human-readable summary: inputs, outputs, parameters, op histogram."""
    lines = [f"graph @{graph.name}" + (f"  ({title})" if title else "")]
    lines.append(f"  nodes: {len(graph)}   parameters: {parameter_count(graph):,}")
    for value in graph.inputs:
        lines.append(f"  input  %{value.name}: {value.type}")
    for value in graph.outputs:
        lines.append(f"  output %{value.name}: {value.type}")
    lines.append("  ops:")
    for op, count in graph.op_histogram().items():
        lines.append(f"    {op:<28} {count:>6}")
    return "\n".join(lines)
