"""Lexical pieces of the textual IR shared by the printer and the parser.

Names, types and scalar/tensor element spellings live here so that both directions agree byte for
byte: a bare name matches `[A-Za-z_][A-Za-z0-9_.]*` or is all digits, anything else is JSON-quoted;
floats print shortest-round-trip for their dtype; bools print `true` / `false`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import numpy as np

from compiler.location import quote
from compiler.types import DType, TensorType

BARE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*|[0-9]+")
BARE_SYMBOL = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")

_COMPLEX_PART = {DType.COMPLEX64: DType.FLOAT32, DType.COMPLEX128: DType.FLOAT64}


def name_token(name: str, sigil: str = "%") -> str:
    """`%name` when the name is bare-safe, else `%"quoted"`."""
    if BARE_NAME.fullmatch(name):
        return sigil + name
    return sigil + quote(name)


def format_dim(dim: object) -> str:
    """A dim: an int, a bare symbol, a quoted symbol, or `?` for an unknown dim."""
    if dim is None:
        return "?"
    if isinstance(dim, str):
        return dim if BARE_SYMBOL.fullmatch(dim) else quote(dim)
    return str(int(dim))  # type: ignore[call-overload]


def format_type(t: TensorType) -> str:
    """`f32[batch,3]`, scalar `f32[]`, unknown rank `f32[*]`."""
    if t.shape is None:
        return f"{t.dtype.short}[*]"
    return f"{t.dtype.short}[{','.join(format_dim(d) for d in t.shape)}]"


def format_types(types: Iterable[TensorType]) -> str:
    return ", ".join(format_type(t) for t in types)


def format_float(x: float) -> str:
    """A Python float, round-trip exact (`1.0`, `1e-05`, `inf`, `-inf`, `nan`)."""
    return repr(float(x))


def _shortest(value: np.generic, np_dtype: np.dtype) -> str:
    """Shortest decimal that parses back (via float64) to the same value of a small float type."""
    x = float(value)
    if x != x or x in (float("inf"), float("-inf")):
        return repr(x)
    for digits in range(1, 18):
        text = f"{x:.{digits}g}"
        if np.array(float(text)).astype(np_dtype) == value:
            return repr(float(text))
    return repr(x)


def format_elements(array: np.ndarray, dtype: DType) -> list[str]:
    """The flat, row-major element spellings of a tensor of `dtype`."""
    flat = array.reshape(-1)
    if dtype == DType.BOOL:
        return ["true" if x else "false" for x in flat.tolist()]
    if dtype.is_int:
        return [str(int(x)) for x in flat.tolist()]
    if dtype == DType.STRING:
        return [quote(x.decode() if isinstance(x, bytes) else str(x)) for x in flat.tolist()]
    if dtype in _COMPLEX_PART:
        part = _COMPLEX_PART[dtype].to_numpy()
        scalar = part.type
        return [
            f"({format_scalar(scalar(z.real), part)}, {format_scalar(scalar(z.imag), part)})"
            for z in flat.tolist()
        ]
    return [format_scalar(x, array.dtype) for x in flat]


def format_scalar(x: np.generic, np_dtype: np.dtype) -> str:
    """One float element, shortest round-trip for its dtype."""
    if np_dtype == np.float64:
        return repr(float(x))
    if np_dtype in (np.float32, np.float16):
        return str(x)  # numpy's str is shortest round-trip; ml_dtypes' str() is not
    return _shortest(x, np_dtype)


def tensor_dtype(array: np.ndarray) -> DType:
    """The IR dtype of an array (object / unicode arrays are `str`)."""
    return DType.from_numpy(array.dtype)


def format_dense(array: np.ndarray) -> str:
    """`dense<f32[2,2]: [1.0, 2.0, 3.0, 4.0]>`."""
    dtype = tensor_dtype(array)
    t = TensorType(dtype, tuple(int(d) for d in array.shape))
    return f"dense<{format_type(t)}: [{', '.join(format_elements(array, dtype))}]>"


__all__ = [
    "BARE_NAME", "BARE_SYMBOL", "format_dense", "format_dim", "format_elements", "format_float",
    "format_scalar", "format_type", "format_types", "name_token", "tensor_dtype",
]  # fmt: skip
