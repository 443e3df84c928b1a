"""The mock IdP's SAML 2.0 identity provider, driven by a pysaml2 service provider."""

from __future__ import annotations

import base64
import copy
import datetime as dt
import subprocess
import zlib
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import saml2.sigver
import xmlsec
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from lxml import etree
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.client import Saml2Client
from saml2.config import SPConfig
from saml2.metadata import entity_descriptor
from saml2.saml import NAMEID_FORMAT_TRANSIENT, NameID
from saml2.sigver import pre_signature_part, verify_redirect_signature
from signxml import SignatureConfiguration, VerifyResult, XMLVerifier
from signxml.exceptions import InvalidSignature

from helpers.clock import NOW, FixedClock
from helpers.keys import KeyPair, make_key_pair
from helpers.saml import PERSON_DATA
from mock_idp.saml_idp import (
    ESIA_ATTRIBUTES,
    AuthnRequestInfo,
    PostForm,
    Redirect,
    SamlFault,
    SamlIdP,
    SamlRequestError,
    SamlSigningKey,
    esia_attributes,
)
from mock_idp.users import Person, person_from_dict
from sso_bridge.errors import BridgeError, InvalidInput
from sso_bridge.integrations.pysaml2 import (
    RSA_SHA256,
    SHA256,
    XmlSecBackend,
    install_backend,
    load_config,
)
from sso_bridge.saml.errors import SamlError

BASE = "https://idp.example"
SP = "https://sp.example/metadata"
ACS = "https://sp.example/acs"
SLO = "https://sp.example/slo"
PLAIN_SP = "https://plain-sp.example/metadata"
PLAIN_ACS = "https://plain-sp.example/acs"
PLAIN_SLO = "https://plain-sp.example/slo"
ENC_SP = "https://enc-sp.example/metadata"
ENC_ACS = "https://enc-sp.example/acs"

SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
NS = {
    "ds": "http://www.w3.org/2000/09/xmldsig#",
    "xenc": "http://www.w3.org/2001/04/xmlenc#",
    "saml": SAML,
    "samlp": SAMLP,
    "md": "urn:oasis:names:tc:SAML:2.0:metadata",
}
ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"


PERSON = person_from_dict(
    PERSON_DATA
    | {
        "contacts": [
            *PERSON_DATA["contacts"],
            {"type": "EML", "value": "old@example.org", "verified": False},
        ]
    }
)


# -- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def no_programs(monkeypatch: pytest.MonkeyPatch) -> None:
    """pysaml2's default backend runs xmlsec1; nothing here may start a program."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"a program was started: {args!r}")

    monkeypatch.setattr(subprocess, "Popen", refuse)
    monkeypatch.setattr(saml2.sigver, "Popen", refuse)
    monkeypatch.setattr(saml2.sigver, "get_xmlsec_binary", refuse)


@pytest.fixture(scope="module")
def keys_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("keys")


@pytest.fixture(scope="module")
def sp_keys(keys_dir: Path) -> KeyPair:
    return make_key_pair(keys_dir, "sp")


@pytest.fixture(scope="module")
def idp(sp_keys: KeyPair) -> SamlIdP:
    idp = SamlIdP(BASE, clock=FixedClock())
    idp.register_sp_settings(PLAIN_SP, [PLAIN_ACS, PLAIN_ACS + "/2"], slo_url=PLAIN_SLO)
    idp.register_sp_settings(
        ENC_SP, ENC_ACS, certificate_pem=sp_keys.cert_pem, encrypt_assertions=True
    )
    return idp


@pytest.fixture(scope="module")
def idp_cert(idp: SamlIdP) -> bytes:
    return idp.signing_key.certificate_pem()


@pytest.fixture(scope="module")
def client(idp: SamlIdP, sp_keys: KeyPair) -> Saml2Client:
    """A pysaml2 SP that signs its requests; registered with the IdP from its metadata."""
    settings = {
        "entityid": SP,
        "key_file": str(sp_keys.key_file),
        "cert_file": str(sp_keys.cert_file),
        "metadata": {"inline": [idp.metadata()]},
        "service": {
            "sp": {
                "endpoints": {
                    "assertion_consumer_service": [(ACS, BINDING_HTTP_POST)],
                    "single_logout_service": [(SLO, BINDING_HTTP_REDIRECT)],
                },
                "authn_requests_signed": True,
                "want_assertions_signed": True,
                "want_response_signed": True,
                "name_id_format": [NAMEID_FORMAT_TRANSIENT],
                "signing_algorithm": RSA_SHA256,
                "digest_algorithm": SHA256,
            }
        },
    }
    client = Saml2Client(config=load_config(settings, SPConfig))
    install_backend(client)
    registered = idp.register_sp(str(entity_descriptor(client.config)))
    assert registered.entity_id == SP
    assert registered.want_signed_requests
    return client


# -- helpers ----------------------------------------------------------------------------------


def verify_enveloped(element: Any, cert_pem: bytes) -> None:
    """The SAML signature profile, then the signature value, of ``element``'s own signature."""
    signatures = element.findall("ds:Signature", NS)
    assert len(signatures) == 1
    signature = signatures[0]
    references = signature.findall("ds:SignedInfo/ds:Reference", NS)
    assert len(references) == 1
    assert references[0].get("URI") == "#" + element.get("ID")
    transforms = [t.get("Algorithm") for t in references[0].iterfind("ds:Transforms/*", NS)]
    assert transforms == [ENVELOPED, EXC_C14N]
    method = signature.find("ds:SignedInfo/ds:CanonicalizationMethod", NS)
    assert method.get("Algorithm") == EXC_C14N
    context = xmlsec.SignatureContext()
    context.key = xmlsec.Key.from_memory(cert_pem, xmlsec.constants.KeyDataFormatCertPem)
    context.register_id(element, "ID")
    context.verify(signature)


