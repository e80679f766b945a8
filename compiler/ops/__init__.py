"""Op definitions. Importing this package registers every op in `compiler.registry`."""

from __future__ import annotations

import importlib

_MODULES = ("core", "elementwise", "activations", "nn", "shape", "reduce", "quant", "misc")

for _name in _MODULES:
    try:
        importlib.import_module(f"compiler.ops.{_name}")
    except ModuleNotFoundError as exc:  # a module not written yet
        if exc.name != f"compiler.ops.{_name}":
            raise
