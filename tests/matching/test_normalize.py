from __future__ import annotations

import sys
import unicodedata
from datetime import date

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from sso_bridge.errors import InvalidInput
from sso_bridge.matching.normalize import (
    LOOKALIKES,
    format_snils,
    normalize_name,
    normalize_optional_name,
    parse_date,
    parse_passport,
    parse_snils,
    snils_check_digits,
)

# Names drawn from the alphabets that really occur, plus every kind of troublemaker.
name_text = st.text(
    alphabet=st.one_of(
        st.sampled_from("АаБбВвЕеЁёИиЙйКкМмНнОоРрСсТтУуХхЯяЬьЪъ"),
        st.sampled_from("AaBbCcEeHhKkMmOoPpTtXxYyËëÄäVvRr"),
        st.sampled_from(" \t\u00a0-\u2010\u2013\u2014\u2212\ufe63\uff0d\u00ad\u200b'\u2019"),
        st.sampled_from("\u0301\u0306\u0308\u030b"),  # combining accents
        st.characters(),
    ),
    max_size=30,
)


@given(name_text)
@example("y\u030bа")  # Latin y + double acute: composes only once it turned Cyrillic
@example("ё\u0306")
def test_name_normalisation_is_idempotent(value: str) -> None:
    once = normalize_name(value)
    assert normalize_name(once) == once


@given(name_text)
def test_normalised_name_has_no_outer_or_double_spaces_or_spaced_dashes(value: str) -> None:
    result = normalize_name(value)
    assert result == result.strip()
    assert "  " not in result
    assert " -" not in result
    assert "- " not in result
    assert "ё" not in result


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Ёлкина", "елкина"),
        ("СЕМЁНОВ", "семенов"),
        ("  Петрова   —   Водкина ", "петрова-водкина"),
        ("Петрова\u2013Водкина", "петрова-водкина"),
        ("Петрова \u2212 Водкина", "петрова-водкина"),
        ("Анна\u00a0Мария", "анна мария"),
        ("Мари\u00adя", "мария"),  # soft hyphen is invisible
        ("ИBAHOB", "иванов"),  # Latin B, A, H inside a Cyrillic word
        ("Cмирновa", "смирнова"),
        ("Apтём", "артем"),
        ("Фeдоров", "федоров"),
        ("Smith", "smith"),  # no Cyrillic: left alone
        ("Smith-Иванова", "smith-иванова"),  # tokens are judged one by one
        ("О\u2019Коннор", "о'коннор"),
        ("ＡＢＣ", "abc"),  # fullwidth → NFKC
    ],
)
def test_name_normalisation_examples(raw: str, expected: str) -> None:
    assert normalize_name(raw) == expected


def test_every_unicode_dash_becomes_a_hyphen() -> None:
    dashes = [chr(c) for c in range(sys.maxunicode + 1) if unicodedata.category(chr(c)) == "Pd"]
    assert len(dashes) > 20
    for dash in dashes:
        assert normalize_name(f"Петрова {dash} Водкина") == "петрова-водкина", hex(ord(dash))


def test_every_lookalike_maps_to_a_cyrillic_letter() -> None:
    for latin, cyrillic in LOOKALIKES.items():
        assert unicodedata.name(cyrillic).startswith("CYRILLIC"), latin
        assert normalize_name(f"д{latin}") == f"д{cyrillic}"
        assert normalize_name(f"Д{latin.upper()}") == f"д{cyrillic}"


def test_empty_middle_name_is_absent() -> None:
    assert normalize_optional_name(None) is None
    assert normalize_optional_name("") is None
    assert normalize_optional_name(" \u00ad ") is None
    assert normalize_optional_name("Петровна") == "петровна"


# -- SNILS --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "digits"),
    [
        ("112-233-445 95", "11223344595"),  # sum 95 < 100: the sum itself
        ("11223344595", "11223344595"),
        ("000-000-600 06", "00000060006"),  # below 001-001-998: no checksum at all
        ("001-001-998 00", "00100199800"),
        ("001-001-998 77", "00100199877"),
    ],
)
def test_snils_valid(raw: str, digits: str) -> None:
    assert parse_snils(raw) == digits
    assert parse_snils(format_snils(digits)) == digits


def _nine_digits_with_sum(total: int) -> str:
    """First nine SNILS digits whose weighted sum (weights 9..1) is ``total``."""
    digits = []
    for weight in range(9, 0, -1):
        d = min(9, total // weight)
        digits.append(str(d))
        total -= d * weight
    assert total == 0
    return "".join(digits)


@pytest.mark.parametrize(
    ("total", "check"),
    [(95, 95), (99, 99), (100, 0), (101, 0), (102, 1), (150, 49), (201, 0), (202, 0), (203, 1)],
)
def test_snils_checksum_rule(total: int, check: int) -> None:
    # < 100: the sum; 100 or 101: 00; otherwise sum mod 101, where 100 becomes 00
    assert snils_check_digits(_nine_digits_with_sum(total)) == check


def test_snils_checksum_failure_and_malformed() -> None:
    with pytest.raises(InvalidInput) as exc:
        parse_snils("112-233-445 96")
    assert exc.value.code == "snils.checksum"
    for bad in ("112-233-445", "112-233-445 955", "abc-def-ghi jk", "١١٢٢٣٣٤٤٥٩٥", ""):
        with pytest.raises(InvalidInput) as exc:
            parse_snils(bad)
        assert exc.value.code == "snils.malformed"


@given(st.integers(1_001_999, 999_999_999))
def test_snils_with_computed_check_digits_always_parses(number: int) -> None:
    first = f"{number:09d}"
    digits = first + f"{snils_check_digits(first):02d}"
    assert parse_snils(format_snils(digits)) == digits
    wrong = first + f"{(snils_check_digits(first) + 1) % 100:02d}"
    with pytest.raises(InvalidInput):
        parse_snils(wrong)


# -- passport and dates ---------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["45 06 123456", "4506 123456", "4506123456", "45 06 №123456"])
def test_passport_forms(raw: str) -> None:
    assert parse_passport(raw) == "4506123456"


@pytest.mark.parametrize("raw", ["4506 12345", "45061234567", "AB06 123456", ""])
def test_passport_malformed(raw: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        parse_passport(raw)
    assert exc.value.code == "passport.malformed"


def test_dates_both_formats() -> None:
    assert parse_date("1984-03-12") == date(1984, 3, 12)
    assert parse_date("12.03.1984") == date(1984, 3, 12)
    assert parse_date(" 12.03.1984 ") == date(1984, 3, 12)
    assert parse_date(date(2000, 1, 1)) == date(2000, 1, 1)


@pytest.mark.parametrize("raw", ["31.02.2000", "2000-13-01", "12/03/1984", "1984-3-12", "", "x"])
def test_bad_dates(raw: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        parse_date(raw)
    assert exc.value.code == "date.malformed"


@given(st.dates())
def test_dates_round_trip(value: date) -> None:
    if value.year >= 1000:
        assert parse_date(value.isoformat()) == value
        assert parse_date(value.strftime("%d.%m.%Y")) == value
