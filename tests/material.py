"""Locating and generating the offline test material from `../shared/material` (MATERIAL.md).

Models are generated once into `.cache/material_models/` (or `$IRFORGE_MATERIAL_MODELS`) by the
shared scripts; nothing is downloaded. The real-model script needs torch; without it, the models it
makes are absent and the tests that need them skip with the reason.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import onnx.backend.test

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("IRFORGE_SHARED", REPO.parent / "shared"))
SCRIPTS = SHARED / "material"
MODELS = Path(os.environ.get("IRFORGE_MATERIAL_MODELS", REPO / ".cache" / "material_models"))

SYNTHETIC = ("resnet200", "resnet200_noisy", "transformer64", "mlp2000")
REAL = ("effnet_lite0_raw", "effnet_lite0", "effnet_lite0_legacy", "mnist_cnn", "mnist_cnn_raw")
LIGHT = (
    "light_bvlc_alexnet", "light_densenet121", "light_inception_v1", "light_inception_v2",
    "light_resnet50", "light_shufflenet", "light_squeezenet", "light_vgg19", "light_zfnet512",
)  # fmt: skip


def light_model_path(name: str) -> Path:
    """Path of one of the 9 `light_*` models shipped inside the onnx wheel."""
    base = Path(onnx.backend.test.__file__).parent / "data" / "light"
    return base / f"{name}.onnx"


def _run_script(script: str) -> None:
    MODELS.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, str(SCRIPTS / script), "--models-dir", str(MODELS)]
    subprocess.run(cmd, check=True, cwd=MODELS.parent, capture_output=True, timeout=900)


def ensure_synthetic() -> Path:
    if not all((MODELS / f"{m}.onnx").exists() for m in SYNTHETIC):
        _run_script("synthetic_models.py")
    return MODELS


def ensure_real() -> Path | None:
    """Generate the EfficientNet and MNIST models; None (with no error) when torch is missing."""
    if all((MODELS / f"{m}.onnx").exists() for m in REAL):
        return MODELS
    try:
        import torch  # noqa: F401
    except ImportError:
        return None
    _run_script("real_models.py")
    return MODELS


def model_path(name: str) -> Path | None:
    """Path of a named material model, generating it if needed; None when it cannot be made here."""
    if name in LIGHT:
        return light_model_path(name)
    if name in SYNTHETIC:
        return ensure_synthetic() / f"{name}.onnx"
    if name in REAL:
        base = ensure_real()
        return None if base is None else base / f"{name}.onnx"
    raise KeyError(name)


if __name__ == "__main__":
    ensure_synthetic()
    print("material models:", MODELS, "(real models need torch:", ensure_real() is not None, ")")
