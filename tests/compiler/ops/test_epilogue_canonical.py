"""A fused activation has exactly one spelling: `activation` and `activation_params` together."""

from __future__ import annotations

import numpy as np
import pytest

from compiler import DType, Graph, TensorType
from compiler.errors import CompilerError


def _conv(**attrs: object) -> None:
    g = Graph()
    x = g.add_input("x", TensorType(DType.FLOAT32, (1, 2, 4, 4)))
    b = g.builder()
    w = b.const(np.ones((3, 2, 1, 1), np.float32))
    b.conv(x, w, **attrs)


def test_fused_activation_states_its_params() -> None:
    _conv(activation="relu", activation_params=())
    _conv(activation="leaky_relu", activation_params=(0.1,))
    with pytest.raises(CompilerError, match="needs activation_params"):
        _conv(activation="relu")
    with pytest.raises(CompilerError, match="without an activation"):
        _conv(activation_params=())
    with pytest.raises(CompilerError, match="takes 1 params"):
        _conv(activation="leaky_relu", activation_params=())
