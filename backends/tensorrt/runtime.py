"""Engine execution on the CUDA device layer (`backends.tensorrt.cuda`).

`EngineRunner(plan)` deserializes an engine and runs it: `set_input_shape` for every input,
`set_tensor_address` for every I/O tensor, host->device copies from pinned staging buffers,
`execute_async_v3` on one stream, device->host copies, one synchronize. Device and pinned
buffers (`IOBuffers`) are allocated once per tensor and reused; a tensor's buffers are
reallocated only when a new shape needs more bytes. `benchmark()` times warmup + N end-to-end
iterations and returns a `LatencyReport` (p50/p90/p99, throughput, GPU time from events).

NOT run on this project's machines: it needs NVIDIA's `tensorrt` package and a CUDA GPU
(TensorRT-RTX cannot run engines on CPU or on Hopper; TENSORRT.md §11). The device layer and
`IOBuffers` are exercised on a real GPU (tests/backends/tensorrt/test_cuda_layer.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from backends.tensorrt import cuda
from compiler.errors import BackendError

SKIP_REASON = "engine execution needs the tensorrt package and a CUDA GPU"


def engine_execution_skip() -> str | None:
    """None when engines can run here, else why not (starting with SKIP_REASON)."""
    try:
        import tensorrt  # noqa: F401
    except ImportError:
        return SKIP_REASON + " (NVIDIA's tensorrt is not installed)"
    reason = cuda.gpu_skip_reason()
    return None if reason is None else f"{SKIP_REASON} ({reason})"


@dataclass
class Slot:
    """One tensor's device buffer and its pinned host staging buffer, of equal capacity."""

    device: cuda.DeviceBuffer
    host: cuda.PinnedBuffer

    @property
    def capacity(self) -> int:
        return self.device.nbytes

    def free(self) -> None:
        self.device.free()
        self.host.free()


@dataclass
class IOBuffers:
    """Per-name device + pinned buffers, grown only when a request needs more bytes."""

    slots: dict[str, Slot] = field(default_factory=dict)
    allocations: int = 0  # how many (device, pinned) pairs were allocated so far

    def get(self, name: str, nbytes: int) -> Slot:
        """The slot of `name`, holding at least `nbytes` (at least 1 byte: TensorRT wants a
        non-null address even for empty tensors)."""
        need = max(int(nbytes), 1)
        slot = self.slots.get(name)
        if slot is not None and slot.capacity >= need:
            return slot
        if slot is not None:
            slot.free()
            del self.slots[name]
        device = cuda.DeviceBuffer(need)
        try:
            slot = Slot(device, cuda.PinnedBuffer(need))
        except BackendError:
            device.free()
            raise
        self.slots[name] = slot
        self.allocations += 1
        return slot

    def close(self) -> None:
        """Free every buffer."""
        for slot in self.slots.values():
            slot.free()
        self.slots.clear()


@dataclass(frozen=True)
class LatencyReport:
    """Latency percentiles (ms) of end-to-end iterations and the throughput they give."""

    warmup: int
    iterations: int
    latencies_ms: tuple[float, ...]
    total_s: float
    gpu_ms: tuple[float, ...] = ()  # per iteration, between events around execute_async_v3

    def percentile(self, q: float, gpu: bool = False) -> float:
        data = self.gpu_ms if gpu else self.latencies_ms
        return float(np.percentile(np.asarray(data, np.float64), q)) if data else float("nan")

    @property
    def throughput(self) -> float:
        """Iterations per second over the timed loop."""
        return self.iterations / self.total_s if self.total_s > 0 else float("nan")

    def format(self) -> str:
        lat = self.latencies_ms
        text = (f"latency over {self.iterations} iterations (after {self.warmup} warmup): "
                f"p50 {self.percentile(50):.3f} ms  p90 {self.percentile(90):.3f} ms  "
                f"p99 {self.percentile(99):.3f} ms  mean {np.mean(lat):.3f} ms  "
                f"min {min(lat):.3f} ms  max {max(lat):.3f} ms\n"
                f"throughput {self.throughput:.1f} inferences/s")  # fmt: skip
        if self.gpu_ms:
            text += f"\nGPU time (execute only) p50 {self.percentile(50, gpu=True):.3f} ms"
        return text


def measure(step: Callable[[], Any], warmup: int, iterations: int,
            clock: Callable[[], float] = time.perf_counter) -> LatencyReport:  # fmt: skip
    """Run `step` `warmup` times untimed, then `iterations` times, each timed with `clock`."""
    if warmup < 0 or iterations < 1:
        raise BackendError(f"need warmup >= 0 and iterations >= 1, got {warmup}, {iterations}")
    for _ in range(warmup):
        step()
    times = []
    start = clock()
    for _ in range(iterations):
        t0 = clock()
        step()
        times.append((clock() - t0) * 1e3)
    return LatencyReport(warmup, iterations, tuple(times), clock() - start)


