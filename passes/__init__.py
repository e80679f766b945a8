"""irforge passes: one module per pass, and the named pipelines (`passes.pipelines`).

Importing this package imports every module in it, so a pass registers itself (`@register_pass`)
just by living here; the pass registry imports the package on first lookup.
"""

from __future__ import annotations

import importlib
import pkgutil


def _import_all() -> None:
    for info in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{info.name}")


_import_all()
