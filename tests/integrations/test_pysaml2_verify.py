"""pysaml2's own service provider, verifying with XmlSecBackend: no xmlsec1, no XSW."""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path

import pytest
from lxml import etree
from saml2 import BINDING_HTTP_POST
from saml2.client import Saml2Client
from saml2.config import SPConfig

from helpers.keys import make_key_pair
from mock_idp.saml_idp import SamlIdP
from mock_idp.users import person_from_dict
from sso_bridge.errors import BridgeError
from sso_bridge.integrations.pysaml2 import XmlSecBackend, install_backend, load_config

SP = "https://sp.example/metadata"
ACS = "https://sp.example/acs"
DS = "{http://www.w3.org/2000/09/xmldsig#}"
PERSON = person_from_dict(
    {
        "oid": 1000000101,
        "login": "m@example.org",
        "password": "p",
        "last_name": "Смирнова",
        "first_name": "Мария",
        "birth_date": "12.03.1984",
    }
)


@pytest.fixture(autouse=True)
def no_programs(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a program was started")

    monkeypatch.setattr(subprocess, "Popen", refuse)


@pytest.fixture(scope="module")
def idp(tmp_path_factory: pytest.TempPathFactory) -> SamlIdP:
    saml = SamlIdP("https://idp.example", tmp_path_factory.mktemp("idp"))
    saml.register_sp_settings(SP, ACS)
    return saml


@pytest.fixture(scope="module")
def client(idp: SamlIdP, tmp_path_factory: pytest.TempPathFactory) -> Saml2Client:
    keys = make_key_pair(Path(tmp_path_factory.mktemp("sp")), "sp")
    settings = {
        "entityid": SP,
        "key_file": str(keys.key_file),
        "cert_file": str(keys.cert_file),
        "metadata": {"inline": [idp.metadata()]},
        "service": {
            "sp": {
                "endpoints": {"assertion_consumer_service": [(ACS, BINDING_HTTP_POST)]},
                "want_assertions_signed": True,
                "want_response_signed": True,
                "allow_unsolicited": True,
            }
        },
    }
    sp = Saml2Client(config=load_config(settings, SPConfig))
    install_backend(sp)
    return sp


def response(idp: SamlIdP) -> str:
    return idp.login_response(None, PERSON, sp_entity_id=SP).fields["SAMLResponse"]


def rewrite(encoded: str, change) -> str:  # type: ignore[no-untyped-def]
    root = etree.fromstring(base64.b64decode(encoded))
    change(root)
    return base64.b64encode(etree.tostring(root)).decode()


def test_pysaml2_accepts_a_good_response(idp: SamlIdP, client: Saml2Client) -> None:
    answer = client.parse_authn_request_response(response(idp), BINDING_HTTP_POST)
    assert answer is not None
    assert answer.assertion is not None
    assert isinstance(client.sec.crypto, XmlSecBackend)


def test_pysaml2_refuses_a_tampered_assertion(idp: SamlIdP, client: Saml2Client) -> None:
    def tamper(root) -> None:  # type: ignore[no-untyped-def]
        value = root.find(".//{urn:oasis:names:tc:SAML:2.0:assertion}AttributeValue")
        value.text = "someone else"

    with pytest.raises(Exception, match=r"(?i)signature"):
        client.parse_authn_request_response(rewrite(response(idp), tamper), BINDING_HTTP_POST)


def test_an_empty_response_signature_is_refused(idp: SamlIdP, client: Saml2Client) -> None:
    # pysaml2's XMLSecurity backend lets this through when the assertion's signature verifies
    def empty(root) -> None:  # type: ignore[no-untyped-def]
        root.find(f"{DS}Signature/{DS}SignatureValue").text = ""

    with pytest.raises(Exception, match=r"(?i)signature"):
        client.parse_authn_request_response(rewrite(response(idp), empty), BINDING_HTTP_POST)


def test_validate_signature_reports_codes(idp: SamlIdP, tmp_path: Path) -> None:
    certificate = tmp_path / "idp.pem"
    certificate.write_text(idp.signing_key.certificate_pem().decode(), encoding="ascii")
    document = base64.b64decode(response(idp))
    root_id = etree.fromstring(document).get("ID")
    backend = XmlSecBackend()
    assert backend.validate_signature(document, str(certificate), "pem", "Response", root_id)
    with pytest.raises(BridgeError) as caught:
        backend.validate_signature(document, str(certificate), "pem", "Response", None)
    assert caught.value.code == "saml.missing_id"
