"""TensorRT backend: IR -> TensorRT network (one converter per op), capability report, engine
build, provenance, and a NumPy interpreter of built networks. See docs/TENSORRT_BACKEND.md.

TensorRT itself (`tensorrt`, else `tensorrt_rtx`) is imported lazily, on first use.

    from backends.tensorrt import BuildOptions, build_plan
    plan = build_plan(graph, BuildOptions(shapes={"x": ((1, 3, 224, 224),) * 3})).plan
"""

from __future__ import annotations

from backends.tensorrt.build import BuildOptions, BuildResult, build_plan, parse_shapes
from backends.tensorrt.capability import CapabilityReport, capability_report, registry_coverage
from backends.tensorrt.network import Emission, emit
from backends.tensorrt.runtime import EngineRunner as EngineRunner  # needs tensorrt + a GPU

__all__ = [
    "BuildOptions", "BuildResult", "CapabilityReport", "Emission", "build_plan",
    "capability_report", "emit", "parse_shapes", "registry_coverage",
]  # fmt: skip
