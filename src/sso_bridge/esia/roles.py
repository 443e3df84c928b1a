"""The staff-role policy: does the ESIA person work for the local account's organisation?

ESIA lists the organisations a person works for at ``/rs/prns/{oid}/roles`` (each with its
OGRN, and often without INN and KPP: those come from ``/rs/orgs/{oid}``, read by
:func:`organisation_from_document`; :func:`needs_numbers` says when they are needed).
Local accounts know only their ``org_id``, so the deployment names the
registration numbers of each organisation in an :class:`Employer` registry. An organisation
matches on OGRN, or else on INN together with KPP. Everything here is pure: the fetching is
:meth:`sso_bridge.esia.provider.EsiaRelyingParty.esia_roles`'s (asked for by the broker
under :data:`ORGANISATIONS`), the refusal the broker's.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Any

import attrs

from sso_bridge.esia.errors import EsiaError
from sso_bridge.esia.oid import oid_text
from sso_bridge.idp import Extra
from sso_bridge.model import EsiaOrganisation

__all__ = [
    "ORGANISATIONS",
    "Employer",
    "EsiaOrganisation",
    "StaffRolePolicy",
    "employs",
    "needs_numbers",
    "organisation_from_document",
    "organisations_from_roles",
]


def _digits(value: object) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _bool(value: object, default: bool) -> bool:
    return value if isinstance(value, bool) else default


_MAX_NUMBER_LENGTH = 20  # OGRNIP has 15 digits, INN 12, KPP 9
_MAX_NAME_LENGTH = 2048


def _oid(value: object, *, code: str = "esia.roles_invalid", what: str = "an ESIA role") -> str:
    """An organisation's ``oid``: a whole number from 1 to 2**63 - 1, or its ASCII digits."""
    found = oid_text(value)
    if found is None:
        raise EsiaError(f"{what}'s oid is not a 64-bit number", code=code)
    return found


def _registration_number(
    item: Mapping[str, Any],
    name: str,
    *,
    code: str = "esia.roles_invalid",
    what: str = "an ESIA role",
) -> str | None:
    """OGRN, INN or KPP as ESIA sends them (text, sometimes a number); None when absent."""
    value = item.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise EsiaError(f"{what}'s {name} is not text", code=code)
    if isinstance(value, int) and not 0 <= value < 10**_MAX_NUMBER_LENGTH:
        raise EsiaError(f"{what}'s {name} is out of range", code=code)
    if isinstance(value, str) and len(value) > 4 * _MAX_NUMBER_LENGTH:
        raise EsiaError(f"{what}'s {name} is too long", code=code)
    return _digits(value)


def _name(item: Mapping[str, Any], *, code: str, what: str) -> str:
    name = item.get("fullName") or item.get("shortName") or ""
    if not isinstance(name, str) or len(name) > _MAX_NAME_LENGTH:
        raise EsiaError(f"{what}'s name is not text of at most {_MAX_NAME_LENGTH}", code=code)
    return name


def organisation_from_document(document: Mapping[str, Any], oid: str) -> EsiaOrganisation:
    """Parse ESIA's organisation document (``/rs/orgs/{oid}``: ``oid``, ``fullName``,
    ``shortName``, ``ogrn``, ``inn``, ``kpp``, ...), which must be about ``oid``; anything
    odd is ``esia.organisation_invalid``."""
    code, what = "esia.organisation_invalid", "ESIA's organisation"
    if "oid" not in document:
        raise EsiaError(f"{what} document has no oid", code=code)
    found = _oid(document["oid"], code=code, what=what)
    if found != oid:
        raise EsiaError(f"{what} document is about {found}, not {oid}", code=code)
    return EsiaOrganisation(
        oid=found,
        name=_name(document, code=code, what=what),
        ogrn=_registration_number(document, "ogrn", code=code, what=what),
        inn=_registration_number(document, "inn", code=code, what=what),
        kpp=_registration_number(document, "kpp", code=code, what=what),
    )


