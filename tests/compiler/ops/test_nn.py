"""Conv, pooling, normalization and linear algebra: inference and kernels vs onnx.reference."""

from __future__ import annotations

import numpy as np
import pytest
from _nodecheck import Const, check, f32, infer, infer_raw, one_node, rand, tensor

from compiler.errors import CompilerError
from compiler.ops.nn import conv_output_shape
from compiler.registry import get_op
from compiler.types import DType

# -- Conv ------------------------------------------------------------------------------------------

CONV_CASES = [
    ((1, 3, 9), (4, 3, 3), {}),
    ((2, 4, 8, 7), (6, 2, 3, 3), {"group": 2, "strides": (2, 1), "pads": (1, 0, 1, 2)}),
    ((1, 3, 10, 9), (4, 3, 3, 2), {"dilations": (2, 1), "auto_pad": "SAME_UPPER",
                                   "strides": (2, 2)}),
    ((1, 3, 10, 9), (4, 3, 3, 2), {"auto_pad": "SAME_LOWER", "strides": (3, 2)}),
    ((1, 3, 10, 9), (4, 3, 3, 3), {"auto_pad": "VALID", "strides": (2, 2)}),
    ((1, 2, 5, 6, 4), (3, 2, 2, 3, 2), {"pads": (1, 0, 1, 0, 1, 1)}),
    ((1, 4, 6, 6), (4, 1, 3, 3), {"group": 4, "pads": (1, 1, 1, 1)}),
]  # fmt: skip


@pytest.mark.parametrize(("xs", "ws", "attrs"), CONV_CASES)
@pytest.mark.parametrize("bias", [False, True])
def test_conv_matches_reference(xs, ws, attrs, bias):
    inputs = [rand(*xs), Const(rand(*ws, seed=1))]
    if bias:
        inputs.append(Const(rand(ws[0], seed=2)))
    check("conv", "Conv", inputs, attrs, depth=int(np.prod(ws[1:])))


def test_conv_complete_fills_explicit_attrs():
    _, node = one_node("conv", [f32(1, 3, 8, 8), Const(rand(4, 3, 3, 3))])
    assert node.attrs["kernel_shape"] == (3, 3)
    assert node.attrs["strides"] == (1, 1) and node.attrs["dilations"] == (1, 1)
    assert node.attrs["pads"] == (0, 0, 0, 0) and node.attrs["group"] == 1
    _, same = one_node(
        "conv", [f32(1, 3, 8, 8), Const(rand(4, 3, 3, 3))], {"auto_pad": "SAME_UPPER"}
    )
    assert "pads" not in same.attrs


def test_conv_symbolic_dims():
    w = Const(rand(8, 3, 3, 3))
    assert infer("conv", [f32("N", 3, "H", "W"), w], {"pads": (1, 1, 1, 1)}) == [
        f32("N", 8, "H", "W")
    ]
    (t,) = infer_raw("conv", [f32("N", 3, "H", 32), w], {"strides": (2, 2)})
    assert t.shape == ("N", 8, None, 15)


def test_conv_rejects_bad_input():
    with pytest.raises(CompilerError, match="channels"):
        infer("conv", [f32(1, 4, 8, 8), Const(rand(4, 3, 3, 3))])
    with pytest.raises(CompilerError, match="rank"):
        infer("conv", [f32(1, 3, 8), Const(rand(4, 3, 3, 3))])
    with pytest.raises(CompilerError, match="fit"):
        infer("conv", [f32(1, 3, 2, 2), Const(rand(4, 3, 3, 3))])


def test_conv_output_shape_helper():
    assert conv_output_shape((224, 224), (7, 7), (2, 2), (1, 1), (3, 3, 3, 3)) == (112, 112)
    assert conv_output_shape(("h",), (3,), (1,), (1,), (1, 1)) == ("h",)
    assert conv_output_shape(("h",), (3,), (2,), (1,), (1, 1)) == (None,)
    assert conv_output_shape((5,), (2,), (2,), (1,), (0, 0), ceil_mode=True) == (3,)
    assert conv_output_shape((7,), (3,), (2,), (1,), None, "SAME_LOWER") == (4,)


