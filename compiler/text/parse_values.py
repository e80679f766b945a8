"""Parsing of types, attribute values and tensor literals of the textual IR.

Attribute values are read against the op's attribute schema (`AttrSpec.kind`), so an empty list is
typed by the schema and `3` is accepted where a float is expected.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import numpy as np

from compiler.ir import AttrValue, frozen_array
from compiler.registry import OpDef
from compiler.text.lexer import Cursor
from compiler.types import Dim, DType, TensorType

_INT = re.compile(r"[-+]?[0-9]+")
_KIND_TEXT = {
    "int": "an integer", "float": "a float", "str": "a string", "ints": "a list of integers",
    "floats": "a list of floats", "strs": "a list of strings", "dtype": "an element type",
    "tensor": "a tensor (dense<...> or resource<...>)",
}  # fmt: skip


def parse_type(cur: Cursor) -> TensorType:
    """`f32[batch,3]`, `f32[]`, `f32[*]`; a dim is an int, a symbol, a quoted symbol or `?`."""
    i = cur.expect("id", "a type")
    dtype = _dtype(cur, i)
    cur.expect("[", "'['")
    if cur.accept("*"):
        cur.expect("]", "']'")
        return TensorType(dtype, None)
    dims: list[Dim] = []
    if not cur.accept("]"):
        dims.append(_dim(cur))
        while cur.accept(","):
            dims.append(_dim(cur))
        cur.expect("]", "',' or ']'")
    return TensorType(dtype, tuple(dims))


def _dtype(cur: Cursor, i: int) -> DType:
    try:
        return DType.from_short(cur.texts[i])
    except KeyError:
        raise cur.fail(f"unknown element type '{cur.texts[i]}'", i) from None


def _dim(cur: Cursor) -> Dim:
    kind = cur.kind
    if kind == "num" and _INT.fullmatch(cur.token) and not cur.token.startswith(("-", "+")):
        return int(cur.texts[cur.take()])
    if kind == "id":
        return cur.texts[cur.take()]
    if kind == "str":
        return cur.string(cur.take())
    if kind == "?":
        cur.take()
        return None  # type: ignore[return-value]  # an unknown dim, printed as `?`
    raise cur.fail(f"expected a dimension (an integer or a symbol), found {cur.describe()}")


def parse_attrs(
    cur: Cursor, opdef: OpDef, resources: Mapping[str, np.ndarray] | None
) -> dict[str, AttrValue]:
    """`{name = value, ...}` (the `{` is current), checked against `opdef`'s schema."""
    cur.expect("{", "'{'")
    out: dict[str, AttrValue] = {}
    if cur.accept("}"):
        return out
    while True:
        name_i = cur.i
        if cur.kind not in ("id", "str"):
            raise cur.fail(f"expected an attribute name, found {cur.describe()}")
        name = cur.string(cur.take())
        spec = opdef.attrs.get(name)
        if spec is None:
            valid = ", ".join(sorted(opdef.attrs)) or "none"
            raise cur.fail(f"op '{opdef.name}' has no attribute '{name}' (valid: {valid})", name_i)
        if name in out:
            raise cur.fail(f"attribute '{name}' is given twice", name_i)
        cur.expect("=", "'='")
        out[name] = _attr_value(cur, spec.kind, name, resources)
        if not cur.accept(","):
            cur.expect("}", "',' or '}'")
            return dict(sorted(out.items()))


def _attr_value(
    cur: Cursor, kind: str, name: str, resources: Mapping[str, np.ndarray] | None
) -> AttrValue:
    start = cur.i
    value = _attr_value_or_none(cur, kind, resources)
    if value is None:
        cur.i = start
        raise cur.fail(f"attribute '{name}' expects {_KIND_TEXT[kind]}, found {cur.describe()}")
    return value


def _attr_value_or_none(
    cur: Cursor, kind: str, resources: Mapping[str, np.ndarray] | None
) -> AttrValue | None:
    if kind in ("int", "float", "str"):
        return _scalar(cur, kind)
    if kind in ("ints", "floats", "strs"):
        return _list(cur, kind[:-1])
    if kind == "dtype":
        if not cur.accept("id", "dtype"):
            return None
        cur.expect("<", "'<'")
        dtype = _dtype(cur, cur.expect("id", "an element type"))
        cur.expect(">", "'>'")
        return dtype
    if cur.accept("id", "dense"):
        return parse_dense(cur)
    if cur.accept("id", "resource"):
        return _resource(cur, resources)
    return None


