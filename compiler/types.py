"""Element types and tensor types.

A `TensorType` is a dtype and a shape whose dims are `int` (static) or `str` (a named symbol such as
`"batch"`). `shape=None` means unknown rank; it is allowed only transiently inside a frontend.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence

import numpy as np

Dim = int | str
# A dim as inference produces it: `None` where it depends on data (frontends then name it with a
# fresh symbol). Types built from inference results may carry `None` transiently; stored IR never.
InferDim = int | str | None


class DType(enum.Enum):
    """Element types. The value is the short name used by the textual IR."""

    FLOAT32 = "f32"
    FLOAT16 = "f16"
    BFLOAT16 = "bf16"
    FLOAT64 = "f64"
    INT4 = "i4"
    UINT4 = "u4"
    INT8 = "i8"
    UINT8 = "u8"
    INT16 = "i16"
    UINT16 = "u16"
    INT32 = "i32"
    UINT32 = "u32"
    INT64 = "i64"
    UINT64 = "u64"
    BOOL = "bool"
    STRING = "str"
    COMPLEX64 = "c64"
    COMPLEX128 = "c128"
    FLOAT8E4M3FN = "f8e4m3fn"
    FLOAT8E4M3FNUZ = "f8e4m3fnuz"
    FLOAT8E5M2 = "f8e5m2"
    FLOAT8E5M2FNUZ = "f8e5m2fnuz"

    # Members are singletons compared by identity; the identity hash is C-level, unlike Enum's
    # `hash(self._name_)`, and dtypes are hashed in every TensorType key and dtype set.
    __hash__ = object.__hash__

    @property
    def short(self) -> str:
        return self.value

    @classmethod
    def from_short(cls, name: str) -> DType:
        return _BY_SHORT[name]

    @property
    def is_float(self) -> bool:
        return self in _FLOATS

    @property
    def is_int(self) -> bool:
        return self in _INTS

    @property
    def itemsize(self) -> int:
        return _ITEMSIZE.get(self, 1)

    def to_numpy(self) -> np.dtype:
        """The numpy dtype holding values of this type (ml_dtypes for bf16 / float8 / int4)."""
        return np.dtype(_numpy_type(self))

    @classmethod
    def from_numpy(cls, dtype: np.dtype | type) -> DType:
        dt = np.dtype(dtype)
        for member in cls:
            try:
                if _numpy_type(member) == dt:
                    return member
            except (KeyError, ImportError):
                continue
        if dt.kind in ("U", "S", "O"):
            return cls.STRING
        raise ValueError(f"no irforge dtype for numpy dtype {dt}")


_BY_SHORT = {d.value: d for d in DType}
_FLOATS = {
    DType.FLOAT32, DType.FLOAT16, DType.BFLOAT16, DType.FLOAT64, DType.FLOAT8E4M3FN,
    DType.FLOAT8E4M3FNUZ, DType.FLOAT8E5M2, DType.FLOAT8E5M2FNUZ,
}  # fmt: skip
_INTS = {
    DType.INT4, DType.UINT4, DType.INT8, DType.UINT8, DType.INT16, DType.UINT16, DType.INT32,
    DType.UINT32, DType.INT64, DType.UINT64,
}  # fmt: skip
_ITEMSIZE = {
    DType.FLOAT32: 4, DType.FLOAT16: 2, DType.BFLOAT16: 2, DType.FLOAT64: 8, DType.INT16: 2,
    DType.UINT16: 2, DType.INT32: 4, DType.UINT32: 4, DType.INT64: 8, DType.UINT64: 8,
    DType.COMPLEX64: 8, DType.COMPLEX128: 16, DType.STRING: 8,
}  # fmt: skip
_PLAIN = {
    DType.FLOAT32: np.float32, DType.FLOAT16: np.float16, DType.FLOAT64: np.float64,
    DType.INT8: np.int8, DType.UINT8: np.uint8, DType.INT16: np.int16, DType.UINT16: np.uint16,
    DType.INT32: np.int32, DType.UINT32: np.uint32, DType.INT64: np.int64, DType.UINT64: np.uint64,
    DType.BOOL: np.bool_, DType.STRING: np.object_, DType.COMPLEX64: np.complex64,
    DType.COMPLEX128: np.complex128,
}  # fmt: skip
_ML_DTYPES = {
    DType.BFLOAT16: "bfloat16", DType.INT4: "int4", DType.UINT4: "uint4",
    DType.FLOAT8E4M3FN: "float8_e4m3fn", DType.FLOAT8E4M3FNUZ: "float8_e4m3fnuz",
    DType.FLOAT8E5M2: "float8_e5m2", DType.FLOAT8E5M2FNUZ: "float8_e5m2fnuz",
}  # fmt: skip


def _numpy_type(dtype: DType) -> type | np.dtype:
    if dtype in _PLAIN:
        return _PLAIN[dtype]
    import ml_dtypes

    return np.dtype(getattr(ml_dtypes, _ML_DTYPES[dtype]))


class TensorType:
    """A tensor's element type and shape; immutable: never assign its fields.

    A plain slotted class rather than a frozen dataclass: frontends build one per value and a
    frozen dataclass's `object.__setattr__` doubles the construction cost. Equality, hashing and
    repr are those of the dataclass it replaces.

    Args:
        dtype: Element type.
        shape: Dims, each an `int` (static, >= 0) or a `str` symbol; `None` for unknown rank.
    """

    __slots__ = ("dtype", "shape")
    __match_args__ = ("dtype", "shape")

    def __init__(self, dtype: DType, shape: Sequence[InferDim] | None) -> None:
        self.dtype = dtype
        # `tuple()` of a tuple is the same object: free for the usual caller, safe for a list.
        self.shape: tuple[Dim, ...] | None = None if shape is None else tuple(shape)  # type: ignore[arg-type]

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not TensorType:
            return NotImplemented
        return self.dtype is other.dtype and self.shape == other.shape  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((self.dtype, self.shape))

    def __repr__(self) -> str:
        return f"TensorType(dtype={self.dtype!r}, shape={self.shape!r})"

    @property
    def rank(self) -> int:
        if self.shape is None:
            raise ValueError("rank of a tensor of unknown rank")
        return len(self.shape)

    @property
    def is_static(self) -> bool:
        return self.shape is not None and all(isinstance(d, int) for d in self.shape)

    def numel(self) -> int | None:
        """Number of elements, or None when any dim is symbolic."""
        if not self.is_static:
            return None
        n = 1
        for d in self.shape or ():
            n *= int(d)
        return n

    def with_shape(self, shape: Sequence[InferDim] | None) -> TensorType:
        return TensorType(self.dtype, shape)

    def with_dtype(self, dtype: DType) -> TensorType:
        return TensorType(dtype, self.shape)

    def __str__(self) -> str:
        if self.shape is None:
            return f"{self.dtype.short}[*]"
        return f"{self.dtype.short}[{','.join(str(d) for d in self.shape)}]"


def tensor_type_of(array: np.ndarray) -> TensorType:
    """The TensorType of a numpy array."""
    return TensorType(DType.from_numpy(array.dtype), tuple(int(d) for d in array.shape))