def key_info_cert(element: Any) -> bytes:
    body = element.findtext("ds:Signature/ds:KeyInfo/ds:X509Data/ds:X509Certificate", namespaces=NS)
    der = base64.b64decode("".join(body.split()))
    return x509.load_der_x509_certificate(der).public_bytes(serialization.Encoding.PEM)


def response_of(form: PostForm) -> Any:
    return etree.fromstring(base64.b64decode(form.fields["SAMLResponse"]))


def deflate(xml: str | bytes) -> str:
    data = xml.encode() if isinstance(xml, str) else xml
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return base64.b64encode(compressor.compress(data) + compressor.flush()).decode()


def inflate(value: str) -> Any:
    return etree.fromstring(zlib.decompress(base64.b64decode(value), -15))


def authn_request(
    issuer: str = PLAIN_SP,
    *,
    acs: str | None = PLAIN_ACS,
    request_id: str = "_req-1",
    destination: str | None = None,
    doctype: str = "",
    issuer_text: str | None = None,
) -> str:
    attributes = f' Destination="{destination}"' if destination else ""
    if acs:
        attributes += f' AssertionConsumerServiceURL="{acs}"'
    return (
        f'{doctype}<samlp:AuthnRequest xmlns:samlp="{SAMLP}" xmlns:saml="{SAML}"'
        f' ID="{request_id}" Version="2.0" IssueInstant="2024-01-01T00:00:00Z"{attributes}'
        f' ProtocolBinding="{BINDING_HTTP_POST}">'
        f"<saml:Issuer>{issuer_text or issuer}</saml:Issuer></samlp:AuthnRequest>"
    )


def post(xml: str | bytes) -> dict[str, str]:
    data = xml.encode() if isinstance(xml, str) else xml
    return {"SAMLRequest": base64.b64encode(data).decode(), "RelayState": "relay-1"}


def location(info: dict[str, Any]) -> str:
    return str(dict(info["headers"])["Location"])


def redirect_query(url: str) -> tuple[dict[str, str], str]:
    query = urlsplit(url).query
    return dict(parse_qsl(query)), query


def signature_state(element: Any, idp_cert: bytes) -> str:
    if element.find("ds:Signature", NS) is None:
        return "missing"
    try:
        verify_enveloped(element, idp_cert)
    except xmlsec.Error:
        verify_enveloped(element, key_info_cert(element))  # made by whatever key KeyInfo names
        return "other_key"
    return "valid"


def saml_time(value: str) -> dt.datetime:
    return dt.datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)


def defects(
    response: Any,
    idp_cert: bytes,
    *,
    in_response_to: str | None,
    sp: str = PLAIN_SP,
    acs: str = PLAIN_ACS,
    seen: frozenset[str] = frozenset(),
    assertion: Any = None,
) -> set[str]:
    """Every check a relying party makes, named after the fault that breaks it.

    ``assertion`` is the decrypted assertion when the response carries an encrypted one.
    """
    if assertion is None:
        (assertion,) = response.findall("saml:Assertion", NS)
    found = set()
    states = (signature_state(response, idp_cert), signature_state(assertion, idp_cert))
    if states == ("missing", "missing"):
        found.add("unsigned")
    elif states[1] == "missing":
        found.add("unsigned_assertion")
    if "other_key" in states:
        found.add("other_key")
    data = assertion.find("saml:Subject/saml:SubjectConfirmation/saml:SubjectConfirmationData", NS)
    conditions = assertion.find("saml:Conditions", NS)
    if min(saml_time(data.get("NotOnOrAfter")), saml_time(conditions.get("NotOnOrAfter"))) <= NOW:
        found.add("expired")
    if saml_time(conditions.get("NotBefore")) > NOW:
        found.add("not_yet_valid")
    if assertion.xpath(
        "saml:Conditions/saml:AudienceRestriction/saml:Audience/text()", namespaces=NS
    ) != [sp]:
        found.add("wrong_audience")
    if data.get("Recipient") != acs:
        found.add("wrong_recipient")
    if response.get("Destination") != acs:
        found.add("wrong_destination")
    if response.get("InResponseTo") != in_response_to or data.get("InResponseTo") != in_response_to:
        found.add("wrong_in_response_to")
    if assertion.get("ID") in seen:
        found.add("replayed_assertion")
    return found


