"""ONNX tensors to read-only numpy arrays: raw data, typed fields, sparse and external data.

Raw data is viewed zero-copy with `np.frombuffer`; external data files are memory-mapped once per
file (read-only) and sliced, so models larger than 2 GB load without copying. Every byte count is
checked against the tensor's dims, and external `location`s must stay inside the model's directory.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, numpy_helper

from compiler.errors import FrontendError
from compiler.ir import frozen_array
from compiler.types import DType

ONNX_TO_DTYPE: dict[int, DType] = {
    TensorProto.FLOAT: DType.FLOAT32, TensorProto.UINT8: DType.UINT8, TensorProto.INT8: DType.INT8,
    TensorProto.UINT16: DType.UINT16, TensorProto.INT16: DType.INT16,
    TensorProto.INT32: DType.INT32, TensorProto.INT64: DType.INT64,
    TensorProto.STRING: DType.STRING, TensorProto.BOOL: DType.BOOL,
    TensorProto.FLOAT16: DType.FLOAT16, TensorProto.DOUBLE: DType.FLOAT64,
    TensorProto.UINT32: DType.UINT32, TensorProto.UINT64: DType.UINT64,
    TensorProto.COMPLEX64: DType.COMPLEX64, TensorProto.COMPLEX128: DType.COMPLEX128,
    TensorProto.BFLOAT16: DType.BFLOAT16, TensorProto.FLOAT8E4M3FN: DType.FLOAT8E4M3FN,
    TensorProto.FLOAT8E4M3FNUZ: DType.FLOAT8E4M3FNUZ, TensorProto.FLOAT8E5M2: DType.FLOAT8E5M2,
    TensorProto.FLOAT8E5M2FNUZ: DType.FLOAT8E5M2FNUZ, TensorProto.UINT4: DType.UINT4,
    TensorProto.INT4: DType.INT4,
}  # fmt: skip
DTYPE_TO_ONNX: dict[DType, int] = {v: k for k, v in ONNX_TO_DTYPE.items()}

# Element types whose raw bytes are exactly `numel * itemsize` numpy elements.
_PACKED = {TensorProto.UINT4, TensorProto.INT4, TensorProto.STRING}
_NP_CACHE: dict[int, np.dtype] = {}
_SIMPLE_FIELDS: dict[int, str] = {TensorProto.FLOAT: "float_data", TensorProto.INT64: "int64_data",
                  TensorProto.INT32: "int32_data", TensorProto.DOUBLE: "double_data"}  # fmt: skip


def onnx_dtype(elem_type: int, what: str) -> DType:
    """The irforge dtype of an ONNX element type; FrontendError naming `what` when unsupported."""
    dtype = ONNX_TO_DTYPE.get(elem_type)
    if dtype is None:
        name = TensorProto.DataType.Name(elem_type) if elem_type in TensorProto.DataType.values() \
            else str(elem_type)  # fmt: skip
        raise FrontendError(f"{what}: element type {name} is not supported")
    return dtype


_BY_NUMPY: dict[np.dtype, DType] = {}


def dtype_of_array(array: np.ndarray) -> DType:
    """The irforge dtype of an array (cached: `DType.from_numpy` scans every member)."""
    dtype = _BY_NUMPY.get(array.dtype)
    if dtype is None:
        dtype = _BY_NUMPY[array.dtype] = DType.from_numpy(array.dtype)
    return dtype


def _np_dtype(elem_type: int) -> np.dtype:
    dt = _NP_CACHE.get(elem_type)
    if dt is None:
        dt = _NP_CACHE[elem_type] = ONNX_TO_DTYPE[elem_type].to_numpy()
    return dt


def plain_raw_array(tensor: TensorProto) -> np.ndarray | None:
    """The common case, fast: inline `raw_data` of a plain numeric type with valid dims and size.

    Returns None for anything else (external, typed fields, packed types, bad dims or size), which
    `TensorReader.read` then handles with its full checks and error messages.
    """
    if tensor.data_location:  # EXTERNAL
        return None
    raw = tensor.raw_data
    elem_type = tensor.data_type
    if not raw or elem_type in _PACKED or elem_type not in ONNX_TO_DTYPE:
        return None
    dims = tensor.dims[:]  # a list: the fastest copy out of the protobuf container
    dt = _np_dtype(elem_type)
    if (dims and min(dims) < 0) or len(raw) != math.prod(dims) * dt.itemsize:
        return None
    return np.ndarray(dims, dt, raw)  # read-only: it views immutable bytes


class TensorReader:
    """Turns TensorProtos of one model into read-only arrays, memory-mapping external files.

    Args:
        base_dir: The model's directory (external `location`s are relative to it); None for a
            model given as bytes or a ModelProto, which then may not use external data.
    """

    def __init__(self, base_dir: Path | None) -> None:
        self.base_dir = base_dir.resolve() if base_dir is not None else None
        self._maps: dict[Path, np.ndarray] = {}

    def read(self, tensor: TensorProto, what: str) -> np.ndarray:
        """The tensor's value as a read-only array of its dims; `what` names it in errors."""
        dtype = onnx_dtype(tensor.data_type, what)
        dims = tuple(tensor.dims)
        if dims and min(dims) < 0:
            raise FrontendError(f"{what}: negative dimension in {list(dims)}")
        if tensor.data_location == TensorProto.EXTERNAL:
            return frozen_array(self._external(tensor, dims, what))
        if tensor.HasField("raw_data") and tensor.data_type not in _PACKED:
            return frozen_array(_from_raw(tensor.raw_data, tensor.data_type, dims, what))
        field_name = _SIMPLE_FIELDS.get(tensor.data_type)
        if field_name is not None:  # common typed fields, without numpy_helper's overhead
            data = getattr(tensor, field_name)
            numel = int(math.prod(dims))
            if len(data) != numel:
                raise FrontendError(f"{what}: has {len(data)} elements but dims {list(dims)} need "
                                    f"{numel}")  # fmt: skip
            return frozen_array(np.array(data, dtype=_np_dtype(tensor.data_type)).reshape(dims))
        return frozen_array(_from_fields(tensor, dtype, dims, what))

    # -- external data ----------------------------------------------------------------------------
    def _external(self, tensor: TensorProto, dims: tuple[int, ...], what: str) -> np.ndarray:
        info = {e.key: e.value for e in tensor.external_data}
        path = self._safe_path(info.get("location", ""), what)
        whole = self._map(path, what)
        offset = _int_field(info, "offset", 0, what)
        numel = int(math.prod(dims))
        if tensor.data_type in _PACKED:
            raise FrontendError(f"{what}: external data of this element type is not supported")
        itemsize = _np_dtype(tensor.data_type).itemsize
        length = _int_field(info, "length", numel * itemsize, what)
        if offset + length > whole.size:
            raise FrontendError(
                f"{what}: external data [{offset}, {offset + length}) runs past the end of "
                f"{path.name} ({whole.size} bytes)"
            )
        return _from_raw(whole[offset : offset + length], tensor.data_type, dims, what)

    def _safe_path(self, location: str, what: str) -> Path:
        """The file of an external `location`, refused unless it is a relative path to a
        regular file inside the model's directory (after following symlinks)."""
        if self.base_dir is None:
            raise FrontendError(
                f"{what}: uses external data but the model was not loaded from a file"
            )
        _check_location(location, what)
        try:
            path = (self.base_dir / location).resolve()
            if not path.is_relative_to(self.base_dir):
                raise FrontendError(
                    f"{what}: external data location {location!r} resolves outside the model "
                    f"directory {self.base_dir}"
                )
            if not path.is_file():
                raise FrontendError(
                    f"{what}: external data file {location!r} does not exist or is not a "
                    f"regular file"
                )
        except (OSError, RuntimeError) as exc:  # too long, a symlink loop, no permission
            raise FrontendError(
                f"{what}: external data location {location!r} cannot be opened: {exc}"
            ) from None
        return path

    def _map(self, path: Path, what: str) -> np.ndarray:
        mapped = self._maps.get(path)
        if mapped is not None:
            return mapped
        try:
            size = path.stat().st_size
            mapped = (np.memmap(path, dtype=np.uint8, mode="r") if size
                      else np.zeros(0, np.uint8))  # fmt: skip
        except OSError as exc:
            raise FrontendError(f"{what}: cannot read external data {path.name}: {exc}") from exc
        self._maps[path] = mapped
        return mapped


