"""Layer-wise comparison at fusion boundaries: where does the network first diverge?

Comparing every intermediate would flag values that TensorRT never materializes (they live
inside a fused engine layer). Instead, for each engine layer of a verbose build (in engine
order), take the last IR node it fused (program order): its output is what the engine layer
produces. The interpreted network's value of that IR value (network tensors carry their IR
value's name) is compared with the reference backend's captured intermediate, within the
derived tolerance. `first_divergence` names the first engine layer out of tolerance.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from backends.tensorrt.build import BuildResult


@dataclass(frozen=True)
class Boundary:
    """One fusion boundary: the engine layer, the IR value it ends with, the error."""

    engine_layer: str
    value: str
    error: float
    atol: float

    @property
    def ok(self) -> bool:
        return self.error <= self.atol


def compare_boundaries(
    result: BuildResult,
    feeds: Mapping[str, np.ndarray],
    interpreted: Mapping[str, np.ndarray] | None = None,
) -> list[Boundary]:
    """Every fusion boundary of a verbose build (`BuildOptions(verbose=True)`), compared.

    `interpreted` is `interpret(result.emission.network, feeds, capture=True)` when the caller
    already has it (it is computed otherwise).

    Raises:
        ValueError: the build log has no engine layer information (not a verbose build).
    """
    from backends.numpy import run
    from backends.numpy.tolerance import derive_tolerances, max_abs_error
    from backends.tensorrt.interpreter import interpret
    from backends.tensorrt.layer_map import layer_map

    emission = result.emission
    data = layer_map(result)
    if not data["engine"]:
        raise ValueError("no engine layer information: build with BuildOptions(verbose=True)")
    by_node = {emission.emitter._node_name(n): n for n in emission.graph.nodes}
    order = {name: k for k, name in enumerate(by_node)}
    got = (
        interpreted if interpreted is not None else interpret(emission.network, feeds, capture=True)
    )
    targets = []
    for layer in data["engine"]:
        nodes = [n for n in layer["nodes"] if n in by_node]
        if nodes:
            last = by_node[max(nodes, key=order.__getitem__)]
            targets.append((layer["name"], last.outputs[0]))
    names = [emission.emitter.names[v] for _, v in targets]
    ref = run(emission.graph, feeds, capture=names).captured
    ref.update(run(emission.graph, feeds).outputs)
    tols = derive_tolerances(emission.graph, ref, values=[v for _, v in targets])
    out = []
    for (layer_name, _), name in zip(targets, names, strict=True):
        err = max_abs_error(got[name], ref[name]) if name in got else float("inf")
        out.append(Boundary(layer_name, name, err, tols[name].atol))
    return out


def first_divergence(result: BuildResult, feeds: Mapping[str, np.ndarray]) -> Boundary | None:
    """The first engine layer whose output is out of tolerance, or None."""
    return next((b for b in compare_boundaries(result, feeds) if not b.ok), None)