class EngineRunner:
    """Runs a serialized engine: `runner(feeds) -> outputs`, both by tensor name."""

    def __init__(self, plan: bytes | Path) -> None:
        from backends.tensorrt import _trt
        from backends.tensorrt.build import RecordingLogger

        data = Path(plan).read_bytes() if isinstance(plan, Path) else plan
        self.trt = _trt.load()
        self.logger = RecordingLogger(self.trt)
        self.engine = self.trt.Runtime(self.logger).deserialize_cuda_engine(data)
        if self.engine is None:
            raise BackendError("cannot deserialize the engine", notes=self.logger.errors)
        self.context = self.engine.create_execution_context()
        if self.context is None:
            raise BackendError("cannot create an execution context", notes=self.logger.errors)
        self.stream = cuda.Stream()
        self.buffers = IOBuffers()
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        mode = self.trt.TensorIOMode.INPUT
        self.inputs = [n for n in names if self.engine.get_tensor_mode(n) == mode]
        self.outputs = [n for n in names if n not in self.inputs]
        self._dtypes = {n: self._numpy_dtype(n) for n in names}
        self._bound: tuple[list[tuple[str, int]], list[tuple[str, tuple[int, ...]]]] = ([], [])

    def _numpy_dtype(self, name: str) -> np.dtype:
        dtype = self.engine.get_tensor_dtype(name)
        try:
            return np.dtype(self.trt.nptype(dtype))
        except TypeError:
            raise BackendError(f"tensor {name}: {dtype} has no numpy dtype") from None

    def bind(self, feeds: Mapping[str, np.ndarray]) -> list[tuple[str, tuple[int, ...]]]:
        """Set input shapes, stage the inputs in pinned memory, give every I/O tensor its
        device address; returns (output name, shape) pairs."""
        missing = [n for n in self.inputs if n not in feeds]
        extra = sorted(set(feeds) - set(self.inputs))
        if missing or extra:
            raise BackendError(f"the engine takes inputs {self.inputs}; "
                               f"missing {missing}, unknown {extra}")  # fmt: skip
        for name in self.inputs:
            host = np.ascontiguousarray(feeds[name], dtype=self._dtypes[name])
            if not self.context.set_input_shape(name, host.shape):
                raise BackendError(f"input {name}: shape {list(host.shape)} is outside the "
                                   "engine's profile", notes=self.logger.errors)  # fmt: skip
            slot = self.buffers.get(name, host.nbytes)
            slot.host.view(host.shape, host.dtype)[...] = host
            self.context.set_tensor_address(name, slot.device.ptr)
        outputs = []
        for name in self.outputs:
            shape = tuple(self.context.get_tensor_shape(name))
            if any(d < 0 for d in shape):
                raise BackendError(f"output {name}: shape {list(shape)} is data-dependent "
                                   "(needs an output allocator, not supported)")  # fmt: skip
            nbytes = int(np.prod(shape, dtype=np.int64)) * self._dtypes[name].itemsize
            self.context.set_tensor_address(name, self.buffers.get(name, nbytes).device.ptr)
            outputs.append((name, shape))
        self._bound = [(n, self._nbytes(n)) for n in self.inputs], outputs
        return outputs

    def _nbytes(self, name: str) -> int:
        shape = tuple(self.context.get_tensor_shape(name))
        return int(np.prod(shape, dtype=np.int64)) * self._dtypes[name].itemsize

    def enqueue(self, events: Sequence[cuda.Event] = ()) -> None:
        """Queue the copies in, the engine and the copies out of the last `bind` on the stream
        (`events`: start and end recorded around `execute_async_v3`)."""
        inputs, outputs = self._bound
        for name, nbytes in inputs:
            slot = self.buffers.slots[name]
            cuda.to_device(slot.device, slot.host, nbytes, self.stream)
        if events:
            events[0].record(self.stream)
        if not self.context.execute_async_v3(int(self.stream.handle)):
            raise BackendError("execute_async_v3 failed", notes=self.logger.errors)
        if events:
            events[1].record(self.stream)
        for name, _ in outputs:
            slot = self.buffers.slots[name]
            cuda.to_host(slot.host, slot.device, self._nbytes(name), self.stream)

    def _results(self) -> dict[str, np.ndarray]:
        return {name: np.array(self.buffers.slots[name].host.view(shape, self._dtypes[name]))
                for name, shape in self._bound[1]}  # fmt: skip

    def __call__(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run the engine on `feeds`; outputs are fresh arrays by output name."""
        self.bind(feeds)
        self.enqueue()
        self.stream.synchronize()
        return self._results()

    def benchmark(self, feeds: Mapping[str, np.ndarray], warmup: int = 10,
                  iterations: int = 100) -> LatencyReport:  # fmt: skip
        """End-to-end latency (copies in, execute, copies out, synchronize) of `feeds`."""
        self.bind(feeds)
        gpu: list[float] = []
        with cuda.Event() as start, cuda.Event() as end:

            def step() -> None:
                self.enqueue((start, end))
                self.stream.synchronize()
                gpu.append(cuda.elapsed_ms(start, end))

            report = measure(step, warmup, iterations)
        return LatencyReport(warmup, iterations, report.latencies_ms, report.total_s,
                             tuple(gpu[warmup:]))  # fmt: skip

    def close(self) -> None:
        """Free the buffers and the stream."""
        self.buffers.close()
        self.stream.close()

    def __enter__(self) -> EngineRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
