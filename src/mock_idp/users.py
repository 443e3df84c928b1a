"""The people a mock IdP knows: an ESIA-like person directory kept in YAML or JSON.

A person has a numeric ``oid`` (the subject), a login (phone, e-mail or SNILS), a
password, names, a birth date written ``DD.MM.YYYY`` like ESIA writes it, gender, SNILS
(``000-000-600 06``), an RF passport, contacts with a verified flag, an account level
(``simplified``, ``standard`` or ``confirmed``; only a confirmed account is *trusted*),
children, the second-factor method (``sms`` or ``totp``), and the organisations the person
works for (``roles``, see :mod:`mock_idp.orgs`).
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs
import yaml

from mock_idp.errors import MockIdpConfigError
from mock_idp.orgs import OrgRole, role_from_dict, role_to_dict
from sso_bridge.errors import InvalidInput
from sso_bridge.jsonparse import parse_json
from sso_bridge.matching.normalize import format_snils, parse_date, parse_passport, parse_snils


class Level(enum.StrEnum):
    SIMPLIFIED = "simplified"
    STANDARD = "standard"
    CONFIRMED = "confirmed"


class Gender(enum.StrEnum):
    MALE = "M"
    FEMALE = "F"


class ContactType(enum.StrEnum):
    MOBILE = "MBT"
    EMAIL = "EML"


class SecondFactor(enum.StrEnum):
    SMS = "sms"
    TOTP = "totp"


@attrs.frozen
class Contact:
    type: ContactType
    value: str
    verified: bool = False


@attrs.frozen
class Passport:
    """An RF internal passport: 4-digit series, 6-digit number."""

    series: str
    number: str
    issue_date: str | None = None
    issued_by: str | None = None


@attrs.frozen
class Kid:
    """A child as ESIA lists it under a parent."""

    oid: int
    last_name: str
    first_name: str
    middle_name: str | None
    birth_date: str
    gender: Gender
    snils: str | None = None


@attrs.frozen
class Person:
    oid: int
    login: str
    password: str = attrs.field(repr=False)
    last_name: str
    first_name: str
    middle_name: str | None
    birth_date: str
    gender: Gender
    level: Level = Level.CONFIRMED
    snils: str | None = None
    passport: Passport | None = None
    contacts: tuple[Contact, ...] = ()
    kids: tuple[Kid, ...] = ()
    second_factor: SecondFactor = SecondFactor.SMS
    totp_secret: str | None = attrs.field(default=None, repr=False)
    roles: tuple[OrgRole, ...] = ()

    @property
    def trusted(self) -> bool:
        """ESIA's ``trusted``: true only for a confirmed account."""
        return self.level is Level.CONFIRMED

    @property
    def mobile(self) -> str | None:
        return next((c.value for c in self.contacts if c.type is ContactType.MOBILE), None)

    def logins(self) -> set[str]:
        """Every string this person may log in with: the login, phone, e-mail, SNILS."""
        names = {_login_key(self.login)}
        names.update(_login_key(c.value) for c in self.contacts if c.verified)
        if self.snils:
            names.add(_login_key(self.snils))
        return names


_DIGITS = re.compile(r"\D")
MAX_CONFIG_BYTES = 64 * 1024 * 1024  # a config file is the operator's own, not input


def _login_key(value: str) -> str:
    """Logins compare without case and, for phones and SNILS, without punctuation."""
    value = value.strip().casefold()
    if "@" in value:
        return value
    digits = _DIGITS.sub("", value)
    if len(digits) == 11 and digits[0] in "78" and value.lstrip().startswith(("+", "8", "7", "(")):
        return "7" + digits[1:]  # +7 (900) 000-00-00 and 8 900 000 00 00 are one phone
    return digits or value


def _bad(oid: object, message: str) -> InvalidInput:
    return MockIdpConfigError(f"person {str(oid)[:40]}: {message}", code="mock_idp.bad_person")


