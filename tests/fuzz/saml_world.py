"""Real signed SAML messages from the mock IdP, and what the service provider must make of
them: the base cases that the SAML targets mutate.

Built once per process (:func:`saml_world`): a :class:`~mock_idp.saml_idp.SamlIdP` on a
fixed clock, service provider configurations from its metadata, login responses for a few
people (SP- and IdP-initiated, one with an encrypted assertion) with the identity each must
give, and logout responses over both bindings with the request each answers.
"""

from __future__ import annotations

import base64
import functools
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final
from urllib.parse import parse_qsl, urlsplit

import xmlsec
from lxml import etree

from helpers.clock import NOW, FixedClock
from helpers.saml import PERSON_DATA
from mock_idp.saml_idp import AuthnRequestInfo, PostForm, Redirect, SamlIdP, SamlSigningKey
from mock_idp.users import Person, person_from_dict
from sso_bridge.saml import (
    InMemoryReplayCache,
    InMemoryRequestStore,
    LoginResult,
    ServiceProviderConfig,
    build_logout_request,
    process_logout_response,
    process_response,
)

BASE: Final = "https://idp.example"
SP: Final = "https://sp.example/metadata"
ACS: Final = "https://sp.example/acs"
SLO: Final = "https://sp.example/slo"
SP_ENCRYPTED: Final = "https://sp-enc.example/metadata"
ACS_ENCRYPTED: Final = "https://sp-enc.example/acs"
PENDING_FOR: Final = timedelta(minutes=10)
DS: Final = "http://www.w3.org/2000/09/xmldsig#"

PEOPLE: Final = (
    PERSON_DATA,
    {
        "oid": 1000000777,
        "login": "dartagnan@example.org",
        "password": "secret",
        "last_name": "Д'Артаньян-Оглы",
        "first_name": "Jean Пьер",
        "birth_date": "29.02.2000",
        "gender": "M",
        "level": "simplified",
    },
    {
        "oid": 7,
        "login": "yo@example.org",
        "password": "secret",
        "last_name": "Ёлкина",
        "first_name": "Алёна",
        "middle_name": "Сергеевна",
        "birth_date": "01.01.1970",
        "gender": "F",
        "level": "confirmed",
        "snils": "001-001-998 00",
        "contacts": [{"type": "EML", "value": "alyona@example.org", "verified": False}],
    },
)


CLOCK: Final = FixedClock(NOW)
"""Every party's clock: the IdP dates its messages by it, the SP checks them by it."""


@dataclass(frozen=True)
class LoginBase:
    """A login response as the IdP sent it, and what the SP must make of it."""

    label: str
    xml: bytes
    config: Any
    config_source: str  # Python that builds ``config`` in a reproducer
    request_id: str | None
    expected: Any  # the FederatedIdentity the unmutated response gives
    name_id: str


@dataclass(frozen=True)
class LogoutBase:
    """A LogoutResponse as the IdP sent it, and the logout request it answers."""

    binding: str  # "post" or "redirect"
    params: Mapping[str, str]
    query: str | None  # the raw query (redirect)
    xml: bytes
    request_id: str
    pending: tuple[tuple[str, datetime], ...]  # what build_logout_request put in the store


@dataclass
class SamlWorld:
    idp: SamlIdP
    people: tuple[Person, ...]
    plain: Any  # ServiceProviderConfig: IdP-initiated allowed, response signature optional
    certificate_pem: bytes
    decryption_key_pem: bytes
    logins: list[LoginBase] = field(default_factory=list)
    logouts: list[LogoutBase] = field(default_factory=list)

    def request_store(self, *pending: tuple[str, datetime]) -> Any:
        store = InMemoryRequestStore()
        for key, until in pending:
            store.add(key, until)
        return store


class _RecordingStore:
    """A request store that remembers what was added, to replay into fresh stores."""

    def __init__(self) -> None:
        self.added: list[tuple[str, datetime]] = []

    def add(self, request_id: str, expires_at: datetime) -> None:
        self.added.append((request_id, expires_at))

    def consume(self, request_id: str, now: datetime) -> bool:
        return False


def sign_enveloped(element: Any, key: SamlSigningKey) -> None:
    """(Re)sign ``element`` in place as the mock IdP does: one enveloped reference to its
    ``ID``, exclusive c14n, RSA-SHA256, the certificate in KeyInfo."""
    for old in element.findall(f"{{{DS}}}Signature"):
        element.remove(old)
    c = xmlsec.constants
    signature = xmlsec.template.create(element, c.TransformExclC14N, c.TransformRsaSha256)
    issuer = element.find("{urn:oasis:names:tc:SAML:2.0:assertion}Issuer")
    element.insert(0 if issuer is None else element.index(issuer) + 1, signature)
    reference = xmlsec.template.add_reference(
        signature, c.TransformSha256, uri="#" + element.get("ID")
    )
    xmlsec.template.add_transform(reference, c.TransformEnveloped)
    xmlsec.template.add_transform(reference, c.TransformExclC14N)
    xmlsec.template.add_x509_data(xmlsec.template.ensure_key_info(signature))
    context = xmlsec.SignatureContext()
    context.key = _xmlsec_key(key)
    context.register_id(element, "ID")
    context.sign(signature)


