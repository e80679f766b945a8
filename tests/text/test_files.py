"""save_text / load_text: text plus a bit-exact resource side file, written atomically."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from compiler.errors import ParseError
from compiler.graph import Graph
from compiler.text import load_text, print_graph, save_text
from compiler.text.files import side_file
from compiler.types import DType, TensorType

DTYPES = [
    DType.FLOAT32, DType.FLOAT16, DType.BFLOAT16, DType.FLOAT64, DType.INT4, DType.UINT4,
    DType.INT8, DType.UINT64, DType.BOOL, DType.FLOAT8E4M3FN, DType.FLOAT8E5M2FNUZ,
    DType.COMPLEX64, DType.STRING,
]  # fmt: skip


def _array(dtype: DType, rng: np.random.Generator) -> np.ndarray:
    if dtype == DType.STRING:
        return np.array([f"s{i}\n" for i in range(20)], dtype=object).reshape(4, 5)
    if dtype == DType.BOOL:
        return rng.integers(0, 2, (4, 5)).astype(bool)
    if dtype in (DType.INT4, DType.UINT4):
        return rng.integers(0, 7, (4, 5)).astype(dtype.to_numpy())
    raw = rng.integers(0, 256, 20 * dtype.to_numpy().itemsize, dtype=np.uint8)
    return raw.view(dtype.to_numpy()).reshape(4, 5)  # every bit pattern, NaNs included


def _graph() -> Graph:
    graph = Graph("saved")
    rng = np.random.default_rng(0)
    b = graph.builder()
    outs = [b.const(_array(dtype, rng), f"w_{dtype.short}") for dtype in DTYPES]
    outs.append(b.const(np.array([1.5], np.float32), "small"))
    graph.outputs = outs
    return graph


def test_save_and_load_are_bit_exact(tmp_path: Path) -> None:
    graph = _graph()
    path = tmp_path / "model.ir"
    save_text(graph, path)
    assert path.read_text() == print_graph(graph)
    assert side_file(path).exists()
    loaded = load_text(path)
    assert print_graph(loaded) == print_graph(graph)
    for a, b in zip(graph.nodes, loaded.nodes, strict=True):
        x, y = a.attrs["value"], b.attrs["value"]
        assert x.dtype == y.dtype and x.shape == y.shape and not y.flags.writeable
        if x.dtype == object:
            assert x.tolist() == y.tolist()
        else:
            assert x.tobytes() == y.tobytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.ir", "model.ir.npz"]  # no temps


def test_side_file_is_removed_when_no_longer_needed(tmp_path: Path) -> None:
    path = tmp_path / "m.ir"
    save_text(_graph(), path)
    small = Graph("small")
    small.outputs = [small.add_input("x", TensorType(DType.FLOAT32, (1,)))]
    save_text(small, path)
    assert not side_file(path).exists()
    assert print_graph(load_text(path)) == print_graph(small)


def test_load_errors_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.ir"
    path.write_text("graph @m() -> () {\n  return %z\n}\n")
    with pytest.raises(ParseError) as info:
        load_text(path)
    assert str(info.value).startswith(f"{path}:2:10: error: use of undefined value %z")
    side_file(path).write_bytes(b"not a zip")
    with pytest.raises(ParseError, match="cannot read resource file"):
        load_text(path)