CONVT_CASES = [
    ((1, 3, 5), (3, 2, 3), {}),
    ((1, 2, 4, 5), (2, 3, 3, 3), {"strides": (2, 2), "output_padding": (1, 0),
                                  "pads": (1, 0, 1, 1)}),
    ((1, 2, 3, 3), (2, 1, 2, 3), {"strides": (2, 1), "dilations": (2, 2)}),
    ((1, 2, 3, 3), (2, 2, 3, 3), {"strides": (2, 2), "output_shape": (7, 8)}),
    ((1, 2, 3, 4), (2, 2, 3, 3), {"strides": (2, 2), "auto_pad": "SAME_UPPER"}),
]  # fmt: skip


@pytest.mark.parametrize(("xs", "ws", "attrs"), CONVT_CASES)
def test_conv_transpose_matches_reference(xs, ws, attrs):
    inputs = [rand(*xs), Const(rand(*ws, seed=1)), Const(rand(ws[1] * attrs.get("group", 1)))]
    check("conv_transpose", "ConvTranspose", inputs, attrs, depth=int(np.prod(ws)))


def test_conv_transpose_group_is_per_group_conv_transpose():
    # onnx.reference mishandles groups: compare with one ungrouped op per group instead
    x, w = rand(1, 4, 3, 3), rand(4, 3, 2, 2, seed=1)
    attrs = {"strides": (2, 2), "pads": (1, 0, 0, 1)}
    _, grouped = one_node("conv_transpose", [x, Const(w)], {**attrs, "group": 2})
    kernel = get_op("conv_transpose").kernel
    (y,) = kernel([x, w], grouped.attrs)
    _, single = one_node("conv_transpose", [x[:, :2], Const(w[:2])], attrs)
    parts = [
        kernel([x[:, 2 * g : 2 * g + 2], w[2 * g : 2 * g + 2]], single.attrs)[0] for g in (0, 1)
    ]
    np.testing.assert_allclose(y, np.concatenate(parts, axis=1), rtol=1e-6)


def test_conv_transpose_symbolic():
    w = Const(rand(2, 3, 3, 3))
    (t,) = infer_raw("conv_transpose", [f32("N", 2, "H", 4), w], {"strides": (2, 2)})
    assert t.shape == ("N", 3, None, 9)


# -- pooling ---------------------------------------------------------------------------------------

POOL_CASES = [
    ((1, 2, 7, 8), {"kernel_shape": (3, 3), "strides": (2, 2)}),
    ((1, 2, 7, 8), {"kernel_shape": (3, 2), "strides": (2, 2), "pads": (1, 1, 1, 0)}),
    ((1, 2, 6, 7), {"kernel_shape": (2, 2), "strides": (2, 2), "ceil_mode": 1}),
    ((1, 2, 9, 9), {"kernel_shape": (2, 2), "dilations": (2, 2), "strides": (1, 2)}),
    ((1, 2, 7, 8), {"kernel_shape": (3, 3), "strides": (2, 2), "auto_pad": "SAME_UPPER"}),
    ((2, 3, 9), {"kernel_shape": (4,), "strides": (3,), "auto_pad": "VALID"}),
    ((1, 1, 5, 4, 6), {"kernel_shape": (2, 2, 3), "pads": (1, 0, 1, 0, 1, 1)}),
]  # fmt: skip


@pytest.mark.parametrize(
    ("xs", "attrs"), POOL_CASES[:-1] + [((1, 1, 5, 4, 6), {"kernel_shape": (2, 2, 3)})]
)
def test_max_pool(xs, attrs):
    check("max_pool", "MaxPool", [rand(*xs)], attrs)


@pytest.mark.parametrize("order", [0, 1])
def test_max_pool_indices(order):
    attrs = {
        "kernel_shape": (2, 3),
        "strides": (2, 1),
        "pads": (1, 1, 0, 1),
        "storage_order": order,
    }
    check("max_pool", "MaxPool", [rand(2, 2, 5, 6)], attrs, num_outputs=2)


