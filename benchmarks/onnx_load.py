"""Import speed, side by side: `compiler.load` vs `onnx.load` + `onnx.shape_inference.infer_shapes`.

Run: `python benchmarks/onnx_load.py [MODEL ...] [--repeat N]` (material model names; default
resnet200 transformer64). Runs alternate between the two so machine noise hits both alike; prints
the median milliseconds and the ratio ours / onnx.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import onnx  # noqa: E402
import onnx.shape_inference  # noqa: E402
from material import model_path  # noqa: E402

from compiler.frontend.onnx_import import load  # noqa: E402

log = logging.getLogger("onnx_load")


def _onnx_baseline(path: Path) -> None:
    onnx.shape_inference.infer_shapes(onnx.load(path))


def _time(fn, path: Path) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    fn(path)
    return (time.perf_counter() - start) * 1000


def bench(name: str, repeat: int) -> tuple[float, float]:
    """Median ms of (ours, onnx) over `repeat` alternating runs after one warm-up each."""
    path = model_path(name)
    load(path), _onnx_baseline(path)
    ours, base = [], []
    for _ in range(repeat):
        ours.append(_time(load, path))
        base.append(_time(_onnx_baseline, path))
    return statistics.median(ours), statistics.median(base)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("models", nargs="*", default=["resnet200", "transformer64"])
    parser.add_argument("--repeat", type=int, default=9)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for name in args.models:
        ours, base = bench(name, args.repeat)
        log.info("%-20s irforge %7.1f ms   onnx.load+infer_shapes %7.1f ms   ratio %.2f",
                 name, ours, base, ours / base)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
