"""Registers the throwaway `test-*` passes of `pm_testing` around every test in this folder."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pm_testing import CALLS, TEST_PASSES

from compiler.passmanager import register_pass, unregister_pass


@pytest.fixture(autouse=True)
def test_passes() -> Iterator[None]:
    """Register the `test-*` passes for one test, then remove them."""
    CALLS.clear()
    for cls in TEST_PASSES:
        register_pass(cls)
    yield
    for cls in TEST_PASSES:
        unregister_pass(cls.name)
