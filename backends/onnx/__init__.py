"""ONNX backend: export IR graphs to ONNX models and run them in ONNX Runtime."""

from __future__ import annotations

from backends.onnx.export import save_onnx, to_onnx
from backends.onnx.runtime import run_onnxruntime

__all__ = ["run_onnxruntime", "save_onnx", "to_onnx"]
