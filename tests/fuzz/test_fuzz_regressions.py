"""Cases the fuzzer once failed on (see benchmarks/results/fuzz.md), with the outcome now expected.

The cases are (seed, mutation kind, case seed) triples: they stay meaningful while the mutators
stay as they are; each also gets a direct model-level test where one is cheap to build.
"""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper

import compiler
from compiler.verifier import verify
from tests.fuzz.corpus import available, node_seeds
from tests.fuzz.oracle import Case, run_case
from tests.onnx_testmodels import init, model, vi

CASES = (
    ("node:test_layer_normalization_3d_axis_negative_2_epsilon_expanded", "attr_wrong_type",
     1233580966, "CompilerError:FrontendError"),
    ("node:test_bitwise_xor_ui8_bcast_4v3d", "flip_bytes", 1333729526,
     "CompilerError:FrontendError"),
    ("light_densenet121", "dangle_input", 472116718, "CompilerError:FrontendError"),
    ("light_resnet50", "attr_absurd", 391497438, "ok"),
    ("light_shufflenet", "attr_wrong_type", 3127625596, "CompilerError:FrontendError"),
    ("mnist_cnn_raw", "unknown_op", 2250749553, "CompilerError:FrontendError"),
    ("light_zfnet512", "t_huge_number", 3057710853, "CompilerError:VerifyError"),
    ("light_zfnet512", "change_arity", 3333230621, "CompilerError:FrontendError"),
)  # fmt: skip


@pytest.mark.parametrize(("name", "kind", "seed", "expected"), CASES)
def test_fuzz_regression(name: str, kind: str, seed: int, expected: str) -> None:
    if name not in available((name,)) or (name.startswith("node:") and name not in node_seeds()):
        pytest.skip(f"seed {name} is not available here")
    result = run_case(Case(name, kind, seed))
    assert result.outcome == expected, result.detail


def test_constant_value_of_the_wrong_kind() -> None:
    node = helper.make_node("Constant", [], ["c"], name="k")
    node.attribute.append(helper.make_attribute("value", [1, 2]))  # INTS, not a TENSOR
    m = model([node], [], [vi("c", [2], TensorProto.INT64)])
    with pytest.raises(compiler.FrontendError, match="Constant node 'k'") as info:
        compiler.load(m)
    assert info.value.loc is not None


def test_invalid_utf8_name_is_refused() -> None:
    m = model([helper.make_node("Relu", ["x"], ["y"], name="r")], [vi("x", [2])], [vi("y", [2])])
    data = m.SerializeToString().replace(b"r", b"\xff", 1)
    assert b"\xff" in data
    with pytest.raises(compiler.FrontendError, match="UTF-8"):
        compiler.load(data)


def test_nan_attribute_verifies() -> None:
    x = np.ones(3, np.float32)
    bn = helper.make_node("BatchNormalization", ["x", "s", "b", "m", "v"], ["y"],
                          epsilon=float("nan"))  # fmt: skip
    m = model([bn], [vi("x", [1, 3, 2])], [vi("y", [1, 3, 2])],
              [init(n, x) for n in ("s", "b", "m", "v")])  # fmt: skip
    verify(compiler.load(m))


def test_batchnorm_needs_float_statistics() -> None:
    s = np.array(["a", "b", "c"], dtype=object)
    bn = helper.make_node("BatchNormalization", ["x", "s", "b", "m", "v"], ["y"], name="bn")
    inits = [init("s", s)] + [init(n, np.ones(3, np.float32)) for n in ("b", "m", "v")]
    m = model([bn], [vi("x", [1, 3, 2])], [vi("y", [1, 3, 2])], inits)
    with pytest.raises(compiler.FrontendError, match="float") as info:
        compiler.load(m)
    assert info.value.loc is not None


def test_required_input_absent_during_upgrade() -> None:
    x = np.ones(3, np.float32)
    bn = helper.make_node("BatchNormalization", ["", "s", "b", "m", "v"], ["y"], name="bn")
    m = model([bn], [vi("x", [1, 3, 2])], [vi("y", [1, 3, 2])],
              [init(n, x) for n in ("s", "b", "m", "v")], opset=9)  # fmt: skip
    with pytest.raises(compiler.FrontendError) as info:
        compiler.load(m)
    assert type(info.value) is compiler.FrontendError and info.value.loc is not None