@pytest.mark.parametrize(("xs", "attrs"), POOL_CASES)
@pytest.mark.parametrize("include", [0, 1])
def test_average_pool(xs, attrs, include):
    check("average_pool", "AveragePool", [rand(*xs)], {**attrs, "count_include_pad": include},
          depth=9)  # fmt: skip


@pytest.mark.parametrize(("xs", "attrs"), POOL_CASES[:2] + POOL_CASES[3:4])
def test_lp_pool(xs, attrs):
    check("lp_pool", "LpPool", [rand(*xs)], {**attrs, "p": 3}, depth=9)


def test_pool_inference():
    attrs = {"kernel_shape": (3, 3), "strides": (2, 2), "ceil_mode": 1}
    assert infer("max_pool", [f32("N", 8, 112, 112)], attrs) == [f32("N", 8, 56, 56)]
    attrs = {"kernel_shape": (3, 3), "pads": (1, 1, 1, 1)}
    assert infer("average_pool", [f32("N", 8, "H", "W")], attrs) == [f32("N", 8, "H", "W")]
    out = infer("max_pool", [f32(1, 2, 4, 4)], {"kernel_shape": (2, 2)}, num_outputs=2)
    assert out[1] == tensor(DType.INT64, 1, 2, 3, 3)
    with pytest.raises(CompilerError, match="kernel_shape"):
        infer("max_pool", [f32(1, 2, 4, 4)], {"kernel_shape": (2,)})


@pytest.mark.parametrize(
    ("op", "onnx_op", "attrs"),
    [("global_average_pool", "GlobalAveragePool", {}), ("global_max_pool", "GlobalMaxPool", {}),
     ("global_lp_pool", "GlobalLpPool", {"p": 3})],
)  # fmt: skip
def test_global_pools(op, onnx_op, attrs):
    x = rand(2, 3, 5, 4)
    if op == "global_lp_pool":  # onnx.reference has no GlobalLpPool
        (y,) = get_op(op).kernel([x], attrs)
        want = np.sum(np.abs(x.astype(np.float64)) ** 3, axis=(2, 3), keepdims=True) ** (1 / 3)
        np.testing.assert_allclose(y, want, rtol=1e-5)
    else:
        check(op, onnx_op, [x], attrs, depth=20)
    assert infer(op, [f32("N", 3, "H", "W")], attrs) == [f32("N", 3, 1, 1)]


# -- normalization ---------------------------------------------------------------------------------


def test_batch_normalization():
    c = 4
    mean, var = Const(rand(c, seed=3)), Const(np.abs(rand(c, seed=4)) + 0.1)
    inputs = [rand(2, c, 3, 3), Const(rand(c, seed=1)), Const(rand(c, seed=2)), mean, var]
    check("batch_normalization", "BatchNormalization", inputs, {"epsilon": 1e-3})
    assert infer("batch_normalization", [f32("N", c, "H", 3), *inputs[1:]]) == [f32("N", c, "H", 3)]
    with pytest.raises(CompilerError, match="training_mode"):
        infer("batch_normalization", inputs, {"training_mode": 1})
    with pytest.raises(CompilerError, match="scale"):
        infer("batch_normalization", [f32(1, 5, 2, 2), *inputs[1:]])


def test_instance_and_group_normalization():
    x, s, b = rand(2, 6, 4, 3), Const(rand(6, seed=1)), Const(rand(6, seed=2))
    check("instance_normalization", "InstanceNormalization", [x, s, b], depth=12)
    check("group_normalization", "GroupNormalization", [x, s, b], {"num_groups": 3}, depth=24,
          opset=21)  # fmt: skip
    with pytest.raises(CompilerError, match="groups"):
        infer("group_normalization", [x, s, b], {"num_groups": 4})


@pytest.mark.parametrize("axis", [-1, 1])
def test_layer_normalization(axis):
    x = rand(2, 3, 4)
    shape = x.shape[axis:]
    inputs = [x, Const(rand(*shape, seed=1)), Const(rand(*shape, seed=2))]
    check("layer_normalization", "LayerNormalization", inputs, {"axis": axis}, num_outputs=3,
          depth=12)  # fmt: skip
    out = infer("layer_normalization", [f32("B", "S", 4), Const(rand(4))], {}, num_outputs=3)
    assert out == [f32("B", "S", 4), f32("B", "S", 1), f32("B", "S", 1)]


