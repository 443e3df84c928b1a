"""ESIA's personal-data REST API (``/rs/prns/{oid}``), as JSON documents.

Collections (contacts ``ctts``, documents ``docs``, children ``kids``) list their
elements as links, or as embedded objects with ``?embed=(elements)``; the person itself
embeds collections with ``?embed=(contacts.elements,documents.elements,kids.elements)``.
Scopes gate the fields: ``fullname``, ``birthdate``, ``gender``, ``snils``, ``contacts``
(or ``email`` / ``mobile``), ``id_doc``, and ``kid_*`` for children. The organisations the
person works for (``/rs/prns/{oid}/roles``: oid, names, OGRN, type and the person's
standing) need ``usr_org``, and so does an organisation's own document
(``/rs/orgs/{oid}``: with INN and KPP), which answers only a person with a role in it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection
from typing import Any

from mock_idp.errors import EsiaError
from mock_idp.orgs import OrgRole, organisation_document, role_document
from mock_idp.users import ContactType, Directory, Person

COLLECTIONS = {"ctts": "contacts", "docs": "documents", "kids": "kids"}
ROLES_SCOPE = "usr_org"


def _etag(data: Any) -> str:
    raw = json.dumps(data, sort_keys=True, ensure_ascii=False).encode()
    return hashlib.sha1(raw, usedforsecurity=False).hexdigest().upper()


def person_document(person: Person, scopes: Collection[str]) -> dict[str, Any]:
    """The root person object, with the fields the scopes allow."""
    doc: dict[str, Any] = {"stateFacts": ["EntityRoot"], "trusted": person.trusted}
    if "fullname" in scopes:
        doc["lastName"] = person.last_name
        doc["firstName"] = person.first_name
        if person.middle_name:
            doc["middleName"] = person.middle_name
    if "birthdate" in scopes:
        doc["birthDate"] = person.birth_date
    if "gender" in scopes:
        doc["gender"] = person.gender.value
    if "snils" in scopes and person.snils:
        doc["snils"] = person.snils
    doc.update(citizenship="RUS", status="REGISTERED", verifying=False)
    doc["eTag"] = _etag(doc)
    return doc


def elements(person: Person, collection: str, scopes: Collection[str]) -> list[dict[str, Any]]:
    """The objects of one collection that the scopes allow, numbered from 1."""
    items: list[dict[str, Any]] = []
    if collection == "ctts":
        for number, contact in enumerate(person.contacts, 1):
            wanted = {"contacts", "mobile" if contact.type is ContactType.MOBILE else "email"}
            if wanted & set(scopes):
                items.append(
                    {
                        "stateFacts": ["Identifiable"],
                        "id": number,
                        "type": contact.type.value,
                        "vrfStu": "VERIFIED" if contact.verified else "NOT_VERIFIED",
                        "value": contact.value,
                    }
                )
    elif collection == "docs":
        if "id_doc" in scopes and person.passport:
            passport = person.passport
            doc: dict[str, Any] = {
                "stateFacts": ["Identifiable"],
                "id": 1,
                "type": "RF_PASSPORT",
                "vrfStu": "VERIFIED" if person.trusted else "NOT_VERIFIED",
                "series": passport.series,
                "number": passport.number,
            }
            if passport.issue_date:
                doc["issueDate"] = passport.issue_date
            if passport.issued_by:
                doc["issuedBy"] = passport.issued_by
            items.append(doc)
    elif collection == "kids":
        for kid in person.kids:
            item: dict[str, Any] = {"stateFacts": ["Identifiable"], "id": kid.oid}
            if "kid_fullname" in scopes:
                item.update(lastName=kid.last_name, firstName=kid.first_name)
                if kid.middle_name:
                    item["middleName"] = kid.middle_name
            if "kid_birthdate" in scopes:
                item["birthDate"] = kid.birth_date
            if "kid_gender" in scopes:
                item["gender"] = kid.gender.value
            if "kid_snils" in scopes and kid.snils:
                item["snils"] = kid.snils
            if len(item) > 2:
                items.append(item)
    for item in items:
        item["eTag"] = _etag(item)
    return items


def collection_document(
    person: Person, collection: str, scopes: Collection[str], base: str, embed: bool
) -> dict[str, Any]:
    """A collection: links to its elements, or the elements themselves when embedded."""
    items = elements(person, collection, scopes)
    listed: list[Any] = (
        items if embed else [f"{base}/rs/prns/{person.oid}/{collection}/{i['id']}" for i in items]
    )
    doc = {"stateFacts": ["hasSize"], "size": len(items), "elements": listed}
    doc["eTag"] = _etag(doc)
    return doc


def parse_embed(value: str | None) -> set[str]:
    """``(contacts.elements,documents.elements)`` → ``{"contacts.elements", ...}``."""
    if not value:
        return set()
    return {part.strip() for part in value.strip().strip("()").split(",") if part.strip()}


def embedded_person(
    person: Person, scopes: Collection[str], base: str, embed: set[str]
) -> dict[str, Any]:
    """The person, with the collections named in ``embed`` inside it."""
    doc = person_document(person, scopes)
    for path, name in COLLECTIONS.items():
        if f"{name}.elements" in embed or name in embed:
            doc[name] = collection_document(person, path, scopes, base, True)
    return doc


def roles_document(person: Person) -> dict[str, Any]:
    """ESIA's list of the person's organisations: ``{"stateFacts": ["hasSize"], ...}``."""
    items = [role_document(role, person.oid) for role in person.roles]
    return {"stateFacts": ["hasSize"], "size": len(items), "elements": items}


def _organisation(people: Directory, oid: int) -> OrgRole | None:
    """A role in organisation ``oid`` held by anyone (it describes the organisation)."""
    everyone: list[Person] = list(people)
    return next((r for p in everyone for r in p.roles if r.oid == oid), None)


def organisation(
    people: Directory, person: Person, scopes: Collection[str], oid: str
) -> dict[str, Any]:
    """ESIA's ``/rs/orgs/{oid}`` for the token of ``person`` with ``scopes``.

    ``esia.forbidden`` without ``usr_org`` or when ``person`` holds no role in it,
    ``esia.not_found`` for an organisation nobody works for.
    """
    if ROLES_SCOPE not in scopes:
        raise EsiaError("the token lacks the usr_org scope", code="esia.forbidden")
    # ASCII digits of a 64-bit number only: int() of thousands of digits is a ValueError
    number = int(oid) if oid.isascii() and oid.isdigit() and len(oid) <= 19 else None
    role = next((r for r in person.roles if r.oid == number), None)
    if role is None:
        if number is None or _organisation(people, number) is None:
            raise EsiaError("no such organisation", code="esia.not_found")
        raise EsiaError("the person holds no role in this organisation", code="esia.forbidden")
    doc = organisation_document(role)
    doc["eTag"] = _etag(doc)
    return doc
