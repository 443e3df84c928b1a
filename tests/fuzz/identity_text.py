"""Text of the kind people type into identity fields, as Hypothesis strategies: names
with look-alike letters, dashes, marks and invisible characters; SNILS, passport numbers
and dates in every layout, with Unicode digits and other near misses."""

from __future__ import annotations

from datetime import date
from functools import cache
from typing import Final

from hypothesis import strategies as st

from fuzz.harness import sometimes

CYRILLIC: Final = "абвгдеёжзийклмнопрстуфхцчшщъыьэюяАБВГДЕЁЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯ"
LOOKALIKES: Final = "aAbBcCeEhHkKmMoOpPtTxXyYëË"
ODD: Final = (
    "-\u2010\u2011\u2012\u2013\u2014\u2212\u2043\ufe63\uff0d\u058a"  # dashes
    "'\u2019\u2018\u02bc`\u00b4\u2032\uff07"  # apostrophes
    " \t\n\u00a0\u2003\u3000\u2028"  # white space
    "\u0301\u0306\u0308\u0300"  # combining marks
    "\u00ad\u200b\u200c\u200d\u2060\ufeff\u061c"  # format characters
    "\ufb01\u2168\u337f\u01c5\u0130\u00df\u2126\u212a\u1e9e\u0345\u0390"  # compatibility, case
)
NAMES: Final = (
    "Смирнова",
    "Мария",
    "Петровна",
    "Д'Артаньян-Оглы",
    "Салтыков-Щедрин",
    "Ёлкина",
    "фон дер Шуленбург",
    "Jean Пьер",
    "СМИРНОВА",
    "Cмирнова",  # a Latin C
)


@cache
def names() -> st.SearchStrategy[str]:
    alphabet = st.sampled_from(CYRILLIC + LOOKALIKES + ODD)
    return st.one_of(
        st.text(alphabet, max_size=30),
        st.sampled_from(NAMES),
        st.builds(
            lambda a, b, c: a + b + c,
            st.sampled_from(NAMES),
            st.text(alphabet, max_size=4),
            st.sampled_from(NAMES),
        ),
        st.text(max_size=20),
        st.builds(
            lambda c, n: c * n,
            st.sampled_from(("а", " ", "-", "\u0301", "ﬁ")),
            st.sampled_from((100, 10_000)),
        ),
    )


def check_digits(nine: str) -> int:
    """SNILS check number: weights 9..1; below 100 itself, 100 and 101 give 0, else the sum
    mod 101 (a remainder of 100 gives 0 again)."""
    total = sum(int(digit) * (9 - i) for i, digit in enumerate(nine))
    if total < 100:
        return total
    return total % 101 % 100


def valid_snils(number: int) -> str:
    nine = f"{number:09d}"
    return nine + f"{check_digits(nine):02d}"


SEPARATORS: Final = " -\u00a0"
UNICODE_DIGITS: Final = "٠١٢٣٤٥٦٧٨٩０１２３４５６７８９¹²³"


@cache
def snils_texts() -> st.SearchStrategy[str]:
    digits = st.integers(0, 999_999_999).map(valid_snils)
    layouts = st.sampled_from(
        ("{}-{}-{} {}", "{}{}{}{}", "{} {} {} {}", "{}-{}-{}-{}", " {}-{}-{}\u00a0{} ")
    )

    def laid_out(value: str, layout: str) -> str:
        return layout.format(value[:3], value[3:6], value[6:9], value[9:])

    mutation = st.tuples(
        st.integers(0, 20),
        st.sampled_from(tuple("0123456789" + SEPARATORS + UNICODE_DIGITS + "xX.+")),
    )

    @st.composite
    def mutated(draw: st.DrawFn) -> str:
        value = laid_out(draw(digits), draw(layouts))
        for at, char in sometimes(draw, 50, mutation, 3):
            cut = at % (len(value) + 1)
            value = value[:cut] + char + value[cut + (1 if draw(st.booleans()) else 0) :]
        return value

    return st.one_of(
        mutated(),
        st.text(st.sampled_from("0123456789" + SEPARATORS), max_size=16),
        st.text(max_size=14),
    )


PASSPORT_SEPARATORS: Final = " -№\u00a0"


@cache
def passport_texts() -> st.SearchStrategy[str]:
    ten = st.text(st.sampled_from("0123456789"), min_size=10, max_size=10)
    digits = st.one_of(ten, ten, st.text(st.sampled_from("0123456789"), min_size=9, max_size=11))
    return st.one_of(
        st.builds(
            lambda d, sep: d[:2] + sep + d[2:4] + sep + d[4:],
            digits,
            st.sampled_from(("", " ", " №", "-", "\u00a0", "№", "\u2013", "/")),
        ),
        st.text(st.sampled_from("0123456789" + PASSPORT_SEPARATORS + UNICODE_DIGITS), max_size=16),
        st.text(max_size=12),
    )


def date_texts_of(born: date) -> set[str]:
    return {born.isoformat(), f"{born.day:02d}.{born.month:02d}.{born.year:04d}"}


@cache
def date_texts() -> st.SearchStrategy[str]:
    written = st.builds(
        lambda d, iso, pad: (
            pad + (d.isoformat() if iso else f"{d.day:02d}.{d.month:02d}.{d.year:04d}") + pad
        ),
        st.dates(),
        st.booleans(),
        st.sampled_from(("", "", " ", "\u00a0", "\t", "\u3000")),
    )
    impossible = st.builds(
        lambda y, m, d, sep: (
            f"{y:04d}{sep}{m:02d}{sep}{d:02d}" if sep == "-" else f"{d:02d}{sep}{m:02d}{sep}{y:04d}"
        ),
        st.integers(0, 9999),
        st.integers(0, 99),
        st.integers(0, 99),
        st.sampled_from(("-", ".", "/", " ")),
    )
    return st.one_of(
        written,
        impossible,
        st.text(st.sampled_from("0123456789-.+ " + UNICODE_DIGITS), max_size=12),
        st.text(max_size=12),
    )
