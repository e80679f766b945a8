"""A small CUDA device layer on cuda-python's runtime bindings (`cuda.bindings.runtime`).

Owned device allocations (`DeviceBuffer`, `cudaMalloc`), pinned host buffers (`PinnedBuffer`,
`cudaHostAlloc`) viewed as numpy arrays, pageable numpy arrays, synchronous and asynchronous
host<->device copies on `Stream`s, and `Event`s for timing. Every resource is freed
deterministically by `free()`/`close()` or a `with` block (a finalizer frees what is forgotten).

Every CUDA error becomes a `CudaError` (a `BackendError`) naming the call and the error
(`cudaMalloc failed: cudaErrorMemoryAllocation (2): out of memory`); bad calls are refused
before they reach CUDA with a `BackendError`: sizes that are not positive, copies larger than a
buffer, freed buffers, non-contiguous or read-only numpy arrays, and copies whose pointers do not
match the direction (checked with `cudaPointerGetAttributes`).

cuda-python is imported lazily, on first use: `cuda.bindings.runtime`, else the older
`cuda.cudart` layout (TENSORRT.md §9); when neither imports, a `BackendError` names the package.
"""

from __future__ import annotations

import ctypes
import functools
import weakref
from typing import Any

import numpy as np

from compiler.errors import BackendError

INSTALL_HINT = "pip install cuda-bindings (cuda-python; irforge's `cuda` extra)"
_MEMORY_TYPES = {0: "pageable host", 1: "pinned host", 2: "device", 3: "managed"}


class CudaError(BackendError):
    """A CUDA runtime call that returned an error other than `cudaSuccess`."""

    def __init__(self, call: str, code: int, name: str, text: str) -> None:
        super().__init__(f"{call} failed: {name} ({code}): {text}")
        self.call, self.code, self.error_name = call, code, name


@functools.cache
def runtime() -> Any:
    """The cuda-python runtime module; raises BackendError naming the package when absent."""
    try:
        from cuda.bindings import runtime as rt
    except ImportError:
        try:
            from cuda import cudart as rt  # cuda-python before 12.6 (TENSORRT.md §9)
        except ImportError as exc:
            raise BackendError(f"the CUDA device layer needs cuda-python: {INSTALL_HINT}") from exc
    return rt


def check(ret: Any, call: str) -> Any:
    """`(err, *values)` of a runtime call -> the values; raises CudaError naming `call`."""
    err, *vals = ret if isinstance(ret, tuple) else (ret,)
    code = int(err)
    if code != 0:
        rt = runtime()
        name = rt.cudaGetErrorName(err)[1].decode()
        text = rt.cudaGetErrorString(err)[1].decode()
        rt.cudaGetLastError()  # a non-sticky error must not resurface in a later call
        raise CudaError(call, code, name, text)
    return vals[0] if len(vals) == 1 else (tuple(vals) or None)


def call(name: str, *args: Any) -> Any:
    """Run `cudart.<name>(*args)` through `check`."""
    return check(getattr(runtime(), name)(*args), name)


def device_count() -> int:
    """Number of CUDA devices; 0 without a driver or a device (no exception)."""
    err, count = runtime().cudaGetDeviceCount()
    return int(count) if int(err) == 0 and count else 0


def gpu_skip_reason() -> str | None:
    """None when cuda-python and a CUDA device are present, else why not."""
    try:
        rt = runtime()
    except BackendError as exc:
        return str(exc)
    err, count = rt.cudaGetDeviceCount()
    if int(err) != 0 or not count:
        return f"no CUDA device (cudaGetDeviceCount: {rt.cudaGetErrorName(err)[1].decode()})"
    return None