def _scalar(cur: Cursor, kind: str) -> Any:
    text = cur.token
    if kind == "str":
        return cur.string(cur.take()) if cur.kind == "str" else None
    if cur.kind != "num":
        return None
    if kind == "int":
        return int(cur.texts[cur.take()]) if _INT.fullmatch(text) else None
    return float(cur.texts[cur.take()])


def _list(cur: Cursor, kind: str) -> tuple[Any, ...] | None:
    if not cur.accept("["):
        return None
    items: list[Any] = []
    if cur.accept("]"):
        return ()
    while True:
        item = _scalar(cur, kind)
        if item is None:
            raise cur.fail(f"expected {_KIND_TEXT[kind]} in the list, found {cur.describe()}")
        items.append(item)
        if not cur.accept(","):
            cur.expect("]", "',' or ']'")
            return tuple(items)


def _resource(cur: Cursor, resources: Mapping[str, np.ndarray] | None) -> np.ndarray:
    cur.expect("<", "'<'")
    i = cur.expect("str", "a resource name string")
    name = cur.string(i)
    if resources is None or name not in resources:
        hint = " (no resources were given)" if resources is None else ""
        raise cur.fail(f'missing resource "{name}"{hint}', i)
    cur.expect(">", "'>'")
    return frozen_array(np.asarray(resources[name]))


def parse_dense(cur: Cursor) -> np.ndarray:
    """`<f32[2]: [1.0, 2.0]>` after the `dense` keyword: a flat, row-major element list."""
    cur.expect("<", "'<'")
    type_i = cur.i
    t = parse_type(cur)
    if not t.is_static:
        raise cur.fail(f"a dense tensor needs a static shape, found {t}", type_i)
    cur.expect(":", "':'")
    open_i = cur.expect("[", "'['")
    items = _elements(cur, t.dtype)
    numel = t.numel() or 0
    if len(items) != numel:
        raise cur.fail(
            f"dense tensor of type {t} needs {numel} elements, found {len(items)}", open_i
        )
    cur.expect(">", "'>'")
    try:
        array = _to_array(items, t.dtype)
    except (OverflowError, ValueError) as exc:
        raise cur.fail(f"element out of range for {t.dtype.short}: {exc}", open_i) from None
    if t.dtype.is_int and array.tolist() != items:
        raise cur.fail(f"element out of range for {t.dtype.short}", open_i)
    return frozen_array(array.reshape(t.shape))  # type: ignore[arg-type]


def _to_array(items: list[Any], dtype: DType) -> np.ndarray:
    """Floats go through float64 (every IR float type converts from it with one rounding)."""
    if dtype == DType.STRING:
        return np.array(items, dtype=object)
    if dtype.is_float:
        return np.array(items, dtype=np.float64).astype(dtype.to_numpy())
    if dtype in (DType.COMPLEX64, DType.COMPLEX128):
        return np.array(items, dtype=np.complex128).astype(dtype.to_numpy())
    return np.array(items, dtype=dtype.to_numpy())


def _elements(cur: Cursor, dtype: DType) -> list[Any]:
    read = _element_reader(dtype)
    items: list[Any] = []
    if cur.accept("]"):
        return items
    while True:
        item = read(cur)
        if item is None:
            raise cur.fail(f"expected a {dtype.short} element, found {cur.describe()}")
        items.append(item)
        if not cur.accept(","):
            cur.expect("]", "',' or ']'")
            return items


def _element_reader(dtype: DType) -> Any:
    if dtype == DType.BOOL:
        return _bool
    if dtype.is_int:
        return lambda cur: _scalar(cur, "int")
    if dtype == DType.STRING:
        return lambda cur: _scalar(cur, "str")
    if dtype in (DType.COMPLEX64, DType.COMPLEX128):
        return _complex
    return lambda cur: _scalar(cur, "float")


def _bool(cur: Cursor) -> bool | None:
    if cur.accept("id", "true"):
        return True
    if cur.accept("id", "false"):
        return False
    return None


def _complex(cur: Cursor) -> complex | None:
    if not cur.accept("("):
        return None
    real = _scalar(cur, "float")
    cur.expect(",", "','")
    imag = _scalar(cur, "float")
    cur.expect(")", "')'")
    if real is None or imag is None:
        return None
    return complex(real, imag)


__all__ = ["parse_attrs", "parse_dense", "parse_type"]