def check_login(
    response: Any,
    idp: SamlIdP,
    *,
    request_id: str | None,
    sp: str,
    acs: str,
    person: Person,
    assertion: Any = None,
) -> None:
    """A correct, signed response for ``person`` with the ESIA attributes."""
    cert = idp.signing_key.certificate_pem()
    found = defects(response, cert, in_response_to=request_id, sp=sp, acs=acs, assertion=assertion)
    assert found == set()
    assert response.findtext("saml:Issuer", namespaces=NS) == idp.entity_id
    status = response.find("samlp:Status/samlp:StatusCode", NS).get("Value")
    assert status == "urn:oasis:names:tc:SAML:2.0:status:Success"
    if assertion is None:
        assertion = response.find("saml:Assertion", NS)
    name_id = assertion.find("saml:Subject/saml:NameID", NS)
    assert name_id.get("Format") == NAMEID_FORMAT_TRANSIENT
    assert len(name_id.text) >= 32
    assert name_id.text != str(person.oid)
    method = assertion.find("saml:Subject/saml:SubjectConfirmation", NS).get("Method")
    assert method == "urn:oasis:names:tc:SAML:2.0:cm:bearer"
    attributes = {
        a.get("Name"): [v.text for v in a.findall("saml:AttributeValue", NS)]
        for a in assertion.iterfind("saml:AttributeStatement/saml:Attribute", NS)
    }
    assert attributes == esia_attributes(person)


# -- metadata and keys ------------------------------------------------------------------------


def test_metadata_names_entity_endpoints_and_certificate(idp: SamlIdP, idp_cert: bytes) -> None:
    for signed in (False, True):
        root = etree.fromstring(idp.metadata(signed=signed).encode())
        assert root.get("entityID") == BASE + "/idp/shibboleth" == idp.entity_id
        descriptor = root.find("md:IDPSSODescriptor", NS)
        sso = {
            s.get("Binding"): s.get("Location")
            for s in descriptor.iterfind("md:SingleSignOnService", NS)
        }
        assert sso == {
            BINDING_HTTP_REDIRECT: BASE + "/idp/profile/SAML2/Redirect/SSO",
            BINDING_HTTP_POST: BASE + "/idp/profile/SAML2/POST/SSO",
        }
        slo = {
            s.get("Binding"): s.get("Location")
            for s in descriptor.iterfind("md:SingleLogoutService", NS)
        }
        assert slo == {
            BINDING_HTTP_REDIRECT: BASE + "/idp/profile/SAML2/Redirect/SLO",
            BINDING_HTTP_POST: BASE + "/idp/profile/SAML2/POST/SLO",
        }
        (key,) = descriptor.findall("md:KeyDescriptor", NS)
        assert key.get("use") == "signing"
        body = key.findtext("ds:KeyInfo/ds:X509Data/ds:X509Certificate", namespaces=NS)
        assert "".join(body.split()) == idp.signing_key.certificate_body()
        assert descriptor.findtext("md:NameIDFormat", namespaces=NS) == NAMEID_FORMAT_TRANSIENT
        names = [a.get("Name") for a in descriptor.iterfind("saml:Attribute", NS)]
        assert names == list(ESIA_ATTRIBUTES)
        if signed:
            verify_enveloped(root, idp_cert)
        else:
            assert root.find("ds:Signature", NS) is None


def test_signing_key_is_kept_in_the_state_directory(tmp_path: Path) -> None:
    first = SamlIdP(BASE, state_dir=tmp_path)
    key_file = tmp_path / SamlSigningKey.KEY_FILE
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert (tmp_path / SamlSigningKey.CERTIFICATE_FILE).read_bytes().startswith(b"-----BEGIN")
    second = SamlIdP(BASE, state_dir=tmp_path)
    assert second.signing_key.certificate == first.signing_key.certificate
    assert second.metadata() == first.metadata()
    key_file.write_bytes(b"not a key")
    with pytest.raises(InvalidInput) as caught:
        SamlIdP(BASE, state_dir=tmp_path)
    assert caught.value.code == "mock_idp.bad_key"


