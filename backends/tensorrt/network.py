"""IR graph -> TensorRT `INetworkDefinition`, through the converter table.

`emit(graph)` checks every node first (`capability.check_graph`: all unsupported nodes are
reported at once, before any layer is added), then creates a strongly typed network, adds the
graph inputs (symbolic dims become -1), converts the nodes in program order and marks the graph
outputs under their IR names. The result keeps the builder, the network and every weight array
alive: pass it to `build.build_plan`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from backends.tensorrt import _trt
from backends.tensorrt.emitter import Emitter, LayerInfo
from backends.tensorrt.hostvalue import host_value, reset
from compiler.errors import BackendError
from compiler.graph import Graph
from compiler.ir import Node, Value


@dataclass
class Emission:
    """An emitted network with everything that must outlive its build."""

    trt: Any
    logger: Any
    builder: Any
    network: Any
    emitter: Emitter
    graph: Graph

    @property
    def layers(self) -> list[LayerInfo]:
        return self.emitter.layers

    @property
    def input_names(self) -> list[str]:
        return [self.emitter.names[v] for v in self.graph.inputs]

    @property
    def output_names(self) -> list[str]:
        return [self.network.get_output(i).name for i in range(self.network.num_outputs)]


def emit(graph: Graph, logger: Any = None) -> Emission:
    """Emit `graph` as a TensorRT network.

    Args:
        graph: A verified graph (run a pipeline such as `default` or `trt-fp16` first).
        logger: A TensorRT ILogger (default: `build.RecordingLogger`).

    Raises:
        UnsupportedOpError: listing every node that cannot be converted.
        BackendError: TensorRT is missing, or a layer's inferred shape/dtype differs from the IR.
    """
    from backends.tensorrt.build import RecordingLogger
    from backends.tensorrt.capability import check_graph
    from compiler.text.printer import Namer, graph_values

    check_graph(graph)
    reset()
    trt = _trt.load()
    logger = logger if logger is not None else RecordingLogger(trt)
    builder = trt.Builder(logger)
    network = builder.create_network(0)
    namer = Namer(graph_values(graph))
    names = {v: namer.name(v) for v in namer.values}
    em = Emitter(trt, network, names)
    _add_inputs(em, graph)
    for node in graph.nodes:
        if not folded(node):
            _convert(em, node)
    _mark_outputs(em, graph)
    return Emission(trt, logger, builder, network, em, graph)


def folded(node: Node) -> bool:
    """Whether every output of `node` is known at build time (it becomes constants on use)."""
    return all(host_value(v) is not None for v in node.outputs)


def _add_inputs(em: Emitter, graph: Graph) -> None:
    for value in graph.inputs:
        try:
            dtype = _trt.trt_dtype(em.trt, value.type.dtype)
        except KeyError:
            raise BackendError(
                f"input %{em.names[value]} has type {value.type.dtype.short}, which TensorRT "
                "lacks (convert it on the host)"
            ) from None
        em.tensors[value] = em.network.add_input(em.names[value], dtype, em.dims(value))


def _convert(em: Emitter, node: Node) -> None:
    from backends.tensorrt.registry import CONVERTERS

    em.node = node
    results = CONVERTERS[node.op].convert(em, node)
    for value, t in zip(node.outputs, results, strict=False):
        if t is None:
            continue
        _check_output(em, node, value, t)
        if t.name not in em.value_names:  # a tensor carries its (first) IR value's name
            t.name = em.names[value]
            em.value_names.add(t.name)
        em.tensors[value] = t
    em.node = None


def _check_output(em: Emitter, node: Node, value: Value, t: Any) -> None:
    want = _trt.trt_dtype(em.trt, value.type.dtype)
    try:
        got = tuple(t.shape)
    except RuntimeError as exc:
        raise BackendError(
            f"TensorRT could not infer the shape of %{em.names[value]} = {node.op}(...)", node.loc
        ) from exc
    dims = em.dims(value)
    pairs = zip(dims, got, strict=False)
    bad = len(got) != len(dims) or any(d >= 0 and g >= 0 and d != g for d, g in pairs)
    if bad or t.dtype != want:
        raise BackendError(
            f"converter of {node.op} made %{em.names[value]} {t.dtype.name}{list(got)}, "
            f"the IR says {value.type}",
            node.loc,
        )


def _mark_outputs(em: Emitter, graph: Graph) -> None:
    marked: set[str] = set()
    for value in graph.outputs:
        t = em.tensor(value)
        if t.is_network_input or t.name in marked or host_value(value) is not None:
            em.node = value.producer
            t = em.out(em.network.add_identity(t))
        t.name = em.names[value]
        em.network.mark_output(t)
        marked.add(t.name)
    em.node = None
