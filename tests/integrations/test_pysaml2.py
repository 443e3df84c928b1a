"""XmlSecBackend: pysaml2 identity-provider responses signed and encrypted in process."""

from __future__ import annotations

import copy
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import saml2.sigver
import xmlsec
from lxml import etree
from saml2.authn_context import PASSWORDPROTECTEDTRANSPORT
from saml2.saml import NAMEID_FORMAT_PERSISTENT, NameID
from saml2.server import Server
from saml2.sigver import pre_encryption_part

from helpers.keys import KeyPair, make_key_pair
from sso_bridge.errors import ConfigError
from sso_bridge.integrations.pysaml2 import (
    AES256_CBC,
    SamlCryptoError,
    XmlSecBackend,
    create_server,
    load_config,
)

IDP = "https://idp.example/metadata"
SP = "https://sp.example/metadata"
ACS = "https://sp.example/acs"

NS = {
    "ds": "http://www.w3.org/2000/09/xmldsig#",
    "xenc": "http://www.w3.org/2001/04/xmlenc#",
    "saml": "urn:oasis:names:tc:SAML:2.0:assertion",
    "samlp": "urn:oasis:names:tc:SAML:2.0:protocol",
}
ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
RSA_SHA1 = "http://www.w3.org/2000/09/xmldsig#rsa-sha1"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
ASSERTION = "urn:oasis:names:tc:SAML:2.0:assertion:Assertion"

IDENTITY = {"givenName": ["Мария"], "sn": ["Смирнова"], "mail": ["maria@school.example"]}


@pytest.fixture(scope="module")
def keys_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("keys")


@pytest.fixture(scope="module")
def idp_keys(keys_dir: Path) -> KeyPair:
    return make_key_pair(keys_dir, "idp")


@pytest.fixture(scope="module")
def sp_keys(keys_dir: Path) -> KeyPair:
    return make_key_pair(keys_dir, "sp")


@pytest.fixture(scope="module")
def sp_metadata(keys_dir: Path, sp_keys: KeyPair) -> Path:
    path = keys_dir / "sp-metadata.xml"
    path.write_text(
        f"""<?xml version="1.0" encoding="UTF-8"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata"
    xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="{SP}">
  <md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"
      WantAssertionsSigned="true">
    <md:KeyDescriptor use="encryption">
      <ds:KeyInfo><ds:X509Data><ds:X509Certificate>{sp_keys.cert_body}</ds:X509Certificate>
      </ds:X509Data></ds:KeyInfo>
    </md:KeyDescriptor>
    <md:NameIDFormat>{NAMEID_FORMAT_PERSISTENT}</md:NameIDFormat>
    <md:AssertionConsumerService index="0" Location="{ACS}"
        Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"/>
  </md:SPSSODescriptor>
</md:EntityDescriptor>
""",
        encoding="utf-8",
    )
    return path


def idp_settings(idp_keys: KeyPair, sp_metadata: Path, **idp: Any) -> dict[str, Any]:
    return {
        "entityid": IDP,
        "key_file": str(idp_keys.key_file),
        "cert_file": str(idp_keys.cert_file),
        "metadata": {"local": [str(sp_metadata)]},
        "service": {
            "idp": {
                "endpoints": {
                    "single_sign_on_service": [
                        (
                            "https://idp.example/sso",
                            "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST",
                        )
                    ]
                },
                "name_id_format": [NAMEID_FORMAT_PERSISTENT],
                "policy": {"default": {"lifetime": {"minutes": 5}}},
                **idp,
            }
        },
    }


@pytest.fixture(autouse=True)
def no_xmlsec1(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[object]]:
    """Every test fails if anything starts a program (pysaml2 runs xmlsec1 via Popen)."""
    started: list[object] = []

    def refuse(*args: object, **kwargs: object) -> None:
        started.append(args)
        raise AssertionError(f"a program was started: {args!r}")

    monkeypatch.setattr(subprocess, "Popen", refuse)
    monkeypatch.setattr(saml2.sigver, "Popen", refuse)
    monkeypatch.setattr(saml2.sigver, "get_xmlsec_binary", refuse)
    yield started
    assert started == []