def device_info(device: int = 0) -> dict[str, Any]:
    """Name, compute capability, memory and runtime/driver/bindings versions of `device`."""
    prop = call("cudaGetDeviceProperties", device)
    free, total = call("cudaMemGetInfo")
    import cuda.bindings as bindings

    name = prop.name if isinstance(prop.name, str) else bytes(prop.name).split(b"\0")[0].decode()
    return {
        "name": name,
        "capability": f"{prop.major}.{prop.minor}",
        "memory_total": int(total), "memory_free": int(free),
        "runtime": int(call("cudaRuntimeGetVersion")),
        "driver": int(call("cudaDriverGetVersion")),
        "bindings": getattr(bindings, "__version__", "?"),
    }  # fmt: skip


def _size(nbytes: Any, what: str) -> int:
    if isinstance(nbytes, bool) or not isinstance(nbytes, int | np.integer) or nbytes <= 0:
        raise BackendError(f"{what}: the size must be a positive number of bytes, got {nbytes!r}")
    return int(nbytes)


def _release(free: str, ptr: int) -> None:
    """Finalizer of a forgotten buffer: free it, ignoring errors (e.g. at interpreter exit)."""
    try:
        getattr(runtime(), free)(ptr)
    except Exception:  # noqa: BLE001 - nothing can be reported from a finalizer
        pass


class _Allocation:
    """An owned allocation of `nbytes` freed by `free()`, `with`, or (late) the finalizer."""

    _alloc, _free, kind = "", "", ""

    def __init__(self, nbytes: int, *args: Any) -> None:
        self.nbytes = _size(nbytes, self._alloc)
        self._ptr = int(call(self._alloc, self.nbytes, *args))
        self._finalizer = weakref.finalize(self, _release, self._free, self._ptr)

    @property
    def closed(self) -> bool:
        """Whether the memory was freed."""
        return not self._finalizer.alive

    @property
    def ptr(self) -> int:
        """The address; BackendError once freed."""
        if self.closed:
            raise BackendError(f"use of a freed {self.kind} buffer ({self.nbytes} bytes)")
        return self._ptr

    def free(self) -> None:
        """Free the memory now (a second call does nothing)."""
        if self._finalizer.detach() is not None:
            call(self._free, self._ptr)

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: object) -> None:
        self.free()

    def __repr__(self) -> str:
        state = "freed" if self.closed else f"0x{self._ptr:x}"
        return f"{type(self).__name__}({self.nbytes} bytes, {state})"


class DeviceBuffer(_Allocation):
    """`nbytes` of device memory (`cudaMalloc`/`cudaFree`)."""

    _alloc, _free, kind = "cudaMalloc", "cudaFree", "device"


