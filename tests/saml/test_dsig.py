"""The signature arithmetic of sso_bridge.saml.dsig agrees with libxmlsec's on signed SAML
elements, untouched and changed in every way that matters to a digest or a signature."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
import xmlsec
from lxml import etree

from helpers.saml import DS, NS, SAML, assertion_of, make_idp, response_xml, sign, to_bytes
from mock_idp.saml_idp import SamlIdP
from sso_bridge.saml import parse_xml
from sso_bridge.saml.dsig import DIGESTS, SIGNATURES, parts_hold, signature_parts
from sso_bridge.saml.verify import (
    ALLOWED_DIGEST_METHODS,
    ALLOWED_SIGNATURE_METHODS,
    _check_profile,
    _profile,
    _verifies,
    xmlsec_verifies,
)


@pytest.fixture(scope="module")
def idp() -> SamlIdP:
    return make_idp()


def _name_id(element: Any) -> Any:
    return element.find(".//saml:Subject/saml:NameID", NS)


def _signature(element: Any) -> Any:
    return element.find("ds:Signature", NS)


def _text(element: Any) -> None:
    _name_id(element).text = "someone-else"


def _attribute(element: Any) -> None:
    element.set("IssueInstant", "2001-01-01T00:00:00Z")


def _tail_after_signature(element: Any) -> None:
    _signature(element).tail = (_signature(element).tail or "") + " "


def _text_before_signature(element: Any) -> None:
    previous = _signature(element).getprevious()
    if previous is None:
        element.text = (element.text or "") + " "
    else:
        previous.tail = (previous.tail or "") + " "


def _comment(element: Any) -> None:
    comment = etree.Comment(" a comment is not signed ")
    comment.tail = _name_id(element).text
    _name_id(element).text = ""
    _name_id(element).append(comment)


def _unused_namespace(element: Any) -> None:
    element.set("unused-namespace-here", "")  # made a declaration once serialized


def _signature_moved_last(element: Any) -> None:
    signature = _signature(element)
    element.remove(signature)
    element.append(signature)


def _key_info_dropped(element: Any) -> None:
    signature = _signature(element)
    signature.remove(signature.find("ds:KeyInfo", NS))


def _digest_value(element: Any) -> None:
    node = element.find("ds:Signature/ds:SignedInfo/ds:Reference/ds:DigestValue", NS)
    node.text = "A" + node.text[1:] if node.text[0] != "A" else "B" + node.text[1:]


def _signature_value(element: Any) -> None:
    node = element.find("ds:Signature/ds:SignatureValue", NS)
    node.text = "A" + node.text.strip()[1:] if node.text.strip()[0] != "A" else "B" + node.text[1:]


def _signed_info_whitespace(element: Any) -> None:
    signed_info = element.find("ds:Signature/ds:SignedInfo", NS)
    signed_info.text = (signed_info.text or "") + "\n"


def _second_digest_value(element: Any) -> None:
    node = element.find("ds:Signature/ds:SignedInfo/ds:Reference/ds:DigestValue", NS)
    node.addnext(copy.deepcopy(node))


CHANGES: dict[str, Callable[[Any], None]] = {
    "text": _text,
    "attribute": _attribute,
    "tail_after_signature": _tail_after_signature,
    "text_before_signature": _text_before_signature,
    "comment": _comment,
    "unused_namespace": _unused_namespace,
    "signature_moved_last": _signature_moved_last,
    "key_info_dropped": _key_info_dropped,
    "digest_value": _digest_value,
    "signature_value": _signature_value,
    "signed_info_whitespace": _signed_info_whitespace,
    "second_digest_value": _second_digest_value,
}


def _both(element: Any, idp: SamlIdP) -> tuple[bool, bool]:
    signature, algorithms = _check_profile(element, element.get("ID"))
    certificate = idp.signing_key.certificate
    before = etree.tostring(element)
    ours = _verifies(element, signature, certificate, algorithms)
    assert etree.tostring(element) == before  # the tree is put back as it was
    # verify_element's own path: the parts the profile check found, not found again
    parts, (signature_method, digest_method) = _profile(element, element.get("ID"))
    assert parts.signature is signature
    assert parts == signature_parts(signature)
    found = parts_hold(element, parts, certificate, signature_method.href, digest_method.href)
    assert found == ours
    assert etree.tostring(element) == before
    return ours, xmlsec_verifies(element, signature, certificate, algorithms)


def test_every_allowed_method_has_its_arithmetic() -> None:
    assert set(ALLOWED_DIGEST_METHODS) == set(DIGESTS)
    assert set(ALLOWED_SIGNATURE_METHODS) == set(SIGNATURES)


@pytest.mark.parametrize("which", ["response", "assertion"])
def test_untouched_signatures_verify(idp: SamlIdP, which: str) -> None:
    root = parse_xml(response_xml(idp))
    element = root if which == "response" else assertion_of(root)
    assert _both(element, idp) == (True, True)


@pytest.mark.parametrize("change", sorted(CHANGES))
@pytest.mark.parametrize("which", ["response", "assertion"])
def test_changed_documents_get_the_same_answer(idp: SamlIdP, which: str, change: str) -> None:
    root = parse_xml(response_xml(idp))
    if which == "response":
        CHANGES[change](root)
        element = root
    else:
        CHANGES[change](assertion_of(root))
        element = assertion_of(root)
    serialized = to_bytes(element.getroottree().getroot())
    serialized = serialized.replace(b'unused-namespace-here=""', b'xmlns:x="urn:x"')
    element = parse_xml(serialized)
    if which == "assertion":
        element = assertion_of(element)
    ours, reference = _both(element, idp)
    assert ours == reference
    assert ours == (change in UNSIGNED_PARTS)


UNSIGNED_PARTS = ("comment", "unused_namespace", "key_info_dropped", "signature_moved_last")
"""Changes no signature covers: exclusive c14n drops comments and unused declarations, the
enveloped transform the signature (KeyInfo is outside SignedInfo)."""


def test_an_inclusive_prefix_list_is_honoured(idp: SamlIdP) -> None:
    """A PrefixList keeps a namespace the content does not use in the signed form: both
    verifiers count it, and dropping its declaration breaks both."""
    root = parse_xml(response_xml(idp))
    assertion = assertion_of(root)
    holder = etree.SubElement(root, f"{{{SAML}}}Advice", nsmap={"xs": "urn:xs-like"})
    holder.append(assertion)  # the assertion now sees xs in scope, declared on its parent
    for old in assertion.findall("ds:Signature", NS):
        assertion.remove(old)
    c = xmlsec.constants
    signature = xmlsec.template.create(assertion, c.TransformExclC14N, c.TransformRsaSha256)
    assertion.insert(1, signature)
    reference = xmlsec.template.add_reference(
        signature, c.TransformSha256, uri="#" + assertion.get("ID")
    )
    xmlsec.template.add_transform(reference, c.TransformEnveloped)
    exclusive = xmlsec.template.add_transform(reference, c.TransformExclC14N)
    xmlsec.template.transform_add_c14n_inclusive_namespaces(exclusive, ["xs"])
    context = xmlsec.SignatureContext()
    context.key = xmlsec.Key.from_memory(idp.signing_key.key_pem(), c.KeyDataFormatPem)
    context.register_id(assertion, "ID")
    context.sign(signature)
    signed = parse_xml(to_bytes(root))
    found = signed.find(".//saml:Advice/saml:Assertion", NS)
    assert _both(found, idp) == (True, True)
    moved = parse_xml(to_bytes(root).replace(b'xmlns:xs="urn:xs-like"', b'xmlns:xs="urn:other"'))
    assert _both(moved.find(".//saml:Advice/saml:Assertion", NS), idp) == (False, False)


def test_resigned_element_verifies_in_both(idp: SamlIdP) -> None:
    root = parse_xml(response_xml(idp))
    _name_id(assertion_of(root)).text = "re-signed"
    sign(assertion_of(root), idp.signing_key)
    reparsed = parse_xml(to_bytes(root))
    assert _both(assertion_of(reparsed), idp) == (True, True)
    assert _both(reparsed, idp) == (False, False)  # the Response was signed over the old one
    assert reparsed.find(f"{{{DS}}}Signature") is not None
