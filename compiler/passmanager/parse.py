"""The pipeline-string parser (syntax in `compiler.passmanager.pipeline`).

The whole string is parsed, every pass looked up and every option converted before anything runs.
Errors are `PipelineError`s (a `PassError`) pointing at the offending column with a caret and
listing the valid names.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Sequence
from typing import Any

from compiler.errors import PassError
from compiler.passmanager.base import OptionSpec, Pass, options_of, parse_value
from compiler.passmanager.pipeline import REPEAT_OPTIONS, Pipeline, Repeat, Step
from compiler.passmanager.registry import find_pass, named_pipelines, pass_names

_TOKEN = re.compile(
    r'\s*(?:(?P<word>[A-Za-z0-9_.+\-]+)|(?P<str>"(?:[^"\\\n]|\\.)*")|(?P<punct>[,{}();=])'
    r"|(?P<eof>\Z)|(?P<bad>.))",
    re.DOTALL,
)


class PipelineError(PassError):
    """A bad pipeline string, rendered compiler-style: `source:line:col: error: ...`, the
    text and a caret under the offending column, then hints."""

    def __str__(self) -> str:
        head = self.message
        if self.loc is not None and not self.loc.is_unknown():
            head = f"{self.loc.describe()}: error: {self.message}"
        return "\n".join([head, *self.notes])


def parse_pipeline(text: str) -> Pipeline:
    """Parse a pipeline string into a `Pipeline`.

    Raises:
        PipelineError: (a `PassError`) for bad syntax, unknown passes or options, bad values.
    """
    return Pipeline(tuple(_Parser(text, "pipeline", ()).parse()))


class _Parser:
    def __init__(self, text: str, source: str, expanding: tuple[str, ...]) -> None:
        self.text = text
        self.source = source
        self.expanding = expanding  # named pipelines being expanded (cycle check)
        self.tokens = [(m.lastgroup or "bad", m.group(m.lastgroup or "bad"), m.end())
                       for m in _TOKEN.finditer(text)]  # fmt: skip
        self.i = 0

    # -- tokens ---------------------------------------------------------------------------------
    @property
    def kind(self) -> str:
        return self.tokens[self.i][0]

    @property
    def token(self) -> str:
        return self.tokens[self.i][1]

    def start(self, i: int | None = None) -> int:
        kind, token, end = self.tokens[self.i if i is None else i]
        return end - len(token)

    def at(self, punct: str) -> bool:
        return self.kind == "punct" and self.token == punct

    def accept(self, punct: str) -> bool:
        if self.at(punct):
            self.i += 1
            return True
        return False

    def expect(self, punct: str) -> None:
        if not self.accept(punct):
            raise self.fail(f"expected '{punct}', found {self.describe()}")

    def describe(self) -> str:
        if self.kind == "eof":
            return "end of input"
        return f"'{self.token}'"

    def fail(self, message: str, i: int | None = None, hints: Sequence[str] = ()) -> PipelineError:
        from compiler.text.lexer import error_at

        if self.kind == "bad" and i is None:
            bad = self.token
            message = "unterminated string" if bad == '"' else f"unexpected character {bad!r}"
        located = error_at(self.text, self.start(i), self.source, message)
        return PipelineError(message, located.loc, [*located.notes, *hints])

    # -- grammar ---------------------------------------------------------------------------------
    def parse(self) -> list[Step]:
        steps = self.sequence()
        if self.kind != "eof":
            raise self.fail(f"expected ',' or end of input, found {self.describe()}")
        return steps

    def sequence(self) -> list[Step]:
        if self.kind == "eof" or self.at(")") or self.at(";"):
            return []
        steps = self.item()
        while self.accept(","):
            steps.extend(self.item())
        return steps

    def item(self) -> list[Step]:
        if self.kind != "word":
            raise self.fail(f"expected a pass name, found {self.describe()}")
        name_i = self.i
        name = self.token
        self.i += 1
        if name == "repeat" and self.at("("):
            return [self.repeat(name_i)]
        cls = find_pass(name)
        if cls is not None:
            return [self.make_pass(cls, name_i)]
        if name in named_pipelines():
            return self.expand(name, name_i)
        raise self.fail(f"unknown pass {name!r}", name_i, _valid_names_hints(name))

    def make_pass(self, cls: type[Pass], name_i: int) -> Pass:
        options = options_of(cls)
        values = self.options("}", options, cls.name) if self.accept("{") else {}
        try:
            return cls(**values)
        except (TypeError, ValueError) as exc:
            raise self.fail(f"invalid options for {cls.name}: {exc}", name_i) from None

    def repeat(self, name_i: int) -> Repeat:
        self.expect("(")
        body = self.sequence()
        values = self.options(")", REPEAT_OPTIONS, "repeat") if self.accept(";") else None
        if values is None:
            self.expect(")")
            values = {}
        try:
            return Repeat(tuple(body), **values)
        except ValueError as exc:
            raise self.fail(str(exc), name_i) from None

    def options(self, close: str, specs: Sequence[OptionSpec], owner: str) -> dict[str, Any]:
        """Parse `flag=value, ...` up to and including `close`."""
        values: dict[str, Any] = {}
        if self.accept(close):
            return values
        while True:
            spec = self.flag(specs, owner, values)
            values[spec.field] = self.value(spec, owner)
            if self.accept(close):
                return values
            if not self.accept(","):
                raise self.fail(f"expected ',' or '{close}', found {self.describe()}")

    def flag(self, specs: Sequence[OptionSpec], owner: str, seen: dict[str, Any]) -> OptionSpec:
        if self.kind != "word":
            raise self.fail(f"expected an option name, found {self.describe()}")
        flag_i, flag = self.i, self.token
        self.i += 1
        spec = next((s for s in specs if s.flag == flag), None)
        if spec is None:
            valid = ", ".join(s.flag for s in specs) or "none"
            hints = [
                f"valid options of {owner}: {valid}",
                *_did_you_mean(flag, [s.flag for s in specs]),
            ]
            raise self.fail(f"unknown option {flag!r} of {owner}", flag_i, hints)
        if spec.field in seen:
            raise self.fail(f"option {flag!r} of {owner} is given twice", flag_i)
        self.expect("=")
        return spec

    def value(self, spec: OptionSpec, owner: str) -> Any:
        if self.kind not in ("word", "str"):
            raise self.fail(f"expected a value for {spec.flag}, found {self.describe()}")
        value_i, raw = self.i, self.token
        self.i += 1
        if self.tokens[value_i][0] == "str":
            raw = json.loads(raw)
        try:
            return parse_value(spec, raw)
        except ValueError as exc:
            message = f"bad value {raw!r} for {owner} option {spec.flag}: {exc}"
            raise self.fail(message, value_i) from None

    def expand(self, name: str, name_i: int) -> list[Step]:
        if self.at("{"):
            raise self.fail(f"named pipeline {name!r} takes no options")
        if name in self.expanding:
            cycle = " -> ".join([*self.expanding, name])
            raise self.fail(f"named pipeline {name!r} refers to itself ({cycle})", name_i)
        inner = _Parser(
            named_pipelines()[name], f"named pipeline {name!r}", (*self.expanding, name)
        )
        return inner.parse()


def _valid_names_hints(name: str) -> list[str]:
    passes = pass_names()
    named = sorted(named_pipelines())
    return [
        f"valid passes: {', '.join(passes) or 'none'}",
        f"named pipelines: {', '.join(named) or 'none'}",
        *_did_you_mean(name, [*passes, *named]),
    ]


def _did_you_mean(name: str, choices: list[str]) -> list[str]:
    close = difflib.get_close_matches(name, choices, n=1)
    return [f"did you mean {close[0]!r}?"] if close else []


__all__ = ["PipelineError", "parse_pipeline"]
