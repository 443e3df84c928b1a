"""IDs compared as strings, never evaluated; the invalid-response corpus of a public SAML
toolkit (duplicate attributes, SessionNotOnOrAfter, AuthnStatement, SPNameQualifier, weak
keys), each refused with its own code."""

from __future__ import annotations

import base64
import datetime as dt
import time
from typing import Any
from urllib.parse import parse_qsl

import attrs
import pytest
import xmlsec
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from lxml import etree

from helpers.clock import NOW, FixedClock
from helpers.keys import self_signed
from helpers.saml import (
    ACS,
    NS,
    SAML,
    SP,
    assertion_of,
    make_idp,
    request_info,
    response_xml,
    sign,
    sign_with,
    to_bytes,
)
from mock_idp.saml_idp import SamlIdP, SamlSigningKey
from sso_bridge.clock import SystemClock
from sso_bridge.errors import ConfigError
from sso_bridge.saml import (
    InMemoryReplayCache,
    InMemoryRequestStore,
    LoginResult,
    SamlError,
    ServiceProviderConfig,
    element_by_id,
    is_ncname,
    parse_xml,
    process_logout_response,
    process_response,
    verify_enveloped,
    verify_redirect_signature,
)
from sso_bridge.saml.codec import redirect_query

DS = "http://www.w3.org/2000/09/xmldsig#"
XPATH_BOMB = "//*[count(//*[count(//*) > 0]) = -1]"


@pytest.fixture(scope="module")
def idp() -> SamlIdP:
    return make_idp()


@pytest.fixture
def config(idp: SamlIdP) -> ServiceProviderConfig:
    return ServiceProviderConfig.from_idp_metadata(
        idp.metadata(), entity_id=SP, acs_url=ACS, idp_entity_id=idp.entity_id
    )


def process(xml: bytes, config: ServiceProviderConfig, **changes: Any) -> LoginResult:
    requests = InMemoryRequestStore()
    requests.add("_req1", NOW + dt.timedelta(minutes=10))
    return process_response(
        base64.b64encode(xml).decode(),
        attrs.evolve(config, **changes),
        request_store=requests,
        replay_cache=InMemoryReplayCache(),
        clock=FixedClock(),
    )


def refused(code: str, xml: bytes, config: ServiceProviderConfig, **changes: Any) -> None:
    with pytest.raises(SamlError) as info:
        process(xml, config, **changes)
    assert info.value.code == code


