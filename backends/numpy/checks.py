"""Checks of the NumPy interpreter: inputs against the graph signature, kernel results against the
node's stored types, and the error raised when a kernel fails."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from compiler.errors import BackendError
from compiler.graph import Graph
from compiler.ir import Node, Value
from compiler.types import DType

F64 = np.dtype(np.float64)
# float64 mode: the dtypes computed in float64 instead.
WIDE = {np.dtype(np.float32): F64, np.dtype(np.float16): F64}
_STRING = np.dtype(object)


def numpy_dtype(dtype: DType) -> np.dtype:
    """The numpy dtype a kernel must return for `dtype`."""
    return dtype.to_numpy()


def widen(array: np.ndarray) -> np.ndarray:
    """`array` in float64 when it is float32/float16, else unchanged."""
    return array.astype(np.float64) if array.dtype in WIDE else array


def _same_dtype(array: np.ndarray, expected: np.dtype) -> bool:
    if array.dtype == expected:
        return True
    return expected == _STRING and array.dtype.kind in "OUS"


def bind_inputs(
    values: Sequence[Value], names: Mapping[Value, str], given: Mapping[str, Any], float64: bool
) -> tuple[list[np.ndarray], dict[str, int]]:
    """Check the given arrays against the graph inputs and bind symbolic dims.

    Args:
        values: The graph inputs.
        names: Their printed names (the ONNX names on import).
        given: Arrays by input name.
        float64: Accept float64 for float32/float16 inputs and upcast them.

    Returns:
        The arrays in graph-input order (upcast in float64 mode) and the symbol bindings.

    Raises:
        BackendError: a missing or unexpected input, or one of the wrong dtype, rank or dims.
    """
    wanted = [names[v] for v in values]
    missing = [n for n in wanted if n not in given]
    extra = sorted(set(given) - set(wanted))
    if missing or extra:
        parts = [f"missing inputs {missing}" if missing else "",
                 f"unexpected inputs {extra}" if extra else ""]  # fmt: skip
        raise BackendError(f"numpy backend: {'; '.join(p for p in parts if p)} "
                           f"(the graph takes {wanted})")  # fmt: skip
    symbols: dict[str, int] = {}
    origin: dict[str, str] = {}
    arrays = []
    for value in values:
        array = _input_array(value, names[value], given[names[value]], float64)
        _bind(value, names[value], array.shape, symbols, origin)
        arrays.append(widen(array) if float64 else array)
    return arrays, symbols


def _input_array(value: Value, name: str, data: Any, float64: bool) -> np.ndarray:
    expected = numpy_dtype(value.type.dtype)
    array = data if isinstance(data, np.ndarray) else np.asarray(data, dtype=expected)
    if _same_dtype(array, expected) or (float64 and expected in WIDE and array.dtype == F64):
        return array
    raise BackendError(
        f"numpy backend: input %{name} has dtype {array.dtype}, expected {expected} ({value.type})"
    )


def _bind(
    value: Value,
    name: str,
    shape: tuple[int, ...],
    symbols: dict[str, int],
    origin: dict[str, str],
) -> None:
    declared = value.type.shape or ()
    if len(shape) != len(declared):
        raise BackendError(
            f"numpy backend: input %{name} has rank {len(shape)} (shape {list(shape)}), "
            f"expected {len(declared)} ({value.type})"
        )
    for axis, (dim, want) in enumerate(zip(shape, declared, strict=True)):
        if isinstance(want, int) and dim != want:
            raise BackendError(
                f"numpy backend: input %{name} has dim {axis} = {dim}, expected {want} "
                f"({value.type})"
            )
        if isinstance(want, str):
            bound = symbols.setdefault(want, dim)
            origin.setdefault(want, name)
            if bound != dim:
                raise BackendError(
                    f"numpy backend: input %{name} has dim {axis} = {dim}, but symbol "
                    f"{want} is {bound} in input %{origin[want]}"
                )


def check_output(
    graph: Graph,
    node: Node,
    names: Mapping[Value, str],
    value: Value,
    array: np.ndarray,
    dtype: np.dtype,
    symbols: dict[str, int],
) -> None:
    """Raise a BackendError naming the node when `array` does not fit the stored type."""
    problem = _mismatch(value, array, dtype, symbols)
    if problem:
        raise BackendError(
            f"numpy backend: the kernel of {node.op} produced %{names[value]} as "
            f"{array.dtype}{list(array.shape)}, but the IR says {value.type}: {problem}",
            node.loc,
            [f"  in `{node_line(graph, node, names)}`",
             "  (a kernel bug, or an inference bug that stored the wrong type)"],
        )  # fmt: skip


def _mismatch(value: Value, array: np.ndarray, dtype: np.dtype, symbols: dict[str, int]) -> str:
    if not _same_dtype(array, dtype):
        return f"dtype {array.dtype} is not {dtype}"
    declared = value.type.shape
    if declared is None:
        return ""
    if len(declared) != array.ndim:
        return f"rank {array.ndim} is not {len(declared)}"
    for axis, (dim, want) in enumerate(zip(array.shape, declared, strict=True)):
        if isinstance(want, int) and dim != want:
            return f"dim {axis} is {dim}, not {want}"
        if isinstance(want, str) and symbols.setdefault(want, dim) != dim:
            return f"dim {axis} is {dim}, but symbol {want} is bound to {symbols[want]}"
    return ""


def node_line(graph: Graph, node: Node, names: Mapping[Value, str]) -> str:
    """`%c = conv(%x, %w, none)`: the node's head as in the textual IR."""
    outs = ", ".join(f"%{names.get(v, v.name)}" for v in node.outputs)
    ins = ", ".join("none" if v is None else f"%{names.get(v, v.name)}" for v in node.inputs)
    return f"{outs} = {node.op}({ins})"


def _describe(array: Any) -> str:
    if array is None:
        return "none"
    if isinstance(array, np.ndarray):
        return f"{array.dtype}{list(array.shape)}"
    return type(array).__name__


def _printed_line(graph: Graph, node: Node) -> list[str]:
    """The node's full printed line with a caret, from the textual IR (best effort)."""
    try:
        from compiler.text import print_graph

        lines = print_graph(graph, mark=node).split("\n")
    except Exception:  # noqa: BLE001  printing must never hide the real problem
        return []
    at = next((i for i, line in enumerate(lines) if line.startswith(">>")), None)
    return [] if at is None else ["", *lines[at : at + 2]]


def kernel_error(
    graph: Graph, node: Node, names: Mapping[Value, str], args: Sequence[Any], exc: Exception
) -> BackendError:
    """The BackendError for a kernel that raised `exc` on `args`."""
    shapes = ", ".join(_describe(a) for a in args)
    return BackendError(
        f"numpy backend: while executing `{node_line(graph, node, names)}`: "
        f"{type(exc).__name__}: {exc}",
        node.loc,
        [f"  inputs: ({shapes})", *_printed_line(graph, node)],
    )