@pytest.fixture
def server(idp_keys: KeyPair, sp_metadata: Path) -> Server:
    return create_server(load_config(idp_settings(idp_keys, sp_metadata)))


def authn_response(server: Server, **kwargs: Any) -> Any:
    xml = server.create_authn_response(
        IDENTITY,
        in_response_to="id-request-1",
        destination=ACS,
        sp_entity_id=SP,
        name_id=NameID(format=NAMEID_FORMAT_PERSISTENT, text="user-1"),
        authn={"class_ref": PASSWORDPROTECTEDTRANSPORT, "authn_auth": IDP},
        **kwargs,
    )
    assert isinstance(xml, str)
    return etree.fromstring(xml.encode())


def verify_enveloped(element: Any, cert_pem: bytes) -> None:
    """Check the SAML signature profile, then the signature, of ``element``'s own signature."""
    signatures = element.findall("ds:Signature", NS)
    assert len(signatures) == 1
    signature = signatures[0]
    references = signature.findall("ds:SignedInfo/ds:Reference", NS)
    assert len(references) == 1
    assert references[0].get("URI") == "#" + element.get("ID")
    transforms = [t.get("Algorithm") for t in references[0].iterfind("ds:Transforms/*", NS)]
    assert transforms == [ENVELOPED, EXC_C14N]
    assert signature.find("ds:SignedInfo/ds:CanonicalizationMethod", NS).get("Algorithm") == (
        EXC_C14N
    )
    context = xmlsec.SignatureContext()
    context.key = xmlsec.Key.from_memory(cert_pem, xmlsec.constants.KeyDataFormatCertPem)
    context.register_id(element, "ID")
    context.verify(signature)


def decrypt(encrypted_data: Any, keys: KeyPair) -> Any:
    manager = xmlsec.KeysManager()
    manager.add_key(xmlsec.Key.from_memory(keys.key_pem, xmlsec.constants.KeyDataFormatPem))
    return xmlsec.EncryptionContext(manager).decrypt(encrypted_data)


def test_response_and_assertion_are_signed(server: Server, idp_keys: KeyPair) -> None:
    response = authn_response(server, sign_response=True, sign_assertion=True)
    (assertion,) = response.findall("saml:Assertion", NS)

    verify_enveloped(assertion, idp_keys.cert_pem)
    verify_enveloped(response, idp_keys.cert_pem)
    for element in (response, assertion):
        signed_info = element.find("ds:Signature/ds:SignedInfo", NS)
        assert signed_info.find("ds:SignatureMethod", NS).get("Algorithm") == RSA_SHA256
        assert signed_info.find("ds:Reference/ds:DigestMethod", NS).get("Algorithm") == SHA256
        certificate = element.findtext(
            "ds:Signature/ds:KeyInfo/ds:X509Data/ds:X509Certificate", namespaces=NS
        )
        assert "".join(certificate.split()) == idp_keys.cert_body
    # the Response signature sits right after the Issuer, as the schema requires
    assert [etree.QName(child).localname for child in response][:2] == ["Issuer", "Signature"]


def test_tampered_assertion_fails_verification(server: Server, idp_keys: KeyPair) -> None:
    response = authn_response(server, sign_response=True, sign_assertion=True)
    (assertion,) = response.findall("saml:Assertion", NS)
    values = assertion.xpath(".//saml:AttributeValue[text()='Мария']", namespaces=NS)
    assert len(values) == 1
    values[0].text = "Марина"

    with pytest.raises(xmlsec.Error):
        verify_enveloped(assertion, idp_keys.cert_pem)
    with pytest.raises(xmlsec.Error):
        verify_enveloped(response, idp_keys.cert_pem)


