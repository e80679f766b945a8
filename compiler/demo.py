"""`irforge demo`: the main job on the bundled MNIST model, end to end.

Import → verify → textual IR round trip → `default` pipeline with check-numerics (a per-pass
table of time and node delta) → the reference backend against ONNX Runtime on the original model
(derived tolerance, same top-1) → ONNX export of the optimized graph run in ONNX Runtime → accuracy
on the bundled real digits. Later issues extend it with quantization and the TensorRT build.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from compiler.errors import CompilerError
from compiler.graph import Graph

BUNDLED = Path(__file__).resolve().parent.parent / "examples" / "models"


class _Clock:
    def __init__(self) -> None:
        self.start = time.perf_counter()

    def step(self, text: str) -> None:
        print(f"  [{time.perf_counter() - self.start:6.2f}s] {text}")


def run_demo(model: Path | None = None) -> int:
    """Run the demo; 0 when every check passed, 1 otherwise."""
    from compiler.driver import summarize
    from compiler.frontend.onnx_import import load
    from compiler.verifier import verify

    path = model or BUNDLED / "mnist_cnn_raw.onnx"
    if not path.exists():
        raise CompilerError(f"model not found: {path}")
    clock = _Clock()
    print(f"irforge demo on {path}")
    graph = load(path)
    verify(graph)
    clock.step(f"imported and verified: {_count(graph)} ops")
    print(summarize(graph, title=path.name))
    _text_round_trip(graph, clock)
    feeds = _inputs(graph, path)
    original = graph.clone()
    _optimize(graph, feeds, clock)
    checks = [_reference_vs_ort(original, path, feeds, clock), _export(graph, path, feeds, clock)]
    print("PASS" if all(checks) else "FAIL")
    return 0 if all(checks) else 1


def _count(graph: Graph) -> int:
    return sum(1 for n in graph.nodes if n.op != "const")


def _text_round_trip(graph: Graph, clock: _Clock) -> None:
    from compiler.text import parse_graph, print_graph_with_resources

    text, resources = print_graph_with_resources(graph)
    if print_graph_with_resources(parse_graph(text, resources=resources))[0] != text:
        raise CompilerError("textual IR round trip changed the graph")
    clock.step(f"textual IR round trip exact ({len(text.splitlines())} lines)")


def _optimize(graph: Graph, feeds: dict[str, np.ndarray], clock: _Clock) -> None:
    from compiler.optimizer import optimize

    before = _count(graph)
    report = optimize(graph, "default", check_numerics=True, inputs=feeds)
    clock.step(
        f"`default` pipeline, every pass checked numerically: {before} -> {_count(graph)} ops"
    )
    print(report.timing_table())
    print(f"  pipeline: {report.pipeline}")


def _reference_vs_ort(
    graph: Graph, path: Path, feeds: dict[str, np.ndarray], clock: _Clock
) -> bool:
    from backends.numpy import run
    from backends.numpy.tolerance import derive_tolerances, max_abs_error
    from backends.onnx import run_onnxruntime

    ours = run(graph, feeds).outputs
    ref = run_onnxruntime(path, feeds)
    ok = True
    for name, tol in derive_tolerances(graph, ref).items():
        err = max_abs_error(ours[name], ref[name])
        ok = ok and err <= tol.atol
        clock.step(f"reference backend vs ONNX Runtime on the original, {name}: "
                   f"max |err| {err:.2e} (derived tolerance {tol.atol:.2e})")  # fmt: skip
    return ok


def _export(graph: Graph, path: Path, feeds: dict[str, np.ndarray], clock: _Clock) -> bool:
    import onnx

    from backends.onnx import run_onnxruntime, save_onnx

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "optimized.onnx"
        save_onnx(graph, out, pipeline="default")
        nodes = len(onnx.load(out).graph.node)
        ref = run_onnxruntime(path, feeds)
        got = run_onnxruntime(out, feeds)
    clock.step(f"exported optimized ONNX: {len(onnx.load(path).graph.node)} -> {nodes} nodes")
    same_top1 = all(np.array_equal(ref[k].argmax(-1), got[k].argmax(-1)) for k in ref)
    err = max(float(np.max(np.abs(ref[k] - got[k]))) for k in ref)
    clock.step(f"ONNX Runtime, original vs optimized: max |err| {err:.2e}, same top-1: {same_top1}")
    _accuracy(got, path)
    return same_top1


def _inputs(graph: Graph, path: Path) -> dict[str, np.ndarray]:
    digits = BUNDLED / "mnist_digits.npz"
    if path.parent == BUNDLED and digits.exists():
        return {graph.inputs[0].name: np.load(digits)["x"]}
    rng = np.random.default_rng(0)
    feeds = {}
    for value in graph.inputs:
        shape = [d if isinstance(d, int) else 1 for d in value.type.shape or ()]
        feeds[value.name] = rng.standard_normal(shape).astype(value.type.dtype.to_numpy())
    return feeds


def _accuracy(outputs: dict[str, np.ndarray], path: Path) -> None:
    digits = BUNDLED / "mnist_digits.npz"
    if path.parent != BUNDLED or not digits.exists():
        return
    labels = np.load(digits)["y"]
    logits = next(iter(outputs.values()))
    top1 = float(np.mean(logits.argmax(axis=1) == labels))
    print(f"  accuracy on {len(labels)} real held-out digits: {top1:.1%}")
