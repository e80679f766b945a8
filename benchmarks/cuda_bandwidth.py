"""Host<->device copy bandwidth of irforge's CUDA device layer (`backends.tensorrt.cuda`),
pinned vs pageable, with CuPy's and torch's copies side by side in the same run.

For each size (powers of two, 1 MiB .. 1 GiB): host->device and device->host copies from/to a
pinned buffer and from/to a pageable numpy array. Each copy is queued on a stream and waited
for; the time is wall clock around (copy + synchronize), the median of `--repeats` runs after
one warm-up, implementations interleaved run by run. Ours is also timed with CUDA events
recorded on the stream just before and after the copy. After the pinned H2D runs the device
buffer is read back and compared bit-exactly with the host data. Prints a markdown section
(command, device, versions, table) and appends it to `--out` when given.

    python benchmarks/cuda_bandwidth.py [--max-mib 1024] [--repeats 9] [--out FILE.md]
"""

from __future__ import annotations

import argparse
import datetime
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO)]

from backends.tensorrt import cuda  # noqa: E402

MiB = 1 << 20
Copy = Callable[[], None]


def ours(nbytes: int, host: np.ndarray) -> tuple[dict[Any, Copy], Any, Copy, Copy]:
    """Copies of the device layer by (memory, direction), their event timer, a check, cleanup."""
    stream, dev = cuda.Stream(), cuda.DeviceBuffer(nbytes)
    pin = cuda.PinnedBuffer(nbytes)
    pin.view()[...] = host

    queued: dict[Any, Copy] = {
        ("pinned", "H2D"): lambda: cuda.to_device(dev, pin, stream=stream),
        ("pinned", "D2H"): lambda: cuda.to_host(pin, dev, stream=stream),
        ("pageable", "H2D"): lambda: cuda.to_device(dev, host, stream=stream),
        ("pageable", "D2H"): lambda: cuda.to_host(host, dev, stream=stream),
    }

    def waited(fn: Copy) -> Copy:
        def go() -> None:
            fn()
            stream.synchronize()

        return go

    copies = {key: waited(fn) for key, fn in queued.items()}
    start, end = cuda.Event(), cuda.Event()

    def events(key: tuple[str, str]) -> float:
        start.record(stream)
        queued[key]()
        end.record(stream)
        end.synchronize()
        return cuda.elapsed_ms(start, end) / 1e3

    def check() -> None:
        back = np.zeros_like(host)
        cuda.to_host(back, dev)
        assert bytes(back.data) == bytes(host.data), "round trip not bit-exact"

    def close() -> None:
        for item in (start, end, stream):
            item.close()
        dev.free()
        pin.free()

    return copies, events, check, close


def cupy_copies(nbytes: int, host: np.ndarray) -> tuple[dict[Any, Copy], Callable[[], None]]:
    import cupy as cp
    import cupyx

    stream, dev = cp.cuda.Stream(non_blocking=True), cp.empty(nbytes, cp.uint8)
    pin = cupyx.empty_pinned((nbytes,), np.uint8)
    pin[...] = host

    def sync(fn: Callable[[], Any]) -> Copy:
        return lambda: (fn(), stream.synchronize())[0]

    copies = {
        ("pinned", "H2D"): sync(lambda: dev.set(pin, stream=stream)),
        ("pinned", "D2H"): sync(lambda: dev.get(stream=stream, out=pin)),
        ("pageable", "H2D"): sync(lambda: dev.set(host, stream=stream)),
        ("pageable", "D2H"): sync(lambda: dev.get(stream=stream, out=host)),
    }
    return copies, lambda: None


