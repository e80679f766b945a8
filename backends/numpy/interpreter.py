"""The NumPy reference interpreter: a loop over nodes calling each op's registered kernel.

`compile(graph)` builds a `Program` once: every value gets a slot; `const` nodes are resolved into
a constants table that pre-fills each run's slots (never executed, freed or counted as live); every
other node becomes a step holding its kernel, input/output slots, the stored output types, and the
slots whose *last use* is that step (dropped right after it runs, so a run holds only the live
set). The program is reusable across runs; it snapshots the graph, so recompile after mutating it.

Each kernel's outputs are checked against the node's stored types (dtype, rank, static dims, and
symbols bound consistently): a mismatch names the node, which catches kernel and inference bugs.
The checks are planned per step (`plan.py`): with the inputs' symbols bound, most outputs need
only a dtype identity and a shape tuple compare; the rest take the full check.
`float64=True` computes float32/float16 tensors in float64 (inputs and constants are upcast, casts
to f32/f16 become casts to f64) for ground truth; outputs then come back in float64.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from backends.numpy.allocator import tune_allocator
from backends.numpy.budget import check_budget, default_budget
from backends.numpy.checks import (
    F64,
    WIDE,
    bind_inputs,
    check_output,
    kernel_error,
    numpy_dtype,
    widen,
)
from backends.numpy.memory import LiveSet, MemoryStats, root_of
from backends.numpy.plan import (
    Constant,
    ExecStep,
    OutputCheck,
    Step,
    donatable,
    exec_steps,
    kernel_of,
    plan_donors,
    plan_frees,
    resolve_const,
)
from compiler.errors import BackendError
from compiler.graph import Graph
from compiler.ir import Node, Value

Watch = Callable[[ExecStep], None]
# Plans kept per program: one per mode and binding of the inputs' symbols (batch sizes, ...).
_PLANS_KEPT = 8

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
class _Mode:
    """What one mode (float32 as stored, or float64) shares across runs."""

    env: list[Any]  # a run's environment before its inputs: constants filled in, then ABSENT
    const_roots: set[int]  # buffers of the constants, which the live set does not count


class Program:
    """A graph compiled for the interpreter; call it like `run` without the graph.

    `const` nodes are resolved here into `constants` (slot -> array); `steps` are the nodes a run
    executes.

    Args:
        graph: The graph; it is snapshotted (recompile after mutating it).
        memory_budget: Most bytes one node's outputs may take (estimated from the stored types
            before the kernel runs; see `budget.py`); None for half the physical memory.

    Raises:
        BackendError: an op without a kernel (naming every such op), or a constant whose array
            does not match its stored type (naming the node).
    """

    def __init__(self, graph: Graph, *, memory_budget: int | None = None) -> None:
        tune_allocator()
        self.graph = graph
        self.memory_budget = default_budget() if memory_budget is None else memory_budget
        self.names = _value_names(graph)
        self.slots: dict[Value, int] = {}
        for value in graph.inputs:
            self._slot(value)
        self.steps: list[Step] = []
        self.constants: dict[int, np.ndarray] = {}
        self._symbolic_consts: list[Constant] = []  # constants whose types bind symbols
        symbols: dict[str, int] = {}
        for node in graph.nodes:
            if node.op == "const":
                self._add_constants(resolve_const(graph, node, self.names, self._slot, symbols))
            else:
                self.steps.append(self._step(node))
        self.output_values = graph.outputs
        self.output_slots = [self._slot(v) for v in self.output_values]
        self._output_names = [self.names[v] for v in self.output_values]
        self._input_slots = [self.slots[v] for v in graph.inputs]
        keep = set(self.output_slots) | set(self.constants)
        read = plan_frees(self.steps, keep)
        plan_donors(self.steps, keep | set(self._input_slots))
        self.unused_inputs = set(self._input_slots) - read - set(self.output_slots)
        self._modes: dict[bool, _Mode] = {}
        self._plans: dict[tuple[bool, tuple[tuple[str, int], ...]], list[ExecStep]] = {}

    def _slot(self, value: Value) -> int:
        slot = self.slots.get(value)
        if slot is None:
            slot = self.slots[value] = len(self.slots)
        return slot

    def _step(self, node: Node) -> Step:
        ins = tuple(None if v is None else self._slot(v) for v in node.inputs)
        outs = tuple(self._slot(v) for v in node.outputs)
        expected = tuple(numpy_dtype(v.type.dtype) for v in node.outputs)
        return Step(node, kernel_of(node), ins, outs, expected)

    def _add_constants(self, constants: list[Constant]) -> None:
        for const in constants:
            self.constants[const.slot] = const.array
            shape = const.value.type.shape or ()
            if any(isinstance(dim, str) for dim in shape):
                self._symbolic_consts.append(const)

    def free_after(self, node: Node) -> list[str]:
        """Names of the values dropped right after `node` runs (for tests and debugging).

        Constants are resolved at compile time and never dropped: [] for a `const` node.
        """
        if node.op == "const":
            return []
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
        mode = self._mode(float64)
        env = mode.env.copy()
        symbols = self._load_inputs(env, inputs, float64)
        plan = self._plan(float64, symbols)
        watch = None
        captured: dict[str, np.ndarray] = {}
        live = None
        if capture is not False or track_memory:
            watch, captured, live = self._watcher(env, mode, capture, track_memory)
        self._execute(plan, env, symbols, float64, watch)
        values = [env[s] for s in self.output_slots]
        outputs = dict(zip(self._output_names, values, strict=True))
        return RunResult(outputs, values, captured, live.stats() if live is not None else None)

    def _mode(self, float64: bool) -> _Mode:
        """The shared state of a mode, built on its first run (float64 widens constants once)."""
        mode = self._modes.get(float64)
        if mode is None:
            arrays = {s: _wide_const(a) if float64 else a for s, a in self.constants.items()}
            env: list[Any] = [None] * (len(self.slots) + 1)  # + the ABSENT slot
            for slot, array in arrays.items():
                env[slot] = array
            roots = [*self.constants.values(), *arrays.values()]
            mode = self._modes[float64] = _Mode(env, {id(root_of(a)) for a in roots})
        return mode

    def _plan(self, float64: bool, symbols: dict[str, int]) -> list[ExecStep]:
        """The steps with their output shapes resolved for this binding (cached, a few kept)."""
        key = (float64, tuple(symbols.items()))
        plan = self._plans.get(key)
        if plan is None:
            if len(self._plans) >= _PLANS_KEPT:
                del self._plans[next(iter(self._plans))]
            plan = exec_steps(self.steps, float64, symbols)
            if self.memory_budget is not None:
                check_budget(plan, self.memory_budget, self.names)
            self._plans[key] = plan
        return plan

    def _load_inputs(
        self, env: list[Any], inputs: Mapping[str, Any] | Sequence[Any], float64: bool
    ) -> dict[str, int]:
        if not isinstance(inputs, Mapping):
            inputs = self._by_position(inputs)
        arrays, symbols = bind_inputs(self.graph.inputs, self.names, inputs, float64)
        for slot, array in zip(self._input_slots, arrays, strict=True):
            if slot not in self.unused_inputs:
                env[slot] = array
        for const in self._symbolic_consts:  # the constants' symbols, checked against the inputs
            check_output(self.graph, const.node, self.names, const.value, const.array,
                         numpy_dtype(const.value.type.dtype), symbols)  # fmt: skip
        return symbols

    def _by_position(self, arrays: Sequence[Any]) -> dict[str, Any]:
        if len(arrays) != len(self.graph.inputs):
            raise BackendError(
                f"numpy backend: {len(arrays)} inputs given, the graph takes "
                f"{len(self.graph.inputs)}"
            )
        return {self.names[v]: a for v, a in zip(self.graph.inputs, arrays, strict=True)}

    def _watcher(
        self, env: list[Any], mode: _Mode, capture: bool | Iterable[str], track_memory: bool
    ) -> tuple[Watch, dict[str, np.ndarray], LiveSet | None]:
        """The per-step hook of a run with capture or memory tracking (None-free runs skip it)."""
        wanted = self._capture_slots(capture)
        names = self._slot_names()
        captured = {names[s]: env[s] for s in sorted(wanted) if env[s] is not None}
        live = LiveSet(mode.const_roots) if track_memory else None
        if live is not None:
            for slot in self._input_slots:
                if env[slot] is not None:
                    live.add(slot, env[slot], "<inputs>")

        def watch(step: ExecStep) -> None:
            for slot in step.outputs:
                if live is not None:
                    live.add(slot, env[slot], names[slot])
                if slot in wanted:
                    captured[names[slot]] = env[slot]
            if live is not None:
                for slot in step.frees:
                    live.drop(slot)

        return watch, captured, live

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

    def _slot_names(self) -> dict[int, str]:
        if not hasattr(self, "_names_by_slot"):
            self._names_by_slot = {s: self.names[v] for v, s in self.slots.items()}
        return self._names_by_slot

    def _execute(
        self,
        plan: list[ExecStep],
        env: list[Any],
        symbols: dict[str, int],
        float64: bool,
        watch: Watch | None,
    ) -> None:
        """The hot loop: per step, gather, call, check, store, drop (locals bound for speed)."""
        ndarray, asarray, wide, f64 = np.ndarray, np.asarray, WIDE, F64
        for step in plan:
            (node, kernel, gather, single, attrs, count, slot, dtype, shape, rest, frees, donor,
             inplace, _, _) = step  # fmt: skip
            args = [] if gather is None else [gather(env)] if single else list(gather(env))
            if donor >= 0:  # input 0 dies here: overwrite it if nothing else can see it
                env[donor] = array = results = None  # the last step's locals may hold it too
                if inplace is not None and donatable(args[0]):
                    kernel = inplace
            try:
                results = kernel(args, attrs)
            except Exception as exc:  # noqa: BLE001  any kernel failure is reported with the node
                raise kernel_error(self.graph, node, self.names, args, exc) from exc
            if len(results) < count:
                short = ValueError(f"kernel returned {len(results)} outputs")
                raise kernel_error(self.graph, node, self.names, args, short)
            if count:  # the first output inline; the rare others through `_store`
                array = results[0]
                if not isinstance(array, ndarray):
                    array = asarray(array)
                if float64 and array.dtype in wide:
                    array = array.astype(f64)
                # Fast path: the expected dtype object and the exact shape; anything else (an
                # equal-but-distinct dtype, a shape known only at run time) gets the full check.
                if array.dtype is not dtype or array.shape != shape:
                    self._check(node, step.checks[0], array, symbols)
                env[slot] = array
                for index, check in rest:
                    self._store(node, check, results[index], env, symbols, float64)
            if watch is not None:
                watch(step)
            for slot in frees:
                env[slot] = None

    def _store(
        self,
        node: Node,
        check: OutputCheck,
        array: Any,
        env: list[Any],
        symbols: dict[str, int],
        float64: bool,
    ) -> None:
        """Check and store one output beyond the first (as the loop does for the first)."""
        array = array if isinstance(array, np.ndarray) else np.asarray(array)
        if float64:
            array = widen(array)
        if array.dtype is not check.dtype or array.shape != check.shape:
            self._check(node, check, array, symbols)
        env[check.slot] = array

    def _check(
        self, node: Node, check: OutputCheck, array: np.ndarray, symbols: dict[str, int]
    ) -> None:
        check_output(self.graph, node, self.names, check.value, array, check.dtype, symbols)


def _wide_const(array: np.ndarray) -> np.ndarray:
    """A constant in float64 mode: widened once per program, read-only like the original."""
    wide = widen(array)
    if wide is not array:
        wide.flags.writeable = False
    return wide


def _value_names(graph: Graph) -> dict[Value, str]:
    """Unique printed names of every value (those of the textual IR)."""
    from compiler.text.printer import Namer, graph_values

    namer = Namer(graph_values(graph))
    return {value: namer.name(value) for value in namer.values}


def compile(graph: Graph, *, memory_budget: int | None = None) -> Program:  # noqa: A001
    """Compile a graph for repeated runs: `compile(graph)(inputs)` equals `run(graph, inputs)`."""
    return Program(graph, memory_budget=memory_budget)


def run(
    graph: Graph,
    inputs: Mapping[str, Any] | Sequence[Any],
    *,
    float64: bool = False,
    capture: bool | Iterable[str] = False,
    track_memory: bool = False,
    memory_budget: int | None = None,
) -> RunResult:
    """Run a graph once on the NumPy reference kernels.

    Args:
        graph: A verified graph.
        inputs: Arrays by graph input name (or a sequence in graph-input order).
        float64: Compute float32/float16 tensors in float64 (ground truth); outputs are float64.
        capture: True for every value, or the printed names of the values to return.
        track_memory: Record the peak bytes of live tensors (constants excluded).
        memory_budget: Most bytes one node's outputs may take, checked from the stored types
            before its kernel runs (default: half the physical memory).

    Returns:
        The outputs, the captured values and the memory statistics.

    Raises:
        BackendError: bad inputs (naming the input), a kernel failure, a kernel result that does
            not match the node's stored type, or a node over the memory budget (naming the node
            and its location).
    """
    return Program(graph, memory_budget=memory_budget)(
        inputs, float64=float64, capture=capture, track_memory=track_memory
    )
