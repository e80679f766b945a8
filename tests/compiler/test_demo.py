"""`irforge demo` (the README's main job) passes on the bundled model and shows each step."""

from __future__ import annotations

import pytest

from compiler.demo import run_demo


def test_demo_passes_and_reports_every_step(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_demo() == 0
    out = capsys.readouterr().out
    for step in ("imported and verified", "textual IR round trip exact", "`default` pipeline",
                 "reference backend vs ONNX Runtime", "exported optimized ONNX: 46 -> 12 nodes",
                 "same top-1: True", "accuracy on 64 real held-out digits"):  # fmt: skip
        assert step in out, step
    assert out.rstrip().endswith("PASS")
