"""JSON as text, for the relying party's inputs: Hypothesis strategies that write JSON
themselves, so that what ``json.dumps`` never writes is written too: ``NaN``,
``Infinity``, ``1e999``, integers of 400 digits, lone surrogate escapes, duplicate keys,
nesting 10,000 deep, and long runs of one fragment (``[[[[``, ``\\"\\"\\"``) that find
parsers whose time grows faster than their input.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from hypothesis import strategies as st

NUMBERS: Final = (
    "0",
    "-0",
    "1",
    "-1",
    "0.5",
    "1e3",
    "1E400",
    "1e999",
    "-1e999",
    "1e-400",
    "1.7976931348623157e308",
    "2e308",
    "NaN",
    "-NaN",
    "Infinity",
    "-Infinity",
    "123456789012345678901234567890",
    str(10**400),
    str(-(10**400)),
    str(2**63),
    str(2**64),
    "253402300799",
    "253402300800",
    "01",
    "1.",
    ".5",
    "+1",
    "0x10",
    "1_000",
    "true",
    "false",
    "null",
)
"""Number-like texts, valid JSON or not (Python's parser takes ``NaN`` and ``Infinity``)."""

RAW_STRINGS: Final = (
    '""',
    '" "',
    '"\\u0000"',
    '"\\ud800"',
    '"\\udc00\\ud800"',
    '"\\ud83d\\ude00"',
    '"a\\"b"',
    '"\\x41"',
    '"\\',
    '"unterminated',
    '"\t"',
    '"\\/"',
)
FRAGMENTS: Final = (
    "[",
    "{",
    "]",
    "}",
    '"',
    '\\"',
    "\\",
    ",",
    ":",
    '"a":',
    "1",
    "[1,",
    '{"a":',
    " ",
)
COUNTS: Final = (1, 2, 31, 33, 100, 1000, 10_000, 50_000)
DEPTHS: Final = (31, 32, 33, 64, 500, 999, 1000, 1500, 5000, 10_000, 100_000)


class Unparsed:
    """What :func:`python_value` gives for text that ``json.loads`` refuses."""

    def __repr__(self) -> str:
        return "UNPARSED"


UNPARSED: Final = Unparsed()


def python_value(text: str | bytes) -> Any:
    """The value Python's own parser reads from ``text``, or :data:`UNPARSED`."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return UNPARSED


@functools.cache
def numbers() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(NUMBERS),
        st.integers().map(str),
        st.floats(allow_nan=False, allow_infinity=False).map(json.dumps),
    )


@functools.cache
def strings() -> st.SearchStrategy[str]:
    return st.one_of(
        st.builds(json.dumps, st.text(max_size=24), ensure_ascii=st.booleans()),
        st.sampled_from(RAW_STRINGS),
        st.sampled_from(("a", "é", "\\", '\\"', "Я")).map(lambda c: json.dumps(c * 5000)),
    )


@functools.cache
def scalars() -> st.SearchStrategy[str]:
    return st.one_of(numbers(), strings(), st.sampled_from(("true", "false", "null")))


@dataclass(frozen=True)
class Edit:
    """A change to a JSON object written as (name, value text) pairs."""

    kind: str  # set, delete, duplicate (a second entry of that name: the last one wins)
    name: str
    value: str

    def apply(self, entries: list[tuple[str, str]]) -> list[tuple[str, str]]:
        if self.kind == "delete":
            return [(n, v) for n, v in entries if n != self.name]
        if self.kind == "duplicate" or all(n != self.name for n, _ in entries):
            return [*entries, (self.name, self.value)]
        return [(n, self.value if n == self.name else v) for n, v in entries]


def as_object(entries: list[tuple[str, str]]) -> str:
    return "{" + ",".join(f"{json.dumps(n)}:{v}" for n, v in entries) + "}"


def array(items: Sequence[str]) -> str:
    return "[" + ",".join(items) + "]"


def obj(entries: Sequence[tuple[str, str]]) -> str:
    """An object from (key, value text) pairs, keys JSON-quoted; duplicates are kept."""
    return "{" + ",".join(f"{json.dumps(key)}:{value}" for key, value in entries) + "}"


@functools.cache
def values(max_leaves: int = 12) -> st.SearchStrategy[str]:
    """Any JSON value as text, nested a little."""
    keys = st.one_of(st.sampled_from(("a", "sub", "exp", "keys", "")), st.text(max_size=8))
    return st.recursive(
        scalars(),
        lambda inner: st.one_of(
            st.lists(inner, max_size=4).map(array),
            st.lists(st.tuples(keys, inner), max_size=4).map(obj),
        ),
        max_leaves=max_leaves,
    )


def nest(kind: str, depth: int, leaf: str) -> str:
    if kind == "array":
        return "[" * depth + leaf + "]" * depth
    if kind == "object":
        return '{"a":' * depth + leaf + "}" * depth
    return '[{"a":' * (depth // 2) + leaf + "}]" * (depth // 2)


@functools.cache
def deep() -> st.SearchStrategy[str]:
    """Arrays and objects nested up to 100,000 deep."""
    return st.builds(
        nest, st.sampled_from(("array", "object", "mixed")), st.sampled_from(DEPTHS), scalars()
    )


@functools.cache
def runs() -> st.SearchStrategy[str]:
    """A few fragments, each repeated many times over."""
    return st.lists(
        st.tuples(st.sampled_from(FRAGMENTS), st.sampled_from(COUNTS)), min_size=1, max_size=4
    ).map(lambda pieces: "".join(fragment * count for fragment, count in pieces))


@functools.cache
def deep_runs() -> st.SearchStrategy[str]:
    """Open arrays and objects (past the usual depth limits), then repeated fragments."""
    return st.builds(
        lambda opener, depth, rest: opener * depth + rest,
        st.sampled_from(("[", '{"a":', "[{}, ")),
        st.sampled_from((33, 100, 1000)),
        runs(),
    )


@functools.cache
def documents() -> st.SearchStrategy[str]:
    """Whole documents: values, deep nesting and repeated fragments."""
    return st.one_of(values(), deep(), runs(), deep_runs())


ENCODINGS: Final = ("utf-8", "utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-32", "latin-1")


@functools.cache
def bodies() -> st.SearchStrategy[bytes]:
    """Response bodies: documents in various encodings, and plain bytes."""
    encoded = st.builds(
        lambda text, codec: text.encode(codec, "surrogatepass" if "utf" in codec else "replace"),
        documents(),
        st.sampled_from(ENCODINGS),
    )
    return st.one_of(encoded, st.binary(max_size=64))