def torch_copies(nbytes: int, host: np.ndarray) -> tuple[dict[Any, Copy], Callable[[], None]]:
    import torch

    dev = torch.empty(nbytes, dtype=torch.uint8, device="cuda")
    pin = torch.empty(nbytes, dtype=torch.uint8, pin_memory=True)
    page = torch.from_numpy(host)
    pin.copy_(page)
    sync = torch.cuda.current_stream().synchronize

    def op(dst: Any, src: Any) -> Copy:
        return lambda: (dst.copy_(src, non_blocking=True), sync())[0]

    copies = {
        ("pinned", "H2D"): op(dev, pin), ("pinned", "D2H"): op(pin, dev),
        ("pageable", "H2D"): op(dev, page), ("pageable", "D2H"): op(page, dev),
    }  # fmt: skip
    return copies, lambda: None


def wall(fn: Copy) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def measure_size(nbytes: int, repeats: int, peers: list[str]) -> list[list[str]]:
    host = np.random.default_rng(nbytes).integers(0, 256, nbytes, dtype=np.uint8)
    mine, events, check, close = ours(nbytes, host)
    impls: dict[str, dict[Any, Copy]] = {"ours": mine}
    makers = {"cupy": cupy_copies, "torch": torch_copies}
    for peer in peers:
        impls[peer] = makers[peer](nbytes, host)[0]
    rows = []
    for key in mine:
        times: dict[str, list[float]] = {name: [] for name in [*impls, "events"]}
        for name in impls:
            impls[name][key]()  # warm-up
        for _ in range(repeats):
            for name, copies in impls.items():
                times[name].append(wall(copies[key]))
            times["events"].append(events(key))
        if key == ("pinned", "H2D"):
            check()  # the device holds the host data: the H2D copies were complete and exact
        gbps = {name: nbytes / statistics.median(t) / 1e9 for name, t in times.items()}
        row = [str(nbytes // MiB), key[0], key[1], f"{gbps['ours']:.2f}", f"{gbps['events']:.2f}"]
        for peer in peers:
            row += [f"{gbps[peer]:.2f}", f"{gbps['ours'] / gbps[peer]:.3f}"]
        rows.append(row)
    close()
    return rows


def versions(peers: list[str]) -> str:
    import importlib

    bindings = importlib.import_module("cuda.bindings")
    parts = [f"cuda-bindings {bindings.__version__}", f"numpy {np.__version__}",
             f"Python {platform.python_version()}"]  # fmt: skip
    for peer in peers:
        module = __import__(peer)
        parts.append(f"{peer} {module.__version__}")
    return ", ".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--min-mib", type=int, default=1)
    parser.add_argument("--max-mib", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--peers", default="cupy,torch", help="comma list of cupy, torch or ''")
    parser.add_argument("--out", type=Path, help="append the markdown section to this file")
    args = parser.parse_args()
    peers = [p for p in args.peers.split(",") if p]
    dev = cuda.device_info()
    head = [
        f"## {datetime.date.today()} — `python {' '.join(sys.argv)}`",
        "",
        f"Device: {dev['name']} (compute capability {dev['capability']}, "
        f"{dev['memory_total'] / 2**30:.1f} GiB); CUDA driver {dev['driver']}, runtime "
        f"{dev['runtime']}; {versions(peers)}; {platform.node()} {platform.machine()}.",
        "",
        f"GB/s = 10^9 bytes/s; wall = median of {args.repeats} runs of (copy queued on a "
        "stream + synchronize), after one warm-up; events = ours timed by CUDA events recorded "
        "on the stream around the copy (median of the same runs).",
        "",
    ]
    cols = ["MiB", "host memory", "dir", "ours GB/s", "ours events GB/s"]
    for peer in peers:
        cols += [f"{peer} GB/s", f"ours/{peer}"]
    lines = [*head, "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    print("\n".join(lines), flush=True)
    size = args.min_mib
    while size <= args.max_mib:
        for row in measure_size(size * MiB, args.repeats, peers):
            lines.append("| " + " | ".join(row) + " |")
            print(lines[-1], flush=True)
        size *= 2
    if args.out is not None:
        with args.out.open("a") as handle:
            handle.write("\n".join(lines) + "\n\n")


if __name__ == "__main__":
    main()
