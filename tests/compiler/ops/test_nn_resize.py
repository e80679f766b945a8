"""Resize: output-shape inference and the separable kernel vs onnx.reference."""

from __future__ import annotations

import numpy as np
import pytest
from _nodecheck import Const, check, f32, infer, infer_raw, rand, tensor

from compiler.errors import CompilerError
from compiler.types import DType

EMPTY = Const(np.zeros(0, np.float32))


def _scales(*s: float) -> Const:
    return Const(np.array(s, np.float32))


def _sizes(*s: int) -> Const:
    return Const(np.array(s, np.int64))


CASES = [
    ({"mode": "nearest"}, _scales(1, 1, 2, 1.5), None),
    ({"mode": "nearest", "nearest_mode": "ceil", "coordinate_transformation_mode": "asymmetric"},
     _scales(1, 1, 1.7, 0.6), None),
    ({"mode": "nearest", "nearest_mode": "round_prefer_ceil",
      "coordinate_transformation_mode": "align_corners"}, None, _sizes(1, 2, 7, 3)),
    ({"mode": "nearest", "nearest_mode": "floor"}, None, _sizes(1, 2, 3, 8)),
    ({"mode": "linear"}, _scales(1, 1, 2, 0.5), None),
    ({"mode": "linear", "coordinate_transformation_mode": "align_corners"}, None,
     _sizes(1, 2, 7, 9)),
    ({"mode": "linear", "coordinate_transformation_mode": "pytorch_half_pixel"}, None,
     _sizes(1, 2, 1, 9)),
    ({"mode": "linear", "coordinate_transformation_mode": "half_pixel_symmetric"},
     _scales(1, 1, 1.3, 2.1), None),
    ({"mode": "cubic"}, _scales(1, 1, 2, 1.5), None),
    ({"mode": "cubic", "cubic_coeff_a": -0.5, "exclude_outside": 1}, _scales(1, 1, 0.8, 2), None),
    ({"mode": "linear", "antialias": 1}, _scales(1, 1, 0.5, 0.6), None),
    ({"mode": "cubic", "antialias": 1}, None, _sizes(1, 2, 2, 3)),
    ({"mode": "linear", "axes": (2, 3), "keep_aspect_ratio_policy": "not_larger"}, None,
     _sizes(9, 9)),
    ({"mode": "nearest", "axes": (3,), "keep_aspect_ratio_policy": "not_smaller"}, None,
     _sizes(3)),
]  # fmt: skip


@pytest.mark.parametrize(("attrs", "scales", "sizes"), CASES)
def test_resize_matches_reference(attrs, scales, sizes):
    x = rand(1, 2, 4, 6)
    check("resize", "Resize", [x, None, scales, sizes], attrs, depth=16, opset=19)


def test_resize_tf_crop_and_resize():
    x = rand(1, 1, 5, 6)
    roi = Const(np.array([0, 0, 0.2, 0.3, 1, 1, 1.2, 0.9], np.float32))
    attrs = {"mode": "linear", "coordinate_transformation_mode": "tf_crop_and_resize",
             "extrapolation_value": 7.0}  # fmt: skip
    check("resize", "Resize", [x, roi, None, _sizes(1, 1, 4, 3)], attrs, depth=4, opset=19)


def test_resize_legacy_empty_scales_mean_sizes():
    x = rand(1, 1, 2, 2)
    check("resize", "Resize", [x, EMPTY, EMPTY, _sizes(1, 1, 4, 3)], {"mode": "nearest"}, opset=19)


def test_resize_inference():
    x = f32("N", 3, "H", 20)
    assert infer("resize", [x, None, _scales(1, 1, 1, 0.5)]) == [f32("N", 3, "H", 10)]
    (t,) = infer_raw("resize", [x, None, _scales(1, 1, 2, 2)])
    assert t.shape == ("N", 3, None, 40)
    (t,) = infer_raw("resize", [x, None, None, tensor(DType.INT64, 4)])
    assert t.shape == (None, None, None, None)
    (t,) = infer_raw("resize", [x, None, None, tensor(DType.INT64, 2)], {"axes": (2, 3)})
    assert t.shape == ("N", 3, None, None)
    with pytest.raises(CompilerError, match="exactly one"):
        infer("resize", [x])
    with pytest.raises(CompilerError, match="mode"):
        infer("resize", [x, None, _scales(1, 1, 1, 1)], {"mode": "bilinear"})


def test_resize_negative_axes_and_policy():
    x = f32("N", 3, 10, 20)
    attrs = {"axes": (-2, -1), "keep_aspect_ratio_policy": "not_larger"}
    assert infer("resize", [x, None, None, _sizes(5, 5)], attrs) == [f32("N", 3, 3, 5)]
    attrs["keep_aspect_ratio_policy"] = "not_smaller"
    assert infer("resize", [x, None, None, _sizes(5, 5)], attrs) == [f32("N", 3, 5, 10)]
