"""Accounting of the interpreter's live set: the bytes of tensors held between nodes.

A tensor is counted once per underlying buffer: views (reshape, slices, identity) share the
buffer of their base array, which is counted while any slot still refers to it. Constants are not
counted: their storage belongs to the graph and is resident for the whole run anyway.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class MemoryStats:
    """Live-set statistics of one run.

    Attributes:
        peak_bytes: The largest total of live buffers, measured right after a node stored its
            outputs (before the values it read last are dropped: both are held at that moment).
        peak_at: The printed name of the value whose production reached the peak.
        final_bytes: Live bytes at the end (the graph outputs).
    """

    peak_bytes: int
    peak_at: str
    final_bytes: int


class LiveSet:
    """Reference-counted buffers of the values currently held by the interpreter."""

    def __init__(self, const_roots: set[int]) -> None:
        self.const_roots = const_roots
        self.slot_root: dict[int, int] = {}
        self.buffers: dict[int, list[Any]] = {}  # root id -> [root array, slot refcount]
        self.bytes = 0
        self.peak = 0
        self.peak_at = ""

    def add(self, slot: int, array: np.ndarray, name: str) -> None:
        root = root_of(array)
        key = id(root)
        if key in self.const_roots:
            return
        self.slot_root[slot] = key
        entry = self.buffers.get(key)
        if entry is None:
            self.buffers[key] = [root, 1]
            self.bytes += int(root.nbytes)
        else:
            entry[1] += 1
        if self.bytes > self.peak:
            self.peak, self.peak_at = self.bytes, name

    def drop(self, slot: int) -> None:
        key = self.slot_root.pop(slot, None)
        if key is None:
            return
        entry = self.buffers[key]
        entry[1] -= 1
        if entry[1] == 0:
            self.bytes -= int(entry[0].nbytes)
            del self.buffers[key]

    def stats(self) -> MemoryStats:
        return MemoryStats(self.peak, self.peak_at, self.bytes)


def root_of(array: np.ndarray) -> np.ndarray:
    """The array owning `array`'s buffer (itself unless it is a view)."""
    while isinstance(array.base, np.ndarray):
        array = array.base
    return array
