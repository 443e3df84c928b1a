"""The service provider's checks of a login Response from the mock IdP."""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

import attrs
import pytest
from lxml import etree

from helpers.clock import NOW, FixedClock
from helpers.saml import (
    ACS,
    BILLION_LAUGHS,
    EXTERNAL_ENTITY,
    NS,
    PERSON,
    SP,
    XSW_AT_VERIFY,
    assertion_of,
    make_idp,
    request_info,
    response_xml,
    sign,
    to_bytes,
    xsw,
)
from mock_idp.saml_idp import SamlFault, SamlIdP, SamlSigningKey
from mock_idp.users import person_from_dict
from sso_bridge.errors import ConfigError
from sso_bridge.integrations.pysaml2 import AES128_CBC
from sso_bridge.saml import (
    InMemoryReplayCache,
    InMemoryRequestStore,
    LoginResult,
    SamlError,
    ServiceProviderConfig,
    idp_certificates_from_metadata,
    parse_xml,
    process_response,
)


@pytest.fixture(scope="module")
def idp() -> SamlIdP:
    return make_idp()


@pytest.fixture
def config(idp: SamlIdP) -> ServiceProviderConfig:
    return ServiceProviderConfig.from_idp_metadata(
        idp.metadata(), entity_id=SP, acs_url=ACS, idp_entity_id=idp.entity_id
    )


class Flow:
    """One service provider's state: pending requests, seen assertions, its clock."""

    def __init__(self, config: ServiceProviderConfig) -> None:
        self.config = config
        self.requests = InMemoryRequestStore()
        self.replays = InMemoryReplayCache()
        self.clock = FixedClock()

    def expect(self, request_id: str = "_req1") -> str:
        self.requests.add(request_id, NOW + dt.timedelta(minutes=10))
        return request_id

    def process(self, xml: bytes | str, **config_changes: Any) -> Any:
        """The identity of an accepted response."""
        return self.result(xml, **config_changes).identity

    def result(self, xml: bytes | str, **config_changes: Any) -> LoginResult:
        encoded = xml if isinstance(xml, str) else base64.b64encode(xml).decode()
        return process_response(
            encoded,
            attrs.evolve(self.config, **config_changes),
            request_store=self.requests,
            replay_cache=self.replays,
            clock=self.clock,
        )

    def refused(self, code: str, xml: bytes | str, **config_changes: Any) -> None:
        with pytest.raises(SamlError) as info:
            self.process(xml, **config_changes)
        assert info.value.code == code


@pytest.fixture
def flow(config: ServiceProviderConfig) -> Flow:
    return Flow(config)


# -- good responses ---------------------------------------------------------------------------


def test_sp_initiated_login_gives_the_identity(idp: SamlIdP, flow: Flow) -> None:
    flow.expect()
    identity = flow.process(response_xml(idp, request_info()), want_signed_response=True)
    assert identity.issuer == idp.entity_id
    assert identity.subject == "1000299654"
    assert identity.verified is True
    assert (identity.last_name, identity.first_name, identity.middle_name) == (
        "Смирнова",
        "Мария",
        "Петровна",
    )
    assert identity.birth_date == dt.date(1984, 3, 12)
    assert identity.snils == "112-233-445 95"
    assert identity.email == "maria@example.org"
    assert identity.phone == "+7(900)0000001"
    assert identity.claims["name_id"].startswith("_")


def test_unconfirmed_person_is_not_verified(idp: SamlIdP, flow: Flow) -> None:
    person = attrs.evolve(PERSON, level=type(PERSON.level)("simplified"))
    flow.expect()
    identity = flow.process(response_xml(idp, request_info(), person=person))
    assert identity.verified is False


def test_idp_initiated_login_when_enabled(idp: SamlIdP, flow: Flow) -> None:
    result = flow.result(response_xml(idp), allow_idp_initiated=True)
    assert result.identity.subject == "1000299654"
    assert result.idp_initiated


def test_sp_initiated_login_says_so(idp: SamlIdP, flow: Flow) -> None:
    flow.expect()
    assert not flow.result(response_xml(idp, request_info())).idp_initiated


def test_within_clock_skew(idp: SamlIdP, flow: Flow) -> None:
    xml = response_xml(idp)
    flow.clock.moment = NOW + idp.assertion_lifetime + dt.timedelta(seconds=30)
    assert flow.process(xml, allow_idp_initiated=True).subject == "1000299654"


