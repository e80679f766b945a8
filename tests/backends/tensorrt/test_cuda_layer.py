"""The CUDA device layer (`backends.tensorrt.cuda`) on a real GPU: allocations freed
deterministically, pinned and pageable round trips bit-exact, asynchronous copies on streams,
events, and every error path (a CudaError naming the call and the error, or a BackendError
before CUDA is called). Skips with the reason where cuda-python or a CUDA device is missing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from backends.tensorrt import cuda
from compiler.errors import BackendError

SKIP = cuda.gpu_skip_reason()
gpu = pytest.mark.skipif(SKIP is not None, reason=f"needs a CUDA device: {SKIP}")
MiB = 1 << 20
INVALID_HANDLE = "cudaErrorInvalidResourceHandle"  # untimed or unrecorded events


def random_bytes(nbytes: int, seed: int = 0) -> np.ndarray:
    """Every bit pattern is possible: as float32 this holds NaN payloads, infs, subnormals."""
    return np.random.default_rng(seed).integers(0, 256, nbytes, dtype=np.uint8)


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and a.dtype == b.dtype and bytes(a.data) == bytes(b.data)


@pytest.mark.skipif(SKIP is None or "cuda-python" not in SKIP, reason="cuda-python is installed")
def test_missing_cuda_python_names_the_package() -> None:
    with pytest.raises(BackendError, match="needs cuda-python: pip install cuda-bindings"):
        cuda.runtime()


@gpu
def test_device_info() -> None:
    info = cuda.device_info()
    print(info)
    assert info["name"] and info["memory_total"] > info["memory_free"] > 0
    assert info["runtime"] >= 12000 and info["driver"] >= info["runtime"] // 1000 * 1000
    assert cuda.device_count() >= 1


@gpu
def test_device_memory_is_freed_deterministically() -> None:
    free0 = cuda.call("cudaMemGetInfo")[0]
    with cuda.DeviceBuffer(512 * MiB) as buf:
        assert cuda.memory_type(buf.ptr) == "device"
        assert free0 - cuda.call("cudaMemGetInfo")[0] >= 512 * MiB
    assert buf.closed and "freed" in repr(buf)
    assert cuda.call("cudaMemGetInfo")[0] >= free0 - 2 * MiB
    buf.free()  # a second free is a no-op
    with pytest.raises(BackendError, match="use of a freed device buffer"):
        _ = buf.ptr


@gpu
def test_memory_types() -> None:
    with cuda.PinnedBuffer(MiB) as pinned:
        assert cuda.memory_type(pinned.ptr) == "pinned host"
        assert pinned.view().shape == (MiB,) and pinned.view((2, 3), np.float32).shape == (2, 3)
    assert cuda.memory_type(np.zeros(10).ctypes.data) == "pageable host"


ROUND_TRIP_SIZES = [1, 4097, 3 * MiB + 1]


@gpu
@pytest.mark.parametrize("nbytes", ROUND_TRIP_SIZES)
@pytest.mark.parametrize("host", ["pageable", "pinned"])
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_round_trip_is_bit_exact(nbytes: int, host: str, mode: str) -> None:
    data = random_bytes(nbytes, seed=nbytes)
    with cuda.Stream() as stream, cuda.DeviceBuffer(nbytes) as dev, \
            cuda.PinnedBuffer(nbytes) as pin_in, cuda.PinnedBuffer(nbytes) as pin_out:  # fmt: skip
        s = stream if mode == "async" else None
        if host == "pinned":
            pin_in.view()[...] = data
            cuda.to_device(dev, pin_in, stream=s)
            cuda.to_host(pin_out, dev, stream=s)
            if s is not None:
                s.synchronize()
            back = pin_out.view().copy()
        else:
            back = np.zeros_like(data)
            cuda.to_device(dev, data, stream=s)
            cuda.to_host(back, dev, stream=s)
            if s is not None:
                s.synchronize()
    assert same_bits(back, data)


@gpu
@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.int64, np.bool_, np.complex64])
def test_typed_round_trip(dtype: Any) -> None:
    raw = random_bytes(6 * 5 * 8 * np.dtype(dtype).itemsize, seed=3)
    data = raw.view(dtype).reshape(6, 5, 8) if dtype != np.bool_ else raw.reshape(6, 5, 8) > 127
    with cuda.DeviceBuffer(data.nbytes) as dev:
        cuda.to_device(dev, data)
        back = np.empty_like(data)
        cuda.to_host(back, dev)
    assert same_bits(back, data)


@gpu
def test_device_copy_memset_and_partial_copies() -> None:
    data = random_bytes(MiB, seed=7)
    with cuda.Stream() as stream, cuda.DeviceBuffer(MiB) as a, cuda.DeviceBuffer(MiB) as b:
        cuda.to_device(a, data)
        cuda.memset(b, 0xAB, stream)
        cuda.device_copy(b, a, nbytes=MiB // 2, stream=stream)
        back = np.empty_like(data)
        cuda.to_host(back, b, stream=stream)
        stream.synchronize()
        assert same_bits(back[: MiB // 2], data[: MiB // 2])
        assert (back[MiB // 2 :] == 0xAB).all()
        first = np.zeros(100, np.uint8)
        cuda.to_host(first, a)  # the destination's size: the first 100 bytes
        assert same_bits(first, data[:100])


@gpu
def test_async_copies_are_ordered_and_asynchronous() -> None:
    n = 1024 * MiB
    with cuda.Stream() as stream, cuda.DeviceBuffer(n) as dev, cuda.PinnedBuffer(n) as pin:
        pin.view()[::4096] = 7
        cuda.memset(dev, 1, stream)
        cuda.to_host(pin, dev, stream=stream)  # queued behind the memset
        assert not stream.done()  # the call returned before 1 GiB was copied
        stream.synchronize()
        assert stream.done()
        assert (pin.view()[::4096] == 1).all() and pin.view()[-1] == 1


@gpu
def test_events_time_a_copy() -> None:
    n = 256 * MiB
    with cuda.Stream() as stream, cuda.DeviceBuffer(n) as dev, cuda.PinnedBuffer(n) as pin, \
            cuda.Event() as start, cuda.Event() as end:  # fmt: skip
        start.record(stream)
        cuda.to_device(dev, pin, stream=stream)
        end.record(stream)
        end.synchronize()
        ms = cuda.elapsed_ms(start, end)
    gbps = n / ms / 1e6
    print(f"256 MiB pinned H2D: {ms:.3f} ms, {gbps:.1f} GB/s")
    assert 1.0 < gbps < 1000.0  # PCIe/NVLink-C2C range, not a 0-time or hung copy


def cuda_error(fn: Callable[[], Any], call: str, name: str | None = None) -> cuda.CudaError:
    with pytest.raises(cuda.CudaError) as info:
        fn()
    err = info.value
    print(err)
    assert err.call == call and str(err).startswith(f"{call} failed: cudaError")
    assert err.error_name.startswith("cudaError") and err.code != 0
    if name is not None:
        assert err.error_name == name
    return err


def refused(fn: Callable[[], Any], match: str) -> None:
    with pytest.raises(BackendError, match=match) as info:
        fn()
    assert not isinstance(info.value, cuda.CudaError)  # refused before CUDA was called


@gpu
@pytest.mark.parametrize("size", [0, -1, True, 1.5, "8"])
def test_bad_sizes_are_refused(size: Any) -> None:
    refused(lambda: cuda.DeviceBuffer(size), "cudaMalloc: the size must be a positive")
    refused(lambda: cuda.PinnedBuffer(size), "cudaHostAlloc: the size must be a positive")


@gpu
def test_huge_allocations_raise_and_leave_cuda_usable() -> None:
    cuda_error(lambda: cuda.DeviceBuffer(1 << 50), "cudaMalloc", "cudaErrorMemoryAllocation")
    cuda_error(lambda: cuda.PinnedBuffer(1 << 50), "cudaHostAlloc", "cudaErrorMemoryAllocation")
    with cuda.DeviceBuffer(MiB) as buf:  # the error was not sticky
        cuda.memset(buf, 0)
    assert int(cuda.runtime().cudaGetLastError()[0]) == 0


@gpu
def test_freed_pointers() -> None:
    host = np.zeros(MiB, np.uint8)
    buf = cuda.DeviceBuffer(MiB)
    stale = buf.ptr
    buf.free()
    refused(lambda: cuda.to_device(buf, host), "use of a freed device buffer")
    refused(lambda: cuda.to_host(host, buf), "use of a freed device buffer")
    refused(lambda: cuda.memcpy(stale, host.ctypes.data, MiB, "HostToDevice"),
            "the destination 0x[0-9a-f]+ is pageable host memory")  # fmt: skip
    cuda_error(lambda: cuda.call("cudaFree", stale), "cudaFree", "cudaErrorInvalidValue")
    pinned = cuda.PinnedBuffer(MiB)
    pinned.free()
    refused(lambda: pinned.view(), "use of a freed pinned host buffer")
    stream, event = cuda.Stream(), cuda.Event()
    stream.close()
    event.close()
    refused(stream.synchronize, "destroyed CUDA stream")
    refused(lambda: event.record(), "destroyed CUDA event")


@gpu
def test_wrong_directions_and_kinds() -> None:
    host = np.zeros(MiB, np.uint8)
    with cuda.DeviceBuffer(MiB) as dev, cuda.DeviceBuffer(MiB) as dev2:
        refused(lambda: cuda.memcpy(host.ctypes.data, dev.ptr, MiB, "HostToDevice"),
                "HostToDevice: the destination .* is pageable host memory")  # fmt: skip
        refused(lambda: cuda.memcpy(dev.ptr, dev2.ptr, MiB, "DeviceToHost"),
                "DeviceToHost: the destination .* is device memory")  # fmt: skip
        refused(lambda: cuda.memcpy(dev.ptr, host.ctypes.data, MiB, "DeviceToDevice"),
                "DeviceToDevice: the source .* is pageable host memory")  # fmt: skip
        refused(lambda: cuda.memcpy(dev.ptr, dev2.ptr, MiB, "HostToHost"), "unknown copy dir")
        refused(lambda: cuda.to_device(dev, dev2), "source must be a numpy array or a Pinned")  # type: ignore[arg-type]
        refused(lambda: cuda.to_host(host, host), "source must be a DeviceBuffer")  # type: ignore[arg-type]
        refused(lambda: cuda.device_copy(dev, host), "source must be a DeviceBuffer")  # type: ignore[arg-type]


@gpu
def test_bad_copies_are_refused() -> None:
    with cuda.DeviceBuffer(1024) as dev:
        big = np.zeros(2048, np.uint8)
        refused(lambda: cuda.to_device(dev, big), "2048 bytes do not fit the destination")
        refused(lambda: cuda.to_host(big, dev), "2048 bytes do not fit the source")
        refused(lambda: cuda.to_device(dev, big[:1024], nbytes=1500), "do not fit the source")
        refused(lambda: cuda.to_device(dev, np.zeros((64, 32), np.uint8)[:, ::2]),
                "must be C-contiguous")  # fmt: skip
        frozen = np.zeros(16, np.uint8)
        frozen.flags.writeable = False
        refused(lambda: cuda.to_host(frozen, dev), "destination array is read-only")
        refused(lambda: cuda.memset(dev, 256), "byte value must be in 0..255")
    with cuda.PinnedBuffer(64) as pin:
        refused(lambda: pin.view((100,)), "needs 100 bytes; the buffer has 64")


@gpu
def test_cuda_errors_name_the_call() -> None:
    count = cuda.device_count()
    cuda_error(lambda: cuda.call("cudaSetDevice", count + 7), "cudaSetDevice",
               "cudaErrorInvalidDevice")  # fmt: skip
    with cuda.Event(timing=False) as a, cuda.Event(timing=False) as b, cuda.Stream() as s:
        a.record(s)
        b.record(s)
        s.synchronize()
        cuda_error(lambda: cuda.elapsed_ms(a, b), "cudaEventElapsedTime", INVALID_HANDLE)
    with cuda.Event() as never, cuda.Event() as end:
        end.record()
        end.synchronize()
        cuda_error(lambda: cuda.elapsed_ms(never, end), "cudaEventElapsedTime", INVALID_HANDLE)
    assert cuda.check((0, 5), "x") == 5 and cuda.check((0,), "x") is None