@functools.cache
def _xmlsec_key(key: SamlSigningKey) -> Any:
    loaded = xmlsec.Key.from_memory(key.key_pem(), xmlsec.constants.KeyDataFormatPem)
    loaded.load_cert_from_memory(key.certificate_pem(), xmlsec.constants.KeyDataFormatCertPem)
    return loaded


def same_identity(base: LoginBase, result: LoginResult) -> str | None:
    """None when an accepted login gives the identity that was signed; else what differs."""
    identity = result.identity
    expected = base.expected
    if identity != expected:
        return f"identity {identity!r} is not the signed {expected!r}"
    if dict(getattr(identity, "claims", {})) != dict(getattr(expected, "claims", {})):
        return "the identity's claims are not the signed ones"
    if result.name_id != base.name_id:
        return f"NameID {result.name_id!r} is not the signed {base.name_id!r}"
    return None


def inflate(data: bytes) -> bytes:
    return zlib.decompress(data, -zlib.MAX_WBITS)


def _config_source(options: Mapping[str, Any], decryption: bool) -> str:
    parts = [f"{name}={value!r}" for name, value in options.items()]
    if decryption:
        parts.append("decryption_key_pem=KEY")
    return ", ".join(parts)


@functools.cache
def saml_world() -> SamlWorld:
    idp = SamlIdP(BASE, clock=CLOCK)
    idp.register_sp_settings(SP, ACS, slo_url=SLO)
    encryption = SamlSigningKey.generate("sp-enc", NOW)
    idp.register_sp_settings(
        SP_ENCRYPTED,
        ACS_ENCRYPTED,
        certificate_pem=encryption.certificate_pem(),
        encrypt_assertions=True,
    )
    metadata = idp.metadata()
    options: dict[str, dict[str, Any]] = {
        "plain": {
            "entity_id": SP,
            "acs_url": ACS,
            "slo_url": SLO,
            "allow_idp_initiated": True,
        },
        "strict": {
            "entity_id": SP,
            "acs_url": ACS,
            "slo_url": SLO,
            "want_signed_response": True,
        },
        "encrypted": {
            "entity_id": SP_ENCRYPTED,
            "acs_url": ACS_ENCRYPTED,
            "allow_idp_initiated": True,
        },
    }
    configs = {
        name: ServiceProviderConfig.from_idp_metadata(
            metadata,
            idp_entity_id=idp.entity_id,
            **values,
            **({"decryption_key_pem": encryption.key_pem()} if name == "encrypted" else {}),
        )
        for name, values in options.items()
    }
    people = tuple(person_from_dict(p) for p in PEOPLE)
    world = SamlWorld(
        idp,
        people,
        configs["plain"],
        idp.signing_key.certificate_pem(),
        encryption.key_pem(),
    )
    number = 0
    for person in people:
        for config_name, initiated_by in (
            ("plain", "sp"),
            ("plain", "idp"),
            ("strict", "sp"),
            ("encrypted", "sp"),
        ):
            if config_name == "encrypted" and person is not people[0]:
                continue
            number += 1
            request_id = f"_req{number:04d}" if initiated_by == "sp" else None
            sp, acs = options[config_name]["entity_id"], options[config_name]["acs_url"]
            request = (
                None
                if request_id is None
                else AuthnRequestInfo(id=request_id, sp_entity_id=sp, acs_url=acs, binding="post")
            )
            form = idp.login_response(request, person, sp_entity_id=sp)
            xml = base64.b64decode(form.fields["SAMLResponse"])
            world.logins.append(
                _login_base(
                    world,
                    f"{person.oid}/{config_name}/{initiated_by}",
                    xml,
                    configs[config_name],
                    _config_source(options[config_name], config_name == "encrypted"),
                    request_id,
                    person,
                )
            )
    for binding in ("redirect", "post"):
        world.logouts.append(_logout_base(world, binding))
    return world


