"""External data safety: locations must stay inside the model's folder; sizes and offsets fit."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from compiler.errors import FrontendError
from compiler.frontend.onnx_import import load


def _model(tmp_path: Path, info: dict[str, str], dims: tuple[int, ...] = (4,)) -> Path:
    """`m/m.onnx`: y = x + w, with `w` external as described by `info`."""
    w = TensorProto()
    w.name, w.data_type = "w", TensorProto.FLOAT
    w.dims.extend(dims)
    w.data_location = TensorProto.EXTERNAL
    for key, value in info.items():
        entry = w.external_data.add()
        entry.key, entry.value = key, value
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])
    graph = helper.make_graph([helper.make_node("Add", ["x", "w"], ["y"])], "g", [x], [y], [w])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    folder = tmp_path / "m"
    folder.mkdir(exist_ok=True)
    onnx.save(model, folder / "m.onnx")
    return folder / "m.onnx"


def _data(path: Path, n_bytes: int = 16) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(np.arange(n_bytes // 4, dtype=np.float32).tobytes())


def test_valid_external_data_loads(tmp_path: Path) -> None:
    path = _model(tmp_path, {"location": "sub/w.bin", "offset": "4", "length": "16"})
    _data(path.parent / "sub" / "w.bin", 20)
    graph = load(path)
    const = next(n for n in graph.nodes if n.op == "const")
    np.testing.assert_array_equal(const.attrs["value"], [1, 2, 3, 4])


@pytest.mark.parametrize(
    ("location", "match"),
    [
        ("../x.bin", "contains '..'"),
        ("sub/../../x.bin", "contains '..'"),
        ("..\\x.bin", "contains '..'"),
        ("sub\\..\\..\\x.bin", "contains '..'"),
        ("/etc/passwd", "must be relative"),
        ("\\\\server\\share\\x.bin", "must be relative"),
        ("\\x.bin", "must be relative"),
        ("C:\\x.bin", "must be relative"),
        ("C:x.bin", "must be relative"),
        ("c:/x.bin", "must be relative"),
        ("w\0.bin", "NUL byte"),
        ("", "no location"),
        ("x" * 5000, "too long"),
        ("y" * 300, "cannot be opened"),  # one component over NAME_MAX
        ("missing.bin", "does not exist"),
        (".", "not a regular file"),
        ("sub", "not a regular file"),
    ],
)
def test_bad_locations_are_refused(tmp_path: Path, location: str, match: str) -> None:
    _data(tmp_path / "x.bin")
    path = _model(tmp_path, {"location": location})
    (path.parent / "sub").mkdir(exist_ok=True)
    with pytest.raises(FrontendError, match=f"'w'.*{match}"):
        load(path)


def test_absolute_path_to_an_existing_file(tmp_path: Path) -> None:
    _data(tmp_path / "x.bin")
    with pytest.raises(FrontendError, match="must be relative"):
        load(_model(tmp_path, {"location": str(tmp_path / "x.bin")}))


@pytest.mark.parametrize("target", ["file", "folder"])
def test_symlink_pointing_outside_is_refused(tmp_path: Path, target: str) -> None:
    _data(tmp_path / "secret" / "x.bin")
    path = _model(tmp_path, {"location": "link/x.bin" if target == "folder" else "link"})
    os.symlink(tmp_path / "secret" / ("" if target == "folder" else "x.bin"),
               path.parent / "link")  # fmt: skip
    with pytest.raises(FrontendError, match="'w'.*outside the model directory"):
        load(path)


def test_symlink_inside_the_folder_is_allowed(tmp_path: Path) -> None:
    path = _model(tmp_path, {"location": "link"})
    _data(path.parent / "real.bin")
    os.symlink("real.bin", path.parent / "link")
    assert len(load(path)) == 2


def test_symlink_loop_is_refused(tmp_path: Path) -> None:
    path = _model(tmp_path, {"location": "a"})
    os.symlink("b", path.parent / "a")
    os.symlink("a", path.parent / "b")
    with pytest.raises(FrontendError, match="'w'.*external data"):
        load(path)


def test_model_loaded_through_a_symlinked_folder(tmp_path: Path) -> None:
    path = _model(tmp_path, {"location": "w.bin"})
    _data(path.parent / "w.bin")
    os.symlink(path.parent, tmp_path / "alias")
    assert len(load(tmp_path / "alias" / "m.onnx")) == 2


@pytest.mark.parametrize(
    ("info", "n_bytes", "match"),
    [
        ({"offset": "8", "length": "16"}, 16, "runs past the end"),
        ({"offset": "0", "length": "12"}, 16, "has 12 bytes of data but dims \\[4\\]"),
        ({"offset": "0"}, 12, "runs past the end"),
        ({"offset": "-4"}, 16, "offset -4 is negative"),
        ({"length": "-16"}, 16, "length -16 is negative"),
        ({"offset": "0x10"}, 16, "offset '0x10' is not an integer"),
        ({"offset": str(2**70)}, 16, "runs past the end"),
        ({"length": "99999999999999999999"}, 16, "runs past the end"),
    ],
)
def test_bad_offsets_and_lengths(
    tmp_path: Path, info: dict[str, str], n_bytes: int, match: str
) -> None:
    path = _model(tmp_path, {"location": "w.bin", **info})
    _data(path.parent / "w.bin", n_bytes)
    with pytest.raises(FrontendError, match=f"'w'.*{match}"):
        load(path)


def test_dims_whose_product_overflows(tmp_path: Path) -> None:
    path = _model(tmp_path, {"location": "w.bin"}, dims=(2**40, 2**40))
    _data(path.parent / "w.bin")
    with pytest.raises(FrontendError, match="'w'.*runs past the end"):
        load(path)


def test_empty_data_file(tmp_path: Path) -> None:
    path = _model(tmp_path, {"location": "w.bin"})
    (path.parent / "w.bin").write_bytes(b"")
    with pytest.raises(FrontendError, match="'w'.*runs past the end"):
        load(path)
