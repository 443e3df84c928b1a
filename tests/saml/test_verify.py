"""Enveloped signature checking: safe parsing, the SAML signature profile, wrapping."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import xmlsec
from cryptography.hazmat.primitives.asymmetric import ec
from lxml import etree

from helpers.keys import self_signed
from helpers.saml import (
    ASSERTION_XPATH,
    BILLION_LAUGHS,
    DS,
    EXTERNAL_DTD,
    EXTERNAL_ENTITY,
    NS,
    SAML,
    SAMLP,
    XSW_AT_VERIFY,
    assertion_of,
    element_id,
    make_idp,
    response_xml,
    sign,
    sign_with,
    to_bytes,
    xsw,
)
from mock_idp.saml_idp import SamlFault, SamlIdP, SamlSigningKey
from sso_bridge.saml import SamlError, XmlLimits, element_text, parse_xml, verify_enveloped


@pytest.fixture(scope="module")
def idp() -> SamlIdP:
    return make_idp()


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
    key_pem, certificate_pem, certificate = self_signed(ec.generate_private_key(curve), "ec-idp")
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
    with pytest.raises(SamlError) as info:  # the text node is beyond the shape limits
        parse_xml(document, max_bytes=len(document))
    assert info.value.code == "saml.too_complex"
    roomy = XmlLimits(max_text=len(document))
    assert parse_xml(document, max_bytes=len(document), limits=roomy).tag == "a"


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
