"""Mutations of printed textual IR: tokens deleted, inserted or duplicated, lines swapped, text
truncated, random unicode, huge numbers, bad types and dims. `mutate_text(text, kind, seed)` is
deterministic."""

from __future__ import annotations

import random
import re
from collections.abc import Callable

_TOKEN = re.compile(r'"(?:[^"\\\n]|\\.)*"|[%@]?[A-Za-z0-9_.+-]+|->|\S')
_NUMBER = re.compile(r"(?<![A-Za-z_%@])-?[0-9]+(?:\.[0-9]+)?(?:e[-+]?[0-9]+)?")
_TYPE = re.compile(r"\b(f32|f16|bf16|f64|i64|i32|i8|u8|bool|str)\[([^\]]*)\]")
_SNIPPETS = (
    "(", ")", "[", "]", "{", "}", "<", ">", ",", ":", "=", "->", "*", "?", "%x", "%0", "@g",
    "none", "return", "graph", "loc", "dense", "resource", "f32[2]", "f32[*]", "i64[-1]",
    "u4[3]", "dtype<f32>", '"', '"\\u12"', "#", "\n", "inf", "nan", "-0", "1e999", "9" * 40,
    "relu", "conv", "const", "unknown_op", "fused", "torch", "%x = relu(%x) : f32[1]",
)  # fmt: skip
_UNICODE = ("é", "ß", "\u200b", "\ufeff", "\U0001f600", "\x00", "\x7f", "\ud7ff", "\u0301", "∞")
_BIG = ("99999999999999999999999", "-99999999999999999999", "1e308", "1e309", "2147483648",
        "9223372036854775808", "-9223372036854775809", "0x10", "1_000", "00", "-0",
        "18446744073709551616")  # fmt: skip
_TYPES = ("f32", "i64", "bool", "str", "u4", "f8e4m3fn", "c64", "x32", "i64[", "f32[?]")


def _tokens(text: str) -> list[re.Match[str]]:
    return list(_TOKEN.finditer(text))


def _splice(text: str, match: re.Match[str], new: str) -> str:
    return text[: match.start()] + new + text[match.end() :]


def delete_token(text: str, rng: random.Random) -> str:
    tokens = _tokens(text)
    for _ in range(rng.randint(1, 3)):
        if tokens:
            text = _splice(text, tokens.pop(rng.randrange(len(tokens))), "")
            tokens = _tokens(text)
    return text


def insert_token(text: str, rng: random.Random) -> str:
    tokens = _tokens(text)
    if not tokens:
        return rng.choice(_SNIPPETS)
    m = rng.choice(tokens)
    return text[: m.start()] + rng.choice(_SNIPPETS) + " " + text[m.start() :]


def duplicate_token(text: str, rng: random.Random) -> str:
    tokens = _tokens(text)
    if not tokens:
        return text
    m = rng.choice(tokens)
    return text[: m.end()] + " " + m.group() + text[m.end() :]


def swap_lines(text: str, rng: random.Random) -> str:
    lines = text.split("\n")
    if len(lines) > 2:
        i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
        r = rng.random()
        if r < 0.5:
            lines[i], lines[j] = lines[j], lines[i]
        elif r < 0.75:
            lines.insert(j, lines[i])
        else:
            del lines[i]
    return "\n".join(lines)


def truncate_text(text: str, rng: random.Random) -> str:
    return text[: rng.randrange(len(text) + 1)]


def random_unicode(text: str, rng: random.Random) -> str:
    for _ in range(rng.randint(1, 4)):
        i = rng.randrange(len(text) + 1)
        ch = rng.choice(_UNICODE) if rng.random() < 0.7 else chr(rng.randrange(0x110000))
        text = text[:i] + ch + text[i + (rng.random() < 0.5) :]
    return text


def huge_number(text: str, rng: random.Random) -> str:
    numbers = list(_NUMBER.finditer(text))
    if not numbers:
        return insert_token(text, rng)
    for _ in range(rng.randint(1, 3)):
        m = rng.choice(numbers)
        text = _splice(text, m, rng.choice(_BIG + ("-1", "0", "-7", "3")))
        numbers = list(_NUMBER.finditer(text))
        if not numbers:
            break
    return text


def bad_type(text: str, rng: random.Random) -> str:
    types = list(_TYPE.finditer(text))
    if not types:
        return insert_token(text, rng)
    m = rng.choice(types)
    dims = [d for d in m.group(2).split(",") if d]
    r = rng.random()
    if r < 0.3:
        new = f"{rng.choice(_TYPES)}[{m.group(2)}]"
    elif r < 0.6:
        dims = dims + ["1"] if rng.random() < 0.5 else dims[:-1]
        new = f"{m.group(1)}[{','.join(dims)}]"
    else:
        if dims:
            bad = ["-1", "0", "1099511627776", "?", "s", '"q"']
            dims[rng.randrange(len(dims))] = rng.choice(bad)
        new = f"{m.group(1)}[{','.join(dims)}]"
    return _splice(text, m, new)


def rename_value(text: str, rng: random.Random) -> str:
    names = sorted(set(re.findall(r"%[A-Za-z0-9_.]+", text)))
    if len(names) < 2:
        return delete_token(text, rng)
    old, new = rng.sample(names, 2)
    matches = [m for m in re.finditer(re.escape(old) + r"\b", text)]
    m = rng.choice(matches)
    return _splice(text, m, new)


def replace_op(text: str, rng: random.Random) -> str:
    ops = list(re.finditer(r"= ([a-z_0-9]+)\(", text))
    if not ops:
        return insert_token(text, rng)
    m = rng.choice(ops)
    new = rng.choice([o.group(1) for o in ops] + ["conv", "reshape", "transpose", "bogus"])
    return text[: m.start(1)] + new + text[m.end(1) :]


TEXT_MUTATIONS: dict[str, Callable[[str, random.Random], str]] = {
    "t_delete_token": delete_token, "t_insert_token": insert_token,
    "t_duplicate_token": duplicate_token, "t_swap_lines": swap_lines,
    "t_truncate": truncate_text, "t_unicode": random_unicode, "t_huge_number": huge_number,
    "t_bad_type": bad_type, "t_rename_value": rename_value, "t_replace_op": replace_op,
}  # fmt: skip
TEXT_KINDS = (*TEXT_MUTATIONS, "t_combo")


def mutate_text(text: str, kind: str, seed: int) -> str:
    rng = random.Random(seed)
    if kind != "t_combo":
        return TEXT_MUTATIONS[kind](text, rng)
    for _ in range(rng.randint(2, 4)):
        text = TEXT_MUTATIONS[rng.choice(list(TEXT_MUTATIONS))](text, rng)
    return text