@pytest.mark.parametrize(
    "metadata",
    [
        "not xml",
        '<!DOCTYPE x [<!ENTITY e "e">]><x>&e;</x>',
        f'<md:EntityDescriptor xmlns:md="{NS["md"]}" entityID="https://x"/>',
        f'<md:EntityDescriptor xmlns:md="{NS["md"]}" entityID="https://x"><md:SPSSODescriptor'
        f' protocolSupportEnumeration="{SAMLP}"/></md:EntityDescriptor>',
    ],
    ids=["garbage", "dtd", "no-sp", "no-acs"],
)
def test_bad_sp_metadata_is_refused(idp: SamlIdP, metadata: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        idp.register_sp(metadata)
    assert caught.value.code == "saml.bad_metadata"


def test_encryption_needs_a_certificate(idp: SamlIdP) -> None:
    with pytest.raises(InvalidInput) as caught:
        idp.register_sp_settings(
            "https://x.example", "https://x.example/acs", encrypt_assertions=True
        )
    assert caught.value.code == "saml.bad_metadata"


# -- single sign-on ---------------------------------------------------------------------------


def test_redirect_binding_login(idp: SamlIdP, client: Saml2Client) -> None:
    request_id, request = client.create_authn_request(
        idp.sso_url("redirect"), sign=False, nameid_format=NAMEID_FORMAT_TRANSIENT
    )
    url = location(
        client.apply_binding(
            BINDING_HTTP_REDIRECT, str(request), idp.sso_url("redirect"), "relay-1", sign=True
        )
    )
    params, query = redirect_query(url)
    assert params["SigAlg"] == RSA_SHA256

    for raw in (query, None):  # signed octets as sent, and as pysaml2 re-encodes them
        info = idp.parse_authn_request("redirect", params, query_string=raw)
        assert info == AuthnRequestInfo(
            id=request_id,
            sp_entity_id=SP,
            acs_url=ACS,
            binding=BINDING_HTTP_REDIRECT,
            relay_state="relay-1",
            signed=True,
            name_id_format=NAMEID_FORMAT_TRANSIENT,
        )

    form = idp.login_response(info, PERSON)
    assert form.action == ACS
    assert form.fields["RelayState"] == "relay-1"
    check_login(response_of(form), idp, request_id=request_id, sp=SP, acs=ACS, person=PERSON)


def test_post_binding_login(idp: SamlIdP, client: Saml2Client) -> None:
    request_id, request = client.create_authn_request(
        idp.sso_url("post"), sign=True, sign_alg=RSA_SHA256, digest_alg=SHA256
    )
    assert "Signature" in str(request)
    info = idp.parse_authn_request(BINDING_HTTP_POST, post(str(request)))
    assert (info.id, info.acs_url, info.relay_state, info.signed) == (
        request_id,
        ACS,
        "relay-1",
        True,
    )

    response = response_of(idp.login_response(info, PERSON))
    check_login(response, idp, request_id=request_id, sp=SP, acs=ACS, person=PERSON)
    assert response.find("ds:Signature", NS) is not None
    assert response.find("saml:Assertion/ds:Signature", NS) is not None


def test_idp_initiated_login_goes_to_the_default_acs(idp: SamlIdP) -> None:
    form = idp.login_response(None, PERSON, sp_entity_id=PLAIN_SP, relay_state="/home")
    assert form.action == PLAIN_ACS
    assert form.fields["RelayState"] == "/home"
    check_login(response_of(form), idp, request_id=None, sp=PLAIN_SP, acs=PLAIN_ACS, person=PERSON)


def test_acs_by_index_and_unverified_contacts(idp: SamlIdP) -> None:
    xml = authn_request(acs=None).replace(
        "ProtocolBinding", 'AssertionConsumerServiceIndex="1" ProtocolBinding'
    )
    info = idp.parse_authn_request("post", post(xml))
    assert info.acs_url == PLAIN_ACS + "/2"
    assert not info.signed
    person = person_from_dict(
        {
            "oid": 7,
            "login": "x",
            "password": "x",
            "last_name": "Иванов",
            "first_name": "Иван",
            "birth_date": "01.02.2003",
            "level": "standard",
            "contacts": [{"type": "MBT", "value": "+79000000002", "verified": False}],
        }
    )
    response = response_of(idp.login_response(info, person))
    check_login(
        response, idp, request_id="_req-1", sp=PLAIN_SP, acs=PLAIN_ACS + "/2", person=person
    )
    assert esia_attributes(person) == {
        "userId": ["7"],
        "lastName": ["Иванов"],
        "firstName": ["Иван"],
        "birthDate": ["01.02.2003"],
        "gender": ["M"],
        "trusted": ["false"],
    }


def test_encrypted_assertion_decrypts_and_stays_signed(
    idp: SamlIdP, idp_cert: bytes, sp_keys: KeyPair
) -> None:
    info = idp.parse_authn_request("post", post(authn_request(ENC_SP, acs=ENC_ACS)))
    response = response_of(idp.login_response(info, PERSON))
    assert response.find("saml:Assertion", NS) is None
    verify_enveloped(response, idp_cert)

    data = response.find("saml:EncryptedAssertion/xenc:EncryptedData", NS)
    manager = xmlsec.KeysManager()
    manager.add_key(xmlsec.Key.from_memory(sp_keys.key_pem, xmlsec.constants.KeyDataFormatPem))
    # decrypted on its own, so that the response around it stays as signed
    assertion = xmlsec.EncryptionContext(manager).decrypt(copy.deepcopy(data))
    assert etree.QName(assertion).localname == "Assertion"
    verify_enveloped(assertion, idp_cert)
    check_login(
        response,
        idp,
        request_id="_req-1",
        sp=ENC_SP,
        acs=ENC_ACS,
        person=PERSON,
        assertion=assertion,
    )


def test_error_response_carries_the_status(idp: SamlIdP, idp_cert: bytes) -> None:
    info = idp.parse_authn_request("post", post(authn_request()))
    response = response_of(idp.error_response(info, message="cancelled"))
    verify_enveloped(response, idp_cert)
    assert response.find("saml:Assertion", NS) is None
    codes = response.xpath("//samlp:StatusCode/@Value", namespaces=NS)
    assert codes == [
        "urn:oasis:names:tc:SAML:2.0:status:Responder",
        "urn:oasis:names:tc:SAML:2.0:status:AuthnFailed",
    ]
    assert response.get("InResponseTo") == "_req-1"


# -- faults -----------------------------------------------------------------------------------


@pytest.mark.parametrize("fault", [f for f in SamlFault if f is not SamlFault.REPLAYED_ASSERTION])
def test_each_fault_makes_exactly_its_defect(
    idp: SamlIdP, idp_cert: bytes, fault: SamlFault
) -> None:
    info = AuthnRequestInfo("_req-7", PLAIN_SP, PLAIN_ACS, BINDING_HTTP_POST)
    response = response_of(idp.login_response(info, PERSON, faults=[fault]))
    assert defects(response, idp_cert, in_response_to="_req-7") == {fault.value}

    assertion = response.find("saml:Assertion", NS)
    data = assertion.find(".//saml:SubjectConfirmationData", NS)
    conditions = assertion.find("saml:Conditions", NS)
    if fault is SamlFault.EXPIRED:
        assert saml_time(data.get("NotOnOrAfter")) < NOW
        assert saml_time(conditions.get("NotOnOrAfter")) < NOW
    if fault is SamlFault.OTHER_KEY:
        assert key_info_cert(response) == key_info_cert(assertion) != idp_cert


def test_replayed_assertion_is_the_previous_one(idp: SamlIdP, idp_cert: bytes) -> None:
    replay_sp = "https://replay-sp.example/metadata"
    idp.register_sp_settings(replay_sp, PLAIN_ACS)
    with pytest.raises(SamlRequestError) as caught:
        idp.login_response(None, PERSON, sp_entity_id=replay_sp, faults=["replayed_assertion"])
    assert caught.value.code == "saml.nothing_to_replay"

    first = response_of(idp.login_response(None, PERSON, sp_entity_id=replay_sp))
    idp.login_response(None, PERSON, sp_entity_id=replay_sp, faults=[SamlFault.EXPIRED])
    second = response_of(
        idp.login_response(None, PERSON, sp_entity_id=replay_sp, faults=["replayed_assertion"])
    )
    old, new = (r.find("saml:Assertion", NS) for r in (first, second))
    assert etree.tostring(new, method="c14n", exclusive=True) == etree.tostring(
        old, method="c14n", exclusive=True
    )
    assert second.get("ID") != first.get("ID")
    seen = frozenset({old.get("ID")})
    assert defects(second, idp_cert, in_response_to=None, sp=replay_sp, seen=seen) == {
        "replayed_assertion"
    }
    with pytest.raises(ValueError, match="combined"):
        idp.login_response(
            None, PERSON, sp_entity_id=replay_sp, faults=["replayed_assertion", "expired"]
        )


# -- refusals ---------------------------------------------------------------------------------

BILLION_LAUGHS = (
    '<!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'
        for i in range(1, 10)
    )
    + "]>"
)
XXE = '<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({}, "saml.bad_request"),
        ({"SAMLRequest": "%%% not base64 %%%"}, "saml.bad_request"),
        (post("not xml at all"), "saml.bad_request"),
        (post(f'<samlp:LogoutRequest xmlns:samlp="{SAMLP}"/>'), "saml.bad_request"),
        (post(authn_request().replace('Version="2.0"', 'Version="1.1"')), "saml.bad_request"),
        (post(authn_request(issuer="https://unknown.example")), "saml.unknown_sp"),
        (post(authn_request(acs="https://evil.example/acs")), "saml.bad_acs"),
        (post(authn_request(acs=PLAIN_ACS + "/")), "saml.bad_acs"),
        (post(authn_request(destination=BASE + "/elsewhere")), "saml.bad_destination"),
        (
            post(
                authn_request().replace(
                    BINDING_HTTP_POST, "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Artifact"
                )
            ),
            "saml.unsupported_binding",
        ),
        (post(authn_request(doctype=BILLION_LAUGHS, issuer_text="&lol9;")), "saml.bad_request"),
        (post(authn_request(doctype=XXE, issuer_text="&xxe;")), "saml.bad_request"),
    ],
    ids=[
        "missing",
        "not-base64",
        "not-xml",
        "not-authn-request",
        "saml-1.1",
        "unknown-sp",
        "unknown-acs",
        "acs-one-character-off",
        "wrong-destination",
        "artifact-binding",
        "billion-laughs",
        "external-entity",
    ],
)
def test_bad_post_requests_are_refused(idp: SamlIdP, params: dict[str, str], code: str) -> None:
    with pytest.raises(SamlRequestError) as caught:
        idp.parse_authn_request("post", params)
    assert caught.value.code == code