def test_signature_fails_with_another_certificate(server: Server, sp_keys: KeyPair) -> None:
    response = authn_response(server, sign_assertion=True)
    with pytest.raises(xmlsec.Error):
        verify_enveloped(response.find("saml:Assertion", NS), sp_keys.cert_pem)


def test_signing_starts_no_program(
    server: Server, idp_keys: KeyPair, no_xmlsec1: list[object]
) -> None:
    # the autouse fixture makes Popen fail; pysaml2's own backend would need it here
    assert server.sec.crypto.__class__ is XmlSecBackend
    response = authn_response(server, sign_response=True, sign_assertion=True)
    verify_enveloped(response, idp_keys.cert_pem)
    assert no_xmlsec1 == []


def test_encrypted_assertion_round_trip(
    server: Server, idp_keys: KeyPair, sp_keys: KeyPair
) -> None:
    response = authn_response(
        server, sign_response=True, sign_assertion=True, encrypt_assertion=True
    )
    assert response.find("saml:Assertion", NS) is None
    verify_enveloped(response, idp_keys.cert_pem)

    data = response.find("saml:EncryptedAssertion/xenc:EncryptedData", NS)
    assert data.find("xenc:EncryptionMethod", NS).get("Algorithm") == (
        "http://www.w3.org/2009/xmlenc11#aes128-gcm"
    )
    encrypted_key = data.find("ds:KeyInfo/xenc:EncryptedKey", NS)
    assert encrypted_key.find("xenc:EncryptionMethod", NS).get("Algorithm") == (
        "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p"
    )
    recipient = encrypted_key.findtext("ds:KeyInfo/ds:X509Data/ds:X509Certificate", namespaces=NS)
    assert "".join(recipient.split()) == sp_keys.cert_body

    # an SP may decrypt in place or on its own; either way the signature must hold
    standalone = decrypt(copy.deepcopy(data), sp_keys)
    assertion = decrypt(data, sp_keys)
    for decrypted in (assertion, standalone):
        assert etree.QName(decrypted).localname == "Assertion"
        verify_enveloped(decrypted, idp_keys.cert_pem)
        assert decrypted.findtext(".//saml:NameID", namespaces=NS) == "user-1"
    assert assertion.getparent().tag == f"{{{NS['saml']}}}EncryptedAssertion"


def test_encryption_algorithm_is_configurable(
    idp_keys: KeyPair, sp_keys: KeyPair, sp_metadata: Path
) -> None:
    server = create_server(
        load_config(idp_settings(idp_keys, sp_metadata)), XmlSecBackend(data_encryption=AES256_CBC)
    )
    response = authn_response(server, sign_assertion=True, encrypt_assertion=True)
    data = response.find("saml:EncryptedAssertion/xenc:EncryptedData", NS)
    assert data.find("xenc:EncryptionMethod", NS).get("Algorithm") == AES256_CBC
    verify_enveloped(decrypt(data, sp_keys), idp_keys.cert_pem)


def test_pysaml2_template_key_name_and_plain_encrypt(sp_keys: KeyPair) -> None:
    backend = XmlSecBackend()
    response = (
        f'<samlp:Response xmlns:samlp="{NS["samlp"]}" ID="r1"><saml:EncryptedAssertion'
        f' xmlns:saml="{NS["saml"]}">{unsigned_assertion("a1")}</saml:EncryptedAssertion>'
        "</samlp:Response>"
    )
    template = pre_encryption_part(
        key_name="sp-2024", encrypt_cert=sp_keys.cert_body, encrypted_data_id="ED_1"
    )
    encrypted = etree.fromstring(
        backend.encrypt_assertion(response, str(sp_keys.cert_file), template, "des-192").encode()
    )
    data = encrypted.find("saml:EncryptedAssertion/xenc:EncryptedData", NS)
    assert data.get("Id") == "ED_1"
    assert data.findtext("ds:KeyInfo/xenc:EncryptedKey/ds:KeyInfo/ds:KeyName", namespaces=NS) == (
        "sp-2024"
    )
    assert decrypt(data, sp_keys).get("ID") == "a1"

    whole = etree.fromstring(
        backend.encrypt(unsigned_assertion("a2"), sp_keys.cert_pem, "", "des-192").encode()
    )
    assert whole.tag == f"{{{NS['xenc']}}}EncryptedData"
    assert decrypt(whole, sp_keys).get("ID") == "a2"