_MAX_LOCATION = 1024  # characters; real locations are short file names
_DRIVE = re.compile(r"^[A-Za-z]:")


def _check_location(location: str, what: str) -> None:
    """Refuse a location that could name a file outside the model's directory on any platform."""
    shown = location if len(location) <= 80 else f"{location[:80]}..."
    if not location:
        raise FrontendError(f"{what}: external data has no location")
    if "\0" in location:
        raise FrontendError(f"{what}: external data location {shown!r} contains a NUL byte")
    if len(location) > _MAX_LOCATION:
        raise FrontendError(
            f"{what}: external data location of {len(location)} characters is too long"
        )
    if os.path.isabs(location) or location.startswith(("/", "\\")) or _DRIVE.match(location):
        raise FrontendError(f"{what}: external data location {shown!r} must be relative")
    if ".." in location.replace("\\", "/").split("/"):
        raise FrontendError(f"{what}: external data location {shown!r} contains '..'")


def _int_field(info: dict[str, str], key: str, default: int, what: str) -> int:
    if key not in info:
        return default
    try:
        value = int(info[key])
    except ValueError:
        raise FrontendError(
            f"{what}: external data {key} {info[key]!r} is not an integer"
        ) from None
    if value < 0:
        raise FrontendError(f"{what}: external data {key} {value} is negative")
    return value