def _login_base(
    world: SamlWorld,
    label: str,
    xml: bytes,
    config: Any,
    config_source: str,
    request_id: str | None,
    person: Person,
) -> LoginBase:
    pending = [(request_id, NOW + PENDING_FOR)] if request_id else []
    result = process_response(
        base64.b64encode(xml).decode(),
        config,
        request_store=world.request_store(*pending),
        replay_cache=InMemoryReplayCache(),
        clock=CLOCK,
    )
    identity = result.identity
    # The baseline itself is checked against what the IdP was asked to sign.
    signed = (str(person.oid), person.last_name, person.first_name, person.middle_name)
    got = (identity.subject, identity.last_name, identity.first_name, identity.middle_name)
    if got != signed:
        raise AssertionError(f"{label}: the unmutated response gives {got}, not {signed}")
    return LoginBase(label, xml, config, config_source, request_id, identity, result.name_id)


def _logout_base(world: SamlWorld, binding: str) -> LogoutBase:
    recording = _RecordingStore()
    request = build_logout_request(
        world.plain, "_fuzz-name-id", request_store=recording, clock=CLOCK, relay_state="bye"
    )
    query = dict(parse_qsl(urlsplit(request.url).query, keep_blank_values=True))
    if binding == "redirect":
        result = world.idp.logout("redirect", query, query_string=urlsplit(request.url).query)
    else:
        root = etree.fromstring(inflate(base64.b64decode(query["SAMLRequest"])))
        root.set("Destination", world.idp.slo_url("post"))
        form = {"SAMLRequest": base64.b64encode(etree.tostring(root)).decode()}
        result = world.idp.logout("post", form)
    answer = result.answer
    if isinstance(answer, Redirect):
        raw_query = urlsplit(answer.url).query
        params = dict(parse_qsl(raw_query, keep_blank_values=True))
        xml = inflate(base64.b64decode(params["SAMLResponse"]))
        base = LogoutBase(
            "redirect", params, raw_query, xml, request.request_id, tuple(recording.added)
        )
    else:
        if not isinstance(answer, PostForm):
            raise AssertionError(f"unexpected logout answer {answer!r}")
        params = dict(answer.fields)
        xml = base64.b64decode(params["SAMLResponse"])
        base = LogoutBase("post", params, None, xml, request.request_id, tuple(recording.added))
    if base.binding != binding:
        raise AssertionError(f"asked for a {binding} LogoutResponse, got {base.binding}")
    done = process_logout_response(
        base.params,
        world.plain,
        binding=binding,
        request_store=world.request_store(*base.pending),
        clock=CLOCK,
        query_string=base.query,
    )
    if done != base.request_id:
        raise AssertionError(f"the {binding} LogoutResponse answers {done!r}")
    return base


# -- reproducers ------------------------------------------------------------------------------

_PRELUDE: Final = """import datetime as dt

from cryptography import x509

from sso_bridge.saml import (
    InMemoryReplayCache,
    InMemoryRequestStore,
    ServiceProviderConfig,
    process_logout_response,
    process_response,
)

NOW = dt.datetime.fromisoformat({now!r})
CERT = {cert!r}
KEY = {key!r}


class Clock:
    def now(self):
        return NOW


config = ServiceProviderConfig(
    idp_entity_id={idp!r},
    idp_certificates=[x509.load_pem_x509_certificate(CERT)],
    {options},
)
requests = InMemoryRequestStore()
"""


def _prelude(world: SamlWorld, options: str, decryption: bool) -> str:
    return _PRELUDE.format(
        now=NOW.isoformat(),
        cert=world.certificate_pem,
        key=world.decryption_key_pem if decryption else None,
        idp=world.idp.entity_id,
        options=options,
    )


def login_repro(world: SamlWorld, base: LoginBase, message: str | bytes) -> str:
    """A script that replays one login case against a fresh service provider."""
    lines = [_prelude(world, base.config_source, "KEY" in base.config_source)]
    if base.request_id:
        lines.append(f"requests.add({base.request_id!r}, NOW + dt.timedelta(minutes=10))\n")
    lines.append(f"message = {message!r}\n")
    lines.append(
        "print(process_response(message, config, request_store=requests,"
        " replay_cache=InMemoryReplayCache(), clock=Clock()))\n"
    )
    return "".join(lines)


def logout_repro(
    world: SamlWorld, base: LogoutBase, params: Mapping[str, str], query: str | None
) -> str:
    """A script that replays one logout case against a fresh service provider."""
    options = _config_source({"entity_id": SP, "acs_url": ACS, "slo_url": SLO}, False)
    lines = [_prelude(world, options, False)]
    for key, until in base.pending:
        lines.append(f"requests.add({key!r}, dt.datetime.fromisoformat({until.isoformat()!r}))\n")
    lines.append(f"params = {dict(params)!r}\nquery_string = {query!r}\n")
    lines.append(
        f"print(process_logout_response(params, config, binding={base.binding!r},"
        " request_store=requests, clock=Clock(), query_string=query_string))\n"
    )
    return "".join(lines)
