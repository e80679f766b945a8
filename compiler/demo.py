"""`irforge demo`: the main job on the bundled MNIST model, end to end.

Today: import → verify → textual IR round trip → ONNX export → ONNX Runtime on the original
and the exported model, compared bit for bit, with accuracy on the bundled real digits. Later
issues extend it with the pass pipeline, quantization and the TensorRT build.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from compiler.errors import CompilerError

BUNDLED = Path(__file__).resolve().parent.parent / "examples" / "models"


def _step(name: str, start: float) -> None:
    print(f"  [{time.perf_counter() - start:6.2f}s] {name}")


def run_demo(model: Path | None = None) -> int:
    from backends.onnx import run_onnxruntime, save_onnx
    from compiler.driver import summarize
    from compiler.frontend.onnx_import import load
    from compiler.text import parse_graph, print_graph_with_resources
    from compiler.verifier import verify

    path = model or BUNDLED / "mnist_cnn_raw.onnx"
    if not path.exists():
        raise CompilerError(f"model not found: {path}")
    start = time.perf_counter()
    print(f"irforge demo on {path}")
    graph = load(path)
    verify(graph)
    _step("imported and verified", start)
    print(summarize(graph, title=path.name))
    text, resources = print_graph_with_resources(graph)
    if print_graph_with_resources(parse_graph(text, resources=resources))[0] != text:
        raise CompilerError("textual IR round trip changed the graph")
    _step(f"textual IR round trip exact ({len(text.splitlines())} lines)", start)
    feeds = _inputs(graph, path)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "roundtrip.onnx"
        save_onnx(graph, out)
        _step(f"exported ONNX ({out.stat().st_size:,} bytes)", start)
        ref = run_onnxruntime(path, feeds)
        got = run_onnxruntime(out, feeds)
    same = all(np.array_equal(ref[k], got[k]) for k in ref)
    _step(f"ONNX Runtime: original vs round trip bitwise equal: {same}", start)
    _accuracy(got, path)
    print("PASS" if same else "FAIL")
    return 0 if same else 1


def _inputs(graph, path: Path) -> dict[str, np.ndarray]:  # type: ignore[no-untyped-def]
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
