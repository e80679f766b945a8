"""Fusion-boundary comparison: a correct network agrees everywhere; a corrupted conv kernel is
found at the first engine layer that contains it."""

from __future__ import annotations

from typing import Any

import numpy as np
from _trtcheck import requires_trt
from test_trt_models import feeds_for

import compiler
from backends.tensorrt.build import BuildOptions, build_plan
from backends.tensorrt.layer_compare import compare_boundaries, first_divergence

pytestmark = requires_trt


def test_boundaries_agree_then_point_at_a_corrupted_conv(material: Any) -> None:
    graph = compiler.load(material("mnist_cnn"))
    compiler.optimize(graph, "default")
    result = build_plan(graph, BuildOptions(verbose=True))
    feeds = feeds_for(graph)
    boundaries = compare_boundaries(result, feeds)
    assert len(boundaries) >= 6 and all(b.ok for b in boundaries)
    assert first_divergence(result, feeds) is None
    net, trt = result.emission.network, result.emission.trt
    convs = [net.get_layer(i) for i in range(net.num_layers)
             if net.get_layer(i).type == trt.LayerType.CONVOLUTION]  # fmt: skip
    third = convs[2]
    third.__class__ = trt.IConvolutionLayer
    kernel = np.asarray(third.kernel).copy()
    kernel[::7] += 0.5
    result.emission.emitter.keep.append(kernel)
    third.kernel = kernel
    bad = first_divergence(result, feeds)
    assert bad is not None and third.name.split("/")[0] in bad.engine_layer
