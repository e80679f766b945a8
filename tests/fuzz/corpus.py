"""Seed inputs of the fuzzer: the MATERIAL models, ONNX node-test models and their printed IR.

Every seed is loaded once per process and cached; mutators work on copies. `transformer64` is
used as a sliced copy (its first nodes, the initializers they read) so that a case stays cheap;
`transformer64_full` is the whole model, for the long campaign.
"""

from __future__ import annotations

import functools
import shutil
import tempfile
from pathlib import Path

import numpy as np
import onnx

from tests.material import LIGHT, MODELS, model_path

MATERIAL = (
    "mnist_cnn_raw", "mnist_cnn", "effnet_lite0_legacy", "resnet200", "resnet200_noisy",
    "transformer64", *LIGHT,
)  # fmt: skip
# Seeds whose graph is small enough to print as text and to optimize in every case.
TEXT_SEEDS = (
    "mnist_cnn_raw", "mnist_cnn", "effnet_lite0_legacy", "light_bvlc_alexnet",
    "light_inception_v1", "light_resnet50", "light_shufflenet", "light_squeezenet",
    "light_vgg19", "light_zfnet512", "transformer64",
)  # fmt: skip
TRANSFORMER_SLICE = 400


@functools.cache
def seed_model(name: str) -> onnx.ModelProto | None:
    """The seed ModelProto named `name` (`node:<test>` for an ONNX node test); None if absent."""
    if name.startswith("node:"):
        return onnx.load(str(_node_dir() / f"{name[5:]}.onnx"))
    if name == "transformer64":
        full = seed_model("transformer64_full")
        return None if full is None else _slice(full, TRANSFORMER_SLICE)
    path = model_path("transformer64" if name == "transformer64_full" else name)
    if path is None or not path.exists():
        return None
    return onnx.load(str(path))


@functools.cache
def seed_bytes(name: str) -> bytes:
    model = seed_model(name)
    assert model is not None, name
    return model.SerializeToString()


def _slice(model: onnx.ModelProto, count: int) -> onnx.ModelProto:
    """The first `count` nodes of `model`, the initializers they read, the last node's outputs."""
    out = onnx.ModelProto()
    out.CopyFrom(model)
    graph = out.graph
    del graph.node[count:]
    used = {name for node in graph.node for name in node.input}
    keep = [t for t in graph.initializer if t.name in used]
    del graph.initializer[:]
    graph.initializer.extend(keep)
    del graph.value_info[:]
    del graph.output[:]
    graph.output.extend(onnx.ValueInfoProto(name=x) for x in graph.node[-1].output if x)
    return out


def _node_dir() -> Path:
    """The node-test models with registered ops only, generated once into the material cache
    (`load_node_model_tests` builds every case in memory: seconds per process otherwise)."""
    target = MODELS.parent / "fuzz_node_models"
    if target.is_dir():
        return target
    from onnx.backend.test.loader import load_node_model_tests

    from compiler.registry import find_onnx_op

    tmp = Path(tempfile.mkdtemp(prefix="fuzz_node_models.", dir=MODELS.parent))
    for case in load_node_model_tests():
        model = case.model
        if model is None or {imp.domain for imp in model.opset_import} - {"", "ai.onnx"}:
            continue
        if all(find_onnx_op(n.op_type, n.domain) is not None or n.op_type == "Constant"
               for n in model.graph.node):  # fmt: skip
            (tmp / f"{case.name}.onnx").write_bytes(model.SerializeToString())
    try:
        tmp.rename(target)
    except OSError:  # another process made it first
        shutil.rmtree(tmp, ignore_errors=True)
    return target


@functools.cache
def node_seeds() -> tuple[str, ...]:
    """`node:<test>` seeds whose model uses only registered ops and no subgraphs (sorted)."""
    return tuple(sorted(f"node:{p.stem}" for p in _node_dir().glob("*.onnx")))


def available(names: tuple[str, ...]) -> tuple[str, ...]:
    """The seeds of `names` that exist here (the real models need torch to be generated)."""
    return tuple(n for n in names if seed_model(n) is not None)


@functools.cache
def seed_text(name: str) -> tuple[str, dict[str, np.ndarray]]:
    """The printed IR of a seed graph, and the resources its large tensors refer to."""
    import compiler
    from compiler.text import print_graph_with_resources

    model = seed_model(name)
    assert model is not None, name
    return print_graph_with_resources(compiler.load(model))
