"""Calibration data: `.npz` files, folders of arrays or images, or any Python iterable.

Every source becomes an iterator of batches of `batch_size` samples (the last may be shorter):
dicts from graph input name to array.

- A `.npz` file: arrays by input name; a single-input model may use any one name (`x`, `arr_0`);
  axis 0 counts the samples.
- A folder: its `.npy`, `.npz` and image files (`.png .jpg .jpeg .bmp .ppm .pgm .tif .tiff`) in
  name order; each file is one sample or a batch of samples (a `.npy` whose rank is the input's
  is a batch; one rank lower is a single sample). Images are decoded with Pillow, converted to the
  input's channel count (1 → grey, 3 → RGB), resized to the input's H×W (bilinear), scaled to
  [0, 1], normalised with `mean`/`std` per channel and laid out NCHW.
- A Python iterable of dicts (input name → array) or of arrays (single-input models).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from compiler.errors import CompilerError
from compiler.types import TensorType

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".ppm", ".pgm", ".tif", ".tiff")
Batch = dict[str, np.ndarray]


@dataclass(frozen=True)
class InputSpec:
    """What the calibration data must feed: one graph input."""

    name: str
    type: TensorType


@dataclass(frozen=True)
class ImageOptions:
    """How images become input arrays: per-channel mean/std applied to [0, 1] pixels."""

    mean: tuple[float, ...] = (0.0,)
    std: tuple[float, ...] = (1.0,)


def batches(
    source: Any,
    inputs: Sequence[InputSpec],
    *,
    batch_size: int = 8,
    limit: int | None = None,
    images: ImageOptions | None = None,
) -> Iterator[Batch]:
    """Batches of calibration data from `source` (see the module docstring).

    Args:
        source: A path (`.npz` file or folder) or an iterable of dicts / arrays.
        inputs: The graph inputs to feed.
        batch_size: Samples per batch.
        limit: Stop after this many samples (None: all).
        images: Image pre-processing (default: [0, 1] pixels).

    Raises:
        CompilerError: an unreadable source, or data that does not fit the inputs.
    """
    if isinstance(source, (str, Path)):
        path = Path(source)
        if path.is_dir():
            stream = _folder(path, inputs, images or ImageOptions())
        elif path.suffix == ".npz":
            stream = _npz(path, inputs)
        else:
            raise CompilerError(f"calibration data {path}: expected a .npz file or a folder")
        yield from _rebatch(stream, batch_size, limit)
        return
    yield from _rebatch((_as_batch(item, inputs) for item in source), batch_size, limit)


def _npz(path: Path, inputs: Sequence[InputSpec]) -> Iterator[Batch]:
    try:
        with np.load(path) as data:
            arrays = {k: data[k] for k in data.files}
    except (OSError, ValueError) as exc:
        raise CompilerError(f"cannot read calibration data {path}: {exc}") from exc
    yield _pick(arrays, inputs, str(path))


def _pick(arrays: Mapping[str, np.ndarray], inputs: Sequence[InputSpec], where: str) -> Batch:
    names = [i.name for i in inputs]
    if all(n in arrays for n in names):
        return {i.name: _fit(arrays[i.name], i, where) for i in inputs}
    if len(inputs) == 1 and len(arrays) == 1:  # a lone array feeds a lone input, by any name
        key = next(iter(arrays))
        return {inputs[0].name: _fit(arrays[key], inputs[0], where)}
    found = ", ".join(arrays) or "none"
    raise CompilerError(f"calibration data {where}: needs arrays named {', '.join(names)} "
                        f"(found: {found})")  # fmt: skip


def _fit(array: np.ndarray, spec: InputSpec, where: str) -> np.ndarray:
    """`array` as a batch of `spec`'s input (a sample one rank lower gains a batch axis)."""
    shape = spec.type.shape or ()
    arr = np.asarray(array)
    if arr.ndim == len(shape) - 1:
        arr = arr[None]
    if arr.ndim != len(shape):
        raise CompilerError(f"calibration data {where}: input {spec.name} expects rank "
                            f"{len(shape)}, got shape {arr.shape}")  # fmt: skip
    for k, (dim, want) in enumerate(zip(arr.shape[1:], shape[1:], strict=True), start=1):
        if isinstance(want, int) and dim != want:
            raise CompilerError(f"calibration data {where}: input {spec.name} dim {k} is "
                                f"{dim}, the model expects {want}")  # fmt: skip
    out = np.ascontiguousarray(arr.astype(spec.type.dtype.to_numpy(), copy=False))
    if out.dtype.kind == "f" and not np.isfinite(out).all():
        bad = int(out.size - np.count_nonzero(np.isfinite(out)))
        raise CompilerError(f"calibration data {where}: input {spec.name} holds {bad} NaN or "
                            f"infinite value(s) of {out.size}")  # fmt: skip
    return out


