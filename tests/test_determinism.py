"""Determinism: the same model and pipeline give byte-identical files in separate processes.

Every MATERIAL model goes through the `default` pipeline in two processes with different
`PYTHONHASHSEED`s (run in parallel, one worker process per seed handling all models); the SHA-256 of
every file written (ONNX with external data and its data file, ONNX with inline data, textual IR and
its resource file) must agree. See `tests/determinism_worker.py`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from material import LIGHT, REAL, SYNTHETIC, model_path

from compiler.fileio import atomic_write, write_npz

WORKER = Path(__file__).with_name("determinism_worker.py")
MODELS = (*LIGHT, *REAL, *SYNTHETIC)


def _run_workers(models: list[Path], out: Path, pipeline: str) -> list[dict[str, dict[str, str]]]:
    procs = []
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        cmd = [sys.executable, str(WORKER), str(out / seed), pipeline, *map(str, models)]
        procs.append(subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      text=True))  # fmt: skip
    results = []
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=600)
        assert proc.returncode == 0, stderr[-4000:]
        results.append(json.loads(stdout))
    return results


def test_material_models_are_byte_identical_across_processes(tmp_path: Path) -> None:
    paths = [p for p in (model_path(m) for m in MODELS) if p is not None]
    if len(paths) < len(LIGHT) + len(SYNTHETIC):
        pytest.skip("material models unavailable")
    shm = Path("/dev/shm")  # tmpfs: the fsyncs of atomic writes cost nothing there
    out = Path(os.environ.get("IRFORGE_DETERMINISM_DIR", shm if shm.is_dir() else tmp_path))
    out = out / f"irforge-determinism-{os.getpid()}"
    try:
        first, second = _run_workers(paths, out, "default")
    finally:
        import shutil

        shutil.rmtree(out, ignore_errors=True)
    assert sorted(first) == sorted(p.stem for p in paths)
    for model, files in first.items():
        assert len(files) >= 4, model
        assert files == second[model], f"{model}: outputs differ between processes"


def test_npz_files_have_fixed_timestamps(tmp_path: Path) -> None:
    path = tmp_path / "a.npz"
    arrays = {"b": np.arange(3), "a": np.ones((2, 2), np.float16)}
    atomic_write(path, lambda f: write_npz(f, arrays))
    with zipfile.ZipFile(path) as archive:
        assert [i.filename for i in archive.infolist()] == ["b.npy", "a.npy"]
        assert {i.date_time for i in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
    with np.load(path) as data:
        np.testing.assert_array_equal(data["a"], arrays["a"])
        assert data["a"].dtype == np.float16
