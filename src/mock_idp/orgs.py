"""Organisations a person works for, as ESIA lists them at ``/rs/prns/{oid}/roles``, and
the organisations themselves, as ESIA's ``/rs/orgs/{oid}`` gives them.

A role names the organisation (its ESIA ``oid``, full and short name, OGRN, INN, KPP and
type) and the person's place in it (``chief``, ``admin``, ``active``). As in ESIA, the
roles list (:func:`role_document`) carries the organisation's oid, names, OGRN and type
and the person's standing, but not INN and KPP: those come from the organisation's own
document (:func:`organisation_document`). The registration
numbers are checked as the tax service builds them: OGRN (13 digits) and OGRNIP (15
digits) by their mod-11 / mod-13 check digit, a legal entity's INN (10 digits) and a
sole trader's INN (12 digits) by their weighted check digits, KPP by its form.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from typing import Any, Final

import attrs

from mock_idp.errors import MockIdpConfigError
from sso_bridge.errors import InvalidInput

_KPP_RE: Final = re.compile(r"[0-9]{4}[0-9A-Z]{2}[0-9]{3}")
_INN10_WEIGHTS: Final = (2, 4, 10, 3, 5, 9, 4, 6, 8)
_INN11_WEIGHTS: Final = (7, 2, 4, 10, 3, 5, 9, 4, 6, 8)
_INN12_WEIGHTS: Final = (3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8)


class OrgType(enum.StrEnum):
    """ESIA's organisation types: a legal entity, a sole trader, a state body."""

    LEGAL = "LEGAL"
    BUSINESS = "BUSINESS"
    AGENCY = "AGENCY"


@attrs.frozen
class OrgRole:
    """A person's membership of one organisation."""

    oid: int
    full_name: str
    short_name: str
    ogrn: str
    inn: str
    kpp: str | None = None  # a sole trader has none
    type: OrgType = OrgType.LEGAL
    chief: bool = False
    admin: bool = False
    active: bool = True
    phone: str | None = None
    email: str | None = None


def _weighted(digits: str, weights: tuple[int, ...]) -> str:
    return str(sum(int(d) * w for d, w in zip(digits, weights, strict=False)) % 11 % 10)


def valid_ogrn(value: str) -> bool:
    """An OGRN (13 digits, mod 11) or OGRNIP (15 digits, mod 13) with a right check digit."""
    if not value.isascii() or not value.isdigit() or len(value) not in (13, 15):
        return False
    modulus = 11 if len(value) == 13 else 13
    return str(int(value[:-1]) % modulus % 10) == value[-1]


def valid_inn(value: str) -> bool:
    """A 10-digit (organisation) or 12-digit (individual) INN with right check digits."""
    if not value.isascii() or not value.isdigit():
        return False
    if len(value) == 10:
        return _weighted(value[:9], _INN10_WEIGHTS) == value[9]
    if len(value) == 12:
        return (
            _weighted(value[:10], _INN11_WEIGHTS) == value[10]
            and _weighted(value[:11], _INN12_WEIGHTS) == value[11]
        )
    return False


def valid_kpp(value: str) -> bool:
    """A KPP: four digits, two digits or capital letters, three digits."""
    return _KPP_RE.fullmatch(value) is not None


def _bad(owner: object, message: str) -> InvalidInput:
    return MockIdpConfigError(f"person {owner}: {message}", code="mock_idp.bad_person")


def _text(owner: object, data: Mapping[str, Any], field: str) -> str:
    value = data.get(field)
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)  # YAML reads unquoted numbers as integers
    if not isinstance(value, str) or not value:
        raise _bad(owner, f"role {field} is required")
    return value


def role_from_dict(owner: object, data: Mapping[str, Any]) -> OrgRole:
    """An :class:`OrgRole` from its YAML/JSON form; raises ``mock_idp.bad_person``."""
    if not isinstance(data, Mapping):
        raise _bad(owner, "a role must be a mapping")
    oid = data.get("oid")
    if not isinstance(oid, int) or isinstance(oid, bool) or not 0 < oid <= 2**63 - 1:
        raise _bad(owner, "role oid must be a whole number from 1 to 2**63 - 1")
    try:
        kind = OrgType(data.get("type", "LEGAL"))
    except ValueError:
        allowed = ", ".join(t.value for t in OrgType)
        raise _bad(owner, f"role type {data.get('type')!r} is not one of {allowed}") from None
    ogrn, inn = _text(owner, data, "ogrn"), _text(owner, data, "inn")
    if not valid_ogrn(ogrn) or (len(ogrn) == 15) != (kind is OrgType.BUSINESS):
        raise _bad(owner, f"role ogrn {ogrn!r} is not a valid OGRN for {kind.value}")
    if not valid_inn(inn) or (len(inn) == 12) != (kind is OrgType.BUSINESS):
        raise _bad(owner, f"role inn {inn!r} is not a valid INN for {kind.value}")
    kpp = data.get("kpp")
    kpp = str(kpp) if kpp not in (None, "") else None
    if kind is OrgType.BUSINESS and kpp is not None:
        raise _bad(owner, "a sole trader has no KPP")
    if kind is not OrgType.BUSINESS and (kpp is None or not valid_kpp(kpp)):
        raise _bad(owner, f"role kpp {kpp!r} is not nine characters NNNNXXNNN")
    return OrgRole(
        oid=oid,
        full_name=_text(owner, data, "full_name"),
        short_name=str(data.get("short_name") or data["full_name"]),
        ogrn=ogrn,
        inn=inn,
        kpp=kpp,
        type=kind,
        chief=bool(data.get("chief", False)),
        admin=bool(data.get("admin", False)),
        active=bool(data.get("active", True)),
        phone=data.get("phone") or None,
        email=data.get("email") or None,
    )


def role_to_dict(role: OrgRole) -> dict[str, Any]:
    """The YAML/JSON form of a role (round-trips through :func:`role_from_dict`)."""
    out = attrs.asdict(role)
    out["type"] = role.type.value
    return {k: v for k, v in out.items() if v is not None}


def role_document(role: OrgRole, person_oid: int) -> dict[str, Any]:
    """One element of ESIA's ``/rs/prns/{oid}/roles`` collection (no INN, no KPP)."""
    doc: dict[str, Any] = {
        "oid": role.oid,
        "prnOid": person_oid,
        "fullName": role.full_name,
        "shortName": role.short_name,
        "ogrn": role.ogrn,
        "type": role.type.value,
        "chief": role.chief,
        "admin": role.admin,
    }
    if role.phone:
        doc["phone"] = role.phone
    if role.email:
        doc["email"] = role.email
    doc.update(
        active=role.active,
        hasRightOfSubstitution=role.chief,
        hasApprovalTabAccess=False,
        isLiquidated=False,
    )
    return doc


def organisation_document(role: OrgRole) -> dict[str, Any]:
    """ESIA's ``/rs/orgs/{oid}`` document of the organisation ``role`` is in (no eTag)."""
    doc: dict[str, Any] = {
        "stateFacts": ["EntityRoot"],
        "oid": role.oid,
        "fullName": role.full_name,
        "shortName": role.short_name,
        "ogrn": role.ogrn,
        "inn": role.inn,
    }
    if role.kpp:  # a sole trader has none
        doc["kpp"] = role.kpp
    doc["type"] = role.type.value
    return doc
