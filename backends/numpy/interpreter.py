"""The NumPy reference interpreter: a loop over nodes calling each op's registered kernel.

`compile(graph)` builds a `Program` once: every value gets a slot, every node a step holding its
kernel, input/output slots, the stored output types, and the slots whose *last use* is that step
(dropped right after it runs, so a run holds only the live set). The program is reusable across
runs; it snapshots the graph, so recompile after mutating it.

Each kernel's outputs are checked against the node's stored types (dtype, rank, static dims, and
symbols bound consistently): a mismatch names the node, which catches kernel and inference bugs.
`float64=True` computes float32/float16 tensors in float64 (inputs and constants are upcast, casts
to f32/f16 become casts to f64) for ground truth; outputs then come back in float64.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from backends.numpy.checks import (
    WIDE,
    bind_inputs,
    check_output,
    kernel_error,
    numpy_dtype,
    widen,
)
from backends.numpy.memory import LiveSet, MemoryStats, root_of
from compiler.errors import BackendError
from compiler.graph import Graph
from compiler.ir import Node, Value
from compiler.registry import Kernel, get_op
from compiler.types import DType

log = logging.getLogger(__name__)


@dataclass
class RunResult:
    """The result of one run.

    Attributes:
        outputs: Graph outputs by name (the printed IR name, which is the ONNX name on import).
        values: Graph outputs in graph order (two outputs may share a name or a value).
        captured: Intermediates asked for with `capture`, by printed value name.
        memory: Live-set statistics when `track_memory=True`, else None.
    """

    outputs: dict[str, np.ndarray]
    values: list[np.ndarray]
    captured: dict[str, np.ndarray] = field(default_factory=dict)
    memory: MemoryStats | None = None


@dataclass
class Step:
    """One node of the program: what to call, on which slots, what to check, what to drop."""

    node: Node
    kernel: Kernel
    inputs: tuple[int | None, ...]
    outputs: tuple[int, ...]
    expected: tuple[np.dtype, ...]
    frees: tuple[int, ...] = ()


class Program:
    """A graph compiled for the interpreter; call it like `run` without the graph.

    Args:
        graph: The graph; it is snapshotted (recompile after mutating it).

    Raises:
        BackendError: an op without a kernel (naming every such op).
    """

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.slots: dict[Value, int] = {}
        for value in graph.inputs:
            self._slot(value)
        self.steps = [self._step(node) for node in graph.nodes]
        self.output_values = graph.outputs
        self.output_slots = [self._slot(v) for v in self.output_values]
        self.names = _value_names(graph)
        self._plan_frees()
        self._wide_consts: dict[int, np.ndarray] = {}

    def _slot(self, value: Value) -> int:
        slot = self.slots.get(value)
        if slot is None:
            slot = self.slots[value] = len(self.slots)
        return slot

    def _step(self, node: Node) -> Step:
        fn = get_op(node.op).kernel
        if fn is None:
            raise BackendError(f"numpy backend: op {node.op} has no kernel", node.loc)
        ins = tuple(None if v is None else self._slot(v) for v in node.inputs)
        outs = tuple(self._slot(v) for v in node.outputs)
        expected = tuple(numpy_dtype(v.type.dtype) for v in node.outputs)
        return Step(node, fn, ins, outs, expected)

    def _plan_frees(self) -> None:
        """Record, per step, the slots whose last reader it is (or that nobody reads)."""
        keep = set(self.output_slots)
        last: dict[int, int] = {}
        for i, step in enumerate(self.steps):
            for slot in (*step.outputs, *(s for s in step.inputs if s is not None)):
                last[slot] = i
        frees: list[list[int]] = [[] for _ in self.steps]
        for slot, i in last.items():
            if slot not in keep:
                frees[i].append(slot)
        for step, dropped in zip(self.steps, frees, strict=True):
            step.frees = tuple(sorted(dropped))
        self.unused_inputs = {self.slots[v] for v in self.graph.inputs} - set(last) - keep

    def free_after(self, node: Node) -> list[str]:
        """Names of the values dropped right after `node` runs (for tests and debugging)."""
        by_slot = {slot: value for value, slot in self.slots.items()}
        step = next(s for s in self.steps if s.node is node)
        return [self.names[by_slot[slot]] for slot in step.frees]

    def __call__(
        self,
        inputs: Mapping[str, Any] | Sequence[Any],
        *,
        float64: bool = False,
        capture: bool | Iterable[str] = False,
        track_memory: bool = False,
    ) -> RunResult:
        """Run the program once; see `run` for the arguments."""
        env: list[Any] = [None] * len(self.slots)
        symbols = self._load_inputs(env, inputs, float64)
        wanted = self._capture_slots(capture)
        captured = {self.names[v]: env[s] for v, s in self.slots.items() if s in wanted and
                    env[s] is not None}  # fmt: skip
        live = LiveSet(self._const_roots(float64)) if track_memory else None
        if live is not None:
            for slot, array in enumerate(env):
                if array is not None:
                    live.add(slot, array, "<inputs>")
        for step in self.steps:
            self._execute(step, env, symbols, float64, live)
            for slot in step.outputs:
                if slot in wanted:
                    captured[self._name_of_slot(slot)] = env[slot]
            for slot in step.frees:
                env[slot] = None
                if live is not None:
                    live.drop(slot)
        values = [env[s] for s in self.output_slots]
        outputs = {self.names[v]: a for v, a in zip(self.output_values, values, strict=True)}
        return RunResult(outputs, values, captured, live.stats() if live is not None else None)

    def _load_inputs(
        self, env: list[Any], inputs: Mapping[str, Any] | Sequence[Any], float64: bool
    ) -> dict[str, int]:
        if not isinstance(inputs, Mapping):
            inputs = self._by_position(inputs)
        arrays, symbols = bind_inputs(self.graph.inputs, self.names, inputs, float64)
        for value, array in zip(self.graph.inputs, arrays, strict=True):
            slot = self.slots[value]
            if slot not in self.unused_inputs:
                env[slot] = array
        return symbols

    def _by_position(self, arrays: Sequence[Any]) -> dict[str, Any]:
        if len(arrays) != len(self.graph.inputs):
            raise BackendError(
                f"numpy backend: {len(arrays)} inputs given, the graph takes "
                f"{len(self.graph.inputs)}"
            )
        return {self.names[v]: a for v, a in zip(self.graph.inputs, arrays, strict=True)}

    def _capture_slots(self, capture: bool | Iterable[str]) -> set[int]:
        if capture is False:
            return set()
        if capture is True:
            return set(self.slots.values())
        by_name = {name: value for value, name in self.names.items()}
        wanted = list(capture)
        unknown = [n for n in wanted if n not in by_name]
        if unknown:
            raise BackendError(f"numpy backend: cannot capture unknown values {unknown}")
        return {self.slots[by_name[n]] for n in wanted}

    def _name_of_slot(self, slot: int) -> str:
        if not hasattr(self, "_slot_names"):
            self._slot_names = {s: self.names[v] for v, s in self.slots.items()}
        return self._slot_names[slot]

    def _execute(
        self,
        step: Step,
        env: list[Any],
        symbols: dict[str, int],
        float64: bool,
        live: LiveSet | None,
    ) -> None:
        node = step.node
        args = [None if s is None else env[s] for s in step.inputs]
        attrs = _wide_attrs(node) if float64 and node.op == "cast" else node.attrs
        try:
            if float64 and node.op == "const":
                results = [self._wide_const(step)]
            else:
                results = step.kernel(args, attrs)
        except Exception as exc:  # noqa: BLE001  any kernel failure is reported with the node
            raise kernel_error(self.graph, node, self.names, args, exc) from exc
        if len(results) < len(step.outputs):
            raise kernel_error(self.graph, node, self.names, args,
                               ValueError(f"kernel returned {len(results)} outputs"))  # fmt: skip
        for slot, value, array, dtype in zip(
            step.outputs, node.outputs, results, step.expected, strict=False
        ):
            array = array if isinstance(array, np.ndarray) else np.asarray(array)
            if float64:
                array, dtype = widen(array), WIDE.get(dtype, dtype)
            check_output(self.graph, node, self.names, value, array, dtype, symbols)
            env[slot] = array
            if live is not None and node.op != "const":
                live.add(slot, array, self.names[value])

    def _wide_const(self, step: Step) -> np.ndarray:
        slot = step.outputs[0]
        array = self._wide_consts.get(slot)
        if array is None:
            array = self._wide_consts[slot] = widen(step.node.attrs["value"])
        return array

    def _const_roots(self, float64: bool) -> set[int]:
        arrays = [s.node.attrs["value"] for s in self.steps if s.node.op == "const"]
        if float64:
            arrays += list(self._wide_consts.values())
        return {id(root_of(a)) for a in arrays}


def _wide_attrs(node: Node) -> Mapping[str, Any]:
    if node.attrs.get("to") in (DType.FLOAT32, DType.FLOAT16):
        return {**node.attrs, "to": DType.FLOAT64}
    return node.attrs


def _value_names(graph: Graph) -> dict[Value, str]:
    """Unique printed names of every value (those of the textual IR)."""
    from compiler.text.printer import Namer, graph_values

    namer = Namer(graph_values(graph))
    return {value: namer.name(value) for value in namer.values}


def compile(graph: Graph) -> Program:  # noqa: A001  the natural name; shadows only the builtin
    """Compile a graph for repeated runs: `compile(graph)(inputs)` equals `run(graph, inputs)`."""
    return Program(graph)


def run(
    graph: Graph,
    inputs: Mapping[str, Any] | Sequence[Any],
    *,
    float64: bool = False,
    capture: bool | Iterable[str] = False,
    track_memory: bool = False,
) -> RunResult:
    """Run a graph once on the NumPy reference kernels.

    Args:
        graph: A verified graph.
        inputs: Arrays by graph input name (or a sequence in graph-input order).
        float64: Compute float32/float16 tensors in float64 (ground truth); outputs are float64.
        capture: True for every value, or the printed names of the values to return.
        track_memory: Record the peak bytes of live tensors (constants excluded).

    Returns:
        The outputs, the captured values and the memory statistics.

    Raises:
        BackendError: bad inputs (naming the input), a kernel failure or a kernel result that does
            not match the node's stored type (naming the node and its location).
    """
    return Program(graph)(inputs, float64=float64, capture=capture, track_memory=track_memory)
