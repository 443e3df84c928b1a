"""Fuzzing the normalisers that record matching compares: names, SNILS, passport numbers,
dates, and the match keys of identities and accounts.

Invariant: a value is accepted as what was given (the digits that were written, the date
that was written; a name normalised idempotently) or refused with a stable code
(``snils.*``, ``passport.*``, ``date.*``, ``identity.*``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Final

import pytest
from hypothesis import strategies as st

from fuzz.harness import InvariantViolation, Target, chunks, fuzz
from fuzz.identity_text import (
    PASSPORT_SEPARATORS,
    SEPARATORS,
    check_digits,
    date_texts,
    date_texts_of,
    names,
    passport_texts,
    snils_texts,
    valid_snils,
)
from sso_bridge.matching.keys import BlindIndex, account_keys, identity_keys
from sso_bridge.matching.normalize import (
    format_snils,
    normalize_name,
    normalize_optional_name,
    parse_date,
    parse_passport,
    parse_snils,
)
from sso_bridge.model import FederatedIdentity, LocalAccount

INDEX: Final = BlindIndex(bytes(range(32)))


# -- names ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NameCase:
    value: str


def _normalize(case: NameCase) -> tuple[str, str, str | None]:
    once = normalize_name(case.value)
    return once, normalize_name(once), normalize_optional_name(case.value)


def _verify_name(case: NameCase, result: tuple[str, str, str | None]) -> str:
    once, twice, optional = result
    if twice != once:
        raise InvariantViolation(f"not idempotent: {once!r} then {twice!r}")
    if once != once.strip() or "  " in once or " -" in once or "- " in once:
        raise InvariantViolation(f"white space left in {once!r}")
    if optional != (once or None):
        raise InvariantViolation(f"normalize_optional_name gave {optional!r} for {once!r}")
    return "accepted" if once else "accepted (empty)"


@pytest.mark.parametrize("count", chunks("normalize_name"))
def test_normalize_name(count: int) -> None:
    target = Target(
        "normalize_name",
        call=_normalize,
        verify=_verify_name,
        repro=lambda case: (
            "from sso_bridge.matching.normalize import normalize_name\n\n"
            f"once = normalize_name({case.value!r})\n"
            "print(repr(once), repr(normalize_name(once)))\n"
        ),
    )
    fuzz(target, st.builds(NameCase, names()), count)


# -- SNILS ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TextCase:
    value: str


def _snils(case: TextCase) -> tuple[str, str]:
    digits = parse_snils(case.value)
    return digits, parse_snils(format_snils(digits))


def _verify_snils(case: TextCase, result: tuple[str, str]) -> str:
    digits, again = result
    given = "".join(c for c in case.value if c not in SEPARATORS)
    if digits != given or len(digits) != 11 or not (digits.isascii() and digits.isdigit()):
        raise InvariantViolation(f"accepted {case.value!r} as {digits!r}")
    if int(digits[:9]) > 1_001_998 and check_digits(digits[:9]) != int(digits[9:]):
        raise InvariantViolation(f"accepted {digits} with wrong check digits")
    if again != digits:
        raise InvariantViolation(f"format_snils does not parse back: {again!r}")
    return "accepted"


@pytest.mark.parametrize("count", chunks("snils"))
def test_snils(count: int) -> None:
    target = Target(
        "snils",
        call=_snils,
        verify=_verify_snils,
        repro=lambda case: (
            "from sso_bridge.matching.normalize import parse_snils\n\n"
            f"print(parse_snils({case.value!r}))\n"
        ),
    )
    fuzz(target, st.builds(TextCase, snils_texts()), count)


# -- passports --------------------------------------------------------------------------------


def _verify_passport(case: TextCase, digits: str) -> str:
    given = "".join(c for c in case.value if c not in PASSPORT_SEPARATORS)
    if digits != given or len(digits) != 10 or not (digits.isascii() and digits.isdigit()):
        raise InvariantViolation(f"accepted {case.value!r} as {digits!r}")
    return "accepted"


@pytest.mark.parametrize("count", chunks("passport"))
def test_passport(count: int) -> None:
    target = Target(
        "passport",
        call=lambda case: parse_passport(case.value),
        verify=_verify_passport,
        repro=lambda case: (
            "from sso_bridge.matching.normalize import parse_passport\n\n"
            f"print(parse_passport({case.value!r}))\n"
        ),
    )
    fuzz(target, st.builds(TextCase, passport_texts()), count)


# -- dates ------------------------------------------------------------------------------------


def _verify_date(case: TextCase, born: Any) -> str:
    if not isinstance(born, date) or case.value.strip() not in date_texts_of(born):
        raise InvariantViolation(f"accepted {case.value!r} as {born!r}")
    return "accepted"


@pytest.mark.parametrize("count", chunks("date"))
def test_date(count: int) -> None:
    target = Target(
        "date",
        call=lambda case: parse_date(case.value),
        verify=_verify_date,
        repro=lambda case: (
            "from sso_bridge.matching.normalize import parse_date\n\n"
            f"print(parse_date({case.value!r}))\n"
        ),
    )
    fuzz(target, st.builds(TextCase, date_texts()), count)


# -- match keys -------------------------------------------------------------------------------


@dataclass(frozen=True)
class KeysCase:
    subject: str
    last: str | None
    first: str | None
    middle: str | None
    born: date | None
    snils: str | None
    passport: str | None
    account_snils: int


def _keys(case: KeysCase) -> tuple[Any, Any, Any]:
    identity = FederatedIdentity(
        issuer="https://idp.example/",
        subject=case.subject,
        verified=True,
        last_name=case.last,
        first_name=case.first,
        middle_name=case.middle,
        birth_date=case.born,
        snils=case.snils,
        passport=case.passport,
    )
    account = LocalAccount(
        account_id="a1",
        org_id="sch1",
        last_name=case.last or "Смирнова",
        first_name=case.first or "Мария",
        middle_name=case.middle,
        birth_date=case.born,
        snils=valid_snils(case.account_snils),
    )
    return identity_keys(identity, INDEX), account, account_keys(account, INDEX)


def _verify_keys(case: KeysCase, result: tuple[Any, Any, Any]) -> str:
    (keys, warnings), account, from_account = result
    if not set(warnings) <= {"snils.malformed", "snils.checksum", "passport.malformed"}:
        raise InvariantViolation(f"warnings {warnings}")
    if keys.last != normalize_name(case.last or "") or keys.birth_date != case.born:
        raise InvariantViolation("the keys are not the identity's")
    if from_account.snils != INDEX.snils(valid_snils(case.account_snils)):
        raise InvariantViolation("the account's SNILS hash is not of its SNILS")
    if from_account.last != normalize_name(account.last_name):
        raise InvariantViolation("the account's name key is not its name")
    return "accepted" if not warnings else "accepted (with warnings)"


@pytest.mark.parametrize("count", chunks("identity_keys"))
def test_identity_keys(count: int) -> None:
    target = Target(
        "identity_keys",
        call=_keys,
        verify=_verify_keys,
        repro=lambda case: (
            "from sso_bridge.matching.keys import BlindIndex, identity_keys\n"
            "from sso_bridge.model import FederatedIdentity\n\n"
            f"identity = FederatedIdentity('https://idp.example/', {case.subject!r}, True, "
            f"last_name={case.last!r}, first_name={case.first!r}, middle_name={case.middle!r}, "
            f"birth_date={case.born!r}, snils={case.snils!r}, passport={case.passport!r})\n"
            "print(identity_keys(identity, BlindIndex(bytes(range(32)))))\n"
        ),
    )
    cases = st.builds(
        KeysCase,
        st.sampled_from(("1000299654",) * 6 + ("", " ")),
        st.none() | names(),
        st.none() | names(),
        st.none() | names(),
        st.none() | st.dates(),
        st.none() | snils_texts(),
        st.none() | passport_texts(),
        st.integers(0, 999_999_999),
    )
    fuzz(target, cases, count)
