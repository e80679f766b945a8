"""The emitter: walks the IR in program order and calls one converter per node.

The converter table (`registry.CONVERTERS`) maps an IR op to a function
`convert(em: Emitter, node) -> list[ITensor | None]` (one tensor per node output). The emitter
owns the TensorRT network, the map from IR values to `ITensor`s, the numpy arrays that must stay
alive until the build ends (`keep`), and the helpers every converter shares: constants, casts,
rank alignment by prepending 1s (TensorRT never broadcasts across ranks), and layer naming.

Every layer is named after its IR node (`%out = op`, with `/k` suffixes for helper layers) and
carries the node's source location in `ILayer.metadata`; `layers_of` records IR node -> layers.
After each converter the emitter checks every output's dtype and static dims against the IR
type, so a converter that computes the wrong shape fails at emission, naming the node.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from backends.tensorrt import _trt
from backends.tensorrt.hostvalue import host_value
from compiler.errors import BackendError
from compiler.ir import Node, Value
from compiler.location import Location
from compiler.types import DType

log = logging.getLogger(__name__)


@dataclass
class LayerInfo:
    """One emitted layer: its name, the IR node it implements and that node's location."""

    name: str
    node: str
    op: str
    loc: str


@dataclass
class Emitter:
    """State of one emission (see the module docstring)."""

    trt: Any
    network: Any
    names: dict[Value, str]
    tensors: dict[Value, Any] = field(default_factory=dict)
    keep: list[Any] = field(default_factory=list)
    layers: list[LayerInfo] = field(default_factory=list)
    node: Node | None = None
    _per_node: dict[str, int] = field(default_factory=dict)
    value_names: set[str] = field(default_factory=set)  # tensors named after IR values

    # ---- values ------------------------------------------------------------------------------
    def tensor(self, value: Value) -> Any:
        """The ITensor of an IR value; constants become constant layers on first use."""
        got = self.tensors.get(value)
        if got is not None:
            return got
        array = host_value(value)
        if array is None:
            raise BackendError(f"value %{self.names.get(value, value.name)} has no tensor yet")
        t = self.constant(array, name=self.names[value], node=value.producer)
        self.tensors[value] = t
        return t

    def const(self, value: Value | None) -> np.ndarray | None:
        """The constant array of an input (None when absent or computed at run time)."""
        return None if value is None else host_value(value)

    def dims(self, value: Value) -> tuple[int, ...]:
        """Static dims of an IR value, -1 for symbolic ones."""
        shape = value.type.shape
        if shape is None:
            raise BackendError(f"%{self.names[value]} has unknown rank")
        return tuple(d if isinstance(d, int) else -1 for d in shape)

    def rank(self, value: Value) -> int:
        return len(self.dims(value))

    # ---- layers ------------------------------------------------------------------------------
    def name(self, layer: Any, node: Node | None = None) -> Any:
        """Name `layer` after the current node (helpers get `/k` suffixes); returns it."""
        node = node or self.node
        if layer is None:
            raise BackendError("TensorRT refused a layer (see the builder log)", self._loc())
        base = self._node_name(node)
        k = self._per_node.get(base, 0)
        self._per_node[base] = k + 1
        layer.name = base if k == 0 else f"{base}/{k}"
        loc = _loc_text(node.loc) if node is not None else ""
        layer.metadata = loc
        self.layers.append(LayerInfo(layer.name, base, node.op if node else "", loc))
        return layer

    def _node_name(self, node: Node | None) -> str:
        if node is None:
            return "irforge"
        return f"%{self.names[node.outputs[0]]} = {node.op}"

    def _loc(self) -> Location | None:
        return None if self.node is None else self.node.loc

    def out(self, layer: Any, index: int = 0) -> Any:
        """Output `index` of a freshly added layer, named and attached to the current node."""
        return self.name(layer).get_output(index)

    # ---- helpers -----------------------------------------------------------------------------
    def constant(self, array: np.ndarray, name: str = "", node: Node | None = None) -> Any:
        """A constant layer holding `array` (kept alive until the build ends)."""
        array = _constant_array(array)
        array = array if array.flags.c_contiguous else array.copy()  # keeps 0-d arrays 0-d
        flat = array.reshape(-1)  # a 0-d array does not convert to Weights; its 1-element view does
        self.keep += [array, flat]
        layer = self.network.add_constant(array.shape, flat)
        self.name(layer, node)
        return layer.get_output(0)

    def scalar_like(self, value: float, dtype: DType, rank: int) -> Any:
        """A constant of shape (1,)*rank holding `value` in `dtype` (ready to broadcast)."""
        return self.constant(np.full((1,) * rank, value, dtype=dtype.to_numpy()))

    def cast(self, t: Any, dtype: DType) -> Any:
        """`t` cast to `dtype` (no layer when it already has it)."""
        target = _trt.trt_dtype(self.trt, dtype)
        if t.dtype == target:
            return t
        return self.out(self.network.add_cast(t, target))

    def unsqueeze_front(self, t: Any, rank: int, k: int) -> Any:
        """`t` (of rank `rank`) with `k` leading unit dims."""
        if k <= 0:
            return t
        axes = np.arange(k, dtype=np.int64)
        return self.out(self.network.add_unsqueeze(t, self.constant(axes)))

    def operand(self, value: Value, rank: int) -> Any:
        """The tensor of `value` brought to `rank` by prepending 1s (constants reshaped on the
        host, so they cost no layer)."""
        own = self.rank(value)
        array = host_value(value)
        if array is not None and own < rank:
            return self.constant(np.reshape(array, (1,) * (rank - own) + array.shape))
        return self.unsqueeze_front(self.tensor(value), own, rank - own)

    def operands(self, values: Sequence[Value]) -> list[Any]:
        """Every value brought to the largest rank among them."""
        rank = max(self.rank(v) for v in values)
        return [self.operand(v, rank) for v in values]

    def elementwise(self, a: Any, b: Any, op: str) -> Any:
        return self.out(
            self.network.add_elementwise(a, b, getattr(self.trt.ElementWiseOperation, op))
        )

    def unary(self, t: Any, op: str) -> Any:
        return self.out(self.network.add_unary(t, getattr(self.trt.UnaryOperation, op)))

    def activation(
        self, t: Any, kind: str, alpha: float | None = None, beta: float | None = None
    ) -> Any:
        layer = self.network.add_activation(t, getattr(self.trt.ActivationType, kind))
        if alpha is not None:
            layer.alpha = alpha
        if beta is not None:
            layer.beta = beta
        return self.out(layer)

    def reshape(self, t: Any, dims: Sequence[int], zero_is_placeholder: bool = True) -> Any:
        layer = self.network.add_shuffle(t)
        layer.zero_is_placeholder = zero_is_placeholder
        layer.reshape_dims = tuple(int(d) for d in dims)
        return self.out(layer)

    def reduce(self, t: Any, op: str, axes: Sequence[int], keep: bool) -> Any:
        mask = 0
        for a in axes:
            mask |= 1 << a
        op_enum = getattr(self.trt.ReduceOperation, op)
        return self.out(self.network.add_reduce(t, op_enum, mask, keep))

    def shape_of(self, t: Any) -> Any:
        """The INT64 shape tensor of `t`."""
        return self.out(self.network.add_shape(t))


def _constant_array(array: np.ndarray) -> np.ndarray:
    """`array` in a dtype a TensorRT constant can hold (float64 is narrowed to float32 by the
    caller's choice only; uint8 has no constant)."""
    if array.dtype == np.float64:
        raise BackendError("TensorRT has no float64: convert the model's float64 constants")
    if array.dtype.type not in _trt.CONSTANT_NUMPY:
        raise BackendError(f"TensorRT constants cannot hold {array.dtype}")
    return array


def _loc_text(loc: Location) -> str:
    return "" if loc.is_unknown() else loc.text()
