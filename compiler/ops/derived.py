"""Arrays derived once from read-only constants and reused (kernels' prepared weights).

A kernel that transforms a weight on every call (a transposed copy, a Winograd transform, the
per-channel factors of a batch norm) asks `derived(arrays, key, fn)`: `fn(*arrays)` is computed once
and reused while those very array objects live. Only read-only arrays are cached — the IR's
constants are frozen (`compiler.ir` marks them read-only), so a cached result cannot go stale; if
any array is writeable the result is recomputed each time. An entry dies with the first of its
arrays (weakref callbacks drop it), so ids are never confused with a later array's. Cached
results are made read-only (they are shared by every later call), so a derived array can itself
key a further `derived` entry.

The cache holds at most `BUDGET` bytes of results (least recently used entries go first; a result
larger than the budget is not kept): a large model's prepared weights (a transposed copy of every
conv weight, Winograd transforms at 16/9 of the weights) would otherwise stay alongside the weights
for as long as the graph lives. Beyond the budget, kernels recompute per call, as without a cache.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

import numpy as np

T = TypeVar("T")

BUDGET = 256 * 1024 * 1024

_Key = tuple[tuple[int, ...], Hashable]
# slot -> (weakrefs to the arrays, result, result bytes); insertion order = least recently used
_CACHE: dict[_Key, tuple[tuple[weakref.ref[np.ndarray], ...], Any, int]] = {}
_held = [0]  # bytes of the results in the cache


def derived(arrays: tuple[np.ndarray, ...], key: Hashable, fn: Callable[..., T]) -> T:
    """`fn(*arrays)`, computed once per tuple of read-only `arrays` and `key` (what `fn` does,
    with any scalar it depends on)."""
    slot = (tuple(map(id, arrays)), key)
    hit = _CACHE.get(slot)
    if hit is not None:  # same ids; hit only if they are still the very same objects
        refs = hit[0]
        for i, a in enumerate(arrays):
            if refs[i]() is not a or a.flags.writeable:
                break
        else:
            _CACHE[slot] = _CACHE.pop(slot)  # most recently used
            return hit[1]  # type: ignore[no-any-return]
    for a in arrays:
        if a.flags.writeable:
            return fn(*arrays)
    result = fn(*arrays)
    for part in result if isinstance(result, tuple) else (result,):
        if isinstance(part, np.ndarray):  # shared by every later call: nobody may write it
            part.flags.writeable = False
    size = _nbytes(result)
    if size > BUDGET:
        return result
    _forget(slot)
    while _CACHE and _held[0] + size > BUDGET:
        _forget(next(iter(_CACHE)))

    def drop(_ref: weakref.ref[np.ndarray], slot: _Key = slot, forget: Any = _forget) -> None:
        forget(slot)  # bound now: at interpreter exit the module's globals may already be None

    _CACHE[slot] = (tuple(weakref.ref(a, drop) for a in arrays), result, size)
    _held[0] += size
    return result


def _forget(slot: _Key, cache: dict[_Key, Any] = _CACHE, held: list[int] = _held) -> None:
    entry = cache.pop(slot, None)
    if entry is not None:
        held[0] -= entry[2]


def _nbytes(result: Any) -> int:
    """Bytes of a cached result: arrays, tuples of them, or objects with an `nbytes`."""
    if isinstance(result, tuple):
        return sum(_nbytes(part) for part in result)
    return int(getattr(result, "nbytes", 0))