def test_entity_expansion_is_refused_over_redirect_too(idp: SamlIdP) -> None:
    for xml in (
        authn_request(doctype=BILLION_LAUGHS, issuer_text="&lol9;"),
        "<a>" + " " * 2_000_000 + "</a>",
    ):
        with pytest.raises(SamlRequestError) as caught:
            idp.parse_authn_request("redirect", {"SAMLRequest": deflate(xml)})
        assert caught.value.code == "saml.bad_request"
    with pytest.raises(SamlRequestError) as caught:
        idp.parse_authn_request("redirect", post(authn_request()))  # not deflated
    assert caught.value.code == "saml.bad_request"


def test_signed_requests_are_required_and_checked(idp: SamlIdP, client: Saml2Client) -> None:
    def refused(binding: str, params: dict[str, str], query: str | None = None) -> str:
        with pytest.raises(SamlRequestError) as caught:
            idp.parse_authn_request(binding, params, query_string=query)
        return caught.value.code

    _, unsigned = client.create_authn_request(idp.sso_url("post"), sign=False)
    assert refused("post", post(str(unsigned))) == "saml.bad_request_signature"
    assert (
        refused("redirect", {"SAMLRequest": deflate(str(unsigned))}) == "saml.bad_request_signature"
    )

    _, signed = client.create_authn_request(idp.sso_url("post"), sign=True)
    tampered = etree.fromstring(str(signed).encode())
    tampered.set("ForceAuthn", "true")
    assert refused("post", post(etree.tostring(tampered))) == "saml.bad_request_signature"

    # signed by a key outside the SP's metadata (the IdP's), its certificate in KeyInfo
    stranger_key = idp.signing_key
    _, request = client.create_authn_request(idp.sso_url("post"), sign=False)
    request.signature = pre_signature_part(
        request.id, stranger_key.certificate_body(), sign_alg=RSA_SHA256, digest_alg=SHA256
    )
    stranger = XmlSecBackend().sign_statement(
        str(request), f"{SAMLP}:AuthnRequest", stranger_key.key_pem(), request.id
    )
    assert refused("post", post(stranger)) == "saml.bad_request_signature"

    _, request = client.create_authn_request(idp.sso_url("redirect"), sign=False)
    url = location(
        client.apply_binding(
            BINDING_HTTP_REDIRECT, str(request), idp.sso_url("redirect"), "relay-1", sign=True
        )
    )
    params, query = redirect_query(url)
    assert refused("redirect", {**params, "RelayState": "relay-2"}) == "saml.bad_request_signature"
    assert refused("redirect", params, query.replace("relay-1", "relay-2")) == (
        "saml.bad_request_signature"
    )
    weak = {**params, "SigAlg": "http://www.w3.org/2000/09/xmldsig#rsa-sha1"}
    assert refused("redirect", weak) == "saml.bad_request_signature"
    assert idp.parse_authn_request("redirect", params, query_string=query).signed


