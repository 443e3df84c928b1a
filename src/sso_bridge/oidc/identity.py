"""From an IdP's answers to a :class:`~sso_bridge.model.FederatedIdentity`, without I/O."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sso_bridge.matching.normalize import parse_date_or_none
from sso_bridge.model import FederatedIdentity
from sso_bridge.oidc.errors import OidcError


def _text(data: Mapping[str, Any], name: str) -> str | None:
    value = data.get(name)
    return value if isinstance(value, str) and value.strip() else None


def _esia_trusted(claims: Mapping[str, Any]) -> bool:
    subject = claims.get("urn:esia:sbj")
    return isinstance(subject, Mapping) and subject.get("urn:esia:sbj:is_tru") is True


def identity_from_claims(
    issuer: str, id_claims: Mapping[str, Any], userinfo: Mapping[str, Any] | None = None
) -> FederatedIdentity:
    """Standard claims (``family_name``, ``given_name``, ``middle_name``, ``birthdate``
    ``YYYY-MM-DD``, ``snils``, verified ``email`` / ``phone_number``) to an identity.

    ``verified`` is ``trusted`` from userinfo, or ESIA's ``urn:esia:sbj:is_tru`` in the ID
    token; anything else means not verified.
    """
    info: dict[str, Any] = dict(id_claims)
    info.update(userinfo or {})
    subject = str(id_claims["sub"])
    if userinfo is not None and userinfo.get("sub") != subject:
        raise OidcError("userinfo describes another subject", code="oidc.userinfo_sub_mismatch")
    verified = info.get("trusted") is True or ("trusted" not in info and _esia_trusted(id_claims))
    return FederatedIdentity(
        issuer=issuer,
        subject=subject,
        verified=verified,
        last_name=_text(info, "family_name"),
        first_name=_text(info, "given_name"),
        middle_name=_text(info, "middle_name"),
        birth_date=parse_date_or_none(_text(info, "birthdate")),
        snils=_text(info, "snils"),
        email=_text(info, "email") if info.get("email_verified") is True else None,
        phone=_text(info, "phone_number") if info.get("phone_number_verified") is True else None,
        claims=info,
    )


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
