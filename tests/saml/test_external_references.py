"""Nothing in a SAML message is ever fetched: no CipherReference, RetrievalMethod, outside
URI, XInclude, DTD or entity, on the ACS, at logout, in metadata, in the pysaml2 backend and
at the mock IdP; and libxmlsec itself can open no URI once the library is imported."""

from __future__ import annotations

import base64
import os
import threading
import time
from pathlib import Path
from typing import Any

import attrs
import pytest
import xmlsec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from lxml import etree

from helpers.clock import FixedClock
from helpers.saml import (
    ACS,
    BILLION_LAUGHS,
    ENC_ACS,
    ENC_SP,
    EXTERNAL_ENTITY,
    NS,
    PERSON,
    SP,
    acs_outcome,
    encrypting_sp,
    make_idp,
    request_info,
    response_xml,
    to_bytes,
)
from mock_idp.saml_idp import SamlIdP, SamlRequestError, SamlSigningKey
from sso_bridge.errors import BridgeError, ConfigError
from sso_bridge.integrations.pysaml2 import XmlSecBackend
from sso_bridge.saml import (
    InMemoryRequestStore,
    SamlError,
    ServiceProviderConfig,
    idp_certificates_from_metadata,
    parse_xml,
    process_logout_response,
)
from sso_bridge.saml.codec import encode_post

XENC = "http://www.w3.org/2001/04/xmlenc#"
DS = "http://www.w3.org/2000/09/xmldsig#"
E = {"xenc": XENC, "ds": DS}


@pytest.fixture(scope="module")
def idp() -> SamlIdP:
    return make_idp()


@pytest.fixture(scope="module")
def sp_key(idp: SamlIdP) -> SamlSigningKey:
    return encrypting_sp(idp)


@pytest.fixture
def config(idp: SamlIdP, sp_key: SamlSigningKey) -> ServiceProviderConfig:
    return ServiceProviderConfig.from_idp_metadata(
        idp.metadata(),
        entity_id=ENC_SP,
        acs_url=ENC_ACS,
        idp_entity_id=idp.entity_id,
        allow_idp_initiated=True,
        decryption_key_pem=sp_key.key_pem(),
        slo_url="https://enc.example/slo",
    )


def encrypted(idp: SamlIdP) -> Any:
    """An encrypted login response without its Response signature (so the decryption runs
    on anything a test puts into it)."""
    form = idp.login_response(None, PERSON, sp_entity_id=ENC_SP)
    root = parse_xml(base64.b64decode(form.fields["SAMLResponse"]))
    root.remove(root.find("ds:Signature", NS))
    return root


def outcome(root: Any, config: ServiceProviderConfig) -> str:
    return acs_outcome(to_bytes(root), config)


def cipher_data(root: Any, where: str) -> Any:
    path = {
        "data": ".//xenc:EncryptedData/xenc:CipherData",
        "key": ".//xenc:EncryptedKey/xenc:CipherData",
    }[where]
    return root.find(path, E)


def point_at(root: Any, where: str, uri: str) -> None:
    """Replace the CipherValue of the EncryptedData or the EncryptedKey by a reference."""
    data = cipher_data(root, where)
    data.remove(data.find("xenc:CipherValue", E))
    etree.SubElement(data, f"{{{XENC}}}CipherReference", URI=uri)


