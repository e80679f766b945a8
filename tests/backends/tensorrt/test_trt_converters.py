"""One-node graphs of (almost) every converter: built by the real builder, interpreted, and
compared with the reference backend."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from _trtcheck import Const, build_and_compare, one_node, rand, requires_trt

pytestmark = requires_trt

POS = np.abs(rand(2, 3, 4, seed=1)) + 0.5
X = rand(2, 3, 4)
IMG = rand(1, 4, 9, 9)
BOOL = rand(2, 3, 4, seed=2) > 0
I64 = np.arange(6, dtype=np.int64)

CASES: list[tuple[str, list[Any], dict[str, Any]]] = [
    ("add", [X, rand(3, 4, seed=3)], {}),
    ("sub", [X, Const(rand(4, seed=4))], {}),
    ("mul", [X, Const(np.float32(2.5))], {}),
    ("div", [X, POS], {}),
    ("pow", [POS, Const(np.float32(1.5))], {}),
    ("max", [X, rand(1, 3, 1, seed=5), rand(4, seed=6)], {}),
    ("mean", [X, rand(3, 4, seed=7)], {}),
    ("sum", [X, X, X], {}),
    ("equal", [I64, Const(np.int64(3))], {}),
    ("greater_or_equal", [X, Const(np.float32(0.0))], {}),
    ("and", [BOOL, Const(np.array(True))], {}),
    ("where", [BOOL, X, Const(np.float32(-1.0))], {}),
    *[
        (op, [X], {})
        for op in (
            "abs",
            "neg",
            "exp",
            "sin",
            "erf",
            "floor",
            "ceil",
            "sign",
            "round",
            "is_nan",
            "relu",
            "sigmoid",
            "tanh",
            "softsign",
            "softplus",
            "hard_swish",
            "mish",
            "gelu",
        )
    ],  # fmt: skip
    *[(op, [POS], {}) for op in ("log", "sqrt", "reciprocal")],
    ("not", [BOOL], {}),
    ("leaky_relu", [X], {"alpha": 0.2}),
    ("elu", [X], {"alpha": 0.7}),
    ("selu", [X], {}),
    ("celu", [X], {"alpha": 1.5}),
    ("thresholded_relu", [X], {"alpha": 0.3}),
    ("hard_sigmoid", [X], {"alpha": 0.3, "beta": 0.4}),
    ("gelu", [X], {"approximate": "tanh"}),
    ("swish", [X], {"alpha": 1.3}),
    ("prelu", [X, Const(rand(3, 1, seed=8))], {}),
    ("clip", [X, Const(np.float32(-0.5)), Const(np.float32(0.5))], {}),
    ("clip", [I64, None, Const(np.int64(3))], {}),
    ("softmax", [X], {"axis": 1}),
    ("log_softmax", [X], {"axis": -1}),
    (
        "conv",
        [IMG, Const(rand(6, 2, 3, 3, seed=9)), Const(rand(6, seed=10))],
        {"pads": (1, 0, 2, 1), "strides": (2, 1), "dilations": (1, 2), "group": 2},
    ),
    ("conv", [rand(2, 3, 11), Const(rand(5, 3, 3, seed=11))], {"pads": (1, 1)}),
    (
        "conv",
        [IMG, Const(rand(4, 4, 3, 3, seed=12))],
        {
            "auto_pad": "SAME_UPPER",
            "strides": (2, 2),
            "activation": "clip",
            "activation_params": (0.0, 6.0),
        },
    ),
    (
        "conv",
        [IMG, Const(rand(4, 4, 1, 1, seed=13))],
        {"activation": "leaky_relu", "activation_params": (0.1,)},
    ),
    (
        "conv_transpose",
        [IMG, Const(rand(4, 3, 3, 3, seed=14)), Const(rand(3, seed=15))],
        {"strides": (2, 2), "pads": (1, 1, 1, 1), "output_padding": (1, 1)},
    ),
    ("max_pool", [IMG], {"kernel_shape": (3, 3), "strides": (2, 2), "ceil_mode": 1}),
    ("average_pool", [IMG], {"kernel_shape": (3, 3), "pads": (1, 1, 1, 1), "count_include_pad": 1}),
    ("average_pool", [IMG], {"kernel_shape": (2, 2), "pads": (1, 1, 0, 0), "strides": (2, 2)}),
    ("global_average_pool", [IMG], {}),
    ("global_max_pool", [IMG], {}),
    ("batch_normalization", [IMG, *(Const(np.abs(rand(4, seed=s)) + 0.1) for s in range(4))], {}),
    (
        "batch_normalization",
        [rand(5, 4), *(Const(np.abs(rand(4, seed=s)) + 0.1) for s in range(4))],
        {},
    ),  # fmt: skip
    ("lrn", [IMG], {"size": 3, "alpha": 0.01}),
    ("layer_normalization", [X, Const(rand(4, seed=16)), Const(rand(4, seed=17))], {}),
    ("layer_normalization", [X, Const(rand(3, 4, seed=16))], {"axis": 1}),
    ("instance_normalization", [IMG, Const(rand(4, seed=18)), Const(rand(4, seed=19))], {}),
    ("rms_normalization", [X, Const(rand(4, seed=20))], {}),
    (
        "gemm",
        [rand(3, 5), Const(rand(4, 5, seed=21)), Const(rand(4, seed=22))],
        {"transB": 1, "alpha": 0.5, "beta": 2.0},
    ),
    ("gemm", [rand(5, 3), rand(5, 4, seed=23)], {"transA": 1}),
    ("matmul", [X, Const(rand(4, 6, seed=24))], {}),
    ("matmul", [X, rand(4, seed=25)], {}),
    ("matmul", [rand(3, seed=26), rand(2, 3, 5, seed=27)], {}),
    ("reduce_mean", [X, Const(np.array([-1], np.int64))], {}),
    ("reduce_sum", [X, Const(np.array([0, 2], np.int64))], {"keepdims": 0}),
    ("reduce_max", [X], {}),
    ("reduce_l2", [X, Const(np.array([1], np.int64))], {}),
    ("reduce_log_sum_exp", [X, Const(np.array([1], np.int64))], {"keepdims": 0}),
    ("argmax", [X], {"axis": 1, "keepdims": 0}),
    ("reshape", [X, Const(np.array([0, -1], np.int64))], {}),
    ("flatten", [IMG], {"axis": 2}),
    ("transpose", [X], {"perm": (2, 0, 1)}),
    ("squeeze", [rand(2, 1, 3), Const(np.array([1], np.int64))], {}),
    ("unsqueeze", [X, Const(np.array([0, 4], np.int64))], {}),
    ("concat", [X, rand(2, 1, 4, seed=28)], {"axis": 1}),
    ("slice", [X, *(Const(np.array(v, np.int64)) for v in ([3, 0], [0, 4], [2, 1], [-2, 2]))], {}),
    ("gather", [X, Const(np.array([[-1, 0]], np.int64))], {"axis": 1}),
    ("gather", [X, I64[:2].reshape(1, 2) % 3], {"axis": 1}),
    ("gather_elements", [X, Const(np.zeros((2, 3, 2), np.int64))], {"axis": 2}),
    ("shape", [X], {"start": 1}),
    ("size", [X], {}),
    (
        "constant_of_shape",
        [Const(np.array([2, 3], np.int64))],
        {"value": np.array([1.5], np.float32)},
    ),
    ("expand", [rand(3, 1), Const(np.array([2, 3, 4], np.int64))], {}),
    ("tile", [X, Const(np.array([1, 2, 2], np.int64))], {}),
    ("cast", [X * 3], {"to": "i32"}),
    ("cast", [X], {"to": "f16"}),
    ("identity", [X], {}),
    ("pad", [IMG, Const(np.array([0, 0, 1, 2, 0, 0, 2, 1], np.int64)), Const(np.float32(0.5))], {}),
    ("pad", [IMG, Const(np.array([0, 0, 2, 1, 0, 0, 1, 2], np.int64))], {"mode": "reflect"}),
    ("pad", [IMG, Const(np.array([0, 0, 2, 1, 0, 0, 1, 2], np.int64))], {"mode": "edge"}),
    ("resize", [IMG, None, Const(np.array([1, 1, 2, 2], np.float32))], {}),
    ("resize", [IMG, None, Const(np.array([1, 1, 1.5, 2], np.float32))], {"mode": "linear"}),
    (
        "resize",
        [IMG, None, None, Const(np.array([1, 4, 5, 13], np.int64))],
        {"mode": "linear", "coordinate_transformation_mode": "align_corners"},
    ),
    ("cumsum", [X, Const(np.int64(1))], {"exclusive": 1}),
    ("einsum", [X, rand(4, 5, seed=29)], {"equation": "abc,cd->abd"}),
    ("depth_to_space", [rand(2, 8, 3, 4)], {"blocksize": 2}),
    ("depth_to_space", [rand(2, 8, 3, 4)], {"blocksize": 2, "mode": "CRD"}),
    ("space_to_depth", [rand(2, 3, 4, 6)], {"blocksize": 2}),
    ("gather_nd", [X, Const(np.array([[1, 2], [0, 1]], np.int64))], {}),
    ("gather_nd", [X, Const(np.array([[[1], [0]], [[2], [2]]], np.int64))], {"batch_dims": 1}),
    ("is_inf", [np.array([1.0, np.inf, -np.inf, np.nan], np.float32)], {}),
    ("is_inf", [np.array([1.0, np.inf, -np.inf, np.nan], np.float32)], {"detect_negative": 0}),
    (
        "scatter_elements",
        [X, Const(np.array([[[3, 0]], [[1, 2]]], np.int64)), rand(2, 1, 2, seed=30)],
        {"axis": 2},
    ),
    ("shrink", [X], {"lambd": 0.4, "bias": 0.1}),
    ("trilu", [X, Const(np.int64(1))], {}),
    ("trilu", [X], {"upper": 0}),
    ("hardmax", [X], {"axis": 1}),
    ("scatter_nd", [X, Const(np.array([[1, 2], [0, 0]], np.int64)), rand(2, 4, seed=31)], {}),
    (
        "one_hot",
        [
            np.array([[0, 3], [-1, 1]], np.int64),
            Const(np.int64(4)),
            Const(np.array([-1.0, 2.0], np.float32)),
        ],
        {"axis": 1},
    ),
]


def _id(case: tuple[str, list[Any], dict[str, Any]]) -> str:
    return case[0]


@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
def test_converter_matches_reference(case: tuple[str, list[Any], dict[str, Any]]) -> None:
    op, inputs, attrs = case
    graph, feeds = one_node(op, inputs, attrs)
    build_and_compare(graph, feeds)


def test_split_every_output() -> None:
    graph, feeds = one_node("split", [X, Const(np.array([1, 3], np.int64))], {"axis": 2},
                            num_outputs=2)  # fmt: skip
    build_and_compare(graph, feeds)


def test_topk_values_and_indices() -> None:
    x = np.random.default_rng(3).permutation(24).astype(np.float32).reshape(2, 3, 4)
    graph, feeds = one_node("topk", [x, Const(np.array([2], np.int64))], {"axis": -1},
                            num_outputs=2)  # fmt: skip
    build_and_compare(graph, feeds)
