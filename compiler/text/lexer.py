"""Tokenizer and diagnostics of the textual IR.

One compiled regex splits the whole text into tokens (no per-character Python loop). Positions are
character offsets; line and column are computed only when an error is reported.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from compiler.errors import ParseError
from compiler.location import FileLoc

_STRING = r'"(?:[^"\\\n]|\\.)*"'
_NAME = r"[A-Za-z_][A-Za-z0-9_.]*"
# Leading whitespace and comments are folded into each match, so one match is one token.
_TOKEN = re.compile(
    rf"""
    (?:[ \t\r\n]+|\#[^\n]*)*
    (?:
     (?P<punct>[()\[\]{{}}<>,:=*?])
    |(?P<val>%(?:{_NAME}|[0-9]+|{_STRING}))
    |(?P<id>(?!(?:inf|nan)(?![A-Za-z0-9_.])){_NAME})
    |(?P<num>[-+]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?|inf|nan)(?![A-Za-z0-9_.]))
    |(?P<str>{_STRING})
    |(?P<sym>@(?:{_NAME}|[0-9]+|{_STRING}))
    |(?P<arrow>->)
    |(?P<eof>\Z)
    |(?P<bad>.)
    )
    """,
    re.VERBOSE | re.DOTALL,
)

EOF = "eof"


class TextParseError(ParseError):
    """A parse error rendered compiler-style: `file:line:col: error: message`, source, caret."""

    def __str__(self) -> str:
        head = self.message
        if self.loc is not None and not self.loc.is_unknown():
            head = f"{self.loc.describe()}: error: {self.message}"
        return "\n".join([head, *self.notes])


def error_at(text: str, pos: int, filename: str, message: str) -> TextParseError:
    """A `TextParseError` pointing at character offset `pos` of `text`."""
    pos = max(0, min(pos, len(text)))
    line_start = text.rfind("\n", 0, pos) + 1
    line_end = text.find("\n", pos)
    source = text[line_start : len(text) if line_end < 0 else line_end].rstrip("\r")
    line = text.count("\n", 0, pos) + 1
    col = pos - line_start + 1
    indent = "".join("\t" if ch == "\t" else " " for ch in source[: col - 1])
    return TextParseError(message, FileLoc(filename, line, col), [source, indent + "^"])


@dataclass
class Tokens:
    """Parallel lists: token kinds (`str`, `val`, `sym`, `num`, `id`, `->`, a punctuation
    character, or `eof`), their texts and their start offsets."""

    kinds: list[str]
    texts: list[str]
    starts: list[int]


def tokenize(text: str) -> Tokens:
    """Split `text` into tokens; the first character that fits none ends the list with a `bad`
    token whose text is the lexical error message."""
    kinds: list[str] = []
    texts: list[str] = []
    starts: list[int] = []
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup
        token = match.group(kind)  # type: ignore[arg-type]
        start = match.end() - len(token)
        if kind == "punct" or kind == "arrow":
            kind = token
        elif kind == "bad":  # reported when the parser reaches it, so errors come in text order
            token = _bad_message(text, start)
        kinds.append(kind)  # type: ignore[arg-type]
        texts.append(token)
        starts.append(start)
        if kind == EOF or kind == "bad":
            break
    if not kinds or kinds[-1] != EOF:
        kinds.append(EOF)
        texts.append("")
        starts.append(len(text))
    return Tokens(kinds, texts, starts)


def _bad_message(text: str, pos: int) -> str:
    ch = text[pos]
    if ch == '"' or text.startswith(('%"', '@"'), pos):
        return "unterminated string"
    if ch in "%@":
        return f"expected a name after '{ch}'"
    return f"unexpected character {ch!r}"


__all__ = ["EOF", "TextParseError", "Tokens", "error_at", "tokenize"]


class Cursor:
    """A position in a token list, with helpers that raise caret diagnostics."""

    def __init__(self, text: str, filename: str) -> None:
        self.text = text
        self.filename = filename
        tokens = tokenize(text)
        self.kinds = tokens.kinds
        self.texts = tokens.texts
        self.starts = tokens.starts
        self.i = 0

    @property
    def kind(self) -> str:
        return self.kinds[self.i]

    @property
    def token(self) -> str:
        return self.texts[self.i]

    def at(self, kind: str, text: str | None = None) -> bool:
        return self.kinds[self.i] == kind and (text is None or self.texts[self.i] == text)

    def take(self) -> int:
        """Consume the current token and return its index."""
        i = self.i
        self.i = i + 1
        return i

    def accept(self, kind: str, text: str | None = None) -> bool:
        if self.at(kind, text):
            self.i += 1
            return True
        return False

    def expect(self, kind: str, what: str, text: str | None = None) -> int:
        """Consume a token of `kind` (and `text`) or fail with "expected <what>"."""
        if not self.at(kind, text):
            raise self.fail(f"expected {what}, found {self.describe()}")
        return self.take()

    def describe(self, i: int | None = None) -> str:
        i = self.i if i is None else i
        return "end of input" if self.kinds[i] == EOF else f"'{self.texts[i]}'"

    def fail(self, message: str, i: int | None = None) -> TextParseError:
        """An error at token `i` (default: the current token)."""
        i = self.i if i is None else i
        if self.kinds[i] == "bad":
            message = self.texts[i]
        return error_at(self.text, self.starts[i], self.filename, message)

    def string(self, i: int, skip: int = 0) -> str:
        """The decoded JSON string of token `i` (after `skip` sigil characters)."""
        raw = self.texts[i][skip:]
        if not raw.startswith('"'):
            return raw
        if "\\" not in raw:
            return raw[1:-1]
        try:
            value: str = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise self.fail(f"invalid string literal: {exc.msg}", i) from None
        return value
