"""Normalisation of the identity data that record matching compares (docs/matching.md).

Every function here is pure and idempotent: ``f(f(x)) == f(x)`` for names, and the
parsers accept their own output.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from datetime import date

from sso_bridge.errors import DateError, InvalidInput, PassportError, SnilsChecksum, SnilsError

NAME_RULES_VERSION = 1
"""Bumped whenever :func:`normalize_name` changes; stores rebuild their name keys then."""

# Unicode general category Pd (dash punctuation), plus the minus sign and the hyphen
# bullet, which people type for a hyphen. tests/test_normalize.py checks this list
# against the running unicodedata tables.
_DASHES = (
    "\u002d\u058a\u05be\u1400\u1806\u2010\u2011\u2012\u2013\u2014\u2015\u2e17\u2e1a"
    "\u2e3a\u2e3b\u2e40\u2e5d\u301c\u3030\u30a0\ufe31\ufe32\ufe58\ufe63\uff0d"
    "\U00010ead\u2212\u2043"
)
_APOSTROPHES = "\u2019\u2018\u02bc\u02b9\u0060\u00b4\u2032\uff07"

# Latin letters that look like Cyrillic ones (after case folding). Uppercase forms fold to
# these first, so "B" and "H" are covered through "b" and "h".
LOOKALIKES = {
    "a": "а",
    "b": "в",
    "c": "с",
    "e": "е",
    "h": "н",
    "k": "к",
    "m": "м",
    "o": "о",
    "p": "р",
    "t": "т",
    "x": "х",
    "y": "у",
    "ë": "е",
}

_TABLE: dict[int, str | None] = {ord("ё"): "е"}
_TABLE.update({ord(ch): "-" for ch in _DASHES})
_TABLE.update({ord(ch): "'" for ch in _APOSTROPHES})
_LOOKALIKE_TABLE = str.maketrans(LOOKALIKES)

_CYRILLIC = re.compile("[\u0400-\u052f\u1c80-\u1c8f\u2de0-\u2dff\ua640-\ua69f]")
_LATIN_LOOKALIKE = re.compile("[" + "".join(LOOKALIKES) + "]")
_TOKEN = re.compile(r"[^ \-]+")
_SPACED_DASH = re.compile(r" ?- ?")
# Names made only of these characters need none of the slow steps.
_SIMPLE = re.compile(r"[А-Яа-яЁё]+(?:[ -][А-Яа-яЁё]+)*")


def _fix_token(match: re.Match[str]) -> str:
    token = match.group(0)
    if _CYRILLIC.search(token) and _LATIN_LOOKALIKE.search(token):
        return token.translate(_LOOKALIKE_TABLE)
    return token


def _normalize_once(value: str) -> str:
    value = unicodedata.normalize("NFKC", value)
    value = unicodedata.normalize("NFKC", value.casefold())
    value = value.translate(_TABLE)
    # Invisible format characters (soft hyphen, zero-width space, BOM ...) carry nothing.
    value = "".join(ch for ch in value if unicodedata.category(ch) != "Cf")
    value = " ".join(value.split())
    value = _SPACED_DASH.sub("-", value)
    return _TOKEN.sub(_fix_token, value)


@functools.lru_cache(maxsize=1 << 16)
def normalize_name(value: str) -> str:
    """Normalise one name part (last, first or middle name) for comparison.

    NFKC, case folding, ``ё`` → ``е``, every dash → ``-`` with no spaces around it, runs
    of white space → one space, trimmed; in a token with Cyrillic letters, Latin
    look-alikes become their Cyrillic twins.
    """
    if _SIMPLE.fullmatch(value):
        return value.lower().replace("ё", "е")
    # Composition can make new characters after the mapping steps (a Latin letter that
    # turned Cyrillic may now compose with a following mark), so repeat to a fixpoint.
    for _ in range(4):
        result = _normalize_once(value)
        if result == value:
            break
        value = result
    return value


def normalize_optional_name(value: str | None) -> str | None:
    """Like :func:`normalize_name`, but an empty or missing name is ``None`` (absent)."""
    if value is None:
        return None
    result = normalize_name(value)
    return result or None


_SNILS_SEPARATORS = str.maketrans("", "", " -\u00a0")
# Numbers up to 001-001-998 were issued before the check digits were introduced.
_SNILS_LAST_UNCHECKED = 1_001_998


# Weighted sums of each group of three digits, for the weights 9-8-7, 6-5-4 and 3-2-1.
_SNILS_SUMS = tuple(
    tuple(w * (n // 100) + (w - 1) * (n // 10 % 10) + (w - 2) * (n % 10) for n in range(1000))
    for w in (9, 6, 3)
)


def snils_check_digits(first_nine: str) -> int:
    """The two check digits of a SNILS, from its first nine digits.

    Weights 9..1 over the nine digits; a sum below 100 is the check number itself, 100
    and 101 give 00, anything else is taken mod 101 (where 100 again gives 00).
    """
    a, b, c = _SNILS_SUMS
    total = a[int(first_nine[:3])] + b[int(first_nine[3:6])] + c[int(first_nine[6:9])]
    if total < 100:
        return total
    return total % 101 % 100


def parse_snils(value: str) -> str:
    """Return the 11 digits of a SNILS, or raise :class:`InvalidInput`.

    Accepts ``112-233-445 95`` and ``11223344595``. Codes: ``snils.malformed`` (not 11
    digits) and ``snils.checksum`` (check digits wrong).
    """
    digits = value if len(value) == 11 else value.translate(_SNILS_SEPARATORS)
    if len(digits) != 11 or not digits.isascii() or not digits.isdigit():
        raise SnilsError("a SNILS has 11 digits", code="snils.malformed")
    number = int(digits[:9])
    if number > _SNILS_LAST_UNCHECKED and snils_check_digits(digits[:9]) != int(digits[9:]):
        raise SnilsChecksum("SNILS check digits do not match", code="snils.checksum")
    return digits


def format_snils(digits: str) -> str:
    """``11223344595`` → ``112-233-445 95``."""
    return f"{digits[:3]}-{digits[3:6]}-{digits[6:9]} {digits[9:]}"


_PASSPORT_SEPARATORS = str.maketrans("", "", " -№\u00a0")


def parse_passport(value: str) -> str:
    """Return an RF internal passport as ``SSSSNNNNNN`` (series + number), or raise.

    Accepts ``45 06 123456``, ``4506 №123456`` and ``4506123456``. Code:
    ``passport.malformed``.
    """
    digits = value.translate(_PASSPORT_SEPARATORS)
    if len(digits) != 10 or not digits.isascii() or not digits.isdigit():
        raise PassportError(
            "an RF passport is a 4-digit series and a 6-digit number",
            code="passport.malformed",
        )
    return digits


def parse_date_or_none(value: str | None) -> date | None:
    """:func:`parse_date` for data from an IdP: a date that does not parse is absent (None),
    never guessed, and never a reason to refuse the whole login."""
    if value is None:
        return None
    try:
        return parse_date(value)
    except InvalidInput:
        return None


def parse_date(value: str | date) -> date:
    """Parse ISO ``YYYY-MM-DD`` or ESIA's ``DD.MM.YYYY``; raise ``date.malformed``."""
    if isinstance(value, date):
        return value
    text = value.strip()
    if len(text) == 10 and text.isascii():
        if text[4] == "-" == text[7]:
            year, month, day = text[:4], text[5:7], text[8:]
        elif text[2] == "." == text[5]:
            day, month, year = text[:2], text[3:5], text[6:]
        else:
            year = month = day = ""
        if (year + month + day).isdigit():
            try:
                return date(int(year), int(month), int(day))
            except ValueError:
                pass
    raise DateError(f"{text!r} is not a date (YYYY-MM-DD or DD.MM.YYYY)", code="date.malformed")
