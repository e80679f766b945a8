"""Provenance: IR node -> TensorRT layers, and fused engine layers -> source nodes.

Every network layer is named after its IR node (`%out = op`, `/k` for helper layers) and its
`metadata` holds the node's location text (`"model.onnx":"Conv_0"`, `fused[...]`). A build with
`BuildOptions(verbose=True)` (DETAILED profiling verbosity) logs the engine's layers after
fusion (the `Layers:` block of the engine layer information), each with a name and the metadata
of the network layers it fused. `layer_map(result)` joins both: for every engine layer, the IR
nodes whose layer names appear in its name or whose locations appear in its metadata.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from backends.tensorrt.build import BuildResult

_LAYER_LINE = re.compile(r"^Name: (?P<name>.*?), LayerType: (?P<type>[^,]*),")
_ONNX_LOC = re.compile(r'"(?:[^"\\]|\\.)*":"(?:[^"\\]|\\.)*"')


@dataclass
class EngineLayer:
    """One layer of the built engine (after fusion)."""

    name: str
    type: str
    metadata: str
    nodes: list[str] = field(default_factory=list)


def engine_layers(log: list[tuple[str, str]]) -> list[EngineLayer]:
    """The engine layers listed in a verbose build log (empty when the log has none)."""
    out: list[EngineLayer] = []
    for _, message in log:
        if not message.startswith("Layers:"):
            continue
        for line in message.splitlines()[1:]:
            m = _LAYER_LINE.match(line)
            if m is None:
                continue
            meta = line.rsplit("Metadata:", 1)[1].strip() if "Metadata:" in line else ""
            out.append(EngineLayer(m["name"], m["type"], meta))
    return out


def _loc_index(result: BuildResult) -> dict[str, list[str]]:
    """Leaf location text -> IR nodes carrying it."""
    index: dict[str, list[str]] = {}
    for node in result.emission.graph.nodes:
        if node.op == "const":
            continue
        name = result.emission.emitter._node_name(node)
        for loc in node.loc.origins():
            index.setdefault(loc.text(), []).append(name)
    return index


def _sources(layer: EngineLayer, names: list[str], locs: dict[str, list[str]]) -> list[str]:
    found = [n for n in names if n in layer.name]
    for text in _ONNX_LOC.findall(layer.metadata):
        found += locs.get(text, [])
    for text, nodes in locs.items():
        if not text.startswith('"') and text in layer.metadata:  # non-ONNX locations
            found += nodes
    return list(dict.fromkeys(found))


def layer_map(result: BuildResult) -> dict[str, Any]:
    """The JSON-ready provenance map of a build (see the module docstring)."""
    nodes: dict[str, dict[str, Any]] = {}
    for info in result.emission.layers:
        entry = nodes.setdefault(info.node, {"op": info.op, "loc": info.loc, "layers": []})
        entry["layers"].append(info.name)
    locs = _loc_index(result)
    names = sorted(nodes, key=len, reverse=True)
    engine = engine_layers(result.log)
    for layer in engine:
        layer.nodes = _sources(layer, names, locs)
    return {
        "network_layers": len(result.emission.layers),
        "engine_layers": len(engine),
        "nodes": nodes,
        "engine": [vars(e) for e in engine],
    }
