"""Parse errors: exact `file:line:col: error:` messages with the source line and a caret."""

# ruff: noqa: E501  (pinned diagnostics are as long as the parser makes them)

from __future__ import annotations

import numpy as np
import pytest

from compiler.errors import ParseError
from compiler.location import FileLoc
from compiler.text import parse_graph

HEAD = "graph @main(%x: f32[2]) -> (f32[2]) {\n"


def _error(body: str, resources: dict[str, np.ndarray] | None = None) -> ParseError:
    with pytest.raises(ParseError) as info:
        parse_graph(HEAD + body, filename="model.ir", resources=resources)
    return info.value


CASES = [
    (
        "undefined value",
        "  %c = test_any(%q) : f32[2]\n  return %c\n}\n",
        """\
model.ir:2:17: error: use of undefined value %q
  %c = test_any(%q) : f32[2]
                ^""",
    ),
    (
        "bad type",
        "  %c = test_any(%x) : f33[2]\n  return %c\n}\n",
        """\
model.ir:2:23: error: unknown element type 'f33'
  %c = test_any(%x) : f33[2]
                      ^""",
    ),
    (
        "bad dim",
        "  %c = test_any(%x) : f32[2.5]\n  return %c\n}\n",
        """\
model.ir:2:27: error: expected a dimension (an integer or a symbol), found '2.5'
  %c = test_any(%x) : f32[2.5]
                          ^""",
    ),
    (
        "unknown op",
        "  %c = frobnicate(%x) : f32[2]\n  return %c\n}\n",
        """\
model.ir:2:8: error: unknown op 'frobnicate'
  %c = frobnicate(%x) : f32[2]
       ^""",
    ),
    (
        "unterminated string",
        '  %c = test_any(%x) : f32[2] loc("m.onnx":"Conv_0)\n  return %c\n}\n',
        """\
model.ir:2:43: error: unterminated string
  %c = test_any(%x) : f32[2] loc("m.onnx":"Conv_0)
                                          ^""",
    ),
    (
        "missing resource",
        '  %w = const() {value = resource<"conv1.weight">} : f32[64]\n  return %x\n}\n',
        """\
model.ir:2:34: error: missing resource "conv1.weight"
  %w = const() {value = resource<"conv1.weight">} : f32[64]
                                 ^""",
    ),
    (
        "redefinition",
        "  %x = test_any(%x) : f32[2]\n  return %x\n}\n",
        """\
model.ir:2:3: error: redefinition of value %x
  %x = test_any(%x) : f32[2]
  ^""",
    ),
    (
        "unknown attribute",
        "  %c = test_any(%x) {bogus = 1} : f32[2]\n  return %c\n}\n",
        """\
model.ir:2:22: error: op 'test_any' has no attribute 'bogus' (valid: dt, f, floats, i, ints, s, strs, t)
  %c = test_any(%x) {bogus = 1} : f32[2]
                     ^""",
    ),
    (
        "wrong attribute kind",
        '  %c = test_any(%x) {ints = "a"} : f32[2]\n  return %c\n}\n',
        """\
model.ir:2:29: error: attribute 'ints' expects a list of integers, found '"a"'
  %c = test_any(%x) {ints = "a"} : f32[2]
                            ^""",
    ),
    (
        "float in an int list",
        "  %c = test_any(%x) {ints = [1, 2.0]} : f32[2]\n  return %c\n}\n",
        """\
model.ir:2:33: error: expected an integer in the list, found '2.0'
  %c = test_any(%x) {ints = [1, 2.0]} : f32[2]
                                ^""",
    ),
    (
        "dense element count",
        "  %w = const() {value = dense<f32[2,2]: [1.0]>} : f32[2,2]\n  return %x\n}\n",
        """\
model.ir:2:41: error: dense tensor of type f32[2,2] needs 4 elements, found 1
  %w = const() {value = dense<f32[2,2]: [1.0]>} : f32[2,2]
                                        ^""",
    ),
    (
        "dense int out of range",
        "  %w = const() {value = dense<i8[1]: [300]>} : i8[1]\n  return %x\n}\n",
        """\
model.ir:2:38: error: element out of range for i8: Python integer 300 out of bounds for int8
  %w = const() {value = dense<i8[1]: [300]>} : i8[1]
                                     ^""",
    ),
    (
        "arity",
        "  %c = test_any() : f32[2]\n  return %c\n}\n",
        """\
model.ir:2:8: error: test_any takes 1 to 4 inputs, got 0
  %c = test_any() : f32[2]
       ^""",
    ),
    (
        "type count",
        "  %c, %d = test_any(%x) : f32[2]\n  return %c\n}\n",
        """\
model.ir:2:25: error: 2 results but 1 types
  %c, %d = test_any(%x) : f32[2]
                        ^""",
    ),
    (
        "return type",
        "  %c = test_any(%x) : f32[3]\n  return %c\n}\n",
        """\
model.ir:3:10: error: return value %c has type f32[3], the graph declares f32[2]
  return %c
         ^""",
    ),
    (
        "return count",
        "  return\n}\n",
        """\
model.ir:2:3: error: return gives 0 values, the graph declares 1
  return
  ^""",
    ),
    (
        "missing brace",
        "  %c = test_any(%x) : f32[2]\n  return %c\n",
        """\
model.ir:4:1: error: expected '}', found end of input

^""",
    ),
    (
        "stray character",
        "  %c = test_any(%x) ; f32[2]\n  return %c\n}\n",
        """\
model.ir:2:21: error: unexpected character ';'
  %c = test_any(%x) ; f32[2]
                    ^""",
    ),
]


@pytest.mark.parametrize(("body", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_error_message(body: str, expected: str) -> None:
    assert str(_error(body, {})) == expected


def test_error_location_and_notes() -> None:
    err = _error("  %c = test_any(%q) : f32[2]\n  return %c\n}\n")
    assert err.loc == FileLoc("model.ir", 2, 17)
    assert err.message == "use of undefined value %q"
    assert err.notes == ["  %c = test_any(%q) : f32[2]", "                ^"]


def test_caret_keeps_tabs_aligned() -> None:
    err = _error("\t%c = test_any(%q) : f32[2]\n  return %c\n}\n")
    assert err.notes == ["\t%c = test_any(%q) : f32[2]", "\t              ^"]


def test_missing_resource_without_table_says_so() -> None:
    err = _error('  %w = const() {value = resource<"w">} : f32[64]\n  return %x\n}\n')
    assert err.message == 'missing resource "w" (no resources were given)'
    err = _error('  %w = const() {value = resource<"w">} : f32[64]\n  return %x\n}\n', {})
    assert err.message == 'missing resource "w"'
