"""Converter modules; importing one registers its converters in `registry.CONVERTERS`."""

from __future__ import annotations

import functools


@functools.cache
def load_all() -> None:
    """Import every converter module (once)."""
    from backends.tensorrt.converters import (  # noqa: F401
        layout,
        linalg,
        nn,
        norm,
        pointwise,
        quant,
        shape,
        unsupported,
    )
