"""Very large models: load -> optimize (`default`) -> export > 2 GB of external weights.

The model is an MLP (`MatMul -> Add -> Relu` per layer, square float32 weights) generated straight
into an external data file, one layer at a time (seeded), so generating it never holds more than
one layer. A fresh subprocess then loads it (weights memory-mapped), optimizes it and saves it
(external data streamed from the maps); its peak RSS (`VmHWM`) is compared with the weight bytes.
The target is a peak RSS under half the weight bytes. Generated files are deleted afterwards.

    python benchmarks/large_model.py                       # 2.2 GB of weights, in /tmp
    python benchmarks/large_model.py --gb 0.05 --width 1024
    python benchmarks/large_model.py --record              # append to results/large_model.md
                                                           # and store results/large_model.json
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results" / "large_model.md"
DATA = "weights.bin"


def generate(folder: Path, weight_bytes: int, width: int, seed: int = 0) -> tuple[Path, int]:
    """Write `folder/mlp.onnx` + `folder/weights.bin`; returns the model path and weight bytes."""
    import onnx
    from onnx import TensorProto, helper

    layers = max(1, math.ceil(weight_bytes / ((width * width + width) * 4)))
    rng = np.random.default_rng(seed)
    inits, nodes, offset = [], [], 0
    scale = np.float32(1 / math.sqrt(width))
    with open(folder / DATA, "wb") as data:
        for i in range(layers):
            for name, shape in ((f"w{i}", (width, width)), (f"b{i}", (width,))):
                array = (rng.standard_normal(shape, dtype=np.float32) * scale).astype(np.float32)
                data.write(array.tobytes())
                inits.append(_external(name, shape, offset, array.nbytes))
                offset += array.nbytes
                del array
            x = "x" if i == 0 else f"r{i - 1}"
            nodes += [helper.make_node("MatMul", [x, f"w{i}"], [f"m{i}"]),
                      helper.make_node("Add", [f"m{i}", f"b{i}"], [f"a{i}"]),
                      helper.make_node("Relu", [f"a{i}"], [f"r{i}"])]  # fmt: skip
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", width])
    y = helper.make_tensor_value_info(f"r{layers - 1}", TensorProto.FLOAT, ["batch", width])
    graph = helper.make_graph(nodes, "mlp", [x], [y], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(model, folder / "mlp.onnx")
    return folder / "mlp.onnx", offset


def _external(name: str, shape: tuple[int, ...], offset: int, length: int) -> object:
    from onnx import TensorProto

    tensor = TensorProto()
    tensor.name, tensor.data_type = name, TensorProto.FLOAT
    tensor.dims.extend(shape)
    tensor.data_location = TensorProto.EXTERNAL
    for key, value in (("location", DATA), ("offset", str(offset)), ("length", str(length))):
        entry = tensor.external_data.add()
        entry.key, entry.value = key, value
    return tensor


def child(model: Path, output: Path) -> dict[str, object]:
    """Load, optimize and export in this process; timings and memory (bytes) as a dict."""
    sys.path.insert(0, str(REPO))
    from backends.onnx import save_onnx
    from compiler.driver import load_model
    from compiler.optimizer import optimize

    baseline = _status("VmRSS")
    times = {}
    start = time.perf_counter()
    graph = load_model(model)
    times["load_s"] = time.perf_counter() - start
    nodes_before = len(graph)
    report = optimize(graph, "default")
    times["optimize_s"] = time.perf_counter() - start - times["load_s"]
    save_onnx(graph, output, pipeline="default", external_data=True)
    times["export_s"] = time.perf_counter() - start - times["load_s"] - times["optimize_s"]
    return {"baseline_rss": baseline, "peak_rss": _status("VmHWM"), "nodes_before": nodes_before,
            "nodes_after": report.nodes_after, **times}  # fmt: skip


def _status(key: str) -> int:
    """A `/proc/self/status` memory field in bytes (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {key} in /proc/self/status")


def measure(folder: Path, weight_gb: float, width: int) -> dict[str, object]:
    """Generate into `folder`, run the child, check the export; the result row."""
    model, weight_bytes = generate(folder, int(weight_gb * 1e9), width)
    output = folder / "out.onnx"
    cmd = [sys.executable, __file__, "--child", str(model), str(output)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode:
        raise RuntimeError(f"child failed:\n{proc.stderr[-4000:]}")
    result = json.loads(proc.stdout.splitlines()[-1])
    result["weight_bytes"] = weight_bytes
    result["output_data_bytes"] = (folder / "out.onnx.data").stat().st_size
    _check_export(folder / DATA, folder / "out.onnx.data", width)
    return result


def _check_export(source: Path, exported: Path, width: int) -> None:
    """The first and last layer's weights in the export equal the generated ones (bytes)."""
    import onnx

    model = onnx.load(exported.with_suffix(""), load_external_data=False)
    src = np.memmap(source, np.uint8, mode="r")
    out = np.memmap(exported, np.uint8, mode="r")
    n = width * width * 4
    for tensor in model.graph.initializer:
        info = {e.key: int(e.value) for e in tensor.external_data if e.key != "location"}
        if tensor.name in ("w0", f"w{len(model.graph.initializer) // 2 - 1}"):
            layer = int(tensor.name[1:])
            start = layer * (n + width * 4)
            got = out[info["offset"] : info["offset"] + n]
            if info["length"] != n or not np.array_equal(got, src[start : start + n]):
                raise RuntimeError(f"exported {tensor.name} differs from the generated weights")


def _row(result: dict[str, object], command: str) -> str:
    gib = 1 << 30
    w, peak = int(result["weight_bytes"]), int(result["peak_rss"])  # type: ignore[call-overload]
    return (f"| {datetime.date.today()} | `{command}` | {w / 1e9:.2f} GB | {peak / gib:.3f} GiB | "
            f"{peak / w:.1%} | {int(result['baseline_rss']) / gib:.3f} GiB | "  # type: ignore[call-overload]
            f"{result['load_s']:.1f} / {result['optimize_s']:.1f} / {result['export_s']:.1f} | "
            f"{result['nodes_before']} -> {result['nodes_after']} |")  # fmt: skip


def _record(row: str) -> None:
    from benchinfo import machine_line  # type: ignore[import-not-found]

    head = ("| date | command | weights | peak RSS | peak / weights | RSS after imports | "
            "load / optimize / export s | nodes |\n" + "|---" * 8 + "|\n")  # fmt: skip
    if not RESULTS.exists():
        RESULTS.write_text("# Very large model: load -> optimize -> export "
                           "(benchmarks/large_model.py)\n\nTarget: peak RSS under half the weight "
                           f"bytes.\n\nMachine: {machine_line()}\n\n{head}")  # fmt: skip
    with RESULTS.open("a") as f:
        f.write(row + "\n")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--gb", type=float, default=2.2, help="weight gigabytes (default 2.2)")
    p.add_argument("--width", type=int, default=4096, help="layer width (default 4096)")
    p.add_argument("--dir", type=Path, default=None, help="scratch folder (default: a temp dir)")
    p.add_argument("--record", action="store_true", help="append to results/large_model.md")
    p.add_argument("--child", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        print(json.dumps(child(*args.child)))
        return 0
    sys.path.insert(0, str(Path(__file__).parent))
    from benchinfo import Record  # type: ignore[import-not-found]

    run = Record("large_model")
    folder = Path(tempfile.mkdtemp(prefix="irforge-large-", dir=args.dir))
    try:
        result = measure(folder, args.gb, args.width)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    command = "python benchmarks/large_model.py " + " ".join(argv or sys.argv[1:])
    row = _row(result, command.strip())
    print(json.dumps(result, indent=2))
    print(f"machine: {platform.node()} {os.cpu_count()} CPUs")
    print(row)
    ok = int(result["peak_rss"]) < int(result["weight_bytes"]) / 2  # type: ignore[call-overload]
    if args.record:
        _record(row)
        gib = float(1 << 30)
        case = {"weights_gb": int(result["weight_bytes"]) / 1e9,  # type: ignore[call-overload]
                "peak_rss_gib": int(result["peak_rss"]) / gib,  # type: ignore[call-overload]
                "baseline_rss_gib": int(result["baseline_rss"]) / gib,  # type: ignore[call-overload]
                "peak_over_weights": int(result["peak_rss"]) / int(result["weight_bytes"]),  # type: ignore[call-overload]
                **{k: result[k] for k in ("load_s", "optimize_s", "export_s", "nodes_before",
                                          "nodes_after")}}  # fmt: skip
        run.write([case], {"peak_over_weights": case["peak_over_weights"], "target_met": ok,
                           "target": "peak RSS < weights / 2"},
                  {"gb": args.gb, "width": args.width})  # fmt: skip
    print("target met: peak RSS < weights / 2" if ok else "TARGET MISSED: peak RSS >= weights / 2")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
