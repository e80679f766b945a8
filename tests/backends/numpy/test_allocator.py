"""The heap-padding setting: applied once on glibc, skipped when turned off."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]

CODE = (
    "from backends.numpy.allocator import tune_allocator; print(tune_allocator(), tune_allocator())"
)


def _run(env_value: str | None) -> str:
    env = {k: v for k, v in os.environ.items() if k != "IRFORGE_MALLOC_TUNING"}
    if env_value is not None:
        env["IRFORGE_MALLOC_TUNING"] = env_value
    done = subprocess.run([sys.executable, "-c", CODE], env=env, capture_output=True, text=True,
                          check=True, cwd=ROOT)  # fmt: skip
    return done.stdout.strip()


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's mallopt only")
def test_applied_once_on_glibc() -> None:
    assert _run(None) == "True False"  # accepted the first time, a no-op after


def test_turned_off_by_the_environment() -> None:
    assert _run("0") == "False False"
