"""Real images disjoint from the 10 EfficientNet-Lite0 test photos (MATERIAL.md §1.4).

The calibration / selection set for the EfficientNet-Lite0 quantization measurements: the other
images shipped in scikit-image's data directory (no downloads), pre-processed like the photos
(resize the short side to `short`, crop 224×224, [0, 1] pixels, ImageNet mean/std, NCHW).
Grey images become 3 equal channels, RGBA images are flattened on white. Excluded: the 8
scikit-image test photos themselves and `motorcycle_right.png` (the stereo twin of the test photo
`motorcycle_left.png`, nearly the same picture); scikit-learn ships only the two test photos
(china, flower), so it adds none.

Two deterministic variants per image make two sets that share no crop:

* `calibration_set()`: centre crop at short side 256 and its mirror image;
* `selection_set()`: a corner crop at short side 288 and a mirrored random crop at short side 320
  (the set that drives `--report` / `--max-drop`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from PIL.Image import Image as PilImage

TEST_PHOTOS = frozenset({"chelsea.png", "coffee.png", "astronaut.png", "rocket.jpg",
                         "motorcycle_left.png", "horse.png", "retina.jpg",
                         "hubble_deep_field.jpg"})  # fmt: skip
NEAR_DUPLICATES = frozenset({"motorcycle_right.png"})
SUFFIXES = (".png", ".jpg", ".jpeg", ".gif")
MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)
SIZE = 224


def image_files() -> list[Path]:
    """scikit-image's data images, less the test photos and their near duplicates."""
    import skimage

    folder = Path(skimage.__file__).parent / "data"
    skip = TEST_PHOTOS | NEAR_DUPLICATES
    return sorted(
        p for p in folder.iterdir() if p.suffix.lower() in SUFFIXES and p.name not in skip
    )


def _rgb(path: Path) -> PilImage:
    from PIL import Image

    with Image.open(path) as img:
        img.seek(0)
        if img.mode in ("RGBA", "LA", "P"):
            rgba = img.convert("RGBA")
            white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            return Image.alpha_composite(white, rgba).convert("RGB")
        return img.convert("RGB")


def _crop(path: Path, short: int, where: tuple[float, float], mirror: bool) -> np.ndarray:
    """Resize the short side to `short`, crop 224×224 at relative position `where`, normalise."""
    from PIL import Image

    img = _rgb(path)
    w, h = img.size
    s = short / min(w, h)
    size = (max(SIZE, round(w * s)), max(SIZE, round(h * s)))
    img = img.resize(size, Image.Resampling.BILINEAR)
    w, h = img.size
    left, top = round((w - SIZE) * where[0]), round((h - SIZE) * where[1])
    pixels = np.asarray(img.crop((left, top, left + SIZE, top + SIZE)), np.float32) / 255.0
    if mirror:
        pixels = pixels[:, ::-1]
    return ((pixels - MEAN) / STD).transpose(2, 0, 1).astype(np.float32)


def calibration_set() -> np.ndarray:
    """`[2·n, 3, 224, 224]`: each image's centre crop (photo pre-processing) and its mirror."""
    return np.stack([_crop(p, 256, (0.5, 0.5), m) for p in image_files() for m in (False, True)])


def selection_set(seed: int = 0) -> np.ndarray:
    """`[2·n, 3, 224, 224]`: per image a corner crop (short side 288) and a mirrored random crop
    (short side 320); no crop equals a calibration crop."""
    rng = np.random.default_rng(seed)
    out = []
    for k, path in enumerate(image_files()):
        corner = (float(k % 2), float(k // 2 % 2))
        out.append(_crop(path, 288, corner, False))
        out.append(_crop(path, 320, (float(rng.uniform()), float(rng.uniform())), True))
    return np.stack(out)
