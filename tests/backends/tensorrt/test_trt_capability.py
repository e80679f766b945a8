"""Capability: every registry op has a converter or a stated reason; the report is complete."""

from __future__ import annotations

from backends.tensorrt import registry_coverage
from backends.tensorrt.registry import CONVERTERS, load_converters
from compiler.registry import all_ops


def test_every_registry_op_has_a_converter_or_a_reason() -> None:
    coverage = registry_coverage()
    assert set(coverage) == {op.name for op in all_ops()}
    missing = {op: why for op, why in coverage.items() if why == "no converter written"}
    assert not missing, f"ops without a converter and without a stated reason: {sorted(missing)}"
    converted = sum(why is None for why in coverage.values())
    assert converted >= 110, converted


def test_converters_only_for_registry_ops() -> None:
    load_converters()
    assert set(CONVERTERS) <= {op.name for op in all_ops()}
