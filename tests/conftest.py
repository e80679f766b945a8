from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

sys.path.insert(0, str(Path(__file__).resolve().parent))

settings.register_profile(
    "ci", derandomize=True, max_examples=60, deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)  # fmt: skip
settings.register_profile("dev", max_examples=60, deadline=None)
settings.register_profile("long", max_examples=2000, deadline=None)
settings.load_profile("ci")


@pytest.fixture
def material():
    """Returns `model_path(name)`; skips the test when the model cannot be generated here."""
    from material import model_path

    def get(name: str) -> Path:
        path = model_path(name)
        if path is None:
            pytest.skip(f"{name} needs torch (pip install irforge[torch]) to be generated")
        return path

    return get