def organisations_from_roles(document: Mapping[str, Any]) -> tuple[EsiaOrganisation, ...]:
    """Parse ESIA's ``{"elements": [...]}`` roles document (``esia.roles_invalid`` if odd)."""
    elements = document.get("elements", [])
    if not isinstance(elements, list):
        raise EsiaError("the ESIA roles list has no elements list", code="esia.roles_invalid")
    found = []
    for item in elements:
        if not isinstance(item, dict) or "oid" not in item:
            raise EsiaError("an ESIA role is not an organisation", code="esia.roles_invalid")
        name = item.get("fullName") or item.get("shortName") or ""
        found.append(
            EsiaOrganisation(
                oid=_oid(item["oid"]),
                name=str(name),
                ogrn=_registration_number(item, "ogrn"),
                inn=_registration_number(item, "inn"),
                kpp=_registration_number(item, "kpp"),
                active=_bool(item.get("active"), True),
            )
        )
    return tuple(found)


@attrs.frozen
class Employer:
    """The registration numbers of a local organisation: OGRN, or INN with KPP."""

    ogrn: str | None = attrs.field(default=None, converter=_digits)
    inn: str | None = attrs.field(default=None, converter=_digits)
    kpp: str | None = attrs.field(default=None, converter=_digits)

    def __attrs_post_init__(self) -> None:
        if self.ogrn is None and (self.inn is None or self.kpp is None):
            raise ValueError("an employer needs an OGRN, or an INN together with a KPP")

    def is_(self, organisation: EsiaOrganisation) -> bool:
        """True when ``organisation`` is this employer (OGRN, else INN and KPP, equal)."""
        if self.ogrn is not None and organisation.ogrn is not None:
            return self.ogrn == organisation.ogrn
        return (
            self.inn is not None
            and self.kpp is not None
            and (self.inn, self.kpp) == (organisation.inn, organisation.kpp)
        )


ORGANISATIONS: Extra[tuple[Employer, ...], tuple[EsiaOrganisation, ...]] = Extra(
    "esia.organisations"
)
"""What the staff-role policy asks a provider for (:mod:`sso_bridge.idp`): the
organisations the person works for, completed for the given employers (see
:func:`~sso_bridge.esia.person_api.read_roles`). The ESIA provider answers it."""


def needs_numbers(organisation: EsiaOrganisation, employers: Iterable[Employer]) -> bool:
    """True when ``organisation`` is active and lacks a registration number that one of
    ``employers`` would be compared on: its OGRN (the employer has one), or its INN or
    KPP (the employer has both, and the two cannot be compared on OGRN)."""
    if not organisation.active:
        return False
    for employer in employers:
        if employer.ogrn is not None and organisation.ogrn is not None:
            continue
        if employer.ogrn is not None:
            return True
        if organisation.inn is None or organisation.kpp is None:
            return True
    return False


def employs(employer: Employer, organisations: Iterable[EsiaOrganisation]) -> bool:
    """True when the person holds an active role in ``employer``."""
    return any(o.active and employer.is_(o) for o in organisations)


@attrs.frozen
class StaffRolePolicy:
    """Which local accounts must be confirmed as employees through ESIA, and by whom.

    An account with any of ``staff_roles`` logs in through ESIA only when ESIA lists the
    person in the organisation ``employers[account.org_id]``. An account of an
    organisation missing from ``employers`` is refused when ``strict``, else not checked.
    """

    employers: Mapping[str, Employer] = attrs.field(factory=dict, hash=False)
    staff_roles: frozenset[str] = attrs.field(
        default=frozenset({"teacher", "staff", "admin"}), converter=frozenset
    )
    strict: bool = True

    def applies(self, roles: Collection[str], org_id: str) -> bool:
        """True when an account with ``roles`` in ``org_id`` needs the check."""
        if self.staff_roles.isdisjoint(roles):
            return False
        return self.strict or org_id in self.employers

    def allows(self, org_id: str, organisations: Iterable[EsiaOrganisation]) -> bool:
        """The decision for an account that :meth:`applies`: False refuses the login."""
        employer = self.employers.get(org_id)
        return employer is not None and employs(employer, organisations)