def xpath_bomb(size: int) -> bytes:
    """The unauthenticated DoS document: an XPath for an ID, an empty signature, filler."""
    filler = b"<a/>" * ((size - 600) // 4)
    return (
        b'<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
        b'xmlns:ds="http://www.w3.org/2000/09/xmldsig#" Version="2.0" ID="'
        + XPATH_BOMB.replace(">", "&gt;").encode()
        + b'" Destination="https://sp.example/acs"><ds:Signature/>'
        + filler
        + b"</samlp:Response>"
    )


# -- finding 1 and 3: an ID is a string, never an expression ----------------------------------


def test_xpath_id_is_refused_fast_at_the_acs(config: ServiceProviderConfig) -> None:
    document = xpath_bomb(16 * 1024)
    assert 15 * 1024 < len(document) <= 16 * 1024
    start = time.perf_counter()
    refused("saml.invalid_id", document, config)
    assert time.perf_counter() - start < 0.05


def test_xpath_id_is_refused_fast_at_the_logout_endpoint(config: ServiceProviderConfig) -> None:
    document = xpath_bomb(16 * 1024).replace(b"samlp:Response", b"samlp:LogoutResponse")
    params = {"SAMLResponse": base64.b64encode(document).decode()}
    start = time.perf_counter()
    with pytest.raises(SamlError) as info:
        process_logout_response(
            params,
            attrs.evolve(config, slo_url="https://sp.example/slo"),
            binding="post",
            request_store=InMemoryRequestStore(),
            clock=SystemClock(),
        )
    assert info.value.code == "saml.invalid_id"
    assert time.perf_counter() - start < 0.05


@pytest.mark.parametrize("bad_id", ["/x:y", ".", "//*", "a b", "1abc", "x:y", "", "é" * 300])
def test_ids_that_are_not_ncnames_are_refused(
    idp: SamlIdP, config: ServiceProviderConfig, bad_id: str
) -> None:
    root = parse_xml(response_xml(idp, request_info()))
    root.set("ID", bad_id)
    code = "saml.missing_id" if not bad_id else "saml.invalid_id"
    refused(code, to_bytes(root), config, want_signed_response=True)
    with pytest.raises(SamlError) as info:
        verify_enveloped(root, bad_id, [idp.signing_key.certificate])
    assert info.value.code == code


def test_ncname() -> None:
    for good in ("_a1", "a-b.c", "Ж_1", "x\u00b7y", "_" + "f" * 40):
        assert is_ncname(good), good
    for bad in ("", "1a", "-a", "a:b", "a b", "/a", "a\n", "[", "x" * 300):
        assert not is_ncname(bad), bad


def test_element_by_id_compares_strings(idp: SamlIdP) -> None:
    root = parse_xml(response_xml(idp))
    assertion = assertion_of(root)
    assert element_by_id(root, assertion.get("ID")) is assertion
    with pytest.raises(SamlError, match=r"saml\.element_not_found"):
        element_by_id(root, "_nothing")


# -- finding 2: the Response-level signature cannot be talked away ----------------------------


def test_required_response_signature_cannot_point_at_the_assertion(
    idp: SamlIdP, config: ServiceProviderConfig
) -> None:
    root = parse_xml(response_xml(idp, request_info()))
    root.remove(root.find("ds:Signature", NS))
    root.set("ID", "//*[local-name()='Assertion']")  # selected the signed assertion before
    refused("saml.invalid_id", to_bytes(root), config, want_signed_response=True)
    root.set("ID", assertion_of(root).get("ID"))  # the same, by string
    refused("saml.duplicate_id", to_bytes(root), config, want_signed_response=True)
    root.set("ID", "_unsigned")
    refused("saml.unsigned", to_bytes(root), config, want_signed_response=True)
    assert process(to_bytes(root), config).identity.subject == "1000299654"


# -- finding 4: the toolkit's invalid responses, refused with their own codes -----------------


def resigned(idp: SamlIdP, change: Any) -> bytes:
    """A response whose assertion was changed by ``change`` and signed again by the IdP."""
    root = parse_xml(response_xml(idp, request_info()))
    root.remove(root.find("ds:Signature", NS))
    assertion = assertion_of(root)
    change(assertion)
    sign(assertion, idp.signing_key)
    return to_bytes(root)


def test_duplicate_attribute_names_are_refused(idp: SamlIdP, config: ServiceProviderConfig) -> None:
    def duplicate(assertion: Any) -> None:
        statement = assertion.find("saml:AttributeStatement", NS)
        for attribute in statement.findall("saml:Attribute", NS):
            if attribute.get("Name") == "lastName":
                twin = etree.SubElement(statement, f"{{{SAML}}}Attribute", Name="lastName")
                etree.SubElement(twin, f"{{{SAML}}}AttributeValue").text = "Иванова"
                return
        raise AssertionError("no lastName attribute")

    refused("saml.duplicate_attribute", resigned(idp, duplicate), config)


def authn_statement(assertion: Any) -> Any:
    return assertion.find("saml:AuthnStatement", NS)


def test_session_not_on_or_after_is_exposed(idp: SamlIdP, config: ServiceProviderConfig) -> None:
    end = NOW + dt.timedelta(hours=2)
    xml = resigned(
        idp,
        lambda a: authn_statement(a).set("SessionNotOnOrAfter", end.strftime("%Y-%m-%dT%H:%M:%SZ")),
    )
    result = process(xml, config)
    assert result.session_not_on_or_after == end
    assert result.session_index is not None
    assert result.authn_context is not None


def test_session_not_on_or_after_in_the_past_is_refused(
    idp: SamlIdP, config: ServiceProviderConfig
) -> None:
    ended = (NOW - dt.timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    xml = resigned(idp, lambda a: authn_statement(a).set("SessionNotOnOrAfter", ended))
    refused("saml.session_expired", xml, config)


def test_no_session_cap_when_the_idp_gives_none(
    idp: SamlIdP, config: ServiceProviderConfig
) -> None:
    assert process(response_xml(idp, request_info()), config).session_not_on_or_after is None


def test_assertion_without_authn_statement_is_refused(
    idp: SamlIdP, config: ServiceProviderConfig
) -> None:
    xml = resigned(idp, lambda a: a.remove(authn_statement(a)))
    refused("saml.no_authn_statement", xml, config)


def test_sp_name_qualifier_must_be_ours(idp: SamlIdP, config: ServiceProviderConfig) -> None:
    def qualify(value: str) -> Any:
        return lambda a: a.find("saml:Subject/saml:NameID", NS).set("SPNameQualifier", value)

    refused("saml.wrong_sp_name_qualifier", resigned(idp, qualify("https://other.sp/")), config)
    assert process(resigned(idp, qualify(SP)), config).identity.subject == "1000299654"


def weak_key(bits: int) -> tuple[bytes, bytes, x509.Certificate]:
    return self_signed(rsa.generate_private_key(public_exponent=65537, key_size=bits), "weak")


def test_rsa_keys_under_2048_bits_are_refused(idp: SamlIdP, config: ServiceProviderConfig) -> None:
    key_pem, cert_pem, certificate = weak_key(1024)
    with pytest.raises(ConfigError) as info:
        attrs.evolve(config, idp_certificates=(certificate,))
    assert info.value.code == "saml.weak_key"

    root = parse_xml(response_xml(idp, request_info()))
    root.remove(root.find("ds:Signature", NS))
    assertion = assertion_of(root)
    sign_with(assertion, key_pem, cert_pem, xmlsec.constants.TransformRsaSha256)
    with pytest.raises(SamlError) as refusal:
        verify_enveloped(to_bytes(root), assertion.get("ID"), [certificate])
    assert refusal.value.code == "saml.weak_key"
    # ...and the minimum may be raised, never lowered
    with pytest.raises(ConfigError) as lowered:
        attrs.evolve(config, idp_certificates=(certificate,), min_rsa_key_bits=1024)
    assert lowered.value.code == "saml.bad_config"
    with pytest.raises(SamlError) as still:
        verify_enveloped(to_bytes(root), assertion.get("ID"), [certificate], min_rsa_bits=1024)
    assert still.value.code == "saml.weak_key"
    with pytest.raises(ConfigError) as raised:
        attrs.evolve(config, min_rsa_key_bits=4096)
    assert raised.value.code == "saml.weak_key"


def test_key_size_of_the_signing_key(idp: SamlIdP) -> None:
    assert isinstance(idp.signing_key, SamlSigningKey)
    public = idp.signing_key.certificate.public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    assert public.key_size >= 2048


def test_weak_keys_are_refused_on_the_redirect_binding_too() -> None:
    key_pem, _, certificate = weak_key(1024)
    key = serialization.load_pem_private_key(key_pem, password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    url = redirect_query("https://sp.example/slo", "SAMLResponse", b"<x/>", "rs", key)
    query = url.partition("?")[2]
    params = dict(parse_qsl(query))
    with pytest.raises(SamlError) as info:
        verify_redirect_signature("SAMLResponse", params, query, [certificate])
    assert info.value.code == "saml.weak_key"
    # A smaller minimum given by a caller never weakens the rule.
    with pytest.raises(SamlError) as lowered:
        verify_redirect_signature("SAMLResponse", params, query, [certificate], min_rsa_bits=1024)
    assert lowered.value.code == "saml.weak_key"
