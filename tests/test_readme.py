"""Every Python sample in the README runs, from the repository root, as written."""

from __future__ import annotations

import importlib.util
import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BLOCKS = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S)


def test_readme_has_python_samples() -> None:
    assert BLOCKS


def _has_tensorrt() -> bool:
    return any(importlib.util.find_spec(name) for name in ("tensorrt", "tensorrt_rtx"))


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_sample_runs(index: int, monkeypatch: pytest.MonkeyPatch) -> None:
    if re.search(r"^(import|from) torch\b", BLOCKS[index], re.M):
        pytest.importorskip("torch", reason="this README sample needs the torch extra")
    if "backends.tensorrt" in BLOCKS[index] and not _has_tensorrt():
        pytest.skip("this README sample needs tensorrt or tensorrt_rtx (the tensorrt extra)")
    monkeypatch.chdir(ROOT)
    code = compile(BLOCKS[index], f"README.md[python block {index}]", "exec")
    exec(code, {"__name__": f"readme_{index}"})  # noqa: S102
    assert os.getcwd() == str(ROOT)
