"""Import speed: `compiler.load` vs `onnx.load` + `onnx.shape_inference.infer_shapes`, side by side.

Both sides read the same file from disk in the same process, alternating, after one warm-up each; we
report medians, the spread (min-max) and the ratio ours / peer (< 1 means we are faster).

    .venv/bin/python benchmarks/load_bench.py [--models resnet200 transformer64 ...] [--repeat 7]

Results are appended to `benchmarks/results/load.md` with the command, machine and versions, and
the run is stored as `benchmarks/results/load.json` (read by `benchmarks/report.py`).
"""

from __future__ import annotations

import argparse
import datetime
import gc
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import onnx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchinfo import Record, machine_line, stats  # noqa: E402
from material import model_path  # noqa: E402

import compiler  # noqa: E402

DEFAULT = ["resnet200", "resnet200_noisy", "transformer64", "mlp2000", "effnet_lite0_raw"]


def peer(path: Path) -> int:
    model = onnx.load(str(path))
    inferred = onnx.shape_inference.infer_shapes(model)
    return len(inferred.graph.node)


def ours(path: Path) -> int:
    return len(compiler.load(path))


def sample(fn, path: Path, repeat: int) -> list[float]:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        fn(path)
        times.append((time.perf_counter() - start) * 1e3)
    return times


def measure(name: str, repeat: int) -> dict:
    path = model_path(name)
    if path is None:
        raise SystemExit(f"{name}: cannot be generated here (needs torch)")
    peer(path), ours(path)  # warm-up both
    peer_ms, our_ms = [], []
    for _ in range(repeat):  # alternate so drift hits both sides alike
        peer_ms += sample(peer, path, 1)
        our_ms += sample(ours, path, 1)
    return {"model": name, "nodes": ours(path), "peer": peer_ms, "ours": our_ms}


def row(r: dict) -> str:
    p, o = statistics.median(r["peer"]), statistics.median(r["ours"])
    spread = lambda xs: f"{min(xs):.1f}–{max(xs):.1f}"  # noqa: E731
    return (f"| {r['model']} | {r['nodes']} | {p:.1f} ({spread(r['peer'])}) | "
            f"{o:.1f} ({spread(r['ours'])}) | **{o / p:.2f}** |")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="+", default=DEFAULT)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()
    run = Record("load")
    results = [measure(m, args.repeat) for m in args.models]
    header = [
        f"## {datetime.date.today()} — `{' '.join(['python', *sys.argv])}`",
        "",
        f"Machine: {machine_line()}; onnx {onnx.__version__}, irforge {compiler.__version__}. "
        f"Median ms of {args.repeat} "
        "alternating runs (min–max); ratio = ours / peer.",
        "",
        "| model | nodes | onnx.load + infer_shapes ms | irforge load ms | ratio |",
        "|---|---:|---:|---:|---:|",
    ]
    text = "\n".join(header + [row(r) for r in results]) + "\n"
    print(text)
    if not args.no_record:
        out = Path(__file__).parent / "results" / "load.md"
        out.parent.mkdir(exist_ok=True)
        with out.open("a") as f:
            f.write(text + "\n")
        _write_record(run, results, args.repeat)


def _write_record(run: Record, results: list[dict], repeat: int) -> None:
    cases: list[dict[str, Any]] = []
    for r in results:
        ours, peer = stats(r["ours"]), stats(r["peer"])
        cases.append({"model": r["model"], "nodes": r["nodes"], "ours_ms": ours, "peer_ms": peer,
                      "ratio": ours["median"] / peer["median"]})  # fmt: skip
    ratios = [c["ratio"] for c in cases]
    what = "onnx.load + onnx.shape_inference.infer_shapes"
    run.write(cases, {"ratio_min": min(ratios), "ratio_max": max(ratios)},
              {"repeat": repeat, "peer": what})  # fmt: skip


if __name__ == "__main__":
    main()