class PinnedBuffer(_Allocation):
    """`nbytes` of page-locked host memory (`cudaHostAlloc`/`cudaFreeHost`).

    `view(shape, dtype)` is a numpy array over the memory; it must not be used after `free()`.
    """

    _alloc, _free, kind = "cudaHostAlloc", "cudaFreeHost", "pinned host"

    def __init__(self, nbytes: int, flags: int = 0) -> None:
        super().__init__(nbytes, flags)

    def view(self, shape: tuple[int, ...] | int | None = None, dtype: Any = np.uint8) -> np.ndarray:
        """A numpy array over the first bytes of the buffer (all of them when `shape` is None)."""
        dtype = np.dtype(dtype)
        if shape is None:
            shape = (self.nbytes // dtype.itemsize,)
        count = int(np.prod(shape, dtype=np.int64))
        need = count * dtype.itemsize
        if need > self.nbytes:
            dims = list(np.atleast_1d(shape))
            raise BackendError(
                f"a {dtype}{dims} view needs {need} bytes; the buffer has {self.nbytes}"
            )
        raw = (ctypes.c_uint8 * need).from_address(self.ptr)
        return np.frombuffer(raw, dtype=dtype, count=count).reshape(shape)


class Stream:
    """A non-blocking CUDA stream; `handle` is the int `execute_async_v3` takes."""

    def __init__(self) -> None:
        rt = runtime()
        self._stream = call("cudaStreamCreateWithFlags", rt.cudaStreamNonBlocking)
        self._finalizer = weakref.finalize(self, _release, "cudaStreamDestroy", self._stream)

    @property
    def handle(self) -> Any:
        """The `cudaStream_t`; BackendError once closed."""
        if not self._finalizer.alive:
            raise BackendError("use of a destroyed CUDA stream")
        return self._stream

    def synchronize(self) -> None:
        """Wait until every operation queued on the stream has finished."""
        call("cudaStreamSynchronize", self.handle)

    def done(self) -> bool:
        """Whether every operation queued on the stream has finished (no waiting)."""
        err = runtime().cudaStreamQuery(self.handle)[0]
        if err == runtime().cudaError_t.cudaErrorNotReady:
            return False
        check((err,), "cudaStreamQuery")
        return True

    def close(self) -> None:
        """Destroy the stream (a second call does nothing)."""
        if self._finalizer.detach() is not None:
            call("cudaStreamDestroy", self._stream)

    def __int__(self) -> int:
        return int(self.handle)

    def __enter__(self) -> Stream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Event:
    """A CUDA event; `elapsed_ms(start, end)` times the work between two recorded events."""

    def __init__(self, timing: bool = True) -> None:
        rt = runtime()
        flags = rt.cudaEventDefault if timing else rt.cudaEventDisableTiming
        self._event = call("cudaEventCreateWithFlags", flags)
        self._finalizer = weakref.finalize(self, _release, "cudaEventDestroy", self._event)

    @property
    def handle(self) -> Any:
        """The `cudaEvent_t`; BackendError once closed."""
        if not self._finalizer.alive:
            raise BackendError("use of a destroyed CUDA event")
        return self._event

    def record(self, stream: Stream | None = None) -> Event:
        """Record the event on `stream` (the legacy default stream when None)."""
        call("cudaEventRecord", self.handle, 0 if stream is None else stream.handle)
        return self

    def synchronize(self) -> None:
        """Wait until the recorded work has finished."""
        call("cudaEventSynchronize", self.handle)

    def close(self) -> None:
        """Destroy the event (a second call does nothing)."""
        if self._finalizer.detach() is not None:
            call("cudaEventDestroy", self._event)

    def __enter__(self) -> Event:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def elapsed_ms(start: Event, end: Event) -> float:
    """Milliseconds between two recorded, completed events (`cudaEventElapsedTime`)."""
    return float(call("cudaEventElapsedTime", start.handle, end.handle))


def memory_type(ptr: int) -> str:
    """'pageable host', 'pinned host', 'device' or 'managed' (`cudaPointerGetAttributes`)."""
    attrs = call("cudaPointerGetAttributes", ptr)
    return _MEMORY_TYPES.get(int(attrs.type), f"memory type {int(attrs.type)}")


_SIDES = {"HostToDevice": ("host", "device"), "DeviceToHost": ("device", "host"),
          "DeviceToDevice": ("device", "device")}  # fmt: skip


def memcpy(dst: int, src: int, nbytes: int, direction: str, stream: Stream | None = None) -> None:
    """Copy `nbytes` between raw addresses; `direction` is HostToDevice, DeviceToHost or
    DeviceToDevice. Both addresses' memory types are checked against it first (a wrong
    direction is undefined behaviour in CUDA). Asynchronous on `stream`, synchronous without."""
    if direction not in _SIDES:
        raise BackendError(f"unknown copy direction {direction!r} (one of {sorted(_SIDES)})")
    nbytes = _size(nbytes, f"cudaMemcpy {direction}")
    for role, ptr, want in (("destination", dst, _SIDES[direction][1]),
                            ("source", src, _SIDES[direction][0])):  # fmt: skip
        got = memory_type(ptr)
        if (want == "host") != got.endswith("host") or got == "managed":
            raise BackendError(f"cudaMemcpy {direction}: the {role} 0x{ptr:x} is {got} memory")
    kind = getattr(runtime().cudaMemcpyKind, f"cudaMemcpy{direction}")
    if stream is None:
        call("cudaMemcpy", dst, src, nbytes, kind)
    else:
        call("cudaMemcpyAsync", dst, src, nbytes, kind, stream.handle)


Host = np.ndarray | PinnedBuffer


def _host(buf: Any, role: str, writable: bool) -> tuple[int, int]:
    if isinstance(buf, PinnedBuffer):
        return buf.ptr, buf.nbytes
    if not isinstance(buf, np.ndarray):
        raise BackendError(f"the {role} must be a numpy array or a PinnedBuffer, "
                           f"not {type(buf).__name__}")  # fmt: skip
    if not buf.flags.c_contiguous:
        raise BackendError(f"the {role} array must be C-contiguous (np.ascontiguousarray)")
    if writable and not buf.flags.writeable:
        raise BackendError(f"the {role} array is read-only")
    return buf.ctypes.data, buf.nbytes


def _device(buf: Any, role: str) -> tuple[int, int]:
    if not isinstance(buf, DeviceBuffer):
        raise BackendError(f"the {role} must be a DeviceBuffer, not {type(buf).__name__}")
    return buf.ptr, buf.nbytes


def _fit(nbytes: int | None, default: int, limits: dict[str, int], what: str) -> int:
    count = default if nbytes is None else nbytes
    for role, size in limits.items():
        if count > size:
            raise BackendError(f"{what}: {count} bytes do not fit the {role} ({size} bytes)")
    return count


def to_device(dst: DeviceBuffer, src: Host, nbytes: int | None = None,
              stream: Stream | None = None) -> None:  # fmt: skip
    """Copy host memory (a pageable numpy array or a PinnedBuffer) to `dst`; `nbytes` defaults
    to the source's size. With a stream the copy is asynchronous: keep `src` alive and unchanged
    until the stream is synchronized."""
    dptr, dsize = _device(dst, "destination")
    sptr, ssize = _host(src, "source", writable=False)
    count = _fit(nbytes, ssize, {"source": ssize, "destination": dsize}, "HostToDevice")
    if count:
        memcpy(dptr, sptr, count, "HostToDevice", stream)


def to_host(dst: Host, src: DeviceBuffer, nbytes: int | None = None,
            stream: Stream | None = None) -> None:  # fmt: skip
    """Copy device memory into host memory; `nbytes` defaults to the destination's size. With a
    stream the copy is asynchronous: read `dst` only after synchronizing."""
    sptr, ssize = _device(src, "source")
    dptr, dsize = _host(dst, "destination", writable=True)
    count = _fit(nbytes, dsize, {"source": ssize, "destination": dsize}, "DeviceToHost")
    if count:
        memcpy(dptr, sptr, count, "DeviceToHost", stream)


def device_copy(dst: DeviceBuffer, src: DeviceBuffer, nbytes: int | None = None,
                stream: Stream | None = None) -> None:  # fmt: skip
    """Copy between device buffers; `nbytes` defaults to the source's size."""
    dptr, dsize = _device(dst, "destination")
    sptr, ssize = _device(src, "source")
    count = _fit(nbytes, ssize, {"source": ssize, "destination": dsize}, "DeviceToDevice")
    if count:
        memcpy(dptr, sptr, count, "DeviceToDevice", stream)


def memset(dst: DeviceBuffer, value: int, stream: Stream | None = None) -> None:
    """Set every byte of `dst` to `value` (0..255)."""
    if not 0 <= value <= 255:
        raise BackendError(f"cudaMemset: the byte value must be in 0..255, got {value}")
    if stream is None:
        call("cudaMemset", dst.ptr, value, dst.nbytes)
    else:
        call("cudaMemsetAsync", dst.ptr, value, dst.nbytes, stream.handle)
