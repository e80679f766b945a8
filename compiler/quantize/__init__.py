"""Calibration and accuracy tooling for symmetric quantization (see docs/QUANTIZATION.md).

`compiler.quantize.quantize(graph, data, ...)` is the Python API (driver layer, `driver.py`);
`observer`, `data`, `metrics` and `progress` are plain NumPy modules.
"""

from __future__ import annotations

from typing import Any


def quantize(graph: Any, data: Any, **options: Any) -> Any:
    """Quantize `graph` in place; see `compiler.quantize.driver.quantize`."""
    from compiler.quantize.driver import quantize as _quantize

    return _quantize(graph, data, **options)


__all__ = ["quantize"]
