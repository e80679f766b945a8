"""Lazy import of TensorRT: `tensorrt` when present, else `tensorrt_rtx` (same network API).

Nothing here imports TensorRT at module level; `load()` does, once, and raises a `BackendError`
naming the extra to install when neither package is importable.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from compiler.errors import BackendError
from compiler.types import DType

INSTALL_HINT = "pip install irforge[tensorrt] (the tensorrt-rtx builder) or NVIDIA's tensorrt"

# IR dtype -> name of the TensorRT DataType member.
TRT_DTYPES: dict[DType, str] = {
    DType.FLOAT32: "FLOAT", DType.FLOAT16: "HALF", DType.BFLOAT16: "BF16", DType.INT8: "INT8",
    DType.UINT8: "UINT8", DType.INT32: "INT32", DType.INT64: "INT64", DType.BOOL: "BOOL",
    DType.FLOAT8E4M3FN: "FP8", DType.INT4: "INT4",
}  # fmt: skip

# Dtypes a TensorRT constant (`add_constant`) can hold, as numpy dtypes.
CONSTANT_NUMPY = (np.float32, np.float16, np.int8, np.int32, np.int64, np.bool_)


@functools.cache
def load() -> Any:
    """The TensorRT module: `tensorrt` when importable, else `tensorrt_rtx`.

    Raises:
        BackendError: neither package is installed.
    """
    try:
        import tensorrt as trt
    except ImportError:
        try:
            import tensorrt_rtx as trt  # type: ignore
        except ImportError as exc:
            raise BackendError(f"the TensorRT backend needs TensorRT: {INSTALL_HINT}") from exc
    return trt


def available() -> bool:
    """Whether `load()` would succeed."""
    try:
        load()
    except BackendError:
        return False
    return True


def trt_dtype(trt: Any, dtype: DType) -> Any:
    """The TensorRT DataType of an IR dtype; raises KeyError when TensorRT has none."""
    return getattr(trt.DataType, TRT_DTYPES[dtype])


def numpy_dtype(trt: Any, dtype: Any) -> np.dtype:
    """The numpy dtype of a TensorRT DataType (raises TypeError for bf16/fp8/int4)."""
    return np.dtype(trt.nptype(dtype))


def package_version() -> str:
    """`name version` of the loaded TensorRT package."""
    trt = load()
    return f"{trt.__name__} {trt.__version__}"