class Fifo:
    """A named pipe whose writer records whether anybody ever opened it for reading."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / "secret"
        os.mkfifo(self.path)
        self.opened = threading.Event()
        self._thread = threading.Thread(target=self._write, daemon=True)
        self._thread.start()

    def _write(self) -> None:
        with open(self.path, "wb") as pipe:  # blocks until a reader opens the pipe
            self.opened.set()
            pipe.write(b"TOP SECRET")

    def close(self) -> None:
        # Open the reading end ourselves, so the writer's open returns and it ends.
        fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK)
        self._thread.join(5)
        os.close(fd)


# -- item 1: CipherReference -----------------------------------------------------------------


@pytest.mark.parametrize("where", ["data", "key"])
def test_a_cipher_reference_to_a_file_is_refused_and_never_opened(
    idp: SamlIdP, config: ServiceProviderConfig, tmp_path: Path, where: str
) -> None:
    fifo = Fifo(tmp_path)
    try:
        root = encrypted(idp)
        point_at(root, where, fifo.path.as_uri())
        assert outcome(root, config) == "saml.external_reference"
        assert not fifo.opened.wait(0.2), "the referenced file was opened"
    finally:
        fifo.close()


@pytest.mark.parametrize("uri", ["file:///dev/zero", "/dev/zero", "http://127.0.0.1:9/x", "#x"])
def test_cipher_references_of_any_kind_are_refused_fast(
    idp: SamlIdP, config: ServiceProviderConfig, uri: str
) -> None:
    root = encrypted(idp)
    point_at(root, "data", uri)
    start = time.process_time()
    assert outcome(root, config) == "saml.external_reference"
    assert time.process_time() - start < 0.05


def test_libxmlsec_opens_no_uri_even_if_asked(tmp_path: Path) -> None:
    """Defence in depth: once sso_bridge's SAML code is imported, libxmlsec cannot read a
    CipherReference although the file holds exactly what it would decrypt."""
    key = os.urandom(16)
    iv = os.urandom(12)
    secret = tmp_path / "ciphertext"
    secret.write_bytes(iv + AESGCM(key).encrypt(iv, b"<x>TOP SECRET</x>", None))
    data = etree.fromstring(
        f'<xenc:EncryptedData xmlns:xenc="{XENC}"><xenc:EncryptionMethod '
        'Algorithm="http://www.w3.org/2009/xmlenc11#aes128-gcm"/><xenc:CipherData>'
        f'<xenc:CipherReference URI="{secret.as_uri()}"/></xenc:CipherData>'
        "</xenc:EncryptedData>"
    )
    context = xmlsec.EncryptionContext()
    context.key = xmlsec.Key.from_binary_data(xmlsec.constants.KeyDataAes, key)
    with pytest.raises(xmlsec.Error):
        context.decrypt(data)


# -- RetrievalMethod, KeyInfo and URIs in the encrypted part -------------------------------


def retrieval_method(parent: Any, uri: str = "file:///etc/passwd") -> None:
    etree.SubElement(parent, f"{{{DS}}}RetrievalMethod", URI=uri)


@pytest.mark.parametrize(
    "place",
    [
        ".//xenc:EncryptedData/ds:KeyInfo",
        ".//xenc:EncryptedKey/ds:KeyInfo",
        ".//xenc:EncryptedKey/ds:KeyInfo/ds:X509Data",
    ],
)
@pytest.mark.parametrize("uri", ["file:///etc/passwd", "#EK_1"])
def test_retrieval_methods_are_refused(
    idp: SamlIdP, config: ServiceProviderConfig, place: str, uri: str
) -> None:
    root = encrypted(idp)
    retrieval_method(root.find(place, E), uri)
    assert outcome(root, config) == "saml.external_reference"


@pytest.mark.parametrize(
    "place",
    [
        ".//xenc:EncryptedData",
        ".//xenc:EncryptedData/xenc:EncryptionMethod",
        ".//xenc:EncryptedKey/ds:KeyInfo/ds:X509Data",
        ".//xenc:EncryptedKey/xenc:CipherData",
    ],
)
def test_any_uri_in_the_encrypted_part_is_refused(
    idp: SamlIdP, config: ServiceProviderConfig, place: str
) -> None:
    root = encrypted(idp)
    root.find(place, E).set("URI", "file:///etc/passwd")
    assert outcome(root, config) == "saml.external_reference"


def test_a_local_reference_list_is_accepted_but_not_an_outside_one(
    idp: SamlIdP, config: ServiceProviderConfig
) -> None:
    root = encrypted(idp)
    encrypted_key = root.find(".//xenc:EncryptedKey", E)
    references = etree.SubElement(encrypted_key, f"{{{XENC}}}ReferenceList")
    reference = etree.SubElement(references, f"{{{XENC}}}DataReference", URI="#ED_1")
    assert outcome(root, config) == "accepted"
    reference.set("URI", "file:///etc/passwd")
    assert outcome(root, config) == "saml.external_reference"


@pytest.mark.parametrize(
    ("build", "code"),
    [
        (
            lambda r: etree.SubElement(
                r.find(".//xenc:EncryptedData/ds:KeyInfo", E), f"{{{DS}}}KeyName"
            ),
            "saml.malformed_encryption",
        ),
        (
            lambda r: etree.SubElement(
                r.find(".//xenc:EncryptedKey/ds:KeyInfo", E), f"{{{XENC}}}AgreementMethod"
            ),
            "saml.malformed_encryption",
        ),
        (
            lambda r: etree.SubElement(
                r.find(".//xenc:EncryptedKey/xenc:EncryptionMethod", E), f"{{{DS}}}Transforms"
            ),
            "saml.malformed_encryption",
        ),
        (
            lambda r: etree.SubElement(
                r.find(".//xenc:EncryptedKey/xenc:EncryptionMethod", E),
                f"{{{DS}}}DigestMethod",
                Algorithm="http://www.w3.org/2001/04/xmldsig-more#md5",
            ),
            "saml.bad_algorithm",
        ),
    ],
)
def test_key_info_holds_only_the_inline_key_and_hints(
    idp: SamlIdP, config: ServiceProviderConfig, build: Any, code: str
) -> None:
    root = encrypted(idp)
    build(root)
    assert outcome(root, config) == code


def test_more_encrypted_keys_than_the_cap_are_refused_before_any_rsa(
    idp: SamlIdP, config: ServiceProviderConfig
) -> None:
    root = encrypted(idp)
    key_info = root.find(".//xenc:EncryptedData/ds:KeyInfo", E)
    real = key_info[0]
    for _ in range(3):
        real.addprevious(etree.fromstring(etree.tostring(real)))
    assert outcome(root, config) == "accepted"  # four: the real one is found last
    real.addprevious(etree.fromstring(etree.tostring(real)))
    assert outcome(root, config) == "saml.too_complex"


# -- signatures ------------------------------------------------------------------------------


@pytest.fixture
def plain_config(idp: SamlIdP) -> ServiceProviderConfig:
    return ServiceProviderConfig.from_idp_metadata(
        idp.metadata(),
        entity_id=SP,
        acs_url=ACS,
        idp_entity_id=idp.entity_id,
        allow_idp_initiated=True,
        slo_url="https://sp.example/slo",
    )


def test_signature_with_an_outside_reference_is_refused(
    idp: SamlIdP, plain_config: ServiceProviderConfig
) -> None:
    root = parse_xml(response_xml(idp))
    root.find("ds:Signature/ds:SignedInfo/ds:Reference", NS).set("URI", "file:///etc/passwd")
    assert outcome(root, plain_config) == "saml.reference_mismatch"


@pytest.mark.parametrize(
    "place", ["ds:Signature/ds:KeyInfo", "ds:Signature/ds:KeyInfo/ds:X509Data", "ds:Signature"]
)
def test_signature_with_a_retrieval_method_or_another_uri_is_refused(
    idp: SamlIdP, plain_config: ServiceProviderConfig, place: str
) -> None:
    root = parse_xml(response_xml(idp))
    retrieval_method(root.find(place, NS))
    assert outcome(root, plain_config) == "saml.external_reference"
    root = parse_xml(response_xml(idp))
    root.find(place, NS).set("URI", "http://127.0.0.1:9/")
    assert outcome(root, plain_config) == "saml.external_reference"


def test_logout_signature_with_a_retrieval_method_is_refused(
    idp: SamlIdP, plain_config: ServiceProviderConfig
) -> None:
    root = parse_xml(response_xml(idp))
    root.tag = "{urn:oasis:names:tc:SAML:2.0:protocol}LogoutResponse"
    retrieval_method(root.find("ds:Signature/ds:KeyInfo", NS))
    with pytest.raises(SamlError) as info:
        process_logout_response(
            {"SAMLResponse": encode_post(to_bytes(root))},
            plain_config,
            binding="post",
            request_store=InMemoryRequestStore(),
            clock=FixedClock(),
        )
    assert info.value.code == "saml.external_reference"


def test_the_pysaml2_backend_refuses_a_retrieval_method(idp: SamlIdP, tmp_path: Path) -> None:
    root = parse_xml(response_xml(idp))
    retrieval_method(root.find("ds:Signature/ds:KeyInfo", NS))
    certificate = tmp_path / "idp.crt"
    certificate.write_bytes(idp.signing_key.certificate_pem())
    with pytest.raises(BridgeError) as info:
        XmlSecBackend().validate_signature(
            to_bytes(root), str(certificate), "pem", "Response", root.get("ID")
        )
    assert info.value.code == "saml.external_reference"


# -- XInclude, DTDs and entities --------------------------------------------------------------

XINCLUDE = (
    b'<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
    b'xmlns:xi="http://www.w3.org/2001/XInclude" ID="_x" Version="2.0">'
    b'<xi:include href="file:///etc/passwd" parse="text"/></samlp:Response>'
)
XINCLUDE_VARIANTS = [
    XINCLUDE,
    XINCLUDE.replace(b"2001/XInclude", b"2003/XInclude"),
    XINCLUDE.replace(b"XInclude", b"X&#73;nclude"),  # the namespace spelt with a reference
    XINCLUDE.decode().encode("utf-16"),
]


@pytest.mark.parametrize("document", XINCLUDE_VARIANTS)
def test_xinclude_is_refused(document: bytes) -> None:
    with pytest.raises(SamlError) as info:
        parse_xml(document)
    assert info.value.code == "saml.external_reference"


@pytest.mark.parametrize("document", [BILLION_LAUGHS, EXTERNAL_ENTITY])
@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])
def test_dtds_and_entities_are_refused_in_any_encoding(document: bytes, encoding: str) -> None:
    text = document.decode().replace('<?xml version="1.0"?>', "")
    with pytest.raises(SamlError) as info:
        parse_xml(text.encode(encoding))
    assert info.value.code == "saml.dtd_forbidden"


def test_metadata_with_xinclude_is_refused(idp: SamlIdP) -> None:
    metadata = idp.metadata().replace(
        "<md:IDPSSODescriptor",
        '<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="file:///etc/passwd"/>'
        "<md:IDPSSODescriptor",
        1,
    )
    with pytest.raises(ConfigError) as info:
        idp_certificates_from_metadata(metadata, idp.entity_id)
    assert info.value.code == "saml.bad_metadata"


def test_the_mock_idp_refuses_xinclude_in_a_request(idp: SamlIdP) -> None:
    request = XINCLUDE.replace(b"samlp:Response", b"samlp:AuthnRequest")
    with pytest.raises(SamlRequestError) as info:
        idp.parse_authn_request("post", {"SAMLRequest": encode_post(request)})
    assert info.value.code == "saml.bad_request"
    assert "saml.external_reference" in info.value.message


def test_an_encrypted_login_still_works(idp: SamlIdP, config: ServiceProviderConfig) -> None:
    assert outcome(encrypted(idp), config) == "accepted"
    other = attrs.evolve(config, decryption_key_pem=SamlSigningKey.generate("x").key_pem())
    assert outcome(encrypted(idp), other) == "saml.decrypt_failed"
    assert request_info().sp_entity_id == SP
