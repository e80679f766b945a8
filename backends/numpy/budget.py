"""The reference backend's memory budget: refuse a node whose outputs would not fit, before running.

A node's output sizes come from its stored types with the run's input symbols bound (the plan's
exact shapes, `plan.py`); the check runs once per plan, so it costs nothing per step. An output
whose shape depends on data (an unbound symbol) cannot be estimated and is not checked.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

from backends.numpy.plan import ExecStep
from compiler.errors import BackendError
from compiler.ir import Value

DEFAULT_FRACTION = 0.5  # of physical memory, for one node's outputs


def default_budget() -> int | None:
    """Half the physical memory in bytes, or None (no limit) where the platform does not say."""
    try:
        pages, page_size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None
    if pages <= 0 or page_size <= 0:
        return None
    return int(pages * page_size * DEFAULT_FRACTION)


def check_budget(plan: Sequence[ExecStep], budget: int, names: dict[Value, str]) -> None:
    """Raise BackendError naming the first node whose outputs would exceed `budget` bytes."""
    for step in plan:
        total = 0
        for check in step.checks:
            if check.shape is not None:
                total += math.prod(check.shape) * check.dtype.itemsize
        if total > budget:
            node = step.node
            outs = ", ".join(
                f"%{names[c.value]}: {c.dtype}{list(c.shape)}" for c in step.checks if c.shape
            )
            raise BackendError(
                f"numpy backend: node {node.op} ({outs}) would allocate {_size(total)}, over the "
                f"memory budget of {_size(budget)} (raise it with memory_budget / --memory-budget)",
                node.loc,
            )


def _size(n: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit} ({n:,} bytes)"
    return f"{n} bytes"


__all__ = ["DEFAULT_FRACTION", "check_budget", "default_budget"]