EXC_C14N_WITH_COMMENTS = EXC_C14N + "WithComments"


def sign_request(
    root: Any,
    key_pem: bytes,
    *,
    canonicalization: str = EXC_C14N,
    reference_c14n: str = EXC_C14N,
    empty_value: bool = False,
) -> bytes:
    """``root`` (an AuthnRequest) with an enveloped RSA-SHA256 signature by ``key_pem``,
    made with the given canonicalization of SignedInfo and of the reference."""
    transforms = {
        t.href: t
        for t in (
            xmlsec.constants.TransformExclC14N,
            xmlsec.constants.TransformExclC14NWithComments,
        )
    }
    signature = xmlsec.template.create(
        root, transforms[canonicalization], xmlsec.constants.TransformRsaSha256, ns="ds"
    )
    issuer = root.find("saml:Issuer", NS)
    issuer.addnext(signature)
    reference = xmlsec.template.add_reference(
        signature, xmlsec.constants.TransformSha256, uri="#" + root.get("ID")
    )
    xmlsec.template.add_transform(reference, xmlsec.constants.TransformEnveloped)
    xmlsec.template.add_transform(reference, transforms[reference_c14n])
    context = xmlsec.SignatureContext()
    context.key = xmlsec.Key.from_memory(key_pem, xmlsec.constants.KeyDataFormatPem)
    context.register_id(root, "ID")
    context.sign(signature)
    if empty_value:
        signature.find("ds:SignatureValue", NS).text = ""
    return bytes(etree.tostring(root))


