"""`irforge run`: both backends, inputs from npz or random, --shape, --float64, --save, errors."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np
import pytest

from compiler.cli import main

ROOT = Path(__file__).resolve().parents[2]
MNIST = ROOT / "examples" / "models" / "mnist_cnn_raw.onnx"


def _digits(n: int = 2) -> np.ndarray:
    return np.random.default_rng(1).random((n, 1, 28, 28)).astype(np.float32)


def _inputs_file(tmp_path: Path, **arrays: np.ndarray) -> Path:
    path = tmp_path / "in.npz"
    np.savez(path, **arrays)
    return path


def test_backends_agree_on_saved_inputs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    inputs = _inputs_file(tmp_path, x=_digits())
    saved = {}
    for backend in ("numpy", "onnxruntime"):
        out = tmp_path / f"{backend}.npz"
        assert main(["run", str(MNIST), "--inputs", str(inputs), "--backend", backend,
                     "--save", str(out)]) == 0  # fmt: skip
        with np.load(out) as data:
            saved[backend] = {k: data[k] for k in data.files}
    text = capsys.readouterr().out
    assert text.count("%logits: float32[2, 10]  min ") == 2
    assert list(saved["numpy"]) == ["logits"] == list(saved["onnxruntime"])
    np.testing.assert_allclose(saved["numpy"]["logits"], saved["onnxruntime"]["logits"],
                               rtol=1e-4, atol=1e-4)  # fmt: skip
    assert not list(tmp_path.glob(".*.tmp"))  # the atomic write left nothing behind


def test_random_inputs_are_seeded(tmp_path: Path, capsys, caplog) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.INFO, logger="irforge")  # what `irforge -v` shows
    results = []
    for seed in ("3", "3", "4"):
        out = tmp_path / f"out{len(results)}.npz"
        args = ["run", str(MNIST), "--random", "--seed", seed, "--shape", "x=3x1x28x28"]
        assert main([*args, "--save", str(out)]) == 0
        assert capsys.readouterr().out.endswith(f"\nwrote {out} (1 output)\n")
        with np.load(out) as data:
            results.append(data["logits"])
    logged = [r.getMessage() for r in caplog.records if r.name == "irforge.run"]
    counts = r"\(38 ops, 35 constants\) in \d+\.\d{3}s"
    assert re.fullmatch(f"loaded {re.escape(str(MNIST))} {counts}", logged[0])
    assert logged[1] == "random inputs (seed 3): %x float32[3, 1, 28, 28]"
    assert logged[2].startswith("backend numpy: ran in ") and len(logged) == 9
    assert results[0].shape == (3, 10)
    np.testing.assert_array_equal(results[0], results[1])
    assert not np.array_equal(results[0], results[2])


def test_float64_mode(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    inputs = _inputs_file(tmp_path, x=_digits(1))
    assert main(["run", str(MNIST), "--inputs", str(inputs), "--float64"]) == 0
    assert "%logits: float64[1, 10]" in capsys.readouterr().out


def test_save_refuses_to_overwrite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    inputs = _inputs_file(tmp_path, x=_digits())
    base = ["run", str(MNIST), "--inputs", str(inputs)]
    assert main([*base, "--save", str(inputs), "--force"]) == 2
    assert "refusing to overwrite the input" in capsys.readouterr().err
    out = tmp_path / "out.npz"
    out.write_bytes(b"keep")
    assert main([*base, "--save", str(out)]) == 2
    assert "exists; pass --force" in capsys.readouterr().err
    assert out.read_bytes() == b"keep"
    assert main([*base, "--save", str(out), "--force"]) == 0
    with np.load(out) as data:
        assert data.files == ["logits"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "give the inputs: --inputs FILE.npz or --random"),
        (["--random"], "input %x (f32[batch,1,28,28]) has symbolic dims ['batch']"),
        (["--random", "--shape", "y=1x1x28x28"], "--shape names unknown inputs ['y']"),
        (["--random", "--shape", "x=1x2x28x28"], "--shape x=1x2x28x28 does not fit"),
        (["--random", "--shape", "x1x28"], "bad --shape 'x1x28'"),
        (["--random", "--shape", "x=1xAx28"], "bad --shape 'x=1xAx28'"),
        (["--random", "--float64", "--backend", "onnxruntime"], "--float64 needs --backend numpy"),
        (["--random", "--save", "out.txt"], "--save needs a .npz file name"),
        (["--inputs", "missing.npz"], "no such file: missing.npz"),
    ],
)
def test_bad_options_give_one_error(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", str(MNIST), *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("irforge: error: ") and message in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        ({"x": _digits().astype(np.float64)}, "input %x has dtype float64, expected float32"),
        ({"x": _digits()[0]}, "input %x has rank 3"),
        ({"x": _digits(), "extra": np.zeros(1)}, "unexpected inputs ['extra']"),
        ({"y": _digits()}, "missing inputs ['x']"),
    ],
)
@pytest.mark.parametrize("backend", ["numpy", "onnxruntime"])
def test_bad_input_files_give_one_error(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    arrays: dict[str, np.ndarray],
    message: str,
    backend: str,
) -> None:
    inputs = _inputs_file(tmp_path, **arrays)
    assert main(["run", str(MNIST), "--inputs", str(inputs), "--backend", backend]) == 2
    assert message in capsys.readouterr().err


def test_corrupt_input_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    assert main(["run", str(MNIST), "--inputs", str(bad)]) == 2
    assert f"cannot read inputs from {bad}" in capsys.readouterr().err
