"""Host<->device copy bandwidth of irforge's CUDA device layer (`backends.tensorrt.cuda`),
pinned vs pageable, with CuPy's and torch's copies side by side in the same run.

For each size (powers of two, 1 MiB .. 1 GiB): host->device and device->host copies from/to a
pinned buffer and from/to a pageable numpy array. Each copy is queued on a stream and waited
for; the time is wall clock around (copy + synchronize), the median of `--repeats` runs after
one warm-up, implementations interleaved run by run. Ours is also timed with CUDA events
recorded on the stream just before and after the copy. After the pinned H2D runs the device
buffer is read back and compared bit-exactly with the host data. Prints a markdown section
(command, device, versions, table) and appends it to `--out` when given.

    python benchmarks/cuda_bandwidth.py [--max-mib 1024] [--repeats 9] [--out FILE.md] [--record]

`--record` stores the run as benchmarks/results/cuda.json (read by benchmarks/report.py);
`--if-gpu` exits 0 with a note when there is no CUDA device (so `make bench` runs anywhere);
`--from-md FILE` instead converts the last table of a recorded markdown run (cuda.md) into
cuda.json, labelled as transcribed, with the run's date and device from its heading.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import platform
import re
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "benchmarks")]

from benchinfo import RESULTS_DIR, Record, write_json  # noqa: E402

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
    parser.add_argument("--record", action="store_true", help="store results/cuda.json")
    parser.add_argument("--if-gpu", action="store_true", help="without a CUDA device: note, exit 0")
    parser.add_argument("--from-md", type=Path, help="convert a recorded markdown run to JSON")
    args = parser.parse_args()
    if args.from_md:
        print(f"wrote {write_json(RESULTS_DIR / 'cuda.json', from_markdown(args.from_md))}")
        return
    reason = cuda.gpu_skip_reason()
    if reason is not None and args.if_gpu:
        print(f"cuda_bandwidth: skipped ({reason}); RESULTS.md shows the last recorded run")
        return
    run = Record("cuda", ["cuda-bindings", "cupy", "torch"])
    peers = [p for p in args.peers.split(",") if p and importlib.util.find_spec(p) is not None]
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
    if args.record:
        device = f"{dev['name']} (compute capability {dev['capability']})"
        cases = table_cases(lines)
        run.write(cases, cuda_summary(cases), {"repeats": args.repeats, "peers": peers,
                                               "max_mib": args.max_mib}, device=device)  # fmt: skip


def table_cases(lines: list[str]) -> list[dict[str, Any]]:
    """The rows of a bandwidth table (markdown lines) as figures."""
    rows = [[c.strip() for c in line.strip().strip("|").split("|")] for line in lines
            if line.startswith("|")]  # fmt: skip
    head, body = rows[0], [r for r in rows[2:] if len(r) == len(rows[0])]
    peers = [h.removesuffix(" GB/s") for h in head[5::2]]
    cases = []
    for r in body:
        case: dict[str, Any] = {"mib": int(r[0]), "memory": r[1], "dir": r[2],
                                "ours_gbps": float(r[3]), "events_gbps": float(r[4])}  # fmt: skip
        for i, peer in enumerate(peers):
            case[f"{peer}_gbps"] = float(r[5 + 2 * i])
            case[f"ours_over_{peer}"] = float(r[6 + 2 * i])
        cases.append(case)
    return cases


def cuda_summary(cases: list[dict[str, Any]]) -> dict[str, Any]:
    """Pinned GB/s at the largest size, pinned/pageable there, ours/peer ranges from 4 MiB."""
    top = max(c["mib"] for c in cases)
    at = {(c["memory"], c["dir"]): c["ours_gbps"] for c in cases if c["mib"] == top}
    summary: dict[str, Any] = {"largest_mib": top}
    for d in ("H2D", "D2H"):
        summary[f"pinned_{d}_gbps"] = at[("pinned", d)]
        summary[f"pinned_over_pageable_{d}"] = at[("pinned", d)] / at[("pageable", d)]
    for key in sorted({k for c in cases for k in c if k.startswith("ours_over_")}):
        ratios = [c[key] for c in cases if c["mib"] >= 4 and c["memory"] == "pinned"]
        summary[f"{key}_pinned_min"], summary[f"{key}_pinned_max"] = min(ratios), max(ratios)
    return summary


def from_markdown(path: Path) -> dict[str, Any]:
    """The last recorded run of `path` (a cuda.md section: heading, device line, table) as the
    record `--record` writes, marked as transcribed (load average and wall time unknown)."""
    text = path.read_text()
    name = path.resolve().relative_to(REPO)
    section = text[text.rindex("\n## ") + 1 :]
    heading = re.match(r"## (\d{4}-\d{2}-\d{2}) — ([^,]+), `([^`]+)`", section)
    device_line = re.search(r"^Device: (.+)$", section, re.M)
    if heading is None or device_line is None:
        raise SystemExit(f"{path}: no '## DATE — DEVICE, `COMMAND`' heading and Device: line")
    versions = dict(re.findall(r"(cuda-bindings|numpy|Python|cupy|torch) ([\w.+]+)",
                               device_line.group(1)))  # fmt: skip
    cases = table_cases(section.splitlines())
    return {
        "benchmark": "cuda", "command": heading.group(3), "started_utc": heading.group(1),
        "finished_utc": heading.group(1), "wall_s": None, "load_avg": None,
        "machine": {"line": f"GPU machine: {device_line.group(1)}"},
        "versions": versions, "settings": {"repeats": 9, "peers": ["cupy", "torch"]},
        "cases": cases, "summary": cuda_summary(cases), "device": heading.group(2),
        "transcribed": f"parsed from {name} by `python benchmarks/cuda_bandwidth.py --from-md "
                       f"{name}`"
                       " (the run's own markdown output; no GPU used for this record)",
    }  # fmt: skip


if __name__ == "__main__":
    main()