@pytest.mark.parametrize(
    ("options", "reason"),
    [
        ({"canonicalization": EXC_C14N_WITH_COMMENTS}, "saml.bad_canonicalization"),
        ({"reference_c14n": EXC_C14N_WITH_COMMENTS}, "saml.bad_transforms"),
        ({"empty_value": True}, "saml.empty_signature"),
    ],
    ids=["signed-info-with-comments", "reference-with-comments", "empty-signature-value"],
)
def test_signatures_outside_the_library_profile_are_refused(
    idp: SamlIdP, client: Saml2Client, sp_keys: KeyPair, options: dict[str, Any], reason: str
) -> None:
    """The IdP checks request signatures with the library's verifier; its own, weaker copy
    accepted exclusive c14n #WithComments and did not look at an empty SignatureValue."""
    _, request = client.create_authn_request(idp.sso_url("post"), sign=False)
    root = etree.fromstring(str(request).encode())
    correct = sign_request(copy.deepcopy(root), sp_keys.key_pem)
    assert idp.parse_authn_request("post", post(correct)).signed

    with pytest.raises(SamlRequestError) as caught:
        idp.parse_authn_request("post", post(sign_request(root, sp_keys.key_pem, **options)))
    assert caught.value.code == "saml.bad_request_signature"
    assert caught.value.message.endswith(f"({reason})")
    assert "\n" not in caught.value.message


def test_request_refusals_are_saml_errors() -> None:
    error = SamlRequestError("no such ACS", code="saml.bad_acs")
    assert isinstance(error, SamlError) and isinstance(error, BridgeError)
    assert (error.code, error.message, str(error)) == (
        "saml.bad_acs",
        "no such ACS",
        "saml.bad_acs: no such ACS",
    )
    assert SamlRequestError("refused").code == "saml.bad_request"


def test_unknown_binding_is_a_programming_error(idp: SamlIdP) -> None:
    with pytest.raises(ValueError, match="binding"):
        idp.parse_authn_request("artifact", post(authn_request()))


# -- single logout ----------------------------------------------------------------------------


def test_redirect_logout_round_trip(idp: SamlIdP, idp_cert: bytes, client: Saml2Client) -> None:
    login = response_of(idp.login_response(None, PERSON, sp_entity_id=SP))
    name_id = login.findtext("saml:Assertion/saml:Subject/saml:NameID", namespaces=NS)

    request_id, request = client.create_logout_request(
        idp.slo_url("redirect"),
        idp.entity_id,
        name_id=NameID(format=NAMEID_FORMAT_TRANSIENT, text=name_id),
        sign=False,
    )
    url = location(
        client.apply_binding(
            BINDING_HTTP_REDIRECT, str(request), idp.slo_url("redirect"), "relay-9", sign=True
        )
    )
    params, query = redirect_query(url)
    result = idp.logout("redirect", params, query_string=query)
    assert (result.sp_entity_id, result.name_id, result.oid) == (SP, name_id, PERSON.oid)

    assert isinstance(result.answer, Redirect)
    assert result.answer.url.startswith(SLO + "?")
    answer, _ = redirect_query(result.answer.url)
    assert answer["RelayState"] == "relay-9"
    assert verify_redirect_signature(
        answer, client.sec.sec_backend, cert=idp.signing_key.certificate_body()
    )
    response = inflate(answer["SAMLResponse"])
    assert etree.QName(response).localname == "LogoutResponse"
    assert response.get("InResponseTo") == request_id
    assert response.get("Destination") == SLO
    assert response.find("samlp:Status/samlp:StatusCode", NS).get("Value").endswith(":Success")

    # the session is over: the same NameID means nobody now
    assert idp.logout("redirect", params, query_string=query).oid is None
    # and the query signature is checked as for AuthnRequests
    with pytest.raises(SamlRequestError) as caught:
        idp.logout("redirect", {**params, "RelayState": "relay-0"})
    assert caught.value.code == "saml.bad_request_signature"