def check_spread(data: Sequence[Batch]) -> None:
    """Refuse calibration data in which a float input never varies: ranges from it are
    meaningless (e.g. an all-zero array saved under the wrong name)."""
    if not data:
        return
    for name in data[0]:
        arrays = [b[name] for b in data if b[name].size and b[name].dtype.kind == "f"]
        if not arrays:
            continue
        low = min(float(a.min()) for a in arrays)
        high = max(float(a.max()) for a in arrays)
        if low == high:
            count = sum(len(a) for a in arrays)
            raise CompilerError(f"calibration data: input {name} is {low:g} everywhere in all "
                                f"{count} sample(s); calibrate on real inputs")  # fmt: skip


def _folder(path: Path, inputs: Sequence[InputSpec], images: ImageOptions) -> Iterator[Batch]:
    wanted = (".npy", ".npz", *IMAGE_SUFFIXES)
    files = sorted(p for p in path.iterdir() if p.suffix.lower() in wanted)
    if not files:
        raise CompilerError(f"calibration folder {path} holds no .npy, .npz or image files")
    for file in files:
        suffix = file.suffix.lower()
        if suffix == ".npz":
            yield from _npz(file, inputs)
        elif suffix == ".npy":
            yield _pick({"x": _load_npy(file)}, inputs, str(file))
        else:
            if len(inputs) != 1:
                raise CompilerError("image calibration data needs a single-input model")
            yield {inputs[0].name: load_image(file, inputs[0], images)}


def _load_npy(file: Path) -> np.ndarray:
    try:
        return np.load(file, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise CompilerError(f"cannot read calibration data {file}: {exc}") from exc


def load_image(file: Path, spec: InputSpec, options: ImageOptions) -> np.ndarray:
    """One image as a `[1, C, H, W]` batch for an NCHW input (see the module docstring)."""
    try:
        from PIL import Image
    except ImportError as exc:
        raise CompilerError("image calibration data needs Pillow: pip install pillow") from exc
    shape = spec.type.shape or ()
    if len(shape) != 4 or not all(isinstance(d, int) for d in shape[1:]):
        raise CompilerError(f"image calibration: input {spec.name} is not a static NCHW image")
    c, h, w = (int(d) for d in shape[1:])  # type: ignore[arg-type]
    try:
        with Image.open(file) as img:
            fitted = img.convert("L" if c == 1 else "RGB").resize((w, h), Image.Resampling.BILINEAR)
            pixels = np.asarray(fitted, dtype=np.float32) / np.float32(255)
    except OSError as exc:
        raise CompilerError(f"cannot read image {file}: {exc}") from exc
    chw = pixels[None] if pixels.ndim == 2 else pixels.transpose(2, 0, 1)
    mean = np.asarray(options.mean, np.float32).reshape(-1, 1, 1)
    std = np.asarray(options.std, np.float32).reshape(-1, 1, 1)
    return ((chw - mean) / std)[None].astype(spec.type.dtype.to_numpy())


def _as_batch(item: Any, inputs: Sequence[InputSpec]) -> Batch:
    if isinstance(item, Mapping):
        return _pick(item, inputs, "iterable")
    if len(inputs) != 1:
        raise CompilerError("calibration iterable items must be dicts for a multi-input model")
    return {inputs[0].name: _fit(np.asarray(item), inputs[0], "iterable")}


def _rebatch(stream: Iterable[Batch], batch_size: int, limit: int | None) -> Iterator[Batch]:
    """Re-cut a stream of batches into batches of `batch_size` samples (the last may be short)."""
    pending: list[Batch] = []
    held = 0
    for batch in _limit(stream, limit):
        pending.append(batch)
        held += len(next(iter(batch.values())))
        while held >= batch_size:
            whole = _concat(pending)
            yield {k: v[:batch_size] for k, v in whole.items()}
            pending = [{k: v[batch_size:] for k, v in whole.items()}]
            held -= batch_size
    if held:
        yield _concat(pending)


def _concat(parts: list[Batch]) -> Batch:
    return {k: np.concatenate([p[k] for p in parts if len(p[k])]) for k in parts[0]}


def _limit(stream: Iterable[Batch], limit: int | None) -> Iterator[Batch]:
    seen = 0
    for batch in stream:
        if limit is not None and seen >= limit:
            return
        n = len(next(iter(batch.values())))
        if limit is not None and seen + n > limit:
            batch = {k: v[: limit - seen] for k, v in batch.items()}
            n = limit - seen
        seen += n
        yield batch


def count_samples(source: Any) -> int | None:
    """Number of samples of a sized source (a `.npz` file or a sized iterable), else None."""
    if isinstance(source, (str, Path)) and Path(source).suffix == ".npz":
        try:
            with np.load(source) as data:
                return int(len(data[data.files[0]])) if data.files else 0
        except (OSError, ValueError, IndexError):
            return None
    return len(source) if hasattr(source, "__len__") else None


__all__ = ["Batch", "ImageOptions", "InputSpec", "batches", "count_samples", "load_image"]