# -- refusals ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "code"),
    [
        (SamlFault.UNSIGNED, "saml.unsigned"),
        (SamlFault.UNSIGNED_ASSERTION, "saml.unsigned"),
        (SamlFault.OTHER_KEY, "saml.wrong_key"),
        (SamlFault.EXPIRED, "saml.expired"),
        (SamlFault.NOT_YET_VALID, "saml.not_yet_valid"),
        (SamlFault.WRONG_AUDIENCE, "saml.wrong_audience"),
        (SamlFault.WRONG_RECIPIENT, "saml.wrong_recipient"),
        (SamlFault.WRONG_DESTINATION, "saml.wrong_destination"),
        (SamlFault.WRONG_IN_RESPONSE_TO, "saml.in_response_to_mismatch"),
    ],
)
def test_faults_are_refused_and_consume_nothing(
    idp: SamlIdP, flow: Flow, fault: SamlFault, code: str
) -> None:
    flow.expect()
    flow.refused(code, response_xml(idp, request_info(), faults=(fault,)))
    # the pending request is still there for the genuine answer
    assert flow.process(response_xml(idp, request_info())).subject == "1000299654"


def test_unsigned_response_when_response_signature_required(idp: SamlIdP, flow: Flow) -> None:
    root = parse_xml(response_xml(idp, request_info()))
    root.remove(root.find("ds:Signature", NS))
    flow.expect()
    flow.refused("saml.unsigned", to_bytes(root), want_signed_response=True)
    assert flow.process(to_bytes(root)).subject == "1000299654"


def test_expired_by_the_clock(idp: SamlIdP, flow: Flow) -> None:
    xml = response_xml(idp)
    flow.clock.moment = NOW + idp.assertion_lifetime + dt.timedelta(minutes=2)
    flow.refused("saml.expired", xml, allow_idp_initiated=True)


def test_unsolicited_response_when_idp_initiated_is_off(idp: SamlIdP, flow: Flow) -> None:
    flow.refused("saml.unsolicited", response_xml(idp))


def test_unknown_request(idp: SamlIdP, flow: Flow) -> None:
    flow.expect("_another")
    flow.refused("saml.in_response_to_mismatch", response_xml(idp, request_info()))


def test_expired_request(idp: SamlIdP, flow: Flow) -> None:
    flow.requests.add("_req1", NOW - dt.timedelta(seconds=1))
    flow.refused("saml.in_response_to_mismatch", response_xml(idp, request_info()))


def test_solicited_answer_with_unsolicited_assertion(idp: SamlIdP, flow: Flow) -> None:
    """Response and assertion must name the same request."""
    root = parse_xml(response_xml(idp))
    root.set("InResponseTo", flow.expect())
    sign(root, idp.signing_key)
    flow.refused("saml.in_response_to_mismatch", to_bytes(root))


def test_request_is_consumed_once(idp: SamlIdP, flow: Flow) -> None:
    flow.expect()
    flow.process(response_xml(idp, request_info()))
    flow.refused("saml.in_response_to_mismatch", response_xml(idp, request_info()))


def test_replayed_response(idp: SamlIdP, flow: Flow) -> None:
    xml = response_xml(idp)
    flow.process(xml, allow_idp_initiated=True)
    flow.refused("saml.replayed", xml, allow_idp_initiated=True)


def test_replayed_assertion_in_a_new_response(flow: Flow) -> None:
    idp = make_idp()
    flow.config = attrs.evolve(flow.config, idp_certificates=[idp.signing_key.certificate])
    flow.process(response_xml(idp), allow_idp_initiated=True)
    replay = response_xml(idp, faults=(SamlFault.REPLAYED_ASSERTION,))
    flow.refused("saml.replayed", replay, allow_idp_initiated=True)


def test_replay_cache_keeps_ids_until_not_on_or_after(idp: SamlIdP, flow: Flow) -> None:
    flow.process(response_xml(idp), allow_idp_initiated=True)
    assert len(flow.replays) == 1
    later = NOW + idp.assertion_lifetime + flow.config.skew
    assert flow.replays.add_if_new("_other", later, later - dt.timedelta(seconds=1))
    assert len(flow.replays) == 2
    assert flow.replays.add_if_new("_third", later, later)
    assert len(flow.replays) == 1


def test_request_store_expiry() -> None:
    store = InMemoryRequestStore()
    store.add("_a", NOW)
    store.add("_b", NOW + dt.timedelta(minutes=1))
    assert not store.consume("_a", NOW)
    assert store.consume("_b", NOW)
    assert not store.consume("_b", NOW)


def test_bad_time_value(idp: SamlIdP, flow: Flow) -> None:
    root = parse_xml(response_xml(idp))
    assertion_of(root).find("saml:Conditions", NS).set("NotOnOrAfter", "2030-01-01")
    sign(assertion_of(root), idp.signing_key)
    sign(root, idp.signing_key)
    flow.refused("saml.bad_time", to_bytes(root), allow_idp_initiated=True)


def test_wrong_issuer(idp: SamlIdP, flow: Flow) -> None:
    flow.expect()
    flow.refused(
        "saml.wrong_issuer",
        response_xml(idp, request_info()),
        idp_entity_id="https://other-idp.example",
    )


