"""The pass registry and the named-pipeline table.

Passes register themselves with `@register_pass` when their module in the `passes` package is
imported. The registry discovers them by importing `passes` lazily, on first lookup; this makes
the module part of the driver layer (tests/compiler/test_layering.py lists it). The one table of
named pipelines is `passes.pipelines.PIPELINES`.
"""

from __future__ import annotations

from typing import TypeVar

from compiler.passmanager.base import Pass, validate_pass_class

P = TypeVar("P", bound=type[Pass])

_PASSES: dict[str, type[Pass]] = {}
_loaded = False


def register_pass(cls: P) -> P:
    """Class decorator adding a pass to the registry (apply it above `@dataclass(frozen=True)`).

    Raises:
        TypeError: when the class is not a frozen-dataclass `Pass` with a kebab-case name, or the
            name is taken by another class.
    """
    validate_pass_class(cls)
    existing = _PASSES.get(cls.name)
    if existing is not None and existing.__qualname__ != cls.__qualname__:
        raise TypeError(f"pass {cls.name!r} is registered twice ({existing.__qualname__})")
    _PASSES[cls.name] = cls
    return cls


def unregister_pass(name: str) -> None:
    """Remove a pass (for tests that register throwaway `test-*` passes)."""
    _PASSES.pop(name, None)


def _ensure_loaded() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    import passes  # noqa: F401  (each pass module registers itself)


def find_pass(name: str) -> type[Pass] | None:
    """The pass class registered under `name`, or None."""
    _ensure_loaded()
    return _PASSES.get(name)


def pass_names() -> list[str]:
    """Every registered pass name, sorted."""
    _ensure_loaded()
    return sorted(_PASSES)


def named_pipelines() -> dict[str, str]:
    """The table of named pipelines (`O0`, `default`, ...): name -> pipeline text."""
    from passes.pipelines import PIPELINES

    return PIPELINES


__all__ = ["find_pass", "named_pipelines", "pass_names", "register_pass", "unregister_pass"]
