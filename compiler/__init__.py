"""irforge core: IR, types, op registry, verifier, textual IR, frontends, diagnostics, CLI."""

from __future__ import annotations

from compiler.errors import (
    BackendError,
    CompilerError,
    FrontendError,
    ParseError,
    PassError,
    UnsupportedOpError,
    VerifyError,
)
from compiler.graph import Builder, Graph
from compiler.ir import Node, Use, Value
from compiler.types import DType, TensorType

__version__ = "0.1.0"


def load(model, **kwargs):  # type: ignore[no-untyped-def]
    """Import an ONNX model (path, bytes or ModelProto) into a Graph (`compiler.frontend`)."""
    from compiler.frontend.onnx_import import load as _load

    return _load(model, **kwargs)


def optimize(graph, pipeline="default", **hooks):  # type: ignore[no-untyped-def]
    """Run a pass pipeline on `graph` in place; returns the `PassReport`. See
    `compiler.optimizer.optimize` for the hooks (verify_each, check_numerics, time_passes, ...)."""
    from compiler.optimizer import optimize as _optimize

    return _optimize(graph, pipeline, **hooks)


def from_torch(module, example_args, dynamic_shapes=None, **kwargs):  # type: ignore[no-untyped-def]
    """Export a PyTorch module with torch.export and lower it to a Graph (needs torch; see
    `compiler.frontend.torch_import.from_torch`)."""
    from compiler.frontend.torch_import import from_torch as _from_torch

    return _from_torch(module, example_args, dynamic_shapes, **kwargs)


def build_tensorrt(model, precision="fp32", **options):  # type: ignore[no-untyped-def]
    """Build a TensorRT engine from a model file; returns the serialized plan (bytes). Options:
    pipeline, shapes (["x:MIN,OPT,MAX"]), workspace_mib, opt_level, timing_cache (see
    `compiler.cli_build.build_model`, which returns the whole `BuildResult`)."""
    from compiler.cli_build import build_model

    return build_model(model, precision=precision, **options).plan


__all__ = [
    "BackendError", "Builder", "CompilerError", "DType", "FrontendError", "Graph", "Node",
    "ParseError", "PassError", "TensorType", "UnsupportedOpError", "Use", "Value", "VerifyError",
    "build_tensorrt", "from_torch", "load", "optimize",
]  # fmt: skip
