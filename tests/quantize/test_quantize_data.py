"""Calibration data sources: .npz, folders of arrays and images, iterables; errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from compiler.errors import CompilerError
from compiler.quantize.data import ImageOptions, InputSpec, batches
from compiler.types import DType, TensorType

SPEC = [InputSpec("x", TensorType(DType.FLOAT32, ("batch", 3, 4, 5)))]
RNG = np.random.default_rng(0)


def _sizes(stream: object) -> list[int]:
    return [len(b["x"]) for b in stream]  # type: ignore[attr-defined]


def test_npz_is_split_into_batches_with_limit(tmp_path: Path) -> None:
    x = RNG.standard_normal((10, 3, 4, 5)).astype(np.float32)
    np.savez(tmp_path / "c.npz", whatever=x)
    assert _sizes(batches(tmp_path / "c.npz", SPEC, batch_size=4)) == [4, 4, 2]
    got = list(batches(tmp_path / "c.npz", SPEC, batch_size=3, limit=7))
    assert _sizes(got) == [3, 3, 1]
    np.testing.assert_array_equal(np.concatenate([b["x"] for b in got]), x[:7])


def test_folder_of_arrays_and_images(tmp_path: Path) -> None:
    pytest.importorskip("PIL", reason="image folders need Pillow")
    from PIL import Image

    np.save(tmp_path / "a.npy", RNG.standard_normal((3, 4, 5)).astype(np.float32))  # one sample
    np.save(tmp_path / "b.npy", RNG.standard_normal((2, 3, 4, 5)).astype(np.float32))  # batch
    pixels = RNG.integers(0, 256, (8, 10, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "c.png")
    (tmp_path / "notes.txt").write_text("ignored")
    options = ImageOptions(mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))
    got = list(batches(tmp_path, SPEC, batch_size=8, images=options))
    assert _sizes(got) == [4]
    image = got[0]["x"][3]
    assert image.shape == (3, 4, 5) and image.dtype == np.float32
    assert image.min() >= -2.0 and image.max() <= 2.0  # (p/255 - 0.5) / 0.25


def test_iterables_of_dicts_and_arrays() -> None:
    arrays = [RNG.standard_normal((2, 3, 4, 5)).astype(np.float32) for _ in range(3)]
    assert _sizes(batches(arrays, SPEC)) == [6]
    assert _sizes(batches(({"x": a} for a in arrays), SPEC, batch_size=2, limit=5)) == [2, 2, 1]


@pytest.mark.parametrize(
    ("array", "message"),
    [(np.zeros((2, 3)), "expects rank 4"), (np.zeros((2, 3, 4, 6)), "dim 3 is 6")],
)
def test_bad_shapes_name_the_input(array: np.ndarray, message: str) -> None:
    with pytest.raises(CompilerError, match=message):
        list(batches([array], SPEC))


def test_bad_sources(tmp_path: Path) -> None:
    with pytest.raises(CompilerError, match="expected a .npz file or a folder"):
        list(batches(tmp_path / "x.csv", SPEC))
    with pytest.raises(CompilerError, match="holds no .npy"):
        list(batches(tmp_path, SPEC))
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(CompilerError, match="cannot read calibration data"):
        list(batches(tmp_path / "bad.npz", SPEC))


def test_progress_falls_back_to_log_lines(caplog: pytest.LogCaptureFixture) -> None:
    from compiler.quantize.progress import progress

    with caplog.at_level("INFO", logger="irforge.quantize"):
        assert list(progress(range(20), 20, "calibrating", True)) == list(range(20))
    lines = [r.getMessage() for r in caplog.records]
    assert lines[0] == "calibrating: 2/20" and lines[-1] == "calibrating: 20/20"


def test_misnamed_or_non_finite_arrays_are_refused(tmp_path: Path) -> None:
    x = RNG.standard_normal((4, 3, 4, 5)).astype(np.float32)
    np.savez(tmp_path / "two.npz", images=x, labels=np.arange(4))  # neither is named x
    with pytest.raises(CompilerError, match=r"needs arrays named x \(found: images, labels\)"):
        list(batches(tmp_path / "two.npz", SPEC))
    x[1, 0, 0, 0] = np.nan
    x[2, 0, 0, 0] = np.inf
    np.savez(tmp_path / "nan.npz", x=x)
    with pytest.raises(CompilerError, match=r"input x holds 2 NaN or infinite value\(s\) of 240"):
        list(batches(tmp_path / "nan.npz", SPEC))


def test_constant_calibration_data_is_refused() -> None:
    from compiler.quantize.data import check_spread

    zeros = {"x": np.zeros((4, 3, 4, 5), np.float32)}
    with pytest.raises(CompilerError, match=r"input x is 0 everywhere in all 8 sample\(s\)"):
        check_spread([zeros, zeros])
    check_spread([zeros, {"x": np.ones((1, 3, 4, 5), np.float32)}])  # varies across batches
