"""ONNX -> IR -> ONNX round trips are bitwise exact in ONNX Runtime (no optimizations, 1 thread).

Covers the material models and every ONNX backend node case whose ops the registry covers. Where
ORT cannot run the original case, the export is checked with onnx.reference against the stored
outputs and the case's tolerances.
"""

from __future__ import annotations

import logging
import time
import warnings
from functools import cache
from typing import Any

import numpy as np
import onnx
import pytest

pytest.importorskip("onnxruntime")

from material import LIGHT, REAL, SYNTHETIC  # noqa: E402

from backends.onnx.roundtrip import (  # noqa: E402
    check_case,
    compare_bitwise,
    node_cases,
    original_opset,
    roundtrip,
    sweep,
)
from backends.onnx.runtime import run_onnxruntime  # noqa: E402

log = logging.getLogger(__name__)

SLOW = ["transformer64"]
FAST = [m for m in SYNTHETIC + REAL if m not in SLOW]


def _seeded_feeds(model: onnx.ModelProto, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    inits = {t.name for t in model.graph.initializer}
    feeds = {}
    for vi in model.graph.input:
        if vi.name in inits:
            continue
        tt = vi.type.tensor_type
        shape = [d.dim_value if d.HasField("dim_value") else 2 for d in tt.shape.dim]
        dtype = onnx.helper.tensor_dtype_to_np_dtype(tt.elem_type)
        feeds[vi.name] = rng.standard_normal(shape).astype(dtype)
    return feeds


def _model_roundtrip(path: Any) -> None:
    original = onnx.load(path)
    exported = roundtrip(original)
    feeds = _seeded_feeds(original)
    want = list(run_onnxruntime(original, feeds).values())
    got = list(run_onnxruntime(exported, feeds).values())
    problem = compare_bitwise(want, got)
    assert not problem, problem
    assert original_opset(exported) >= 17


@pytest.mark.parametrize("name", list(LIGHT) + FAST)
def test_material_model_roundtrip(material: Any, name: str) -> None:
    _model_roundtrip(material(name))


@pytest.mark.slow
@pytest.mark.parametrize("name", SLOW)
def test_large_model_roundtrip(material: Any, name: str) -> None:
    _model_roundtrip(material(name))


@cache
def _cases() -> dict[str, Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {c.name: c for c in node_cases()}


def _case_names() -> list[str]:
    try:
        return sorted(_cases())
    except Exception as exc:  # noqa: BLE001  collection must not crash on a broken onnx install
        log.warning("cannot load ONNX node cases: %s", exc)
        return []


@pytest.mark.parametrize("case_name", _case_names())
def test_node_case_roundtrip(case_name: str) -> None:
    result = check_case(_cases()[case_name])
    if result.status == "uncovered":
        pytest.skip(
            result.detail or f"ops not covered by the registry: {', '.join(result.op_types)}"
        )
    assert result.status == "pass", result.detail


def test_node_sweep_summary(capsys: Any) -> None:
    start = time.perf_counter()
    report = sweep(_cases().values())
    failures = [r.name for r in report.results if r.status == "fail"]
    line = f"{report.summary()}; {time.perf_counter() - start:.1f} s"
    log.info(line)
    with capsys.disabled():
        print(f"\n{line}")  # the one summary line the sweep exists for
    assert report.covered > 0
    assert not failures, failures[:20]


def _batchnorm_training_model() -> onnx.ModelProto:
    h = onnx.helper
    vec = [h.make_tensor_value_info(n, onnx.TensorProto.FLOAT, [3]) for n in "sbmv"]
    x = h.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [2, 3, 4])
    outs = [h.make_tensor_value_info(n, onnx.TensorProto.FLOAT, None) for n in ("y", "rm", "rv")]
    node = h.make_node("BatchNormalization", ["x", *"sbmv"], ["y", "rm", "rv"], training_mode=1)
    graph = h.make_graph([node], "bn", [x, *vec], outs)
    return h.make_model(graph, opset_imports=[h.make_opsetid("", 15)])


def test_batchnorm_training_mode_is_unsupported_and_uncovered() -> None:
    from compiler.errors import UnsupportedOpError
    from compiler.frontend.onnx_import import load

    model = _batchnorm_training_model()
    with pytest.raises(UnsupportedOpError, match="BatchNormalization in training mode"):
        load(model)
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s).astype(np.float32) for s in ((2, 3, 4), *[(3,)] * 4)]
    case = type("Case", (), {"name": "bn_training", "model": model, "rtol": 1e-3, "atol": 1e-7,
                             "data_sets": [(arrays, [arrays[0]] * 3)]})  # fmt: skip
    result = check_case(case)
    assert result.status == "uncovered", result
    assert "training mode" in result.detail
