"""The `Pass` base class and pass options.

A pass is a frozen dataclass with a kebab-case `name`; its fields are its options:

```python
@register_pass
@dataclass(frozen=True)
class QuantizeSymmetricPass(Pass):
    name: ClassVar[str] = "quantize-symmetric"
    changes_numerics: ClassVar[bool] = True
    bits: int = 8
    per_channel: bool = False

    def run(self, graph: Graph) -> bool: ...
```

On the command line options are spelled in kebab case (`per-channel=true` sets `per_channel`).
Option types are `bool`, `int`, `float`, `str` and any of them `| None` (spelled `none`).
"""

from __future__ import annotations

import dataclasses
import json
import re
import typing
from dataclasses import dataclass
from typing import Any, ClassVar

from compiler.graph import Graph

PASS_NAME = re.compile(r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$")
BARE_VALUE = re.compile(r"^[A-Za-z0-9_.+\-]+$")


class Pass:
    """Base of every pass. Subclasses are frozen dataclasses whose fields are the options.

    Attributes:
        name: The kebab-case name used in pipeline strings.
        changes_numerics: True for passes that change results on purpose (quantization);
            check-numerics re-baselines after them instead of comparing.
    """

    name: ClassVar[str] = ""
    changes_numerics: ClassVar[bool] = False

    def run(self, graph: Graph) -> bool:
        """Transform `graph` in place and return whether anything changed."""
        raise NotImplementedError

    def spec(self) -> str:
        """The canonical pipeline text of this pass: its name and every option, in field order."""
        options = [
            f"{o.flag}={format_value(getattr(self, o.field))}" for o in _options_of(type(self))
        ]
        return self.name + ("{" + ",".join(options) + "}" if options else "")


@dataclass(frozen=True)
class OptionSpec:
    """One option of a pass: the dataclass field, its kebab-case flag, type and default."""

    field: str
    flag: str
    type: type
    optional: bool
    default: Any


def options_of(cls: type) -> list[OptionSpec]:
    """The options of a pass class (its dataclass fields), in declaration order."""
    return list(_options_of(cls))


# `get_type_hints` evaluates string annotations on every call; pass classes never change once
# defined, and `spec()` runs for every pass execution (report records): memoized per class.
_OPTIONS: dict[type, tuple[OptionSpec, ...]] = {}


def _options_of(cls: type) -> tuple[OptionSpec, ...]:
    found = _OPTIONS.get(cls)
    if found is None:
        hints = typing.get_type_hints(cls)
        found = tuple(_option(f, hints[f.name]) for f in dataclasses.fields(cls) if f.init)
        _OPTIONS[cls] = found
    return found


def _option(f: dataclasses.Field[Any], hint: Any) -> OptionSpec:
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    optional = len(args) == 1 and type(None) in typing.get_args(hint)
    base = args[0] if optional else hint
    if base not in (bool, int, float, str):
        raise TypeError(f"option {f.name!r}: unsupported type {hint!r} (bool, int, float, str)")
    default = f.default if f.default is not dataclasses.MISSING else dataclasses.MISSING
    if f.default_factory is not dataclasses.MISSING:
        default = f.default_factory()
    return OptionSpec(f.name, f.name.replace("_", "-"), base, optional, default)


def format_value(value: object) -> str:
    """An option value as pipeline text (`true`, `8`, `0.5`, `none`, `relu`, `"a b"`)."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    text = str(value)
    return text if BARE_VALUE.match(text) and text != "none" else json.dumps(text)


def parse_value(option: OptionSpec, text: str) -> Any:
    """Convert pipeline text to an option value; raises ValueError with the expected form."""
    if option.optional and text == "none":
        return None
    if option.type is bool:
        if text not in ("true", "false"):
            raise ValueError("expected true or false")
        return text == "true"
    if option.type is int:
        try:
            return int(text, 10)
        except ValueError:
            raise ValueError("expected an integer") from None
    if option.type is float:
        try:
            return float(text)
        except ValueError:
            raise ValueError("expected a number") from None
    return text


def validate_pass_class(cls: type) -> None:
    """Raise TypeError unless `cls` is a well-formed pass: a frozen dataclass with a kebab name."""
    if not (isinstance(cls, type) and issubclass(cls, Pass)):
        raise TypeError(f"{cls!r} is not a Pass subclass")
    if not PASS_NAME.match(cls.name or ""):
        raise TypeError(f"{cls.__name__}: pass name {cls.name!r} is not kebab-case")
    params = getattr(cls, "__dataclass_params__", None)
    if params is None or not params.frozen or "__dataclass_fields__" not in cls.__dict__:
        raise TypeError(f"{cls.__name__}: a pass must be decorated with @dataclass(frozen=True)")
    for option in options_of(cls):
        if option.default is dataclasses.MISSING:
            raise TypeError(f"{cls.__name__}: option {option.field!r} needs a default")


__all__ = ["OptionSpec", "Pass", "format_value", "options_of", "parse_value", "validate_pass_class"]
