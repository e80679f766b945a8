"""ONNX backend: export IR graphs to ONNX models and run them in ONNX Runtime."""

from __future__ import annotations

from backends.onnx.export import to_onnx
from backends.onnx.runtime import run_onnxruntime
from backends.onnx.save import save_onnx

__all__ = ["run_onnxruntime", "save_onnx", "to_onnx"]