def test_rms_and_lp_normalization():
    x = rand(2, 3, 4)
    check("rms_normalization", "RMSNormalization", [x, Const(rand(4, seed=1))], depth=4, opset=23)
    check("lp_normalization", "LpNormalization", [x], {"axis": 1, "p": 2}, depth=3)
    check("lp_normalization", "LpNormalization", [np.abs(x)], {"axis": -1, "p": 1}, depth=4)


def test_lrn():
    # the reference loops over dim 0 for channels: N == C keeps it honest
    check("lrn", "LRN", [rand(5, 5, 3, 3)], {"size": 3, "alpha": 0.01, "beta": 0.6, "bias": 2.0},
          depth=3)  # fmt: skip


# -- linear algebra --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ta", "tb", "cshape"), [(0, 0, (5,)), (1, 0, (3, 1)), (1, 1, None), (0, 1, ())]
)
def test_gemm(ta, tb, cshape):
    a = rand(*((4, 3) if ta else (3, 4)))
    b = rand(*((5, 4) if tb else (4, 5)), seed=1)
    inputs = [a, b] + ([] if cshape is None else [rand(*cshape, seed=2)])
    attrs = {"transA": ta, "transB": tb, "alpha": 0.5, "beta": 2.0}
    (y,) = check("gemm", "Gemm", inputs, attrs, depth=4)
    assert y.shape == (3, 5)
    with pytest.raises(CompilerError, match="inner"):
        infer("gemm", [f32(3, 4), f32(3, 5)])


@pytest.mark.parametrize(
    ("sa", "sb"), [((3, 4), (4, 5)), ((4,), (4, 5)), ((3, 4), (4,)), ((4,), (4,)),
                   ((2, 1, 3, 4), (5, 4, 2)), ((3, 4), (2, 4, 6))],
)  # fmt: skip
def test_matmul(sa, sb):
    check("matmul", "MatMul", [rand(*sa), rand(*sb, seed=1)], depth=4)


def test_matmul_symbolic():
    assert infer("matmul", [f32("B", "S", 8), f32(8, 16)]) == [f32("B", "S", 16)]
    assert infer("matmul", [f32("B", 1, "S", 8), f32(4, 8, 3)]) == [f32("B", 4, "S", 3)]
    with pytest.raises(CompilerError, match="inner"):
        infer("matmul", [f32(2, 3), f32(4, 5)])


@pytest.mark.parametrize(
    ("eq", "shapes"),
    [("ij,jk->ik", [(2, 3), (3, 4)]), ("bij,bjk->bik", [(2, 2, 3), (2, 3, 4)]), ("ii->i", [(3, 3)]),
     ("...ij,...jk", [(2, 3, 4), (4, 5)]), ("ij->", [(2, 3)]), ("i,j", [(2,), (3,)])],
)  # fmt: skip
def test_einsum(eq, shapes):
    inputs = [rand(*s, seed=i) for i, s in enumerate(shapes)]
    check("einsum", "Einsum", inputs, {"equation": eq}, depth=4)


def test_dropout_inference_mode():
    x = rand(3, 4)
    check("dropout", "Dropout", [x], num_outputs=2)
    check("dropout", "Dropout", [x, Const(np.float32(0.3)), Const(np.bool_(False))], num_outputs=2)
    assert infer("dropout", [f32("N", 4)], num_outputs=2)[1] == tensor(DType.BOOL, "N", 4)


@pytest.mark.parametrize("mode", ["DCR", "CRD"])
def test_depth_space(mode):
    check("depth_to_space", "DepthToSpace", [rand(2, 8, 3, 2)], {"blocksize": 2, "mode": mode})
    check("space_to_depth", "SpaceToDepth", [rand(2, 3, 4, 6)], {"blocksize": 2, "mode": mode},
          opset=28)  # fmt: skip
    assert infer_raw("depth_to_space", [f32("N", 8, "H", 2)], {"blocksize": 2}) == [
        f32("N", 2, None, 4)
    ]
