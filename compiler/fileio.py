"""Atomic writing of output files, shared by every irforge writer.

A writer opens each of its files through one `AtomicOutputs` transaction: every file goes to a
temporary file in its target's folder (`.NAME.XXXX.tmp`), and only when the whole write succeeded
are they flushed, fsynced and moved onto their targets with `os.replace`. Any failure removes the
temporaries and leaves the targets untouched, so a failed export never leaves a partial or mixed
model (an ONNX file whose external data belongs to another save). Replacing (rather than rewriting)
a file also keeps alive a memory map of the old file, such as the weights of the graph being saved.
"""

from __future__ import annotations

import os
import tempfile
import zipfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import numpy as np

from compiler.errors import CompilerError


class AtomicOutputs:
    """Temporary files for a group of outputs, committed together (see the module docstring)."""

    def __init__(self) -> None:
        self._files: list[tuple[Path, str, IO[bytes]]] = []
        self._stale: list[Path] = []

    def open(self, path: str | os.PathLike[str]) -> IO[bytes]:
        """A binary file to write `path`'s new content to; raises CompilerError if it cannot."""
        target = Path(path)
        try:
            fd, tmp = tempfile.mkstemp(dir=target.parent or ".", prefix=f".{target.name}.",
                                       suffix=".tmp")  # fmt: skip
        except OSError as exc:
            raise CompilerError(f"cannot write {target}: {exc.strerror or exc}") from exc
        handle = os.fdopen(fd, "wb")
        self._files.append((target, tmp, handle))
        return handle

    def remove_on_commit(self, path: str | os.PathLike[str]) -> None:
        """Delete `path` (a stale side file of an earlier save) when the group commits."""
        self._stale.append(Path(path))

    def commit(self) -> None:
        """Flush, fsync and move every temporary file onto its target."""
        mode = _default_mode()
        try:
            for _, tmp, handle in self._files:
                handle.flush()
                os.fsync(handle.fileno())
                handle.close()
                os.chmod(tmp, mode)
        except OSError as exc:
            self.discard()
            raise CompilerError(f"cannot write {self._files[0][0]}: {exc}") from exc
        for target, tmp, _ in self._files:
            os.replace(tmp, target)
        for path in self._stale:
            path.unlink(missing_ok=True)

    def discard(self) -> None:
        """Close and delete every temporary file (the targets stay as they were)."""
        for _, tmp, handle in self._files:
            handle.close()
            Path(tmp).unlink(missing_ok=True)
        self._files.clear()


@contextmanager
def atomic_outputs() -> Iterator[AtomicOutputs]:
    """A transaction over output files: committed when the block succeeds, discarded otherwise."""
    group = AtomicOutputs()
    try:
        yield group
    except BaseException:
        group.discard()
        raise
    group.commit()


def atomic_write(
    path: str | os.PathLike[str], content: bytes | Callable[[IO[bytes]], object]
) -> None:
    """Write `path` atomically: `content` is the bytes, or a function writing to the file."""
    with atomic_outputs() as group:
        handle = group.open(path)
        if isinstance(content, bytes):
            handle.write(content)
        else:
            content(handle)


def write_npz(handle: IO[bytes], arrays: Mapping[str, np.ndarray]) -> None:
    """`np.savez` (uncompressed, no pickle) with fixed zip timestamps: same arrays, same bytes."""
    with zipfile.ZipFile(handle, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
        for key, array in arrays.items():
            info = zipfile.ZipInfo(f"{key}.npy", date_time=_EPOCH)
            with archive.open(info, "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asanyarray(array), allow_pickle=False)


_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest zip timestamp


def _default_mode() -> int:
    """The permissions of a newly created file (mkstemp's are 0600)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


__all__ = ["AtomicOutputs", "atomic_outputs", "atomic_write", "write_npz"]