def _from_raw(
    raw: bytes | np.ndarray, elem_type: int, dims: tuple[int, ...], what: str
) -> np.ndarray:
    dt = _np_dtype(elem_type)
    numel = int(math.prod(dims))
    nbytes = len(raw) if isinstance(raw, bytes) else raw.size
    if nbytes != numel * dt.itemsize:
        raise FrontendError(
            f"{what}: has {nbytes} bytes of data but dims {list(dims)} of "
            f"{ONNX_TO_DTYPE[elem_type].short} need {numel * dt.itemsize}"
        )
    if isinstance(raw, bytes):
        # One array straight over the bytes (read-only, as bytes are immutable): half the cost
        # of `np.frombuffer(...).reshape(...)`, which shows over a model's thousand weights.
        return np.ndarray(dims, dt, raw)
    return np.asarray(raw).view(dt).reshape(dims)


def _field_count(tensor: TensorProto) -> int:
    for name in ("float_data", "int32_data", "string_data", "int64_data", "double_data",
                 "uint64_data"):  # fmt: skip
        n = len(getattr(tensor, name))
        if n:
            return n
    return 0


def _from_fields(tensor: TensorProto, dtype: DType, dims: tuple[int, ...], what: str) -> np.ndarray:
    numel = int(math.prod(dims))
    if tensor.data_type not in _PACKED or tensor.data_type == TensorProto.STRING:
        count = _field_count(tensor)
        if dtype in (DType.COMPLEX64, DType.COMPLEX128):
            count //= 2
        if count != numel and not (tensor.data_type == TensorProto.STRING and numel == 0):
            raise FrontendError(f"{what}: has {count} elements but dims {list(dims)} need {numel}")
    try:
        return numpy_helper.to_array(tensor)
    except (ValueError, TypeError) as exc:
        raise FrontendError(f"{what}: cannot decode tensor data: {exc}") from exc


def sparse_to_array(reader: TensorReader, sparse: onnx.SparseTensorProto, what: str) -> np.ndarray:
    """Densify a SparseTensorProto (linear `[NNZ]` or coordinate `[NNZ, rank]` indices)."""
    values = reader.read(sparse.values, what)
    indices = reader.read(sparse.indices, what).astype(np.int64)
    dims = tuple(sparse.dims)
    dense = np.zeros(dims, dtype=values.dtype)
    if indices.ndim == 2:
        indices = np.ravel_multi_index(tuple(indices.T), dims) if indices.size else indices[:, 0]
    try:
        dense.reshape(-1)[indices.reshape(-1)] = values.reshape(-1)
    except (IndexError, ValueError) as exc:
        raise FrontendError(f"{what}: invalid sparse tensor: {exc}") from exc
    return frozen_array(dense)