def test_failed_login_status(idp: SamlIdP, flow: Flow) -> None:
    flow.expect()
    form = idp.error_response(request_info())
    flow.refused("saml.status_not_success", form.fields["SAMLResponse"])


def test_failed_login_keeps_what_the_idp_said_untrusted(idp: SamlIdP, flow: Flow) -> None:
    flow.expect()
    said = "ESIA-007004: too many wrong codes\n\t" + "x" * 500
    form = idp.error_response(request_info(), message=said)
    with pytest.raises(SamlError) as info:
        flow.process(form.fields["SAMLResponse"])
    assert info.value.code == "saml.status_not_success"
    message = info.value.message
    assert "(Responder/AuthnFailed)" in message
    assert "'ESIA-007004: too many wrong codes xxx" in message
    assert "\n" not in message and "\t" not in message
    assert len(message) < 300


ENC_SP = "https://enc.example/metadata"
ENC_ACS = "https://enc.example/acs"


@pytest.fixture(scope="module")
def sp_key(idp: SamlIdP) -> SamlSigningKey:
    key = SamlSigningKey.generate("sp")
    idp.register_sp_settings(
        ENC_SP, ENC_ACS, certificate_pem=key.certificate_pem(), encrypt_assertions=True
    )
    return key


def _encrypted(idp: SamlIdP) -> str:
    form = idp.login_response(None, PERSON, sp_entity_id=ENC_SP)
    assert b"EncryptedAssertion" in base64.b64decode(form.fields["SAMLResponse"])
    return form.fields["SAMLResponse"]


ENCRYPTED = {"entity_id": ENC_SP, "acs_url": ENC_ACS, "allow_idp_initiated": True}


def test_encrypted_assertion(idp: SamlIdP, flow: Flow, sp_key: SamlSigningKey) -> None:
    identity = flow.process(_encrypted(idp), **ENCRYPTED, decryption_key_pem=sp_key.key_pem())
    assert identity.subject == "1000299654"
    assert identity.birth_date == dt.date(1984, 3, 12)


def test_encrypted_assertion_without_or_with_wrong_key(
    idp: SamlIdP, flow: Flow, sp_key: SamlSigningKey
) -> None:
    xml = _encrypted(idp)
    flow.refused("saml.no_decryption_key", xml, **ENCRYPTED)
    other = SamlSigningKey.generate("other-sp").key_pem()
    flow.refused("saml.decrypt_failed", xml, **ENCRYPTED, decryption_key_pem=other)


