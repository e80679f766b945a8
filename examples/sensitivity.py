"""Per-layer int8 quantization sensitivity of the bundled MNIST CNN, ranked.

    python examples/sensitivity.py                 # calibrate on 32 digits, rank on the other 32
    python examples/sensitivity.py --method minmax --keep 2

Question: which layers of the network lose the most when quantized to int8, and does keeping
the worst ones in float buy back the accuracy? Method (docs/QUANTIZATION.md §4):

1. `prepare`: the `default` pipeline (BN folded into the convs, ReLUs fused), as TensorRT sees
   the network;
2. `calibrate`: activation ranges from the first --calib digits (mse ranges by default);
3. `sensitivity`: quantize one unit at a time (a layer's int8 weights and its int8 input
   activations; everything else float) and compare the outputs with float on the other digits:
   output SQNR in dB (lower = more sensitive), softmax KL and top-1 agreement;
4. accuracy on those held-out digits for float, fully int8, and int8 with the --keep most
   sensitive units left in float.

Units are named by the printed name of their output value (`relu_2` is the third conv with its
fused ReLU, `logits` the classifier). Takes a few seconds on the NumPy reference backend.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from compiler.driver import load_model
from compiler.graph import Graph
from compiler.quantize.driver import apply_quantization, calibrate, prepare, sensitivity
from compiler.quantize.metrics import sqnr_db
from compiler.quantize.sensitivity import table

MODELS = Path(__file__).resolve().parent / "models"


def logits_of(graph: Graph, x: np.ndarray) -> np.ndarray:
    """The graph's output on `x` (NumPy reference backend)."""
    from backends.numpy import run

    return np.asarray(run(graph, {"x": x}).values[0])


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--calib", type=int, default=32, help="digits used for calibration")
    p.add_argument("--method", default="mse", help="minmax, percentile, entropy or mse")
    p.add_argument("--keep", type=int, default=1, help="most sensitive units left in float")
    args = p.parse_args(argv)
    digits = np.load(MODELS / "mnist_digits.npz")
    x, y = digits["x"], digits["y"]
    if not 0 < args.calib < len(y):
        p.error(f"--calib must be between 1 and {len(y) - 1}")
    calib_x, eval_x, eval_y = x[: args.calib], x[args.calib :], y[args.calib :]

    graph = load_model(MODELS / "mnist_cnn_raw.onnx")
    prepare(graph, "default", layout="trt")
    calib = calibrate(graph, [{"x": calib_x}], method=args.method, show_progress=False)
    scores = sensitivity(graph, calib, [{"x": eval_x}], show_progress=False)
    ranked = [s.unit for s in scores]
    keep = ranked[: args.keep]
    print(f"int8 sensitivity, calibrated ({args.method}) on {len(calib_x)} digits, "
          f"measured on {len(eval_y)} others:\n")  # fmt: skip
    print(table(scores, keep=keep))

    rows = [("float", graph)]
    for label, kept in (("int8", []), (f"int8, {', '.join(keep)} float", keep)):
        quantized = graph.clone()
        apply_quantization(quantized, calib.amax, keep=kept, layout="trt")
        rows.append((label, quantized))
    reference = logits_of(graph, eval_x)
    print(f"\non the {len(eval_y)} held-out digits:")
    for label, g in rows:
        logits = logits_of(g, eval_x)
        accuracy = 100 * float((logits.argmax(1) == eval_y).mean())
        sqnr = sqnr_db([[reference]], [[logits]])
        print(f"  {label:<30} top-1 {accuracy:5.1f} %   SQNR vs float {sqnr:6.2f} dB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
