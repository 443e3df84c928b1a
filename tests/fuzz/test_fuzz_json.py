"""Fuzzing what the relying party reads from the IdP besides ID tokens: response bodies as
JSON objects, the JWKS, the discovery document, and the claims and ESIA person documents
that become a :class:`~sso_bridge.model.FederatedIdentity`.

Invariant: accepted input gives back what it said (the same JSON object, the keys it
named, the endpoints it named, an identity whose every value comes from the document);
anything else is refused with a stable code (``oidc.*``, ``identity.*``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from typing import Any, Final

import pytest
from hypothesis import strategies as st

from fuzz.harness import InvariantViolation, Target, chunks, fuzz, sometimes
from fuzz.json_text import (
    UNPARSED,
    Edit,
    as_object,
    bodies,
    deep,
    documents,
    numbers,
    python_value,
    strings,
    values,
)
from fuzz.oidc_world import ALGORITHMS, CLIENT, ISSUER, oidc_world
from sso_bridge.esia.person_api import identity_from_esia_person
from sso_bridge.oidc.config import config_from_discovery
from sso_bridge.oidc.http import HttpResponse
from sso_bridge.oidc.identity import identity_from_claims
from sso_bridge.oidc.keys import parse_jwks


class _Case:
    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=repr)


def _read(body: bytes) -> dict[str, Any]:
    """The body as the relying party reads every JSON answer."""
    return HttpResponse(200, {"content-type": "application/json"}, body).json_object("fuzz")


def _body_repro(call: str, body: bytes, imports: str) -> str:
    return (
        f"from sso_bridge.oidc.http import HttpResponse\n{imports}\n"
        f"body = {body!r}\n"
        f'document = HttpResponse(200, {{}}, body).json_object("fuzz")\n'
        f"print({call})\n"
    )


def _edited(draw: st.DrawFn, base: list[tuple[str, str]], edits: st.SearchStrategy[Edit]) -> str:
    entries = list(base)
    for edit in sometimes(draw, 90, edits, 4):
        entries = edit.apply(entries)
    if sometimes(draw, 5, st.just(True)):
        return draw(documents())
    return as_object(entries)


# -- any JSON body ----------------------------------------------------------------------------


@dataclass(frozen=True, repr=False)
class BodyCase(_Case):
    body: bytes
    status: int

    def __repr__(self) -> str:
        return f"BodyCase({self.body[:300]!r}... {len(self.body)} bytes, status={self.status})"


def _verify_body(case: BodyCase, result: Any) -> str:
    if not isinstance(result, dict):
        raise InvariantViolation(f"json_object returned {type(result).__name__}")
    expected = python_value(case.body)
    if expected is UNPARSED or _canonical(result) != _canonical(expected):
        raise InvariantViolation("json_object gave another object than the body holds")
    return "accepted"


@pytest.mark.parametrize("count", chunks("json_object"))
def test_json_object(count: int) -> None:
    target = Target(
        "json_object",
        call=lambda case: HttpResponse(case.status, {}, case.body).json_object("fuzz"),
        verify=_verify_body,
        repro=lambda case: _body_repro("document", case.body, ""),
    )
    cases = st.builds(BodyCase, bodies(), st.sampled_from((200, 400, 500)))
    fuzz(target, cases, count)


# -- the JWKS ---------------------------------------------------------------------------------

JWK_MEMBERS: Final = ("kty", "crv", "alg", "use", "key_ops", "kid", "n", "e", "x", "y", "d", "k")


@cache
def jwk_values() -> st.SearchStrategy[str]:
    world = oidc_world()
    real = [json.dumps(v) for entry in world.jwks["keys"] for v in entry.values()]
    return st.one_of(
        st.sampled_from(real),
        st.sampled_from(
            ('"RSA"', '"EC"', '"oct"', '"P-256"', '"P-384"', '"sig"', '"enc"', '["verify"]')
        ),
        st.sampled_from(('["sign"]', '"verify"', '"RS256"', '"ES256"', '"none"', '"AQAB"', '""')),
        numbers(),
        strings(),
        values(4),
    )


@dataclass(frozen=True, repr=False)
class JwksCase(_Case):
    entries: tuple[str, ...]  # each entry as JSON text
    intact: tuple[str, ...]  # kids of the entries left as the provider published them
    body: bytes = field(compare=False)

    def __repr__(self) -> str:
        return f"JwksCase(entries={self.entries!r:.2000}, intact={self.intact})"


@st.composite
def jwks_cases(draw: st.DrawFn) -> JwksCase:
    world = oidc_world()
    edits = st.builds(
        Edit, st.sampled_from(("set", "set", "delete")), st.sampled_from(JWK_MEMBERS), jwk_values()
    )
    entries: list[str] = []
    intact: list[str] = []
    for entry in world.jwks["keys"]:
        pairs = [(name, json.dumps(value)) for name, value in entry.items()]
        changes = sometimes(draw, 70, edits, 3)
        for change in changes:
            pairs = change.apply(pairs)
        if not changes:
            intact.append(entry["kid"])
        if not draw(st.booleans()) or not changes:
            entries.append(as_object(pairs))
    entries += sometimes(draw, 30, st.one_of(values(6), deep()), 3)
    shape = draw(st.sampled_from(("list", "list", "list", "raw", "not-a-list")))
    if shape == "raw":
        text = draw(documents())
        intact = []
    elif shape == "not-a-list":
        text = as_object([("keys", as_object([("0", e) for e in entries]))])
        intact = []
    else:
        text = as_object([("keys", "[" + ",".join(entries) + "]")])
    return JwksCase(tuple(entries), tuple(intact), text.encode("utf-8", "surrogatepass"))


def _verify_jwks(case: JwksCase, keys: Any) -> str:
    if not isinstance(keys, tuple):
        raise InvariantViolation(f"parse_jwks returned {type(keys).__name__}")
    for key in keys:
        if key.kid is not None and not isinstance(key.kid, str):
            raise InvariantViolation(f"a key with kid {key.kid!r}")
        # an RSA key under the minimum size is kept with no prepared keys, naming what it
        # would serve (weak_for), so that its tokens are refused as oidc.weak_key
        serves = set(key.keys) or set(key.weak_for)
        if key.keys and key.weak_for:
            raise InvariantViolation(f"key {key.kid!r} both prepared and weak")
        if not serves or not serves <= set(ALGORITHMS):
            raise InvariantViolation(f"key {key.kid!r} for {sorted(serves)}")
    found = {key.kid for key in keys}
    if not set(case.intact) <= found:
        raise InvariantViolation(f"keys {sorted(set(case.intact) - found)} were dropped")
    return "accepted"


@pytest.mark.parametrize("count", chunks("jwks"))
def test_jwks(count: int) -> None:
    target = Target(
        "jwks",
        call=lambda case: parse_jwks(_read(case.body), ALGORITHMS),
        verify=_verify_jwks,
        repro=lambda case: _body_repro(
            f"parse_jwks(document, {ALGORITHMS!r})",
            case.body,
            "from sso_bridge.oidc.keys import parse_jwks",
        ),
    )
    fuzz(target, jwks_cases(), count)


# -- discovery --------------------------------------------------------------------------------

DISCOVERY: Final = [
    ("issuer", json.dumps(ISSUER)),
    ("authorization_endpoint", json.dumps(ISSUER + "authorize")),
    ("token_endpoint", json.dumps(ISSUER + "token")),
    ("jwks_uri", json.dumps(ISSUER + "jwks")),
    ("userinfo_endpoint", json.dumps(ISSUER + "userinfo")),
    ("authorization_response_iss_parameter_supported", "true"),
    ("id_token_signing_alg_values_supported", '["RS256","none"]'),
]
SETTINGS: Final = {
    "client_id": CLIENT,
    "redirect_uri": "https://portal.example/callback",
    "client_secret": "not-used-here",
}


@cache
def discovery_edits() -> st.SearchStrategy[Edit]:
    names = st.sampled_from([name for name, _ in DISCOVERY] + ["algorithms", "client_id"])
    texts = st.one_of(
        st.sampled_from([value for _, value in DISCOVERY]),
        st.sampled_from((json.dumps(ISSUER.rstrip("/")), '""', "null", "1", "[]", "{}", "false")),
        strings(),
        values(4),
        deep(),
    )
    return st.builds(Edit, st.sampled_from(("set", "set", "delete", "duplicate")), names, texts)


@dataclass(frozen=True, repr=False)
class DocumentCase(_Case):
    text: str

    @property
    def body(self) -> bytes:
        return self.text.encode("utf-8", "surrogatepass")

    def __repr__(self) -> str:
        return f"DocumentCase({self.text[:2000]!r}... {len(self.text)} characters)"


def _verify_discovery(case: DocumentCase, config: Any) -> str:
    document = python_value(case.body)
    if not isinstance(document, dict) or document.get("issuer") != ISSUER:
        raise InvariantViolation("accepted a discovery document for another issuer")
    for name in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        if getattr(config, name) != document.get(name):
            raise InvariantViolation(f"{name} {getattr(config, name)!r} is not the document's")
    if config.issuer != ISSUER or config.client_id != CLIENT:
        raise InvariantViolation("the configuration names another issuer or client")
    userinfo = document.get("userinfo_endpoint")
    if config.userinfo_endpoint not in (None, userinfo):
        raise InvariantViolation("userinfo_endpoint is not the document's")
    return "accepted"


@pytest.mark.parametrize("count", chunks("discovery"))
def test_discovery(count: int) -> None:
    target = Target(
        "discovery",
        call=lambda case: config_from_discovery(_read(case.body), ISSUER, **SETTINGS),
        verify=_verify_discovery,
        repro=lambda case: _body_repro(
            f"config_from_discovery(document, {ISSUER!r}, **{SETTINGS!r})",
            case.body,
            "from sso_bridge.oidc.config import config_from_discovery",
        ),
    )
    cases = st.composite(lambda draw: DocumentCase(_edited(draw, DISCOVERY, discovery_edits())))
    fuzz(target, cases(), count)


# -- identity from claims ---------------------------------------------------------------------

CLAIMS: Final = [
    ("sub", '"1000299654"'),
    ("family_name", json.dumps("Смирнова")),
    ("given_name", json.dumps("Мария")),
    ("middle_name", json.dumps("Петровна")),
    ("birthdate", '"1984-03-12"'),
    ("snils", '"112-233-445 95"'),
    ("email", '"maria@example.org"'),
    ("email_verified", "true"),
    ("phone_number", '"+7(900)0000001"'),
    ("phone_number_verified", "true"),
    ("trusted", "true"),
    ("urn:esia:sbj", '{"urn:esia:sbj:is_tru": true}'),
]
TEXTS: Final = (
    '""',
    '" "',
    '" Иванов "',
    '"1000299654"',
    '"1984-03-12"',
    '"1984-3-12"',
    '"12.03.1984"',
    '"1984-02-30"',
    '"0001-01-01"',
    '"9999-12-31"',
    '" 1984-03-12 "',
    '"1984-03-12\\u0000"',
    "true",
    "false",
    "null",
    "1",
    '"true"',
    "[]",
    '{"urn:esia:sbj:is_tru": "true"}',
)


@cache
def claim_edits() -> st.SearchStrategy[Edit]:
    names = st.sampled_from([name for name, _ in CLAIMS])
    texts = st.one_of(st.sampled_from(TEXTS), strings(), numbers(), values(4))
    return st.builds(Edit, st.sampled_from(("set", "set", "set", "delete")), names, texts)


@dataclass(frozen=True, repr=False)
class ClaimsCase(_Case):
    id_claims: str
    userinfo: str | None

    def __repr__(self) -> str:
        return f"ClaimsCase(id_claims={self.id_claims!r:.2000}, userinfo={self.userinfo!r:.2000})"


@st.composite
def claims_cases(draw: st.DrawFn) -> ClaimsCase:
    id_claims = _edited(draw, CLAIMS, claim_edits())
    userinfo = _edited(draw, CLAIMS, claim_edits()) if draw(st.booleans()) else None
    return ClaimsCase(id_claims, userinfo)


def _text(value: object) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _date_text(born: date) -> set[str]:
    return {born.isoformat(), f"{born.day:02d}.{born.month:02d}.{born.year:04d}"}


def _call_claims(case: ClaimsCase) -> Any:
    id_claims = _read(case.id_claims.encode("utf-8", "surrogatepass"))
    sub = id_claims.get("sub")
    if not isinstance(sub, str) or not sub:
        id_claims["sub"] = "1000299654"  # what a validated ID token always has
    userinfo = (
        None if case.userinfo is None else _read(case.userinfo.encode("utf-8", "surrogatepass"))
    )
    return id_claims, userinfo, identity_from_claims(ISSUER, id_claims, userinfo)


def _verify_claims(case: ClaimsCase, result: Any) -> str:
    id_claims, userinfo, identity = result
    info = {**id_claims, **(userinfo or {})}
    if userinfo is not None and userinfo.get("sub") != id_claims["sub"]:
        raise InvariantViolation("accepted userinfo about another subject")
    if identity.subject != id_claims["sub"] or identity.issuer != ISSUER:
        raise InvariantViolation(f"subject {identity.subject!r} is not the ID token's")
    expected = {
        "last_name": _text(info.get("family_name")),
        "first_name": _text(info.get("given_name")),
        "middle_name": _text(info.get("middle_name")),
        "snils": _text(info.get("snils")),
        "email": _text(info.get("email")) if info.get("email_verified") is True else None,
        "phone": _text(info.get("phone_number"))
        if info.get("phone_number_verified") is True
        else None,
    }
    for name, value in expected.items():
        if getattr(identity, name) != value:
            raise InvariantViolation(f"{name} {getattr(identity, name)!r}, expected {value!r}")
    trusted = info.get("trusted")
    esia = id_claims.get("urn:esia:sbj")
    may_be_verified = trusted is True or (
        "trusted" not in info and isinstance(esia, dict) and esia.get("urn:esia:sbj:is_tru") is True
    )
    if identity.verified and not may_be_verified:
        raise InvariantViolation("verified without trusted=true")
    born = identity.birth_date
    if born is not None and not (
        isinstance(info.get("birthdate"), str) and info["birthdate"].strip() in _date_text(born)
    ):
        raise InvariantViolation(f"birth date {born} is not the birthdate claim")
    return "accepted"


@pytest.mark.parametrize("count", chunks("identity_claims"))
def test_identity_claims(count: int) -> None:
    target = Target(
        "identity_claims",
        call=_call_claims,
        verify=_verify_claims,
        repro=lambda case: (
            "from sso_bridge.oidc.http import HttpResponse\n"
            "from sso_bridge.oidc.identity import identity_from_claims\n\n"
            f"body = {case.id_claims.encode('utf-8', 'surrogatepass')!r}\n"
            'id_claims = HttpResponse(200, {}, body).json_object("claims")\n'
            f"userinfo = {case.userinfo!r}\n"
            "if userinfo is not None:\n"
            "    userinfo = HttpResponse(200, {}, userinfo.encode()).json_object('userinfo')\n"
            f"print(identity_from_claims({ISSUER!r}, id_claims, userinfo))\n"
        ),
    )
    fuzz(target, claims_cases(), count)


# -- ESIA's person document -------------------------------------------------------------------

PERSON: Final = [
    ("firstName", json.dumps("Мария")),
    ("lastName", json.dumps("Смирнова")),
    ("middleName", json.dumps("Петровна")),
    ("birthDate", '"12.03.1984"'),
    ("trusted", "true"),
    ("snils", '"112-233-445 95"'),
    (
        "contacts",
        '{"elements": [{"type": "EML", "vrfStu": "VERIFIED", "value": "maria@example.org"},'
        '{"type": "MBT", "vrfStu": "VERIFIED", "value": "+7(900)0000001"}]}',
    ),
    ("documents", '{"elements": [{"type": "RF_PASSPORT", "series": "4506", "number": "123456"}]}'),
]
NESTED: Final = (
    '{"elements": []}',
    '{"elements": {}}',
    '{"elements": [1, null, "x", []]}',
    '{"elements": [{"type": "EML", "vrfStu": "NOT_VERIFIED", "value": "a@b"}]}',
    '{"elements": [{"type": "EML", "vrfStu": "VERIFIED", "value": 1},'
    '{"type": "EML", "vrfStu": "VERIFIED", "value": "b@c"}]}',
    '{"elements": [{"type": "MBT", "vrfStu": "VERIFIED", "value": " "}]}',
    '{"elements": [{"type": "RF_PASSPORT", "series": " 45 ", "number": "06 "}]}',
    '{"elements": [{"type": "RF_PASSPORT", "series": 4506, "number": "123456"}]}',
    '{"elements": [{"type": "RF_PASSPORT", "series": "", "number": "123456"},'
    '{"type": "RF_PASSPORT", "series": "1111", "number": "222222"}]}',
    '[{"type": "EML"}]',
)


@cache
def person_edits() -> st.SearchStrategy[Edit]:
    names = st.sampled_from([name for name, _ in PERSON])
    texts = st.one_of(
        st.sampled_from(TEXTS), st.sampled_from(NESTED), strings(), numbers(), values(6)
    )
    return st.builds(Edit, st.sampled_from(("set", "set", "set", "delete")), names, texts)


@dataclass(frozen=True, repr=False)
class PersonCase(_Case):
    subject: str
    person: str

    def __repr__(self) -> str:
        return f"PersonCase(subject={self.subject!r:.200}, person={self.person!r:.2000})"


def _elements(person: dict[str, Any], name: str) -> list[dict[str, Any]]:
    collection = person.get(name)
    items = collection.get("elements") if isinstance(collection, dict) else None
    return [item for item in items if isinstance(item, dict)] if isinstance(items, list) else []


def _call_person(case: PersonCase) -> Any:
    person = _read(case.person.encode("utf-8", "surrogatepass"))
    return person, identity_from_esia_person(ISSUER, case.subject, person)


def _verify_person(case: PersonCase, result: Any) -> str:
    person, identity = result
    if identity.subject != case.subject:
        raise InvariantViolation(f"subject {identity.subject!r} is not {case.subject!r}")
    for name, key in (
        ("last_name", "lastName"),
        ("first_name", "firstName"),
        ("middle_name", "middleName"),
        ("snils", "snils"),
    ):
        if getattr(identity, name) != _text(person.get(key)):
            raise InvariantViolation(f"{name} {getattr(identity, name)!r} is not the document's")
    if identity.verified != (person.get("trusted") is True):
        raise InvariantViolation("verified is not trusted=true")
    contacts = _elements(person, "contacts")
    for name, kind in (("email", "EML"), ("phone", "MBT")):
        verified = {
            _text(c.get("value"))
            for c in contacts
            if c.get("type") == kind and c.get("vrfStu") == "VERIFIED"
        }
        if getattr(identity, name) is not None and getattr(identity, name) not in verified:
            raise InvariantViolation(f"{name} {getattr(identity, name)!r} is no verified contact")
    passports = {
        f"{d.get('series')}{d.get('number')}".strip()
        for d in _elements(person, "documents")
        if d.get("type") == "RF_PASSPORT"
    }
    if identity.passport is not None and identity.passport not in passports:
        raise InvariantViolation(f"passport {identity.passport!r} is in no RF_PASSPORT document")
    born = identity.birth_date
    if born is not None and not (
        isinstance(person.get("birthDate"), str) and person["birthDate"].strip() in _date_text(born)
    ):
        raise InvariantViolation(f"birth date {born} is not the birthDate")
    return "accepted"


@pytest.mark.parametrize("count", chunks("identity_esia"))
def test_identity_esia(count: int) -> None:
    target = Target(
        "identity_esia",
        call=_call_person,
        verify=_verify_person,
        repro=lambda case: _body_repro(
            f"identity_from_esia_person({ISSUER!r}, {case.subject!r}, document)",
            case.person.encode("utf-8", "surrogatepass"),
            "from sso_bridge.oidc.identity import identity_from_esia_person",
        ),
    )
    subjects = st.sampled_from(("1000299654",) * 8 + ("", " ", "x" * 1000, "Я\u0000"))
    cases = st.composite(
        lambda draw: PersonCase(draw(subjects), _edited(draw, PERSON, person_edits()))
    )
    fuzz(target, cases(), count)
