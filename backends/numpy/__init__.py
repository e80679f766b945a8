"""NumPy backend: the reference interpreter over the registry's kernels (see `interpreter`)."""

from __future__ import annotations

from backends.numpy.interpreter import Program, RunResult, compile, run
from backends.numpy.memory import MemoryStats

__all__ = ["MemoryStats", "Program", "RunResult", "compile", "run"]
