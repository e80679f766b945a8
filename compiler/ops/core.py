"""IR-level ops that are not plain ONNX ops: `const`."""

from __future__ import annotations

from compiler.registry import REQUIRED, InferContext, attr, defop, kernel
from compiler.types import TensorType, tensor_type_of


@defop("const", inputs=0, attrs={"value": attr("tensor", REQUIRED)})
def _const(ctx: InferContext) -> list[TensorType]:
    """A constant tensor (weights are constants)."""
    return [tensor_type_of(ctx.attrs["value"])]


@kernel("const")
def _const_kernel(inputs, attrs):  # type: ignore[no-untyped-def]
    return [attrs["value"]]
