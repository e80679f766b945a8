"""Saving a graph as an ONNX file, optionally with external data, atomically and streaming.

The model and its data file are written through one `compiler.fileio` transaction: temporary
files beside the targets, moved into place only when the whole export succeeded, so a failed
export (an op the target opset cannot express, a full disk) leaves no output and no temporary.

External data is streamed: each large tensor goes to the data file in chunks straight from its
array (a memory map of the input's weights, typically), and the pages of a memory-mapped source
are released after each chunk, so exporting a model of many gigabytes keeps the resident set small.
"""

from __future__ import annotations

import mmap
import os
from pathlib import Path
from typing import IO

import numpy as np
from onnx import TensorProto

from backends.onnx.export import _Exporter, _tensor_proto
from compiler.fileio import atomic_outputs
from compiler.frontend.onnx_data import DTYPE_TO_ONNX, dtype_of_array
from compiler.graph import Graph

_AUTO_EXTERNAL_BYTES = 1 << 30
_CHUNK = 4 << 20  # bytes per write of a large tensor (and resident at a time)
_ALIGN = 64  # offset alignment of tensors in the data file


def save_onnx(
    graph: Graph,
    path: str | os.PathLike[str],
    *,
    opset: int | None = None,
    pipeline: str | None = None,
    external_data: bool | None = None,
    size_threshold: int = 1024,
) -> None:
    """Export and write a graph atomically (with its external data file, if any).

    Args:
        graph: The graph to write.
        path: The `.onnx` file; external data goes to `<name>.data` beside it.
        opset: Target opset (see `to_onnx`).
        pipeline: Stored as metadata `irforge.pipeline`.
        external_data: Write tensors of at least `size_threshold` bytes to the data file; None
            decides by total constant size (external above 1 GiB, so no 2 GB protobuf limit).
            A data file left by an earlier save is removed when none is written.
        size_threshold: Minimum tensor size in bytes for external data.

    Raises:
        BackendError: an op or attribute that cannot be written at the target opset.
        CompilerError: the files cannot be written.
    """
    path = Path(path)
    if external_data is None:
        total = sum(n.attrs["value"].nbytes for n in graph.nodes if n.op == "const")
        external_data = total > _AUTO_EXTERNAL_BYTES
    data_path = path.with_name(f"{path.name}.data")
    with atomic_outputs() as group:
        if external_data:
            writer = _ExternalWriter(group.open(data_path), data_path.name, size_threshold)
            model = _Exporter(graph, opset, writer).build(pipeline, "irforge")
        else:
            model = _Exporter(graph, opset, _tensor_proto).build(pipeline, "irforge")
            if data_path.exists():
                group.remove_on_commit(data_path)
        group.open(path).write(model.SerializeToString())


class _ExternalWriter:
    """Writes large tensors into the data file (64-byte aligned) and returns their protos."""

    def __init__(self, file: IO[bytes], location: str, threshold: int) -> None:
        self.file, self.location, self.threshold = file, location, threshold
        self.offset = 0

    def __call__(self, array: np.ndarray, name: str) -> TensorProto:
        if array.nbytes < self.threshold or array.dtype == object:
            return _tensor_proto(array, name)
        pad = -self.offset % _ALIGN
        self.file.write(b"\0" * pad)
        self.offset += pad
        tensor = TensorProto()
        tensor.name = name
        tensor.data_type = DTYPE_TO_ONNX[dtype_of_array(array)]
        tensor.dims.extend(array.shape)
        tensor.data_location = TensorProto.EXTERNAL
        for key, val in (("location", self.location), ("offset", str(self.offset)),
                         ("length", str(array.nbytes))):  # fmt: skip
            entry = tensor.external_data.add()
            entry.key, entry.value = key, val
        write_array(self.file, array)
        self.offset += array.nbytes
        return tensor


def write_array(file: IO[bytes], array: np.ndarray) -> None:
    """Write the array's bytes in C order, a chunk at a time (never a full copy)."""
    if array.size == 0:
        return
    if array.flags.c_contiguous:
        flat = array.reshape(-1).view(np.uint8)
        region = _mapped_region(array)
        for start in range(0, flat.size, _CHUNK):
            file.write(flat[start : start + _CHUNK].data)
            if region is not None:
                _release(region, start, min(flat.size, start + _CHUNK))
        return
    rows = max(1, _CHUNK // max(1, array[0].nbytes)) if array.ndim else 1
    if array.ndim == 0:
        file.write(np.ascontiguousarray(array).tobytes())
        return
    for start in range(0, array.shape[0], rows):
        file.write(
            np.ascontiguousarray(array[start : start + rows]).reshape(-1).view(np.uint8).data
        )


def _mapped_region(array: np.ndarray) -> tuple[mmap.mmap, int] | None:
    """The memory map an array views and the array's byte offset in it, or None."""
    base: object = array
    while base is not None:
        mapped = getattr(base, "_mmap", None)  # np.memmap (and its slices) keep their mmap
        # Only a read-only map: MADV_DONTNEED would discard a private (copy-on-write) map's edits.
        if isinstance(mapped, mmap.mmap) and getattr(base, "mode", None) == "r":
            start = np.frombuffer(mapped, np.uint8, count=1).ctypes.data
            return mapped, array.ctypes.data - start
        base = getattr(base, "base", None)
    return None


def _release(region: tuple[mmap.mmap, int], start: int, stop: int) -> None:
    """Drop the written pages of a read-only file mapping from the resident set (they stay in
    the page cache and fault back in on the next read): the export's RSS stays one chunk."""
    advice = getattr(mmap, "MADV_DONTNEED", None)
    if advice is None:
        return
    mapped, offset = region
    first = (offset + start) // mmap.PAGESIZE * mmap.PAGESIZE
    last = min(len(mapped), offset + stop)
    if last > first:
        try:
            mapped.madvise(advice, first, last - first)
        except (OSError, ValueError):  # advice only: a refusal costs memory, not correctness
            pass


__all__ = ["save_onnx", "write_array"]
