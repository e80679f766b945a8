"""Facts about the machine a benchmark ran on, and the JSON record of a run, for the results."""

from __future__ import annotations

import datetime
import json
import os
import platform
import shlex
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (the platform's processor string elsewhere)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def machine_line() -> str:
    """`<cpu>, <n> cores, <os> <arch>; Python <version>`."""
    return (
        f"{cpu_model()}, {os.cpu_count()} cores, {platform.system()} {platform.machine()}; "
        f"Python {platform.python_version()}"
    )


def call_times(fn: Callable[[], object], repeats: int, warm: bool = True) -> list[float]:
    """Seconds of `repeats` calls of `fn` (after one untimed call when `warm`)."""
    if warm:
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


# -- machine-readable records (benchmarks/results/<name>.json, read by benchmarks/report.py) -----

RESULTS_DIR = Path(__file__).resolve().parent / "results"
BASE_PACKAGES = ("numpy", "onnx", "onnxruntime", "irforge")


def stats(values: Sequence[float], scale: float = 1.0) -> dict[str, float | int]:
    """Median, min, max and count of `values` (each multiplied by `scale`, e.g. 1e3 for ms)."""
    scaled = [float(v) * scale for v in values]
    return {"median": statistics.median(scaled), "min": min(scaled), "max": max(scaled),
            "n": len(scaled)}  # fmt: skip


def package_versions(extra: Sequence[str] = ()) -> dict[str, str]:
    """Python and the installed versions of the base packages and `extra` (absent ones skipped)."""
    from importlib import metadata

    found = {"python": platform.python_version()}
    for name in (*BASE_PACKAGES, *extra):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def machine_info() -> dict[str, object]:
    """The machine as a dict: CPU model, core count, OS and architecture, and the summary line."""
    return {"cpu": cpu_model(), "cores": os.cpu_count(), "os": platform.system(),
            "arch": platform.machine(), "line": machine_line()}  # fmt: skip


class Record:
    """One benchmark run's machine-readable record, started when the script starts.

    `write` stores `benchmarks/results/<name>.json` atomically (a temporary file in the same folder
    moved onto the target), replacing the previous run's: the benchmark, the command, UTC start
    and end, wall seconds, the load average (1/5/15 min) at start and end (the machine is shared),
    machine, package versions, settings, per-case figures and the summary figures.
    """

    def __init__(self, name: str, extra_packages: Sequence[str] = ()) -> None:
        self.name = name
        self.extra_packages = tuple(extra_packages)
        self.started = datetime.datetime.now(datetime.UTC)
        self.clock = time.perf_counter()
        self.load_start = _load()
        script = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else f"{name}.py"
        self.command = shlex.join(["python", f"benchmarks/{script}", *sys.argv[1:]])

    def write(self, cases: list[dict[str, Any]], summary: dict[str, Any],
              settings: dict[str, Any] | None = None, **extra: Any) -> Path:  # fmt: skip
        """Write the record; returns its path."""
        record = {
            "benchmark": self.name,
            "command": self.command,
            "started_utc": self.started.strftime("%Y-%m-%d %H:%M:%S"),
            "finished_utc": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S"),
            "wall_s": round(time.perf_counter() - self.clock, 1),
            "load_avg": {"start": self.load_start, "end": _load()},
            "machine": machine_info(),
            "versions": package_versions(self.extra_packages),
            "settings": settings or {},
            "cases": cases,
            "summary": summary,
            **extra,
        }
        return write_json(RESULTS_DIR / f"{self.name}.json", record)


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def write_json(path: Path, record: dict[str, Any]) -> Path:
    """`record` as indented JSON at `path`, written atomically."""
    text = json.dumps(record, indent=1, ensure_ascii=False, allow_nan=False) + "\n"
    return write_text(path, text)


def write_text(path: Path, text: str) -> Path:
    """`text` (UTF-8) at `path`, written atomically (compiler/fileio.py)."""
    repo = str(Path(__file__).resolve().parent.parent)
    if repo not in sys.path:
        sys.path.insert(0, repo)
    from compiler.fileio import atomic_write

    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, text.encode("utf-8"))
    return path
