"""The textual IR: a deterministic printer and a round-trip exact parser.

`print_graph(parse_graph(text)) == text` holds for every printed text (DESIGN.md §4). The
syntax is described in `printer.py`; `save_text` / `load_text` keep large tensors in a side file.
"""

from __future__ import annotations

from compiler.text.files import load_text, save_text
from compiler.text.lexer import TextParseError
from compiler.text.parser import parse_graph
from compiler.text.printer import print_graph, print_graph_with_resources

__all__ = [
    "TextParseError", "load_text", "parse_graph", "print_graph", "print_graph_with_resources",
    "save_text",
]  # fmt: skip
