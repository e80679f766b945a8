"""Compile-time planning of the NumPy interpreter: constants, steps, frees and output checks.

The interpreter's loop runs once per node per run, so everything that does not depend on the
run's data is decided here, once:

- `const` nodes are resolved into a table of arrays (slot -> array) that pre-fills every run's
  environment; they are never executed, freed, checked per run, or counted as live tensors.
- Each remaining node becomes a `Step`; `ExecStep` tuples are what the hot loop unpacks.
- Donation: where input 0 of a node whose op has an in-place kernel dies at that node (and is
  neither a graph input, a constant nor a graph output), the step names that slot as its donor.
  At run time the loop drops the environment's reference first and hands the buffer to the
  in-place kernel only if nothing else can see it (`donatable`: an owned, writeable ndarray whose
  reference count shows no other holder, or a view whose base is such an array held by that view
  alone). A captured intermediate, an alias in another slot or a live view all hold references,
  so they are never overwritten. Results are bit-identical to the out-of-place kernels.
- Each output gets an `OutputCheck`: the numpy dtype to expect and, where every dim is known once
  the inputs' symbols are bound, the exact shape, so the common case is two identity/tuple
  compares. Anything else (a data-dependent symbol, an unknown rank, a dtype that only compares
  equal) falls back to the full check of `checks.check_output`, which raises naming the node.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any, NamedTuple

import numpy as np

from backends.numpy.checks import WIDE, check_output, kernel_error, numpy_dtype
from compiler.errors import BackendError
from compiler.graph import Graph
from compiler.ir import Node, Value
from compiler.registry import Kernel, get_op
from compiler.types import DType

# The environment's last entry stays None: absent optional inputs read it (no per-arg test).
ABSENT = -1


@dataclass
class Step:
    """One executed node: what to call, on which slots, what to check, what to drop."""

    node: Node
    kernel: Kernel
    inputs: tuple[int | None, ...]
    outputs: tuple[int, ...]
    expected: tuple[np.dtype, ...]
    frees: tuple[int, ...] = ()
    inplace: Kernel | None = None  # the op's in-place kernel, when it has one
    donor: int = -1  # slot of input 0 when it may be handed to `inplace` (see `plan_donors`)


class OutputCheck(NamedTuple):
    """What one output must be: `dtype` and, when fully known for this run, `shape` (else None)."""

    slot: int
    dtype: np.dtype
    shape: tuple[int, ...] | None
    value: Value


class ExecStep(NamedTuple):
    """The hot loop's view of a step (a tuple: the loop unpacks it in one bytecode).

    The first output is spelled out (`slot0`, `dtype0`, `shape0`): nearly every node has exactly
    one, and this spares the loop a zip. `gather(env)` reads the inputs (an `itemgetter`, which
    returns the bare item when there is one input: `single`), None for a node without inputs.
    """

    node: Node
    kernel: Kernel
    gather: Callable[[list[Any]], Any] | None
    single: bool
    attrs: Mapping[str, Any]
    arity: int  # outputs the kernel must return
    slot0: int
    dtype0: np.dtype | None
    shape0: tuple[int, ...] | None
    rest: tuple[tuple[int, OutputCheck], ...]  # outputs 1.. as (index, check)
    frees: tuple[int, ...]
    donor: int  # slot whose buffer `inplace` may overwrite, or ABSENT
    inplace: Kernel | None
    outputs: tuple[int, ...]
    checks: tuple[OutputCheck, ...]


@dataclass
class Constant:
    """A resolved `const` output: its slot, array, and the node that defined it (for errors)."""

    node: Node
    value: Value
    slot: int
    array: np.ndarray


def kernel_of(node: Node) -> Kernel:
    """The kernel a step calls: the first-output-only form where the node has one output."""
    opdef = get_op(node.op)
    if opdef.kernel is None:
        raise BackendError(f"numpy backend: op {node.op} has no kernel", node.loc)
    if len(node.outputs) == 1 and opdef.kernel_first is not None:
        return opdef.kernel_first
    return opdef.kernel


def plan_donors(steps: Sequence[Step], keep: set[int]) -> None:
    """Mark the steps that may overwrite input 0 (it dies there and is not in `keep`)."""
    for step in steps:
        inplace = get_op(step.node.op).kernel_inplace
        first = step.inputs[0] if step.inputs else None
        if inplace is None or first is None or first in keep or first not in step.frees:
            continue
        step.inplace, step.donor = inplace, first


def donatable(array: Any) -> bool:
    """True when `array` (just dropped from the environment, held only by the caller's argument
    list) has no other holder, so an in-place kernel may overwrite it."""
    if type(array) is not np.ndarray or not array.flags.writeable:
        return False
    base = array.base
    if base is None:
        return sys.getrefcount(array) <= _HELD
    return (
        type(base) is np.ndarray and base.base is None and sys.getrefcount(array) <= _HELD
        and sys.getrefcount(base) <= _VIEW_HELD
    )  # fmt: skip


# References on a donor while `donatable` decides: the caller's argument list, the parameter and
# getrefcount's own argument (the environment's reference is dropped before the call).
_HELD = 3
# References on the base of a donated view: the view's `base`, the local name and the argument.
_VIEW_HELD = 3


def resolve_const(
    graph: Graph, node: Node, names: Mapping[Value, str], slot_of: Any, symbols: dict[str, int]
) -> list[Constant]:
    """Run a `const` node's kernel once and check its arrays against the stored types."""
    try:
        results = kernel_of(node)([], node.attrs)
    except Exception as exc:  # noqa: BLE001  reported with the node, as at run time
        raise kernel_error(graph, node, names, [], exc) from exc
    if len(results) < len(node.outputs):
        raise kernel_error(graph, node, names, [],
                           ValueError(f"kernel returned {len(results)} outputs"))  # fmt: skip
    constants = []
    for value, array in zip(node.outputs, results, strict=False):
        array = array if isinstance(array, np.ndarray) else np.asarray(array)
        check_output(graph, node, names, value, array, numpy_dtype(value.type.dtype), symbols)
        constants.append(Constant(node, value, slot_of(value), array))
    return constants


