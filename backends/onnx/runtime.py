"""Run an ONNX model in ONNX Runtime (an optional dependency: `pip install irforge[ort]`)."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import onnx

from compiler.errors import BackendError

_LEVELS = {"disable": "ORT_DISABLE_ALL", "basic": "ORT_ENABLE_BASIC",
           "extended": "ORT_ENABLE_EXTENDED", "all": "ORT_ENABLE_ALL"}  # fmt: skip


def _ort() -> Any:
    try:
        import onnxruntime
    except ImportError as exc:
        raise BackendError("ONNX Runtime is not installed: pip install irforge[ort]") from exc
    return onnxruntime


def session(
    model: onnx.ModelProto | str | os.PathLike[str],
    *,
    threads: int = 1,
    optimization: str = "disable",
) -> Any:
    """An `onnxruntime.InferenceSession` on CPU with the given threads and optimization level."""
    ort = _ort()
    if optimization not in _LEVELS:
        raise BackendError(
            f"optimization must be one of {', '.join(_LEVELS)}, not {optimization!r}"
        )
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    options.graph_optimization_level = getattr(ort.GraphOptimizationLevel, _LEVELS[optimization])
    source = model.SerializeToString() if isinstance(model, onnx.ModelProto) else os.fspath(model)
    try:
        return ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001  ORT raises its own exception types
        raise BackendError(f"ONNX Runtime cannot load the model: {exc}") from exc


def run_onnxruntime(
    model: onnx.ModelProto | str | os.PathLike[str],
    inputs: dict[str, np.ndarray],
    *,
    threads: int = 1,
    optimization: str = "disable",
) -> dict[str, np.ndarray]:
    """Run a model once in ONNX Runtime (CPU).

    Args:
        model: A ModelProto or a path to a `.onnx` file.
        inputs: Input arrays by graph input name.
        threads: Intra-op threads.
        optimization: Graph optimization level: "disable", "basic", "extended" or "all".

    Returns:
        Output arrays by graph output name.

    Raises:
        BackendError: ONNX Runtime missing, or the model cannot be loaded or run.
    """
    sess = session(model, threads=threads, optimization=optimization)
    names = [o.name for o in sess.get_outputs()]
    try:
        results = sess.run(names, inputs)
    except Exception as exc:  # noqa: BLE001
        raise BackendError(f"ONNX Runtime failed to run the model: {exc}") from exc
    return dict(zip(names, results, strict=False))
