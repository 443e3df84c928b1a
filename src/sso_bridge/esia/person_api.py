"""ESIA's REST API for the person who logged in, and the identity it gives.

``GET {esia_person_api}/rs/prns/{oid}`` (contacts and documents embedded) is the person,
``/rs/prns/{oid}/roles`` the organisations they work for (the ``usr_org`` scope grants it),
``/rs/orgs/{oid}`` one organisation with its registration numbers. The reads take a
``fetch(url, what)`` that GETs with the access token and returns the JSON object
(:meth:`sso_bridge.oidc.rp.RelyingParty.fetch_json`), so that they are plain functions
here and the ESIA relying party (:class:`~sso_bridge.esia.provider.EsiaRelyingParty`)
only binds them to its HTTP client and tokens.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final
from urllib.parse import quote

import attrs

from sso_bridge.esia.errors import EsiaError
from sso_bridge.esia.roles import (
    Employer,
    EsiaOrganisation,
    needs_numbers,
    organisation_from_document,
    organisations_from_roles,
)
from sso_bridge.matching.normalize import parse_date_or_none
from sso_bridge.model import FederatedIdentity

__all__ = [
    "ESIA_PERSON_EMBED",
    "MAX_COMPLETED_ORGANISATIONS",
    "Fetch",
    "esia_claims_trusted",
    "identity_from_esia_person",
    "organisation_oid",
    "read_organisation",
    "read_person",
    "read_roles",
]

ESIA_PERSON_EMBED: Final = "(contacts.elements,documents.elements)"
MAX_COMPLETED_ORGANISATIONS: Final = 50
"""The most organisations of one roles list completed from ``/rs/orgs/{oid}``."""

Fetch = Callable[[str, str], dict[str, Any]]
"""``fetch(url, what)``: the JSON object at ``url`` (``what`` names it in refusals)."""


def _text(data: Mapping[str, Any], name: str) -> str | None:
    value = data.get(name)
    return value if isinstance(value, str) and value.strip() else None


def esia_claims_trusted(claims: Mapping[str, Any]) -> bool:
    """Whether an ID token's claims say the person is confirmed (``urn:esia:sbj:is_tru``)."""
    subject = claims.get("urn:esia:sbj")
    return isinstance(subject, Mapping) and subject.get("urn:esia:sbj:is_tru") is True


def _elements(person: Mapping[str, Any], name: str) -> list[Mapping[str, Any]]:
    collection = person.get(name)
    if not isinstance(collection, Mapping):
        return []
    items = collection.get("elements")
    if not isinstance(items, list):
        return []
    return [item for item in items if isinstance(item, Mapping)]


def _verified_contact(person: Mapping[str, Any], kind: str) -> str | None:
    for item in _elements(person, "contacts"):
        if item.get("type") == kind and item.get("vrfStu") == "VERIFIED":
            return _text(item, "value")
    return None


def _passport(person: Mapping[str, Any]) -> str | None:
    for item in _elements(person, "documents"):
        if item.get("type") == "RF_PASSPORT":
            series, number = _text(item, "series"), _text(item, "number")
            if series and number:
                return series + number
    return None


def identity_from_esia_person(
    issuer: str, subject: str, person: Mapping[str, Any]
) -> FederatedIdentity:
    """ESIA's person document (``/rs/prns/{oid}`` with contacts and documents embedded)
    to an identity: ``verified`` is ``trusted``; only verified contacts are kept."""
    return FederatedIdentity(
        issuer=issuer,
        subject=subject,
        verified=person.get("trusted") is True,
        last_name=_text(person, "lastName"),
        first_name=_text(person, "firstName"),
        middle_name=_text(person, "middleName"),
        birth_date=parse_date_or_none(_text(person, "birthDate")),
        snils=_text(person, "snils"),
        passport=_passport(person),
        email=_verified_contact(person, "EML"),
        phone=_verified_contact(person, "MBT"),
        claims=dict(person),
    )


def read_person(fetch: Fetch, base: str, subject: str) -> dict[str, Any]:
    """ESIA's person document for ``subject``, contacts and documents embedded."""
    oid = quote(subject, safe="")
    return fetch(f"{base}/rs/prns/{oid}?embed={ESIA_PERSON_EMBED}", "the ESIA person API")


def read_roles(
    fetch: Fetch, base: str, subject: str, *, employers: Iterable[Employer] | None = None
) -> tuple[EsiaOrganisation, ...]:
    """The organisations ESIA lists ``subject`` as working for (``/rs/prns/{oid}/roles``).

    With ``employers`` (the staff-role registry), an active organisation that lacks a
    registration number one of them would be compared on (see
    :func:`~sso_bridge.esia.roles.needs_numbers`) is completed from
    :func:`read_organisation`, one request per organisation and at most
    :data:`MAX_COMPLETED_ORGANISATIONS` of them; numbers the roles list has are kept.
    """
    oid = quote(subject, safe="")
    found = organisations_from_roles(fetch(f"{base}/rs/prns/{oid}/roles", "the ESIA roles list"))
    if employers is None:
        return found
    registry = tuple(employers)
    fetched: dict[str, EsiaOrganisation] = {}

    def complete(organisation: EsiaOrganisation) -> EsiaOrganisation:
        oid = organisation.oid
        if not needs_numbers(organisation, registry) or (
            oid not in fetched and len(fetched) >= MAX_COMPLETED_ORGANISATIONS
        ):
            return organisation
        if oid not in fetched:
            fetched[oid] = read_organisation(fetch, base, oid)
        full = fetched[oid]
        return attrs.evolve(
            organisation,
            ogrn=organisation.ogrn or full.ogrn,
            inn=organisation.inn or full.inn,
            kpp=organisation.kpp or full.kpp,
        )

    return tuple(complete(organisation) for organisation in found)


def read_organisation(fetch: Fetch, base: str, org_oid: str | int) -> EsiaOrganisation:
    """ESIA's organisation ``org_oid`` (``GET {base}/rs/orgs/{oid}``): its name, OGRN, INN
    and KPP. ``esia.organisation_invalid`` for an odd oid or answer."""
    oid = organisation_oid(org_oid)
    document = fetch(f"{base}/rs/orgs/{oid}", "the ESIA organisation API")
    return organisation_from_document(document, oid)


def organisation_oid(value: str | int) -> str:
    """An organisation oid as text; ``esia.organisation_invalid`` when it is not one."""
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if (
        not isinstance(text, str)
        or not 0 < len(text) <= 19
        or not (text.isascii() and text.isdigit())
        or not 0 < int(text) < 2**63
    ):
        raise EsiaError(
            f"{str(value)[:40]!r} is not an ESIA organisation oid",
            code="esia.organisation_invalid",
        )
    return text
