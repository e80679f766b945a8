"""Reading ONNX files: bytes to a ModelProto, the model's opset, conversion of very old opsets."""

from __future__ import annotations

import gc
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import onnx
from google.protobuf.message import DecodeError

from compiler.errors import FrontendError
from compiler.location import OnnxLoc

log = logging.getLogger(__name__)
MIN_OPSET = 7
ModelSource = str | os.PathLike[str] | bytes | onnx.ModelProto


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic GC while a graph is built, and file the new objects as old ones.

    An import allocates tens of thousands of long-lived objects; the young-generation collections
    their allocation triggers free nothing yet cost 5-10 % of the import. `freeze` + `unfreeze`
    moves every tracked object to the oldest generation in O(1) and resets the young counts, so
    re-enabling does not scan the new graph at once; a later full collection still sees it.
    Skipped when the process froze objects itself (unfreezing would undo its `gc.freeze`).
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        if gc.get_freeze_count() == 0:
            gc.freeze()
            gc.unfreeze()
        gc.enable()


def read_model(model: ModelSource) -> tuple[onnx.ModelProto, Path | None, str]:
    if isinstance(model, onnx.ModelProto):
        return model, None, model.graph.name or "model"
    if isinstance(model, bytes):
        return _parse(model, "<bytes>"), None, "model"
    path = Path(model)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise FrontendError(f"cannot read ONNX model {str(path)!r}: {exc}") from exc
    return _parse(data, path.name), path.parent, path.name


def _parse(data: bytes, what: str) -> onnx.ModelProto:
    proto = onnx.ModelProto()
    try:
        proto.ParseFromString(data)
    except (DecodeError, RuntimeError, ValueError) as exc:
        raise FrontendError(
            f"{what}: not a valid ONNX model (truncated or corrupt): {exc}"
        ) from exc
    if not proto.HasField("graph"):
        raise FrontendError(f"{what}: not a valid ONNX model (no graph; truncated or empty file?)")
    return proto


def check_names(proto: onnx.ModelProto, what: str) -> None:
    """Every name the importer reads must be text: protobuf hands invalid UTF-8 back as bytes."""
    graph = proto.graph
    try:
        "".join([graph.name, *(imp.domain for imp in proto.opset_import)])
        for group in (graph.input, graph.output, graph.initializer, graph.value_info):
            "".join([x.name for x in group])
        for group in (graph.input, graph.output, graph.value_info):
            "".join([d.dim_param for vi in group for d in vi.type.tensor_type.shape.dim])
    except TypeError:
        raise FrontendError(f"{what}: a graph, tensor or domain name is not valid UTF-8") from None
    try:  # one join over every node's names: the common, valid case costs ~1.5 us a node
        "".join(
            [
                x
                for node in graph.node
                for x in (node.name, node.op_type, node.domain, *node.input, *node.output)
            ]
        )
    except TypeError:
        pass
    else:
        return
    for i, node in enumerate(graph.node):
        try:
            "".join([node.name, node.op_type, node.domain, *node.input, *node.output])
        except TypeError:
            label = node.name if isinstance(node.name, str) and node.name else f"node #{i}"
            raise FrontendError(
                f"{what}: node {label!r} has a name, op type or tensor name that is not valid "
                f"UTF-8", OnnxLoc(what, label),
            ) from None  # fmt: skip


def default_opset(proto: onnx.ModelProto) -> int:
    """The model's default-domain opset (1 when the model does not declare one)."""
    for imp in proto.opset_import:
        if imp.domain in ("", "ai.onnx"):
            return int(imp.version)
    return 1


def ensure_min_opset(proto: onnx.ModelProto, model_name: str) -> onnx.ModelProto:
    opset = default_opset(proto)
    if opset >= MIN_OPSET:
        return proto
    from onnx import version_converter

    log.info("%s: converting opset %d to %d with onnx.version_converter", model_name, opset,
             MIN_OPSET)  # fmt: skip
    try:
        return version_converter.convert_version(proto, MIN_OPSET)
    except Exception as exc:  # noqa: BLE001  the converter raises assorted C++ errors
        raise FrontendError(
            f"{model_name}: opset {opset} is older than {MIN_OPSET} and onnx.version_converter "
            f"could not convert it: {exc}"
        ) from exc
