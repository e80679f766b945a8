"""Engine build: builder config, optimization profiles, `build_serialized_network`.

`build_plan(graph, BuildOptions(...))` emits the network, builds it with an error-recording
logger and returns a `BuildResult` holding the plan bytes (the serialized engine), the builder's
log and the emission (layers, provenance). A build that fails raises `BackendError` with every
error the builder logged.

Symbolic input dims become -1 and need an optimization profile: `--shapes x:MIN,OPT,MAX` gives
one per input (`1x3x224x224,8x3x224x224,32x3x224x224`); inputs not given get the default profile
`DEFAULT_PROFILE` (min 1, opt 1, max 16 for every symbolic dim; static dims fixed).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from backends.tensorrt import _trt
from backends.tensorrt.network import Emission, emit
from compiler.errors import BackendError
from compiler.graph import Graph

log = logging.getLogger(__name__)

DEFAULT_PROFILE = (1, 1, 16)  # min, opt, max of a symbolic dim without --shapes
Shape = tuple[int, ...]


class RecordingLogger:
    """A TensorRT ILogger that keeps every message (errors separately) and forwards warnings
    and errors to `logging`. Built lazily so that this module imports without TensorRT."""

    def __new__(cls, trt: Any, verbose: bool = False) -> Any:
        base = trt.ILogger

        class _Logger(base):  # type: ignore[misc, valid-type]
            def __init__(self) -> None:
                base.__init__(self)
                self.errors: list[str] = []
                self.messages: list[tuple[str, str]] = []

            def log(self, severity: Any, msg: str) -> None:
                name = getattr(severity, "name", str(severity))
                if severity in (trt.ILogger.ERROR, trt.ILogger.INTERNAL_ERROR):
                    self.errors.append(msg)
                    log.debug("TensorRT error: %s", msg)
                elif severity == trt.ILogger.WARNING:
                    log.debug("TensorRT warning: %s", msg)
                if verbose or severity != trt.ILogger.VERBOSE:
                    self.messages.append((name, msg))

        return _Logger()


@dataclass
class BuildOptions:
    """Builder settings.

    Attributes:
        workspace: Workspace memory pool limit in bytes (None: TensorRT's default).
        optimization_level: `builder_optimization_level` 0-5 (None: TensorRT's default, 3).
        timing_cache: A file to load the timing cache from and save it to after the build.
        shapes: Input name -> (min, opt, max) shapes for the optimization profile.
        verbose: Keep the VERBOSE log (needed for the engine layer information).
    """

    workspace: int | None = 1 << 30
    optimization_level: int | None = None
    timing_cache: Path | None = None
    shapes: Mapping[str, tuple[Shape, Shape, Shape]] = field(default_factory=dict)
    verbose: bool = False


@dataclass
class BuildResult:
    """A built engine and what produced it."""

    plan: bytes
    emission: Emission
    seconds: float
    log: list[tuple[str, str]]
    profiles: dict[str, tuple[Shape, Shape, Shape]]


def build_plan(graph: Graph, options: BuildOptions | None = None) -> BuildResult:
    """Emit `graph` and build a serialized TensorRT engine.

    Raises:
        UnsupportedOpError: nodes that cannot be converted (all of them).
        BackendError: bad shapes, or a build that failed (with the builder's errors).
    """
    options = options or BuildOptions()
    trt = _trt.load()
    logger = RecordingLogger(trt, verbose=options.verbose)
    emission = emit(graph, logger)
    return build_emission(emission, options)


def build_emission(emission: Emission, options: BuildOptions) -> BuildResult:
    """Build an already emitted network (see `build_plan`)."""
    trt, builder, logger = emission.trt, emission.builder, emission.logger
    config = builder.create_builder_config()
    if options.workspace is not None:
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(options.workspace))
    if options.optimization_level is not None:
        config.builder_optimization_level = int(options.optimization_level)
    if options.verbose:
        config.profiling_verbosity = trt.ProfilingVerbosity.DETAILED
    cache = _load_timing_cache(config, options.timing_cache)
    profiles = _add_profile(emission, config, options.shapes)
    start = time.perf_counter()
    plan = builder.build_serialized_network(emission.network, config)
    seconds = time.perf_counter() - start
    if plan is None or logger.errors:
        errors = logger.errors or ["build_serialized_network returned None"]
        raise BackendError("TensorRT build failed", notes=[f"  {e}" for e in errors])
    _save_timing_cache(config, cache, options.timing_cache)
    return BuildResult(bytes(plan), emission, seconds, list(logger.messages), profiles)


def _load_timing_cache(config: Any, path: Path | None) -> Any:
    if path is None:
        return None
    data = path.read_bytes() if path.exists() else b""
    cache = config.create_timing_cache(data)
    if not config.set_timing_cache(cache, False):
        raise BackendError(f"TensorRT rejected the timing cache {path}")
    return cache


def _save_timing_cache(config: Any, cache: Any, path: Path | None) -> None:
    if path is None or cache is None:
        return
    from compiler.fileio import atomic_write

    atomic_write(path, bytes(config.get_timing_cache().serialize()))


def _add_profile(
    emission: Emission, config: Any, shapes: Mapping[str, tuple[Shape, Shape, Shape]]
) -> dict[str, tuple[Shape, Shape, Shape]]:
    """One optimization profile covering every input with a symbolic dim."""
    names = emission.input_names
    unknown = sorted(set(shapes) - set(names))
    if unknown:
        raise BackendError(f"--shapes names {', '.join(unknown)}, which the model lacks "
                           f"(inputs: {', '.join(names)})")  # fmt: skip
    chosen: dict[str, tuple[Shape, Shape, Shape]] = {}
    for i, name in enumerate(names):
        dims = tuple(emission.network.get_input(i).shape)
        if name in shapes:
            chosen[name] = check_profile(name, dims, shapes[name])
        elif any(d < 0 for d in dims):
            chosen[name] = default_profile(dims)
    if not chosen:
        return chosen
    profile = emission.builder.create_optimization_profile()
    for name, (lo, opt, hi) in chosen.items():
        profile.set_shape(name, lo, opt, hi)
    if config.add_optimization_profile(profile) < 0:
        raise BackendError(f"TensorRT rejected the optimization profile {chosen}")
    return chosen


def default_profile(dims: Shape) -> tuple[Shape, Shape, Shape]:
    """min/opt/max of an input whose symbolic dims (-1) get `DEFAULT_PROFILE`."""
    return tuple(  # type: ignore[return-value]
        tuple(DEFAULT_PROFILE[k] if d < 0 else d for d in dims) for k in range(3)
    )


def check_profile(name: str, dims: Shape, given: tuple[Shape, Shape, Shape]) -> tuple[
        Shape, Shape, Shape]:  # fmt: skip
    """Validate a user profile against the input's dims: same rank, static dims equal,
    min <= opt <= max, all positive."""
    for label, shape in zip(("min", "opt", "max"), given, strict=True):
        if len(shape) != len(dims):
            raise BackendError(f"--shapes {name}: {label} {_fmt(shape)} has rank {len(shape)}, "
                               f"the input has rank {len(dims)} ({_fmt(dims)})")  # fmt: skip
        for k, (d, s) in enumerate(zip(dims, shape, strict=True)):
            if d >= 0 and s != d:
                raise BackendError(f"--shapes {name}: {label} dim {k} is {s}, the model fixes "
                                   f"it to {d} ({_fmt(dims)})")  # fmt: skip
            if s <= 0:
                raise BackendError(f"--shapes {name}: {label} dim {k} must be positive")
    lo, opt, hi = given
    if not all(a <= b <= c for a, b, c in zip(lo, opt, hi, strict=True)):
        raise BackendError(f"--shapes {name}: need min <= opt <= max in every dim, got "
                           f"{_fmt(lo)}, {_fmt(opt)}, {_fmt(hi)}")  # fmt: skip
    return given


def _fmt(shape: Shape) -> str:
    return "x".join("?" if d < 0 else str(d) for d in shape)


def parse_shapes(specs: list[str]) -> dict[str, tuple[Shape, Shape, Shape]]:
    """`["x:1x3x224x224,8x3x224x224,32x3x224x224"]` -> {name: (min, opt, max)}; one shape means
    min = opt = max.

    Raises:
        BackendError: a malformed spec.
    """
    out: dict[str, tuple[Shape, Shape, Shape]] = {}
    for spec in specs:
        name, sep, rest = spec.rpartition(":")
        if not sep or not name or not rest:
            raise BackendError(f"--shapes {spec!r}: expected NAME:MIN,OPT,MAX (e.g. "
                               "x:1x3x224x224,8x3x224x224,32x3x224x224)")  # fmt: skip
        try:
            parts = [tuple(int(d) for d in s.split("x")) for s in rest.split(",")]
        except ValueError:
            raise BackendError(f"--shapes {spec!r}: dims must be integers joined by 'x'") from None
        if len(parts) == 1:
            parts *= 3
        if len(parts) != 3:
            raise BackendError(f"--shapes {spec!r}: give one shape or three (min,opt,max)")
        out[name] = (parts[0], parts[1], parts[2])
    return out
