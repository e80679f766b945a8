"""Fused steps: a conv with the batch norm, add and activation that consume it, run as one step.

This is an execution detail of the interpreter, not a graph rewrite: every node still runs its own
kernel's float operations in the same order, so results are bit-identical to the node-by-node
run (tested on real models). What fusion saves is the traffic between them:

- the shifted-GEMM conv computes on the padded width and would crop with a copy; fused, its
  result stays a view and the first follower's fresh output is that crop (one pass instead of
  two, one allocation fewer);
- the followers then work in place on a buffer nobody else can see (the intermediate values are
  never stored in the environment), and the loop dispatches one step instead of up to four.

A chain starts at a `conv` and takes, in order, at most one `batch_normalization` (on the chain
value, in its accumulation dtype), at most one `add` (the chain value on either side: addition
commutes bit for bit) and at most one activation with an in-place kernel (`relu`, `clip`). Each
link's input must have that node as its only use and must not be a graph output. Runs that
capture intermediates use the unfused plan, so every value stays observable on request.

A failure inside a fused step is reported for the node whose kernel failed, with its own inputs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from backends.numpy.plan import Step
from compiler.ir import Node, Value
from compiler.ops.nn import conv_result
from compiler.ops.nn_norm import batch_norm
from compiler.registry import get_op

_ACTIVATIONS = ("relu", "clip")


class StageFailure(Exception):
    """A kernel of a fused step failed: the node and the inputs it had (the loop reports it)."""

    def __init__(self, node: Node, inputs: list[Any], error: Exception) -> None:
        super().__init__(str(error))
        self.node, self.inputs, self.error = node, inputs, error


@dataclass
class _Link:
    """One follower: its node, where the chain value sits in its inputs, its other input slots."""

    node: Node
    position: int
    others: tuple[Value | None, ...]


def plan_fusions(
    steps: Sequence[Step], graph_outputs: set[Value], slots: dict[Value, int]
) -> list[Step]:
    """The steps with each fusable chain replaced by one fused step, at the place of the chain's
    last node: a follower's other operand may be computed after the conv, and everything a link
    reads exists by the time the last link runs. The other steps are copies, so the caller can
    plan their frees and donors anew for this order without touching the unfused steps."""
    by_node = {step.node: step for step in steps}
    chains: dict[Node, tuple[Step, list[_Link]]] = {}  # last node -> (conv step, links)
    for step in steps:
        if step.node.op == "conv":
            links = _chain(step.node, graph_outputs)
            if links:
                chains[links[-1].node] = (step, links)
    absorbed = {link.node for head, links in chains.values() for link in (_as_link(head), *links)}
    fused: list[Step] = []
    for step in steps:
        chain = chains.get(step.node)
        if chain is not None:
            head, links = chain
            fused.append(_fused_step(head, links, [by_node[link.node] for link in links], slots))
        elif step.node not in absorbed:
            fused.append(replace(step, frees=(), inplace=None, donor=-1))
    return fused


def _as_link(step: Step) -> _Link:
    return _Link(step.node, 0, ())


def _chain(conv: Node, graph_outputs: set[Value]) -> list[_Link]:
    links: list[_Link] = []
    value = conv.outputs[0]
    stages = ["batch_normalization", "add", *_ACTIVATIONS]
    while True:
        uses = value.uses
        if len(uses) != 1 or value in graph_outputs or len(value.users) != 1:
            return links
        node, position = uses[0].node, uses[0].input_index
        if node.op not in stages or not _accepts(node, position):
            return links
        # later links may only be later stages (one norm, one add, one activation)
        stages = stages[stages.index(node.op) + 1 :]
        if node.op in _ACTIVATIONS:
            stages = []
        others = tuple(v for i, v in enumerate(node.inputs) if i != position)
        links.append(_Link(node, position, others))
        value = node.outputs[0]


def _accepts(node: Node, position: int) -> bool:
    if len(node.outputs) != 1:
        return False
    if node.op == "add":
        return position in (0, 1)
    return position == 0 and (node.op == "batch_normalization" or
                              get_op(node.op).kernel_inplace is not None)  # fmt: skip


def _fused_step(head: Step, links: list[_Link], steps: list[Step], slots: dict[Value, int]) -> Step:
    chained = [link.node.inputs[link.position] for link in links]
    inner = {slots[v] for v in chained if v is not None}  # never stored
    inputs: list[int | None] = list(head.inputs)
    counts = [len(head.inputs)]
    for link in links:
        others = [None if v is None else slots[v] for v in link.others]
        inputs.extend(others)
        counts.append(len(others))
    last = steps[-1]
    run = _runner(head.node, [link.node for link in links], [link.position for link in links],
                  counts)  # fmt: skip
    nodes = (head.node, *(link.node for link in links))
    assert not inner & set(inputs), "a chain value is read outside its chain"
    return Step(last.node, run, tuple(inputs), last.outputs, last.expected, fused=nodes)


def _runner(
    conv: Node, followers: list[Node], positions: list[int], counts: list[int]
) -> Callable[[list[Any], Any], list[np.ndarray]]:
    """The fused step's kernel: conv (uncropped), then each follower on the chain value."""
    bounds = [0]
    for count in counts:
        bounds.append(bounds[-1] + count)
    stages = [_stage(node, position) for node, position in zip(followers, positions, strict=True)]

    def run(args: list[Any], _attrs: Any) -> list[np.ndarray]:
        own = args[: bounds[1]]
        try:
            y = conv_result(own, conv.attrs, crop=False)
        except Exception as exc:  # noqa: BLE001  reported for the conv node
            raise StageFailure(conv, own, exc) from exc
        for i, (node, stage) in enumerate(zip(followers, stages, strict=True)):
            own = args[bounds[i + 1] : bounds[i + 2]]
            try:
                y = stage(y, own)
            except Exception as exc:  # noqa: BLE001  reported for this follower
                at = positions[i]
                raise StageFailure(node, [*own[:at], y, *own[at:]], exc) from exc
        return [y]

    return run


def _stage(node: Node, position: int) -> Callable[[np.ndarray, list[Any]], np.ndarray]:
    """How one follower transforms the chain value `y` (a fresh buffer, or a view of one)."""
    attrs = node.attrs
    if node.op == "batch_normalization":
        return lambda y, rest: batch_norm([y, *rest], attrs, inplace=y.flags.c_contiguous)
    if node.op == "add":

        def add(y: np.ndarray, rest: list[Any]) -> np.ndarray:
            other = rest[0]
            if y.flags.c_contiguous and other.dtype == y.dtype and other.ndim <= y.ndim:
                try:
                    return np.add(y, other, out=y)
                except ValueError:  # other broadcasts the sum wider
                    pass
            return np.add(y, other) if position == 0 else np.add(other, y)

        return add
    plain, inplace = get_op(node.op).kernel, get_op(node.op).kernel_inplace
    assert plain is not None and inplace is not None, node.op

    def activate(y: np.ndarray, rest: list[Any]) -> np.ndarray:
        kernel = inplace if y.flags.c_contiguous else plain
        return np.asarray(kernel([y, *rest], attrs)[0])

    return activate
