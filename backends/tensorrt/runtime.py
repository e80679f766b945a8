"""Engine execution with cuda-python (`cuda.bindings.runtime`): device buffers reused across
calls (grown when a shape change needs more), one stream, `execute_async_v3`.

NOT exercised on this project's CI machines: it needs NVIDIA's `tensorrt` package and a CUDA GPU
(TensorRT-RTX cannot run engines on CPU or on Hopper; TENSORRT.md §11). `engine_execution_skip()`
gives the reason tests skip with; everything else in the backend is verified without a GPU.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from backends.tensorrt import _trt
from compiler.errors import BackendError

SKIP_REASON = "engine execution needs the tensorrt package and a CUDA GPU"


def engine_execution_skip() -> str | None:
    """None when engines can run here, else why not."""
    try:
        import tensorrt  # noqa: F401
        from cuda.bindings import runtime as cudart
    except ImportError:
        return SKIP_REASON + " (tensorrt or cuda-python is not installed)"
    err, count = cudart.cudaGetDeviceCount()
    if int(err) != 0 or not count:
        return SKIP_REASON + f" (cudaGetDeviceCount: {err})"
    return None


def _check(ret: Any) -> Any:
    """`(err, *values)` -> values; raises BackendError naming the CUDA error."""
    from cuda.bindings import runtime as cudart

    err, *vals = ret
    if int(err) != 0:
        name = cudart.cudaGetErrorName(err)[1].decode()
        raise BackendError(f"CUDA call failed: {name}")
    return vals[0] if len(vals) == 1 else (tuple(vals) or None)


class EngineRunner:
    """Runs a serialized engine; call it with inputs by name, get outputs by name."""

    def __init__(self, plan: bytes) -> None:
        from cuda.bindings import runtime as cudart

        from backends.tensorrt.build import RecordingLogger

        self.trt = _trt.load()
        self.logger = RecordingLogger(self.trt)
        self.engine = self.trt.Runtime(self.logger).deserialize_cuda_engine(plan)
        if self.engine is None:
            raise BackendError("cannot deserialize the engine", notes=self.logger.errors)
        self.context = self.engine.create_execution_context()
        self.stream = _check(cudart.cudaStreamCreate())
        self.buffers: dict[str, tuple[int, int]] = {}  # name -> (device pointer, bytes)
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        mode = self.trt.TensorIOMode.INPUT
        self.inputs = [n for n in names if self.engine.get_tensor_mode(n) == mode]
        self.outputs = [n for n in names if n not in self.inputs]

    def _buffer(self, name: str, nbytes: int) -> int:
        from cuda.bindings import runtime as cudart

        ptr, size = self.buffers.get(name, (0, -1))
        if size < nbytes:
            if ptr:
                _check(cudart.cudaFree(ptr))
            ptr = int(_check(cudart.cudaMalloc(max(nbytes, 1))))
            self.buffers[name] = (ptr, nbytes)
        self.context.set_tensor_address(name, ptr)
        return ptr

    def __call__(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        from cuda.bindings import runtime as cudart

        h2d = cudart.cudaMemcpyKind.cudaMemcpyHostToDevice
        d2h = cudart.cudaMemcpyKind.cudaMemcpyDeviceToHost
        hosts = []
        for name in self.inputs:
            dtype = self.trt.nptype(self.engine.get_tensor_dtype(name))
            host = np.ascontiguousarray(feeds[name], dtype=dtype)
            hosts.append(host)
            if not self.context.set_input_shape(name, host.shape):
                raise BackendError(f"input {name}: shape {host.shape} is outside the profile")
            ptr = self._buffer(name, host.nbytes)
            _check(cudart.cudaMemcpyAsync(ptr, host.ctypes.data, host.nbytes, h2d, self.stream))
        results = {}
        for name in self.outputs:
            dtype = self.trt.nptype(self.engine.get_tensor_dtype(name))
            results[name] = np.empty(tuple(self.context.get_tensor_shape(name)), dtype)
            self._buffer(name, results[name].nbytes)
        if not self.context.execute_async_v3(int(self.stream)):
            raise BackendError("execute_async_v3 failed", notes=self.logger.errors)
        for name, out in results.items():
            ptr = self.buffers[name][0]
            _check(cudart.cudaMemcpyAsync(out.ctypes.data, ptr, out.nbytes, d2h, self.stream))
        _check(cudart.cudaStreamSynchronize(self.stream))
        return results

    def close(self) -> None:
        """Free the device buffers and the stream."""
        from cuda.bindings import runtime as cudart

        for ptr, _ in self.buffers.values():
            _check(cudart.cudaFree(ptr))
        self.buffers.clear()
        _check(cudart.cudaStreamDestroy(self.stream))
