"""A NumPy evaluator of a TensorRT `INetworkDefinition` (TENSORRT.md §11-12).

It reads the layers back through the network API (so it checks what was actually emitted, not
what the emitter meant), evaluates them in dependency order over tensor names, and checks every
result against the builder: the shape must equal the builder's `ITensor.shape` (its static dims)
and the dtype must be `trt.nptype(ITensor.dtype)`. Layers or modes it does not cover raise
`NotImplementedError` rather than guess. Per-layer rules live in `interp_layers`.

Where a layer's arithmetic is the same as an IR op's (convolution windows, pooling windows, LRN),
the registry's NumPy kernel of that op computes it; everything else is computed here from the
layer's own attributes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from backends.tensorrt import _trt
from backends.tensorrt.interp_layers import LAYERS

# LayerType name -> the Python class to downcast to (read LayerType before downcasting).
_CLASSES = {
    "CONVOLUTION": "IConvolutionLayer", "DECONVOLUTION": "IDeconvolutionLayer",
    "ACTIVATION": "IActivationLayer", "POOLING": "IPoolingLayer", "LRN": "ILRNLayer",
    "SCALE": "IScaleLayer", "SOFTMAX": "ISoftMaxLayer", "CONCATENATION": "IConcatenationLayer",
    "ELEMENTWISE": "IElementWiseLayer", "UNARY": "IUnaryLayer", "PADDING": "IPaddingLayer",
    "SHUFFLE": "IShuffleLayer", "REDUCE": "IReduceLayer", "TOPK": "ITopKLayer",
    "GATHER": "IGatherLayer", "MATRIX_MULTIPLY": "IMatrixMultiplyLayer",
    "CONSTANT": "IConstantLayer", "IDENTITY": "IIdentityLayer", "SLICE": "ISliceLayer",
    "SHAPE": "IShapeLayer", "PARAMETRIC_RELU": "IParametricReLULayer", "RESIZE": "IResizeLayer",
    "SELECT": "ISelectLayer", "FILL": "IFillLayer", "QUANTIZE": "IQuantizeLayer",
    "DEQUANTIZE": "IDequantizeLayer", "CAST": "ICastLayer", "NORMALIZATION": "INormalizationLayer",
    "SQUEEZE": "ISqueezeLayer", "UNSQUEEZE": "IUnsqueezeLayer", "CUMULATIVE": "ICumulativeLayer",
    "EINSUM": "IEinsumLayer", "SCATTER": "IScatterLayer", "ONE_HOT": "IOneHotLayer",
}  # fmt: skip


class InterpretError(AssertionError):
    """The interpreted value disagrees with the builder (shape or dtype), naming the layer."""


def interpret(
    network: Any,
    feeds: Mapping[str, np.ndarray],
    *,
    capture: bool = False,
) -> dict[str, np.ndarray]:
    """Evaluate `network` on `feeds` (by input name).

    Args:
        network: A TensorRT INetworkDefinition (built or not).
        feeds: One array per network input; cast to the input's dtype.
        capture: Return every tensor by name, not just the network outputs.

    Returns:
        The outputs by name (or every tensor when `capture`).

    Raises:
        InterpretError: a result whose shape or dtype differs from the builder's.
        NotImplementedError: a layer type or mode the interpreter does not cover.
    """
    trt = _trt.load()
    values = _bind_inputs(trt, network, feeds)
    for layer in _dependency_order(network):
        _evaluate(trt, layer, values)
    if capture:
        return values
    outs = (network.get_output(i) for i in range(network.num_outputs))
    return {t.name: values[t.name] for t in outs}


def interpret_forced(
    network: Any,
    feeds: Mapping[str, np.ndarray],
    forced: Mapping[str, np.ndarray],
) -> dict[str, np.ndarray]:
    """Teacher-forced evaluation: every layer reads the given values instead of its own.

    Layers are evaluated in dependency order as in `interpret`; right after a tensor whose name
    is in `forced` is computed, its computed value is recorded and the forced value (cast to the
    tensor's dtype) takes its place, so the next layers read it. Each recorded value is thus
    what that tensor's producing layers compute from exactly the forced inputs: one layer (or
    one chain of helper layers) at a time, with no error carried over from earlier layers.

    Returns:
        The computed value of every forced tensor name the network holds.
    """
    trt = _trt.load()
    values = _bind_inputs(trt, network, feeds)
    computed: dict[str, np.ndarray] = {}
    for layer in _dependency_order(network):
        _evaluate(trt, layer, values)
        for j in range(layer.num_outputs):
            name = layer.get_output(j).name
            if name in forced:
                computed[name] = values[name]
                values[name] = np.asarray(forced[name]).astype(values[name].dtype)
    return computed


def _bind_inputs(trt: Any, network: Any, feeds: Mapping[str, np.ndarray]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for i in range(network.num_inputs):
        t = network.get_input(i)
        if t.name not in feeds:
            raise KeyError(f"no value for network input {t.name!r}")
        array = np.asarray(feeds[t.name]).astype(_trt.numpy_dtype(trt, t.dtype))
        _check(t, array, f"input {t.name}")
        values[t.name] = array
    return values


def _dependency_order(network: Any) -> list[Any]:
    """Layers in an order where every input is computed first (insertion order is not
    necessarily topological: `set_input` may point at a later layer)."""
    layers = [network.get_layer(i) for i in range(network.num_layers)]
    producer = {}
    for k, layer in enumerate(layers):
        for j in range(layer.num_outputs):
            producer[layer.get_output(j).name] = k
    order: list[int] = []
    state = [0] * len(layers)  # 0 new, 1 in progress, 2 done
    for start in range(len(layers)):
        _visit(start, layers, producer, state, order)
    return [layers[k] for k in order]


def _visit(start: int, layers: list[Any], producer: dict[str, int], state: list[int],
           order: list[int]) -> None:  # fmt: skip
    stack = [(start, False)]
    while stack:
        k, expanded = stack.pop()
        if expanded:
            state[k] = 2
            order.append(k)
            continue
        if state[k]:
            continue
        state[k] = 1
        stack.append((k, True))
        for j in range(layers[k].num_inputs):
            t = layers[k].get_input(j)
            dep = producer.get(t.name) if t is not None else None
            if dep is not None and state[dep] == 0:
                stack.append((dep, False))


def _evaluate(trt: Any, layer: Any, values: dict[str, Any]) -> None:
    kind = layer.type.name
    fn = LAYERS.get(kind)
    if fn is None:
        raise NotImplementedError(f"layer {layer.name!r}: {kind} is not interpreted")
    layer.__class__ = getattr(trt, _CLASSES[kind])
    inputs = []
    for j in range(layer.num_inputs):
        t = layer.get_input(j)
        inputs.append(None if t is None else values[t.name])
    results = fn(trt, layer, inputs)
    for j, array in enumerate(results):
        t = layer.get_output(j)
        array = np.asarray(array)
        _check(t, array, f"layer {layer.name!r} ({kind}) output {j}")
        values[t.name] = array


def _check(t: Any, array: np.ndarray, what: str) -> None:
    dims = tuple(t.shape)
    want = np.dtype(_trt.numpy_dtype(_trt.load(), t.dtype))
    if array.dtype != want:
        raise InterpretError(f"{what}: dtype {array.dtype}, the builder says {want}")
    same_rank = len(dims) == array.ndim
    if not same_rank or any(d >= 0 and d != s for d, s in zip(dims, array.shape, strict=False)):
        raise InterpretError(f"{what}: shape {array.shape}, the builder says {dims}")
