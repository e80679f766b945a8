"""Layer-wise comparison at fusion boundaries (issue item 9) on a deep real model.

resnet200 is built verbosely (the engine layer information lists ~200 fused engine layers) and
`compare_boundaries` compares, for each engine layer, the value of the last IR node it fused
(what the engine materializes) between the interpreted network and the reference. A fault is
then planted in the network itself: the kernel of one output channel of the 120th convolution
scaled by 1.01 (a 1% error in one channel, as a wrong BN-folding scale of one channel would
make). The channel is the one with the largest bias, so that it is alive after the ReLU: that
convolution's channel 0 is zero after its ReLU on these inputs, so a fault there changes nothing
and is rightly not reported. The
comparison must point at exactly the engine layer that fused that convolution, with every
boundary before it still in tolerance.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from _trtcheck import requires_trt
from test_trt_models import feeds_for

import compiler
from backends.tensorrt.build import BuildOptions, build_plan
from backends.tensorrt.layer_compare import compare_boundaries, first_divergence

pytestmark = [requires_trt, pytest.mark.slow]


def test_planted_fault_in_resnet200_is_located(material: Any) -> None:
    graph = compiler.load(material("resnet200"))
    compiler.optimize(graph, "default")
    result = build_plan(graph, BuildOptions(verbose=True))
    feeds = feeds_for(graph)
    clean = compare_boundaries(result, feeds)
    assert len(clean) >= 200 and all(b.ok for b in clean)
    assert len({b.value for b in clean}) == len(clean)  # one materialized value per engine layer

    net, trt = result.emission.network, result.emission.trt
    convs = [net.get_layer(i) for i in range(net.num_layers)
             if net.get_layer(i).type == trt.LayerType.CONVOLUTION]  # fmt: skip
    target = convs[119]
    target.__class__ = trt.IConvolutionLayer
    kernel = np.asarray(target.kernel).copy()
    rows = kernel.reshape(target.num_output_maps, -1)  # a view: edits land in `kernel`
    rows[int(np.argmax(np.asarray(target.bias)))] *= np.float32(1.01)
    result.emission.emitter.keep.append(kernel)
    target.kernel = kernel
    bad = first_divergence(result, feeds)
    assert bad is not None
    node_value = target.name.split(" = ")[0]  # the layer is named "%<IR value> = conv"
    owner = [b for b in clean if node_value.lstrip("%") in _fused_values(result, b.engine_layer)]
    assert owner and bad.engine_layer == owner[0].engine_layer, (bad, node_value)
    before = clean[: [b.engine_layer for b in clean].index(bad.engine_layer)]
    assert len(before) >= 100 and all(b.ok for b in before)


def _fused_values(result: Any, engine_layer: str) -> set[str]:
    """Printed IR values of the nodes fused into one engine layer."""
    from backends.tensorrt.layer_map import layer_map

    emitter = result.emission.emitter
    by_node = {emitter._node_name(n): n for n in result.emission.graph.nodes}
    for layer in layer_map(result)["engine"]:
        if layer["name"] == engine_layer:
            return {emitter.names[by_node[n].outputs[0]] for n in layer["nodes"] if n in by_node}
    return set()