def test_encrypted_assertion_with_cbc_is_refused(
    idp: SamlIdP, flow: Flow, sp_key: SamlSigningKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(idp._backend, "data_encryption", AES128_CBC)
    xml = _encrypted(idp)
    flow.refused("saml.bad_algorithm", xml, **ENCRYPTED, decryption_key_pem=sp_key.key_pem())


def test_encrypted_and_plain_assertion_together(
    idp: SamlIdP, flow: Flow, sp_key: SamlSigningKey
) -> None:
    root = parse_xml(base64.b64decode(_encrypted(idp)))
    root.remove(root.find("ds:Signature", NS))
    root.append(assertion_of(parse_xml(response_xml(idp))))
    flow.refused(
        "saml.assertion_count", to_bytes(root), **ENCRYPTED, decryption_key_pem=sp_key.key_pem()
    )


def test_encrypted_unsigned_assertion(idp: SamlIdP, flow: Flow, sp_key: SamlSigningKey) -> None:
    form = idp.login_response(
        None, PERSON, sp_entity_id=ENC_SP, faults=(SamlFault.UNSIGNED_ASSERTION,)
    )
    flow.refused(
        "saml.unsigned",
        form.fields["SAMLResponse"],
        **ENCRYPTED,
        decryption_key_pem=sp_key.key_pem(),
    )


def test_bad_decryption_key_is_a_config_error(config: ServiceProviderConfig) -> None:
    with pytest.raises(ConfigError):
        attrs.evolve(config, decryption_key_pem=b"not a key")


def test_empty_response_signature_with_good_assertion(idp: SamlIdP, flow: Flow) -> None:
    root = parse_xml(response_xml(idp, request_info()))
    root.find("ds:Signature/ds:SignatureValue", NS).text = ""
    flow.expect()
    flow.refused("saml.empty_signature", to_bytes(root), want_signed_response=True)
    # a signature that is there is checked even when not required
    flow.refused("saml.empty_signature", to_bytes(root))


XSW_AT_PROCESS = {
    "xsw1": "saml.object_forbidden",  # the response signature is checked first
    "xsw2": "saml.reference_mismatch",
    "xsw3": "saml.assertion_count",
    "xsw4": "saml.assertion_count",
    "xsw5": "saml.assertion_count",
    "xsw6": "saml.assertion_count",
    "xsw7": "saml.assertion_count",
    "xsw8": "saml.assertion_count",
    "cloned_response_signature": "saml.reference_mismatch",
    "moved_signature": "saml.reference_mismatch",  # as the response signature
}


@pytest.mark.parametrize("variant", [v for v, _, _ in XSW_AT_VERIFY])
def test_signature_wrapping(idp: SamlIdP, flow: Flow, variant: str) -> None:
    flow.expect()
    attack = xsw(variant, response_xml(idp, request_info()))
    flow.refused(XSW_AT_PROCESS[variant], to_bytes(attack))


def test_assertion_outside_the_response_root(idp: SamlIdP, flow: Flow) -> None:
    root = parse_xml(response_xml(idp, request_info()))
    root.remove(root.find("ds:Signature", NS))
    extensions = etree.SubElement(root, "{urn:oasis:names:tc:SAML:2.0:protocol}Extensions")
    extensions.append(assertion_of(root))
    flow.expect()
    flow.refused("saml.assertion_misplaced", to_bytes(root))


def _name_id_response(idp: SamlIdP, *, drop_user_id: bool) -> bytes:
    root = parse_xml(response_xml(idp))
    assertion = assertion_of(root)
    name_id = assertion.find("saml:Subject/saml:NameID", NS)
    name_id.text = "alice@example.org"
    comment = etree.Comment("")
    comment.tail = ".evil.com"
    name_id.append(comment)
    if drop_user_id:
        for attribute in assertion.findall("saml:AttributeStatement/saml:Attribute", NS):
            if attribute.get("Name") == "userId":
                attribute.getparent().remove(attribute)
    sign(assertion, idp.signing_key)
    sign(root, idp.signing_key)
    return to_bytes(root)


def test_comment_injection_in_name_id(idp: SamlIdP, flow: Flow) -> None:
    xml = _name_id_response(idp, drop_user_id=True)
    assert b"alice@example.org<!---->.evil.com</" in xml
    identity = flow.process(xml, allow_idp_initiated=True, want_signed_response=True)
    assert identity.subject == "alice@example.org.evil.com"
    assert identity.claims["name_id"] == "alice@example.org.evil.com"


def test_comment_injection_in_user_id(idp: SamlIdP, flow: Flow) -> None:
    root = parse_xml(response_xml(idp))
    for value in assertion_of(root).iterfind(".//saml:AttributeValue", NS):
        if value.getparent().get("Name") == "userId":
            value.text = "1000"
            comment = etree.Comment(" x ")
            comment.tail = "299654"
            value.append(comment)
    # exclusive c14n without comments: the original signatures still verify
    assert flow.process(to_bytes(root), allow_idp_initiated=True).subject == "1000299654"


def test_dtd_documents_are_refused(flow: Flow) -> None:
    for document in (BILLION_LAUGHS, EXTERNAL_ENTITY):
        flow.refused("saml.dtd_forbidden", document)


def test_oversized_response(idp: SamlIdP, flow: Flow) -> None:
    root = parse_xml(response_xml(idp))
    etree.SubElement(root, "{urn:oasis:names:tc:SAML:2.0:protocol}Extensions").text = "x" * (
        300 * 1024
    )
    flow.refused("saml.too_large", to_bytes(root))
    flow.refused("saml.too_large", "A" * (1024 * 1024))


def test_bad_encoding_and_wrong_message(flow: Flow) -> None:
    flow.refused("saml.bad_encoding", "not base64!")
    flow.refused("saml.not_a_response", b"<a/>")


# -- configuration ----------------------------------------------------------------------------


def test_certificates_come_from_idp_metadata(idp: SamlIdP) -> None:
    certificates = idp_certificates_from_metadata(idp.metadata(), idp.entity_id)
    assert certificates == (idp.signing_key.certificate,)
    with pytest.raises(ConfigError) as info:
        idp_certificates_from_metadata(idp.metadata(), "https://unknown.example")
    assert info.value.code == "saml.bad_metadata"


def test_config_needs_certificates() -> None:
    with pytest.raises(ConfigError):
        ServiceProviderConfig(SP, ACS, "https://idp.example", [])


def test_person_without_optional_data(idp: SamlIdP, flow: Flow) -> None:
    person = person_from_dict(
        {
            "oid": 77,
            "login": "p",
            "password": "p",
            "last_name": "Иванов",
            "first_name": "Иван",
            "birth_date": "01.02.2003",
            "gender": "M",
            "level": "standard",
        }
    )
    identity = flow.process(response_xml(idp, person=person), allow_idp_initiated=True)
    assert (identity.subject, identity.middle_name, identity.snils, identity.email) == (
        "77",
        None,
        None,
        None,
    )