def unsigned_assertion(assertion_id: str, *, template: str = "") -> str:
    return (
        f'<saml:Assertion xmlns:saml="{NS["saml"]}" xmlns:ds="{NS["ds"]}" ID="{assertion_id}"'
        ' Version="2.0" IssueInstant="2024-01-01T00:00:00Z">'
        f"<saml:Issuer>{IDP}</saml:Issuer>{template}<saml:Subject/></saml:Assertion>"
    )


def test_sha1_template_is_upgraded_and_missing_template_is_created(idp_keys: KeyPair) -> None:
    backend = XmlSecBackend()
    sha1_template = (
        f'<ds:Signature><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="{EXC_C14N}"/>'
        f'<ds:SignatureMethod Algorithm="{RSA_SHA1}"/><ds:Reference URI="#a1"><ds:DigestMethod'
        ' Algorithm="http://www.w3.org/2000/09/xmldsig#sha1"/><ds:DigestValue/></ds:Reference>'
        "</ds:SignedInfo><ds:SignatureValue/></ds:Signature>"
    )
    for document in (unsigned_assertion("a1", template=sha1_template), unsigned_assertion("a1")):
        signed = etree.fromstring(
            backend.sign_statement(document, ASSERTION, str(idp_keys.key_file), "a1").encode()
        )
        verify_enveloped(signed, idp_keys.cert_pem)
        method = signed.find("ds:Signature/ds:SignedInfo/ds:SignatureMethod", NS)
        assert method.get("Algorithm") == RSA_SHA256
        assert signed.find("ds:Signature/ds:KeyInfo", NS) is None  # no certificate was given


@pytest.mark.parametrize(
    ("document", "node_id", "code"),
    [
        (unsigned_assertion("a1"), "missing", "saml.sign_failed"),
        (f"<r>{unsigned_assertion('a1')}{unsigned_assertion('a1')}</r>", "a1", "saml.sign_failed"),
        ('<!DOCTYPE x [<!ENTITY e "boom">]><x ID="a1">&e;</x>', "a1", "saml.xml_invalid"),
        ("<not-xml", "a1", "saml.xml_invalid"),
    ],
    ids=["unknown-id", "duplicate-id", "dtd", "malformed"],
)
def test_bad_documents_are_refused(
    idp_keys: KeyPair, document: str, node_id: str, code: str
) -> None:
    with pytest.raises(SamlCryptoError) as caught:
        XmlSecBackend().sign_statement(document, ASSERTION, str(idp_keys.key_file), node_id)
    assert caught.value.code == code
    assert isinstance(caught.value, saml2.sigver.XmlsecError)


def test_certificate_must_match_the_signing_key(idp_keys: KeyPair, sp_keys: KeyPair) -> None:
    template = (
        "<ds:Signature><ds:SignedInfo/><ds:KeyInfo><ds:X509Data><ds:X509Certificate>"
        f"{sp_keys.cert_body}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></ds:Signature>"
    )
    with pytest.raises(SamlCryptoError) as caught:
        XmlSecBackend().sign_statement(
            unsigned_assertion("a1", template=template), ASSERTION, str(idp_keys.key_file), "a1"
        )
    assert caught.value.code == "saml.key_invalid"


def test_weak_configured_algorithm_is_rejected(idp_keys: KeyPair, sp_metadata: Path) -> None:
    config = load_config(idp_settings(idp_keys, sp_metadata, signing_algorithm=RSA_SHA1))
    with pytest.raises(ConfigError):
        create_server(config)
