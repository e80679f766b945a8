"""A small-scale run of `benchmarks/large_model.py`: a model with 67 MB of external weights loads,
optimizes and exports (external data, streamed from the memory maps) in a fresh process whose RSS
grows by less than half the weight bytes, and the exported weights equal the generated ones."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc (Linux)")
def test_large_model_is_streamed(tmp_path: Path) -> None:
    sys.path.insert(0, str(BENCHMARKS))
    try:
        from large_model import measure
    finally:
        sys.path.remove(str(BENCHMARKS))
    result = measure(tmp_path, 0.05, 4096)  # one 4096x4096 layer: 67 MB
    weights = int(result["weight_bytes"])
    growth = int(result["peak_rss"]) - int(result["baseline_rss"])
    assert result["output_data_bytes"] == weights
    assert growth < weights / 2, f"RSS grew by {growth >> 20} MiB for {weights >> 20} MiB"
