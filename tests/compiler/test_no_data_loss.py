"""No data loss: outputs never clobber inputs (however spelled), need --force to replace an existing
file, are written atomically, and a failed run leaves no partial or temporary file behind."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from backends.onnx import save as save_module
from backends.onnx import save_onnx
from compiler.cli import main
from compiler.errors import BackendError, CompilerError
from compiler.frontend.onnx_import import load
from compiler.text import save_text


def _model(folder: Path, *, gelu: bool = False, external: str | None = None) -> Path:
    """`folder/m.onnx`: y = relu(x @ w + b) (w 64x64, so 16 KB), optionally through a Gelu
    (written as its Erf formula below opset 20, so it cannot be exported at opset 8) and with `w`
    in the external file `external`."""
    rng = np.random.default_rng(0)
    w = onnx.numpy_helper.from_array(rng.standard_normal((64, 64)).astype(np.float32), "w")
    b = onnx.numpy_helper.from_array(rng.standard_normal(64).astype(np.float32), "b")
    nodes = [helper.make_node("MatMul", ["x", "w"], ["h"]),
             helper.make_node("Add", ["h", "b"], ["a"]),
             helper.make_node("Gelu" if gelu else "Relu", ["a"], ["y"])]  # fmt: skip
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 64])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 64])
    graph = helper.make_graph(nodes, "g", [x], [y], [w, b])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)])
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "m.onnx"
    if external is not None:
        onnx.save(model, path, save_as_external_data=True, location=external, size_threshold=1024)
    else:
        onnx.save(model, path)
    return path


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def test_output_equal_to_input_is_refused_whatever_the_spelling(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    src = _model(tmp_path / "a")
    os.symlink(src, tmp_path / "link.onnx")
    os.link(src, tmp_path / "hard.onnx")
    before = _files(tmp_path / "a")
    spellings = [src, tmp_path / "a" / ".." / "a" / "m.onnx", tmp_path / "link.onnx",
                 tmp_path / "hard.onnx"]  # fmt: skip
    for out in spellings:
        assert main(["convert", str(src), str(out), "--force"]) == 2
        assert "refusing to overwrite" in capsys.readouterr().err
        assert main(["optimize", str(src), "-o", str(out), "--force"]) == 2
        assert "refusing to overwrite" in capsys.readouterr().err
    assert _files(tmp_path / "a") == before


def test_output_whose_data_file_is_the_inputs_external_data_is_refused(
    tmp_path: Path, capsys
) -> None:  # type: ignore[no-untyped-def]
    src = _model(tmp_path, external="out.onnx.data")  # m.onnx reads out.onnx.data
    before = _files(tmp_path)
    assert main(["convert", str(src), str(tmp_path / "out.onnx"), "--force"]) == 2
    err = capsys.readouterr().err
    assert "refusing to overwrite" in err and "out.onnx.data" in err
    assert _files(tmp_path) == before
    assert len(load(src)) > 0


def test_ir_output_over_the_inputs_side_file_is_refused(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    ir = tmp_path / "m.ir"
    assert main(["convert", str(_model(tmp_path / "a")), str(ir)]) == 0
    assert (tmp_path / "m.ir.npz").exists()
    assert main(["convert", str(ir), str(ir), "--force"]) == 2
    assert "refusing to overwrite" in capsys.readouterr().err


def test_existing_outputs_need_force(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    src = _model(tmp_path / "a")
    out, report = tmp_path / "o.onnx", tmp_path / "r.json"
    report.write_text("keep")
    assert main(["optimize", str(src), "-o", str(out), "--report", str(report)]) == 2
    assert "r.json exists; pass --force" in capsys.readouterr().err
    assert report.read_text() == "keep" and not out.exists()
    (tmp_path / "o.onnx.data").write_text("stale")  # a side file counts as an output too
    assert main(["convert", str(src), str(out)]) == 2
    assert "o.onnx.data exists" in capsys.readouterr().err
    assert main(["optimize", str(src), "-o", str(out), "--report", str(report), "--force"]) == 0
    assert report.read_text().startswith("{") and not (tmp_path / "o.onnx.data").exists()


def test_two_outputs_on_one_file_are_refused(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    src = _model(tmp_path / "a")
    out = tmp_path / "o.onnx"
    assert main(["optimize", str(src), "-o", str(out), "--report", str(out)]) == 2
    assert "same file" in capsys.readouterr().err


def test_run_save_refuses_inputs_and_model(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    src = _model(tmp_path / "a")
    inputs = tmp_path / "in.npz"
    np.savez(inputs, x=np.ones((1, 64), np.float32))
    base = ["run", str(src), "--inputs", str(inputs), "--force", "--save"]
    assert main([*base, str(inputs)]) == 2
    assert "refusing to overwrite the input" in capsys.readouterr().err
    model_npz = tmp_path / "a" / "m.npz"
    os.symlink(inputs, model_npz)
    assert main([*base, str(model_npz)]) == 2
    assert "refusing to overwrite the input" in capsys.readouterr().err
    assert set(np.load(inputs).files) == {"x"}


def test_missing_output_folder_is_one_clear_error(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    src = _model(tmp_path / "a")
    assert main(["convert", str(src), str(tmp_path / "nope" / "o.onnx")]) == 2
    assert "no such folder" in capsys.readouterr().err


def test_failed_export_leaves_no_files(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    src = _model(tmp_path / "a", gelu=True)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    assert main(["convert", str(src), str(out_dir / "o.onnx"), "--opset", "8"]) == 2
    assert "gelu needs Erf (opset 9; target opset 8)" in capsys.readouterr().err
    graph = load(src)
    with pytest.raises(BackendError, match="gelu needs Erf"):
        save_onnx(graph, out_dir / "e.onnx", opset=8, external_data=True, size_threshold=16)
    assert list(out_dir.iterdir()) == []


@pytest.mark.parametrize("external", [False, True])
def test_failure_mid_write_keeps_the_old_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, external: bool
) -> None:
    graph = load(_model(tmp_path / "a"))
    out = tmp_path / "o.onnx"
    save_onnx(graph, out, external_data=external, size_threshold=16)
    before = _files(tmp_path)
    calls = []

    def fail_second(file, array):  # type: ignore[no-untyped-def]
        calls.append(1)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        file.write(b"x" * array.nbytes)

    monkeypatch.setattr(save_module, "write_array", fail_second)
    if external:
        with pytest.raises(OSError, match="No space"):
            save_onnx(graph, out, external_data=True, size_threshold=16)
    monkeypatch.setattr(onnx.ModelProto, "SerializeToString", _raise_disk_full)
    with pytest.raises(OSError, match="No space"):
        save_onnx(graph, out, external_data=False)
    assert _files(tmp_path) == before  # no temporary file, the old output intact


def _raise_disk_full(self: onnx.ModelProto) -> bytes:
    raise OSError(28, "No space left on device")


def test_failed_text_save_keeps_the_old_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    graph = load(_model(tmp_path / "a"))
    save_text(graph, tmp_path / "m.ir")
    before = _files(tmp_path)
    import compiler.text.files as files

    monkeypatch.setattr(files, "_write_npz", lambda f, r: (f.write(b"partial"), 1 / 0))
    with pytest.raises(ZeroDivisionError):
        save_text(graph, tmp_path / "m.ir")
    assert _files(tmp_path) == before


def test_outputs_get_default_permissions(tmp_path: Path) -> None:
    graph = load(_model(tmp_path / "a"))
    save_onnx(graph, tmp_path / "o.onnx", external_data=True, size_threshold=16)
    umask = os.umask(0)
    os.umask(umask)
    for name in ("o.onnx", "o.onnx.data"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o666 & ~umask


def test_unwritable_folder_is_a_compiler_error(tmp_path: Path) -> None:
    graph = load(_model(tmp_path / "a"))
    with pytest.raises(CompilerError, match="cannot write"):
        save_onnx(graph, tmp_path / "missing" / "o.onnx")