def plan_frees(steps: Sequence[Step], keep: set[int]) -> set[int]:
    """Set each step's `frees` (slots it reads or writes last); return the slots read at all.

    `keep` (graph outputs and constants) is never freed.
    """
    last: dict[int, int] = {}
    for i, step in enumerate(steps):
        for slot in (*step.outputs, *(s for s in step.inputs if s is not None)):
            last[slot] = i
    frees: list[list[int]] = [[] for _ in steps]
    for slot, i in last.items():
        if slot not in keep:
            frees[i].append(slot)
    for step, dropped in zip(steps, frees, strict=True):
        step.frees = tuple(sorted(dropped))
    return set(last)


def wide_attrs(node: Node) -> Mapping[str, Any]:
    """float64 mode: casts to float32/float16 become casts to float64."""
    if node.op == "cast" and node.attrs.get("to") in (DType.FLOAT32, DType.FLOAT16):
        return {**node.attrs, "to": DType.FLOAT64}
    return node.attrs


def exec_steps(steps: Sequence[Step], float64: bool, symbols: Mapping[str, int]) -> list[ExecStep]:
    """The hot loop's steps for one mode and one binding of the symbols known before the run."""
    return [_exec_step(step, float64, symbols) for step in steps]


def _exec_step(step: Step, float64: bool, symbols: Mapping[str, int]) -> ExecStep:
    node = step.node
    checks = tuple(
        OutputCheck(
            slot, WIDE.get(dtype, dtype) if float64 else dtype, _shape(value, symbols), value
        )
        for slot, value, dtype in zip(step.outputs, node.outputs, step.expected, strict=True)
    )
    ins = tuple(ABSENT if s is None else s for s in step.inputs)
    gather = itemgetter(*ins) if ins else None
    attrs = wide_attrs(node) if float64 else node.attrs
    slot, dtype, shape = checks[0][:3] if checks else (ABSENT, None, None)  # no outputs: unused
    rest = tuple(enumerate(checks))[1:]
    return ExecStep(node, step.kernel, gather, len(ins) == 1, attrs, len(checks), slot, dtype,
                    shape, rest, step.frees, step.donor, step.inplace, step.outputs,
                    checks)  # fmt: skip


def _shape(value: Value, symbols: Mapping[str, int]) -> tuple[int, ...] | None:
    """The exact shape of `value` given the bound symbols, or None when not fully known."""
    declared = value.type.shape
    if declared is None:
        return None
    dims = []
    for dim in declared:
        if isinstance(dim, str):
            bound = symbols.get(dim)
            if bound is None:
                return None
            dims.append(bound)
        else:
            dims.append(dim)
    return tuple(dims)
