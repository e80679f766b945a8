"""A progress bar for long calibrations: rich, else tqdm, else log lines.

`rich` (or `tqdm`) is used when importable and stderr is a terminal; otherwise progress goes
to the `irforge.quantize` log at INFO level every tenth of the work (or every 10 steps when the
total is unknown).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")
log = logging.getLogger("irforge.quantize")


def progress(items: Iterable[T], total: int | None, description: str, enabled: bool) -> Iterator[T]:
    """Iterate `items` showing progress (see the module docstring)."""
    if enabled and sys.stderr.isatty():
        bar = _rich(items, total, description) or _tqdm(items, total, description)
        if bar is not None:
            yield from bar
            return
    every = max(1, (total or 100) // 10)
    done = 0
    for item in items:
        yield item
        done += 1
        if done % every == 0 or done == total:
            log.info("%s: %d%s", description, done, f"/{total}" if total else "")


def _rich(items: Iterable[T], total: int | None, description: str) -> Iterator[T] | None:
    try:
        from rich.progress import track
    except ImportError:
        return None
    return iter(track(items, description=description, total=total, transient=True))


def _tqdm(items: Iterable[T], total: int | None, description: str) -> Iterator[T] | None:
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return iter(tqdm(items, total=total, desc=description, leave=False))


__all__ = ["progress"]
