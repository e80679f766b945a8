"""Throwaway `test_*` ops for the textual IR tests, registered only while tests/text runs.

They are removed again after each module so that other test packages (op tables, exporters) never
see them.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from compiler import registry
from compiler.registry import REQUIRED, InferContext, OpDef, attr
from compiler.types import TensorType


def _first_input_type(ctx: InferContext) -> list[TensorType]:
    return [ctx.type(0)] * ctx.num_outputs


def _no_input(ctx: InferContext) -> list[TensorType]:
    return [TensorType(ctx.attrs["dt"], tuple(ctx.attrs["shape"]))]


TEST_OPS = (
    OpDef(
        name="test_any",
        infer=_first_input_type,
        inputs=(1, 4),
        outputs=(1, 3),
        attrs={
            "i": attr("int"),
            "f": attr("float"),
            "s": attr("str"),
            "ints": attr("ints"),
            "floats": attr("floats"),
            "strs": attr("strs"),
            "dt": attr("dtype"),
            "t": attr("tensor"),
        },  # fmt: skip
        doc="Any attribute kind, optional inputs, up to three outputs of input 0's type.",
    ),
    OpDef(
        name="test_source",
        infer=_no_input,
        inputs=(0, 0),
        attrs={"dt": attr("dtype", REQUIRED), "shape": attr("ints", REQUIRED)},
        doc="A value of the given type from nowhere.",
    ),
    OpDef(name="test_sink", infer=lambda ctx: [], inputs=(1, 1), outputs=(0, 0)),
)


@pytest.fixture(autouse=True, scope="module")
def test_ops() -> Iterator[None]:
    """Register the `test_*` ops for one module, then remove them."""
    registry.all_ops()  # load the real ops first: the registry loads them only while empty
    for opdef in TEST_OPS:
        registry.register(opdef)
    yield
    for opdef in TEST_OPS:
        registry._REGISTRY.pop(opdef.name, None)
