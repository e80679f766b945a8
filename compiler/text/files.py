"""Saving and loading textual IR with its large tensors in a side file.

`save_text(graph, "m.ir")` writes `m.ir` and, when some tensors print as `resource<"name">`,
`m.ir.npz`: an uncompressed npz (no pickle) holding each tensor's raw bytes as a `uint8` array
plus a JSON index (`name`, element type, shape), so every dtype - bf16, float8, int4 included -
round-trips bit-exactly. Both files are written atomically, together (`compiler.fileio`).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import IO

import numpy as np

from compiler.errors import ParseError
from compiler.fileio import atomic_outputs, write_npz
from compiler.graph import Graph
from compiler.text.parser import parse_graph
from compiler.text.printer import print_graph_with_resources
from compiler.text.syntax import tensor_dtype
from compiler.types import DType

_INDEX = "index"
_FORMAT = "irforge-resources-1"


def side_file(path: str | os.PathLike[str]) -> Path:
    """The resource file that goes with a text file: `path` + `.npz`."""
    return Path(os.fspath(path) + ".npz")


def save_text(graph: Graph, path: str | os.PathLike[str], *, inline_limit: int = 16) -> None:
    """Write `graph` as text to `path`, its large tensors to `side_file(path)` when there are any.

    A stale side file from an earlier save is removed when the graph has no resources.
    """
    text, resources = print_graph_with_resources(graph, inline_limit=inline_limit)
    side = side_file(path)
    with atomic_outputs() as group:
        if resources:
            _write_npz(group.open(side), resources)
        elif side.exists():
            group.remove_on_commit(side)
        group.open(path).write(text.encode("utf-8", "surrogatepass"))


def load_text(path: str | os.PathLike[str]) -> Graph:
    """Read a graph written by `save_text` (or by hand), with its side file when present.

    Raises:
        ParseError: for bad text (located in `path`) or an unreadable side file.
    """
    text = Path(path).read_bytes().decode("utf-8", "surrogatepass")
    side = side_file(path)
    resources = read_resources(side) if side.exists() else None
    return parse_graph(text, resources=resources, filename=os.fspath(path))


def _write_npz(f: IO[bytes], resources: dict[str, np.ndarray]) -> None:
    entries = []
    arrays: dict[str, np.ndarray] = {}
    for k, (name, array) in enumerate(sorted(resources.items())):
        key = f"r{k}"
        dtype = tensor_dtype(array)
        entries.append({"name": name, "key": key, "dtype": dtype.short, "shape": list(array.shape)})
        arrays[key] = np.frombuffer(_raw_bytes(array, dtype), dtype=np.uint8)
    index = {"format": _FORMAT, "byteorder": sys.byteorder, "resources": entries}
    arrays[_INDEX] = np.frombuffer(json.dumps(index).encode(), dtype=np.uint8)
    write_npz(f, arrays)


def _raw_bytes(array: np.ndarray, dtype: DType) -> bytes:
    if dtype == DType.STRING:
        items = [x.decode() if isinstance(x, bytes) else str(x) for x in array.reshape(-1).tolist()]
        return json.dumps(items).encode()
    return np.ascontiguousarray(array).tobytes()


def read_resources(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Read a side file written by `save_text`: name -> read-only array."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            index = json.loads(npz[_INDEX].tobytes())
            if index.get("format") != _FORMAT or index.get("byteorder") != sys.byteorder:
                raise ValueError(f"unsupported format or byte order: {index.get('format')}")
            return {e["name"]: _decode(npz[e["key"]].tobytes(), e) for e in index["resources"]}
    except (OSError, ValueError, KeyError) as exc:
        raise ParseError(f"cannot read resource file {os.fspath(path)}: {exc}") from exc


def _decode(raw: bytes, entry: dict) -> np.ndarray:  # type: ignore[type-arg]
    dtype = DType.from_short(entry["dtype"])
    shape = tuple(entry["shape"])
    if dtype == DType.STRING:
        array = np.array(json.loads(raw), dtype=object).reshape(shape)
        array.flags.writeable = False
        return array
    return np.frombuffer(raw, dtype=dtype.to_numpy()).reshape(shape)


__all__ = ["load_text", "read_resources", "save_text", "side_file"]