def test_post_logout_answers_with_a_signed_form(idp: SamlIdP, idp_cert: bytes) -> None:
    xml = (
        f'<samlp:LogoutRequest xmlns:samlp="{SAMLP}" xmlns:saml="{SAML}" ID="_lo-1"'
        f' Version="2.0" IssueInstant="2024-01-01T00:00:00Z" Destination="{idp.slo_url("post")}">'
        f"<saml:Issuer>{PLAIN_SP}</saml:Issuer><saml:NameID>_unknown</saml:NameID>"
        "</samlp:LogoutRequest>"
    )
    result = idp.logout("post", post(xml))
    assert isinstance(result.answer, PostForm)
    assert result.answer.action == PLAIN_SLO
    assert result.answer.fields["RelayState"] == "relay-1"
    assert result.oid is None
    response = response_of(result.answer)
    verify_enveloped(response, idp_cert)
    assert response.get("InResponseTo") == "_lo-1"

    page = result.answer.html()
    assert f'action="{PLAIN_SLO}"' in page
    assert f'value="{result.answer.fields["SAMLResponse"]}"' in page

    with pytest.raises(SamlRequestError) as caught:
        idp.logout("post", post(xml.replace(PLAIN_SP, ENC_SP)))
    assert caught.value.code == "saml.no_logout_endpoint"


# -- interoperability -------------------------------------------------------------------------


ON_RESPONSE = "./"
ON_ASSERTION = f"./{{{SAML}}}Assertion/"


def signxml_verified(xml: bytes, cert: bytes, location: str) -> Any:
    """What signxml says the signature at ``location`` signs, trusting only ``cert``.

    Each signature has exactly one reference, so ``expect_references`` stays 1; the
    ``location`` picks the Response's own signature or the Assertion's.
    """
    config = SignatureConfiguration(location=location, expect_references=1)
    result = XMLVerifier().verify(xml, x509_cert=cert.decode(), expect_config=config)
    assert isinstance(result, VerifyResult)
    return result.signed_xml


def test_signxml_verifies_both_signatures_and_rejects_tampering(
    idp: SamlIdP, idp_cert: bytes
) -> None:
    form = idp.login_response(None, PERSON, sp_entity_id=PLAIN_SP)
    xml = base64.b64decode(form.fields["SAMLResponse"])
    root = etree.fromstring(xml)
    assertion = root.find("saml:Assertion", NS)

    assert signxml_verified(xml, idp_cert, ON_RESPONSE).get("ID") == root.get("ID")
    signed = signxml_verified(xml, idp_cert, ON_ASSERTION)
    assert etree.QName(signed).localname == "Assertion"
    assert signed.get("ID") == assertion.get("ID")
    alone = signxml_verified(etree.tostring(assertion), idp_cert, ON_RESPONSE)
    assert alone.get("ID") == assertion.get("ID")

    value = root.find(".//saml:Attribute[@Name='lastName']/saml:AttributeValue", NS)
    value.text = "Иванова"
    for location in (ON_RESPONSE, ON_ASSERTION):
        with pytest.raises(InvalidSignature):
            signxml_verified(etree.tostring(root), idp_cert, location)

    other = idp.login_response(None, PERSON, sp_entity_id=PLAIN_SP, faults=["other_key"])
    for location in (ON_RESPONSE, ON_ASSERTION):
        with pytest.raises(InvalidSignature):
            signxml_verified(base64.b64decode(other.fields["SAMLResponse"]), idp_cert, location)


def test_post_form_page_escapes_values() -> None:
    page = PostForm('https://sp.example/acs?a=1&b="2"', {"RelayState": '<x>"&'}).html()
    assert 'action="https://sp.example/acs?a=1&amp;b=&quot;2&quot;"' in page
    assert 'value="&lt;x&gt;&quot;&amp;"' in page
