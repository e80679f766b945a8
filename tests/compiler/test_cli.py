"""The `irforge` command line: help, inspect, convert, and one clear error with exit status 2."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from compiler.cli import main

ROOT = Path(__file__).resolve().parents[2]
MNIST = ROOT / "examples" / "models" / "mnist_cnn_raw.onnx"


def test_help_lists_examples(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "irforge inspect model.onnx" in out and "irforge convert" in out


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    from importlib.metadata import version

    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out == f"irforge {version('irforge')}\n"


def test_every_command_help_describes_itself_and_its_arguments() -> None:
    from compiler.cli import build_parser

    parser = build_parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    epilogs = {"inspect", "convert", "run", "optimize", "compare", "bisect", "build", "demo"}
    for name, command in sub.choices.items():
        assert command.description, name
        if name in epilogs:
            assert command.epilog and f"irforge {name} " in command.epilog, name
        if name in epilogs - {"demo"}:
            positionals = [a for a in command._actions if not a.option_strings]
            assert positionals and all(a.help for a in positionals), name
    backend = next(a for a in sub.choices["run"]._actions if "--backend" in a.option_strings)
    assert backend.help and "numpy, onnxruntime, tensorrt (default: %(default)s" in backend.help


def test_inspect_and_convert_count_ops_and_constants(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["inspect", str(MNIST)]) == 0
    assert "  nodes: 73 (38 ops, 35 constants)   parameters: 70,755\n" in capsys.readouterr().out
    out = tmp_path / "mnist.onnx"
    assert main(["convert", str(MNIST), str(out)]) == 0
    assert capsys.readouterr().out == f"wrote {out} (38 ops, 35 constants)\n"
    written = onnx.load(out).graph  # the counts are what the file holds
    assert (len(written.node), len(written.initializer)) == (38, 35)


def test_no_command_prints_help_and_fails(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "usage: irforge" in capsys.readouterr().out


def test_inspect_summarizes_the_bundled_model(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", str(MNIST)]) == 0
    out = capsys.readouterr().out
    assert "batch_normalization" in out and "conv" in out
    assert "input  %x: f32[batch,1,28,28]" in out
    model = onnx.load(MNIST)
    params = sum(int(np.prod(t.dims)) for t in model.graph.initializer)
    consts = [a.t for n in model.graph.node if n.op_type == "Constant" for a in n.attribute]
    params += sum(int(np.prod(t.dims)) for t in consts)
    assert f"parameters: {params:,}" in out


def test_inspect_ir_prints_parseable_text(capsys: pytest.CaptureFixture[str]) -> None:
    from compiler.errors import ParseError
    from compiler.text import parse_graph

    assert main(["inspect", str(MNIST), "--ir"]) == 0
    out = capsys.readouterr().out
    text = out[out.rindex("graph @") :]  # after the summary, whose first line also says so
    assert "return" in text
    with pytest.raises(ParseError, match="resource"):  # large weights need their side table
        parse_graph(text)


def test_convert_round_trip_through_text_is_exact(tmp_path: Path) -> None:
    from backends.onnx import run_onnxruntime

    ir_path, back = tmp_path / "m.ir", tmp_path / "back.onnx"
    assert main(["convert", str(MNIST), str(ir_path)]) == 0
    assert ir_path.exists() and ir_path.read_text().startswith("graph @")
    assert main(["convert", str(ir_path), str(back)]) == 0
    x = np.random.default_rng(0).standard_normal((3, 1, 28, 28)).astype(np.float32)
    ref = run_onnxruntime(MNIST, {"x": x})
    got = run_onnxruntime(back, {"x": x})
    assert ref.keys() == got.keys()
    assert all(np.array_equal(ref[k], got[k]) for k in ref)


def test_convert_never_overwrites_without_force(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "m.ir"
    out.write_text("keep me")
    assert main(["convert", str(MNIST), str(out)]) == 2
    assert "--force" in capsys.readouterr().err and out.read_text() == "keep me"
    assert main(["convert", str(MNIST), str(out), "--force"]) == 0
    assert out.read_text().startswith("graph @")


def test_convert_refuses_to_overwrite_its_input(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    model = tmp_path / "m.onnx"
    model.write_bytes(MNIST.read_bytes())
    assert main(["convert", str(model), str(model), "--force"]) == 2
    assert "input" in capsys.readouterr().err
    assert model.read_bytes() == MNIST.read_bytes()


def _error_of(args: list[str], capsys) -> str:  # type: ignore[no-untyped-def]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("irforge: error: ")
    return err


def test_truncated_model_is_one_clear_error(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "cut.onnx"
    bad.write_bytes(MNIST.read_bytes()[:5000])
    err = _error_of(["inspect", str(bad)], capsys)
    assert err == "irforge: error: cut.onnx: not a valid ONNX model (protobuf parse failed)\n"
    verbose = subprocess.run([sys.executable, "-m", "compiler", "-v", "inspect", str(bad)],
                             capture_output=True, text=True, timeout=120)  # fmt: skip
    assert verbose.returncode == 2 and "INFO: protobuf: " in verbose.stderr  # the parser's words
    assert verbose.stderr.endswith(err)


def test_located_errors_say_error_once(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "bad.ir"
    bad.write_text("graph @g(%x: f32[2]) -> (f32[2]) {\n  %y = rleu(%x) : f32[2]\n  return %y\n}\n")
    assert main(["inspect", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"irforge: {bad}:2:8: error: unknown op 'rleu'\n")
    assert err.count("error:") == 1


def test_unknown_ops_are_all_listed(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])
    nodes = [
        helper.make_node("Frobnicate", ["x"], ["y"], name="first_bad"),
        helper.make_node("Relu", ["y"], ["z"], name="fine"),
        helper.make_node("Wibble", ["z"], ["w"], name="second_bad"),
    ]
    g = helper.make_graph(nodes, "g", [x], [helper.make_tensor_value_info("w", 1, [2])])
    path = tmp_path / "unknown.onnx"
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), path)
    err = _error_of(["inspect", str(path)], capsys)
    assert "Frobnicate" in err and "Wibble" in err and "first_bad" in err and "second_bad" in err


def test_missing_file_and_unknown_format(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert "no such file" in _error_of(["inspect", str(tmp_path / "nope.onnx")], capsys)
    assert ".onnx or .ir" in _error_of(["convert", str(MNIST), str(tmp_path / "x.bin")], capsys)


def test_console_entry_point_runs() -> None:
    done = subprocess.run([sys.executable, "-m", "compiler", "inspect", str(MNIST)],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "nodes:" in done.stdout