MAX_OID = 2**63 - 1
"""The largest ESIA ``oid`` accepted (they are 64-bit numbers at ESIA)."""


def valid_oid(value: object) -> bool:
    """A whole number (not a bool) from 1 to :data:`MAX_OID`."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_OID


def _esia_date(oid: object, value: Any, field: str) -> str:
    if not isinstance(value, str):
        raise _bad(oid, f"{field} must be a date string")
    try:
        return parse_date(value).strftime("%d.%m.%Y")
    except InvalidInput:
        raise _bad(oid, f"{field} {value!r} is not DD.MM.YYYY") from None


def _snils(oid: object, value: Any) -> str | None:
    if value in (None, ""):
        return None
    try:
        return format_snils(parse_snils(str(value)))
    except InvalidInput as exc:
        raise _bad(oid, f"SNILS {value!r}: {exc.message}") from None


def _enum(oid: object, kind: type[enum.StrEnum], value: Any, field: str) -> Any:
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(m.value for m in kind)
        raise _bad(oid, f"{field} {value!r} is not one of {allowed}") from None


def person_from_dict(data: Mapping[str, Any]) -> Person:
    """A :class:`Person` from its YAML/JSON form; raises ``mock_idp.bad_person``."""
    oid = data.get("oid")
    if not isinstance(oid, int) or not valid_oid(oid):
        raise _bad(oid, f"oid must be a whole number from 1 to {MAX_OID}")
    for k in data.get("kids") or ():
        if not isinstance(k, Mapping) or not valid_oid(k.get("oid")):
            raise _bad(oid, f"a kid's oid must be a whole number from 1 to {MAX_OID}")
    for field in ("login", "password", "last_name", "first_name"):
        if not isinstance(data.get(field), str) or not data[field]:
            raise _bad(oid, f"{field} is required")
    passport = _passport(oid, data["passport"]) if data.get("passport") else None
    contacts = tuple(
        Contact(
            _enum(oid, ContactType, c.get("type"), "contact type"),
            str(c.get("value", "")),
            bool(c.get("verified", False)),
        )
        for c in data.get("contacts") or ()
    )
    kids = tuple(_kid(oid, k) for k in data.get("kids") or ())
    second_factor = _enum(oid, SecondFactor, data.get("second_factor", "sms"), "second_factor")
    if second_factor is SecondFactor.TOTP and not data.get("totp_secret"):
        raise _bad(oid, "a TOTP second factor needs totp_secret (base32)")
    return Person(
        oid=oid,
        login=data["login"],
        password=data["password"],
        last_name=data["last_name"],
        first_name=data["first_name"],
        middle_name=data.get("middle_name") or None,
        birth_date=_esia_date(oid, data.get("birth_date"), "birth_date"),
        gender=_enum(oid, Gender, data.get("gender", "M"), "gender"),
        level=_enum(oid, Level, data.get("level", "confirmed"), "level"),
        snils=_snils(oid, data.get("snils")),
        passport=passport,
        contacts=contacts,
        kids=kids,
        second_factor=second_factor,
        totp_secret=data.get("totp_secret"),
        roles=tuple(role_from_dict(oid, r) for r in data.get("roles") or ()),
    )


def _passport(oid: int, p: Any) -> Passport:
    try:
        digits = parse_passport(f"{p.get('series', '')}{p.get('number', '')}")
    except (InvalidInput, AttributeError):
        raise _bad(oid, "passport needs a 4-digit series and a 6-digit number") from None
    return Passport(digits[:4], digits[4:], p.get("issue_date"), p.get("issued_by"))


def _kid(oid: int, k: Mapping[str, Any]) -> Kid:
    return Kid(
        oid=int(k["oid"]),
        last_name=k["last_name"],
        first_name=k["first_name"],
        middle_name=k.get("middle_name"),
        birth_date=_esia_date(oid, k.get("birth_date"), "kid birth_date"),
        gender=_enum(oid, Gender, k.get("gender", "M"), "kid gender"),
        snils=_snils(oid, k.get("snils")),
    )


def person_to_dict(person: Person) -> dict[str, Any]:
    """The YAML/JSON form of a person (round-trips through :func:`person_from_dict`)."""
    out: dict[str, Any] = {
        "oid": person.oid,
        "login": person.login,
        "password": person.password,
        "last_name": person.last_name,
        "first_name": person.first_name,
        "middle_name": person.middle_name,
        "birth_date": person.birth_date,
        "gender": person.gender.value,
        "level": person.level.value,
        "snils": person.snils,
        "second_factor": person.second_factor.value,
    }
    if person.totp_secret:
        out["totp_secret"] = person.totp_secret
    if person.passport:
        out["passport"] = {k: v for k, v in attrs.asdict(person.passport).items() if v is not None}
    if person.contacts:
        out["contacts"] = [
            {"type": c.type.value, "value": c.value, "verified": c.verified}
            for c in person.contacts
        ]
    if person.kids:
        out["kids"] = [
            {k: (v.value if isinstance(v, enum.Enum) else v) for k, v in attrs.asdict(kid).items()}
            for kid in person.kids
        ]
    if person.roles:
        out["roles"] = [role_to_dict(role) for role in person.roles]
    return out


class Directory:
    """People by oid, with login lookup. Not thread-safe for writes; the server serialises."""

    def __init__(self, people: Iterable[Person] = ()) -> None:
        self._by_oid: dict[int, Person] = {}
        self._by_login: dict[str, int] = {}
        for person in people:
            self.put(person)

    def put(self, person: Person) -> None:
        """Add a person, or replace the one with the same oid."""
        for name in person.logins():
            owner = self._by_login.get(name)
            if owner is not None and owner != person.oid:
                raise _bad(person.oid, f"login {name!r} already belongs to person {owner}")
        old = self._by_oid.get(person.oid)
        if old is not None:
            for name in old.logins():
                self._by_login.pop(name, None)
        self._by_oid[person.oid] = person
        for name in person.logins():
            self._by_login[name] = person.oid

    def get(self, oid: int) -> Person | None:
        return self._by_oid.get(oid)

    def by_login(self, login: str) -> Person | None:
        oid = self._by_login.get(_login_key(login))
        return None if oid is None else self._by_oid[oid]

    def __iter__(self) -> Any:
        return iter(sorted(self._by_oid.values(), key=lambda p: p.oid))

    def __len__(self) -> int:
        return len(self._by_oid)


def load_config(path: Path) -> dict[str, Any]:
    """Read a YAML or JSON config file (``users:`` and ``clients:`` lists)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise MockIdpConfigError(
            f"{path}: {exc.strerror}", code="mock_idp.config_unreadable"
        ) from None
    try:
        if path.suffix == ".json":
            data = parse_json(text, max_bytes=MAX_CONFIG_BYTES)
        else:
            data = yaml.safe_load(text)
    except (InvalidInput, yaml.YAMLError) as exc:
        reason = exc.message if isinstance(exc, InvalidInput) else " ".join(str(exc).split())
        raise MockIdpConfigError(f"{path}: {reason}", code="mock_idp.config_invalid") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise MockIdpConfigError(
            f"{path}: expected a mapping at the top", code="mock_idp.config_invalid"
        )
    return data


def load_directory(path: Path) -> Directory:
    """The people of a config file."""
    return Directory(person_from_dict(p) for p in load_config(path).get("users") or ())


def save_directory(path: Path, directory: Directory) -> None:
    """Write the people back, keeping the file's other sections."""
    data = load_config(path) if path.exists() else {}
    data["users"] = [person_to_dict(p) for p in directory]
    if path.suffix == ".json":
        text = json.dumps(data, ensure_ascii=False, indent=2) + "\n"
    else:
        text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    path.write_text(text, encoding="utf-8")
