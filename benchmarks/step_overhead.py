"""Per-step overhead of the NumPy interpreter: the time a run spends outside the kernels.

Run: `python benchmarks/step_overhead.py [--chain 10000] [--model resnet200] [--batch 1]`.

Each registered kernel (with its first-output and in-place forms) is wrapped before compiling, so
that a first run records its results and later runs replay them in the same order: a replayed run
costs only the interpreter's own work (gathering arguments, output checks, freeing, bookkeeping).
Reported per non-const node, as the best of `--repeats` runs (the machine is shared; the minimum
is the least disturbed). The real run time is shown alongside. Nothing is recorded to `results/`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from benchinfo import call_times  # noqa: E402

from backends.numpy import compile  # noqa: E402
from compiler.graph import Graph  # noqa: E402
from compiler.registry import all_ops  # noqa: E402
from compiler.types import DType, TensorType  # noqa: E402


class Replay:
    """Wraps every kernel: records results while `recording`, else replays them in order."""

    def __init__(self) -> None:
        self.recording = True
        self.calls = 0
        self.tape: list[list[Any]] = []
        self._next: Iterator[list[Any]] = iter(())

    def wrap(self, fn: Callable[..., list[Any]]) -> Callable[..., list[Any]]:
        def wrapped(args: list[Any], attrs: Any) -> list[Any]:
            self.calls += 1
            if self.recording:
                out = fn(args, attrs)
                self.tape.append(out)
                return out
            return next(self._next)

        return wrapped

    def rewind(self) -> None:
        self.recording, self.calls = False, 0
        self._next = iter(self.tape)


def chain(length: int, shape: tuple[int, ...] = (8,)) -> Graph:
    """x -> relu -> neg -> relu -> ... : `length` cheap elementwise nodes."""
    graph = Graph()
    value = graph.add_input("x", TensorType(DType.FLOAT32, shape))
    b = graph.builder()
    for i in range(length):
        value = b.node("relu" if i % 2 == 0 else "neg", value, names=[f"v{i}"]).outputs[0]
    graph.outputs = [value]
    return graph


def best(fn: Callable[[], object], repeats: int) -> float:
    return min(call_times(fn, repeats, warm=False))


def measure(label: str, graph: Graph, feeds: dict[str, np.ndarray], repeats: int) -> None:
    ops = [op for op in all_ops() if op.kernel is not None]
    variants = ("kernel", "kernel_first", "kernel_inplace")
    saved = {(op.name, v): getattr(op, v) for op in ops for v in variants}
    replay = Replay()
    try:
        for op in ops:
            for v in variants:
                if saved[op.name, v] is not None:
                    setattr(op, v, replay.wrap(saved[op.name, v]))
        program = compile(graph)
        replay.tape.clear()
        program(feeds)  # record
        steps = len(replay.tape)

        def replayed() -> None:
            replay.rewind()
            program(feeds)

        overhead = best(replayed, repeats)
    finally:
        for op in ops:
            for v in variants:
                setattr(op, v, saved[op.name, v])
    real_program = compile(graph)
    real = best(lambda: real_program(feeds), max(3, repeats // 4))
    ops_run = sum(1 for node in graph.nodes if node.op != "const")
    print(f"{label}: {len(graph)} nodes ({ops_run} not const), {steps} kernel calls per run; "
          f"run {real * 1e3:.2f} ms, interpreter overhead {overhead * 1e3:.2f} ms "
          f"= {overhead / ops_run * 1e6:.2f} µs per non-const node")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chain", type=int, default=10_000, help="nodes of the elementwise chain")
    parser.add_argument("--model", default="resnet200", help="a material model ('' for none)")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1)
    if args.chain:
        x = np.linspace(-1, 1, 8, dtype=np.float32)
        measure(f"chain of {args.chain}", chain(args.chain), {"x": x}, args.repeats)
    if args.model:
        from material import model_path

        from compiler.frontend.onnx_import import load

        path = model_path(args.model)
        if path is None:
            raise SystemExit(f"{args.model} cannot be generated here (needs torch)")
        graph = load(path)
        value = graph.inputs[0]
        shape = [d if isinstance(d, int) else args.batch for d in value.type.shape]
        x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
        measure(f"{args.model} b{args.batch}", graph, {value.name: x}, args.repeats)
    return 0


if __name__ == "__main__":
    sys.exit(main())
