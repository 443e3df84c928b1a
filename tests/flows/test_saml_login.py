"""The service provider end to end through the mock IdP's HTTP interface: metadata,
AuthnRequests (plain and signed), login, response processing, single logout."""

from __future__ import annotations

import base64
import datetime as dt
import html
import re
import zlib
from importlib import resources
from pathlib import Path
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit

import attrs
import pytest
from lxml import etree
from starlette.testclient import TestClient

from helpers.clock import FixedClock
from helpers.keys import KeyPair, make_key_pair
from mock_idp.app import MockIdP, create_app
from sso_bridge.clock import SystemClock
from sso_bridge.errors import ConfigError, InvalidInput
from sso_bridge.mfa import SecondFactorPolicy
from sso_bridge.model import FederatedIdentity
from sso_bridge.saml import (
    ESIA_ATTRIBUTE_NAMES,
    OID_ATTRIBUTE_NAMES,
    InMemoryReplayCache,
    InMemoryRequestStore,
    ServiceProviderConfig,
    identity_from_attributes,
    process_response,
)
from sso_bridge.saml.codec import RSA_SHA256
from sso_bridge.saml.errors import SamlError
from sso_bridge.saml.requests import (
    build_authn_request,
    build_logout_request,
    process_logout_response,
    sp_metadata,
)

BASE = "http://idp.test"
IDP = BASE + "/idp/shibboleth"
SP = "https://sp.test/saml"
ACS = "https://sp.test/saml/acs"
SLO = "https://sp.test/saml/slo"
SAMPLE = Path(str(resources.files("mock_idp") / "sample.yaml"))
NS = {
    "samlp": "urn:oasis:names:tc:SAML:2.0:protocol",
    "saml": "urn:oasis:names:tc:SAML:2.0:assertion",
    "md": "urn:oasis:names:tc:SAML:2.0:metadata",
    "ds": "http://www.w3.org/2000/09/xmldsig#",
}
POST_BINDING = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
PERSON_101 = ("+7 (900) 000-01-01", "parol-101")
PERSON_107 = ("+7 (900) 000-01-07", "parol-107")


@pytest.fixture(scope="module")
def sp_keys(tmp_path_factory: pytest.TempPathFactory) -> KeyPair:
    return make_key_pair(tmp_path_factory.mktemp("sp-keys"), "sp")


@pytest.fixture
def idp() -> MockIdP:
    return MockIdP.from_config(SAMPLE, BASE)


@pytest.fixture
def http(idp: MockIdP) -> TestClient:
    return TestClient(create_app(idp), base_url=BASE, follow_redirects=False)


def configure(http: TestClient, keys: KeyPair | None = None) -> ServiceProviderConfig:
    """The SP's configuration from the IdP's metadata as served over HTTP."""
    signing = {} if keys is None else {"signing_key_pem": keys.key_pem}
    return ServiceProviderConfig.from_idp_metadata(
        http.get("/idp/shibboleth").text,
        entity_id=SP,
        acs_url=ACS,
        idp_entity_id=IDP,
        slo_url=SLO,
        signing_certificate_pem=None if keys is None else keys.cert_pem,
        **signing,
    )


class Flow:
    """One service provider registered at the mock IdP by its own metadata."""

    def __init__(self, http: TestClient, idp: MockIdP, keys: KeyPair | None = None) -> None:
        self.http = http
        self.idp = idp
        self.config = configure(http, keys)
        self.requests = InMemoryRequestStore()
        self.replays = InMemoryReplayCache()
        self.clock = SystemClock()
        idp.add_service_provider({"metadata": sp_metadata(self.config)})

    def login_page(self, url: str) -> str:
        page = self.http.get(url)
        assert page.status_code == 200, page.text
        txn = re.search(r'name="txn" value="([^"]+)"', page.text)
        assert txn is not None, page.text
        return txn.group(1)

    def login(self, person: tuple[str, str] = PERSON_101, relay_state: str = "back") -> str:
        """Log in through the pages; return the SAMLResponse posted to the ACS."""
        request = build_authn_request(
            self.config, request_store=self.requests, clock=self.clock, relay_state=relay_state
        )
        txn = self.login_page(request.url)
        login, password = person
        self.http.post("/login", data={"txn": txn, "login": login, "password": password})
        done = self.http.post("/login/code", data={"txn": txn, "code": self.idp.last_code()})
        assert done.status_code == 200, done.text
        fields = form_fields(done.text)
        assert fields["action"] == ACS
        assert fields["RelayState"] == relay_state
        return fields["SAMLResponse"]

    def process(self, saml_response: str) -> FederatedIdentity:
        return process_response(
            saml_response,
            self.config,
            request_store=self.requests,
            replay_cache=self.replays,
            clock=self.clock,
        ).identity


def form_fields(page: str) -> dict[str, str]:
    action = re.search(r'action="([^"]+)"', page)
    assert action is not None, page
    fields = {
        html.unescape(name): html.unescape(value)
        for name, value in re.findall(r'name="([^"]+)" value="([^"]*)"', page)
    }
    return {"action": html.unescape(action.group(1)), **fields}


def inflate(query_value: str) -> bytes:
    return zlib.decompress(base64.b64decode(query_value), -zlib.MAX_WBITS)


# -- metadata and requests --------------------------------------------------------------------


def test_metadata_describes_the_sp(http: TestClient, sp_keys: KeyPair) -> None:
    root = etree.fromstring(sp_metadata(configure(http, sp_keys)).encode())
    assert root.get("entityID") == SP
    descriptor = root.find("md:SPSSODescriptor", NS)
    assert descriptor.get("AuthnRequestsSigned") == "true"
    assert descriptor.get("WantAssertionsSigned") == "true"
    acs = descriptor.find("md:AssertionConsumerService", NS)
    assert (acs.get("Location"), acs.get("Binding")) == (ACS, POST_BINDING)
    assert {e.get("Location") for e in descriptor.findall("md:SingleLogoutService", NS)} == {SLO}
    assert descriptor.findtext("md:NameIDFormat", namespaces=NS).endswith(":transient")
    body = descriptor.findtext(".//ds:X509Certificate", namespaces=NS)
    assert body == sp_keys.cert_body
    unsigned = etree.fromstring(sp_metadata(configure(http)).encode())
    assert unsigned.find("md:SPSSODescriptor", NS).get("AuthnRequestsSigned") == "false"
    assert unsigned.find(".//md:KeyDescriptor", NS) is None


def test_the_mock_accepts_the_metadata(http: TestClient, idp: MockIdP, sp_keys: KeyPair) -> None:
    Flow(http, idp, sp_keys)
    sp = idp.saml.service_provider(SP)
    assert sp.want_signed_requests
    assert sp.default_acs.location == ACS
    assert sp.signing_certificates == (sp_keys.cert_body,)
    assert {e.location for e in sp.logout_services} == {SLO}


def test_authn_request_content(http: TestClient) -> None:
    config = configure(http)
    assert config.idp_sso_url == BASE + "/idp/profile/SAML2/Redirect/SSO"
    assert config.idp_slo_url == BASE + "/idp/profile/SAML2/Redirect/SLO"
    store = InMemoryRequestStore()
    first = build_authn_request(config, request_store=store, clock=SystemClock(), relay_state="x")
    second = build_authn_request(config, request_store=store, clock=SystemClock())
    assert first.request_id != second.request_id
    assert len(first.request_id) >= 33
    parts = urlsplit(first.url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == config.idp_sso_url
    query = parse_qs(parts.query)
    assert query["RelayState"] == ["x"]
    assert "Signature" not in query
    assert "SigAlg" not in query
    root = etree.fromstring(inflate(query["SAMLRequest"][0]))
    assert root.tag == f"{{{NS['samlp']}}}AuthnRequest"
    assert root.get("ID") == first.request_id
    assert root.get("Destination") == config.idp_sso_url
    assert root.get("AssertionConsumerServiceURL") == ACS
    assert root.get("ProtocolBinding").endswith(":HTTP-POST")
    assert root.get("IssueInstant").endswith("Z")
    assert root.findtext("saml:Issuer", namespaces=NS) == SP
    assert root.find("samlp:NameIDPolicy", NS).get("Format").endswith(":transient")


def test_signing_needs_a_key(http: TestClient, sp_keys: KeyPair, tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        build_authn_request(
            configure(http),
            request_store=InMemoryRequestStore(),
            clock=SystemClock(),
            sign_with=True,
        )
    other = make_key_pair(tmp_path, "other")
    with pytest.raises(ConfigError):
        attrs.evolve(configure(http, sp_keys), signing_certificate_pem=other.cert_pem)


# -- single sign-on ---------------------------------------------------------------------------


def test_login_end_to_end(http: TestClient, idp: MockIdP) -> None:
    flow = Flow(http, idp)
    saml_response = flow.login()
    identity = flow.process(saml_response)
    assert identity.issuer == IDP
    assert identity.subject == "1000000101"
    assert identity.verified is True
    assert identity.last_name == "Смирнова"
    with pytest.raises(SamlError) as refused:
        flow.process(saml_response)
    assert refused.value.code == "saml.in_response_to_mismatch"  # its request was consumed
    answered = etree.fromstring(base64.b64decode(saml_response)).get("InResponseTo")
    flow.requests.add(answered, flow.clock.now() + dt.timedelta(minutes=1))
    with pytest.raises(SamlError) as refused:
        flow.process(saml_response)
    assert refused.value.code == "saml.replayed"


def test_simplified_account_is_not_verified(http: TestClient, idp: MockIdP) -> None:
    flow = Flow(http, idp)
    identity = flow.process(flow.login(PERSON_107))
    assert identity.subject == "1000000107"
    assert identity.verified is False


def test_signed_request_end_to_end(http: TestClient, idp: MockIdP, sp_keys: KeyPair) -> None:
    flow = Flow(http, idp, sp_keys)
    request = build_authn_request(flow.config, request_store=flow.requests, clock=flow.clock)
    query = parse_qs(urlsplit(request.url).query)
    assert query["SigAlg"] == [RSA_SHA256]
    assert "Signature" in query
    identity = flow.process(flow.login())
    assert identity.subject == "1000000101"


def test_unsigned_request_refused_when_signing_is_promised(
    http: TestClient, idp: MockIdP, sp_keys: KeyPair
) -> None:
    flow = Flow(http, idp, sp_keys)
    request = build_authn_request(
        flow.config, request_store=flow.requests, clock=flow.clock, sign_with=False
    )
    page = http.get(request.url)
    assert page.status_code == 400
    assert "saml.bad_request_signature" in page.text


def test_tampered_signed_request_refused(http: TestClient, idp: MockIdP, sp_keys: KeyPair) -> None:
    flow = Flow(http, idp, sp_keys)
    request = build_authn_request(
        flow.config, request_store=flow.requests, clock=flow.clock, relay_state="mine"
    )
    parts = urlsplit(request.url)
    pairs = parse_qsl(parts.query)
    tampered = [(k, "theirs" if k == "RelayState" else v) for k, v in pairs]
    page = http.get(f"{parts.scheme}://{parts.netloc}{parts.path}?{urlencode(tampered)}")
    assert page.status_code == 400
    assert "saml.bad_request_signature" in page.text
    xml = inflate(dict(pairs)["SAMLRequest"]).replace(ACS.encode(), ACS.encode() + b"/x")
    squeezer = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    changed = base64.b64encode(squeezer.compress(xml) + squeezer.flush()).decode()
    swapped = [(k, changed if k == "SAMLRequest" else v) for k, v in pairs]
    page = http.get(f"{parts.scheme}://{parts.netloc}{parts.path}?{urlencode(swapped)}")
    assert page.status_code == 400
    assert "saml.bad_request_signature" in page.text


def test_response_to_a_request_we_did_not_issue(http: TestClient, idp: MockIdP) -> None:
    flow = Flow(http, idp)
    saml_response = flow.login()
    stranger = Flow(http, idp)  # the same SP, but with no pending requests
    with pytest.raises(SamlError) as refused:
        stranger.process(saml_response)
    assert refused.value.code == "saml.in_response_to_mismatch"


def test_attributes_under_a_configured_mapping(http: TestClient, idp: MockIdP) -> None:
    flow = Flow(http, idp)
    flow.config = attrs.evolve(
        flow.config,
        attribute_names={"subject": "personSNILS", "email": "lastName", "verified": "userId"},
    )
    identity = flow.process(flow.login())
    assert identity.subject == "123-456-789 64"
    assert identity.email == "Смирнова"
    assert identity.last_name is None
    assert identity.verified is False


# -- attribute mapping ------------------------------------------------------------------------


def test_oid_attribute_mapping() -> None:
    attributes = {
        "urn:oid:2.5.4.4": ["Smirnova"],
        "urn:oid:2.5.4.42": ["Maria"],
        "urn:oid:0.9.2342.19200300.100.1.3": ["m@example.test"],
        "urn:oid:0.9.2342.19200300.100.1.1": ["msmirnova"],
        "lastName": ["ignored"],
    }
    identity = identity_from_attributes(
        attributes, issuer=IDP, name_id="_n1", attribute_names=OID_ATTRIBUTE_NAMES
    )
    assert (identity.last_name, identity.first_name) == ("Smirnova", "Maria")
    assert identity.email == "m@example.test"
    assert identity.subject == "msmirnova"
    assert identity.verified is False
    esia = identity_from_attributes(attributes, issuer=IDP, name_id="_n1")
    assert esia.subject == "_n1"
    assert esia.last_name == "ignored"
    assert ESIA_ATTRIBUTE_NAMES["subject"] == "userId"


def test_unknown_mapping_fields_are_refused(http: TestClient) -> None:
    with pytest.raises(ConfigError):
        attrs.evolve(configure(http), attribute_names={"password": "userPassword"})


# -- single logout ----------------------------------------------------------------------------


def logged_in(flow: Flow) -> str:
    saml_response = flow.login()
    identity = flow.process(saml_response)
    return str(identity.claims["name_id"])


@pytest.mark.parametrize("signed", [False, True])
def test_logout_over_redirect(
    http: TestClient, idp: MockIdP, sp_keys: KeyPair, signed: bool
) -> None:
    flow = Flow(http, idp, sp_keys if signed else None)
    name_id = logged_in(flow)
    request = build_logout_request(
        flow.config, name_id, request_store=flow.requests, clock=flow.clock, relay_state="bye"
    )
    assert ("Signature" in parse_qs(urlsplit(request.url).query)) is signed
    answer = http.get(request.url)
    assert answer.status_code == 303, answer.text
    location = urlsplit(answer.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == SLO
    params = dict(parse_qsl(location.query))
    assert params["RelayState"] == "bye"
    done = process_logout_response(
        params,
        flow.config,
        binding="redirect",
        request_store=flow.requests,
        clock=flow.clock,
        query_string=location.query,
    )
    assert done == request.request_id
    with pytest.raises(SamlError) as refused:  # consumed
        process_logout_response(
            params,
            flow.config,
            binding="redirect",
            request_store=flow.requests,
            clock=flow.clock,
            query_string=location.query,
        )
    assert refused.value.code == "saml.in_response_to_mismatch"


def test_logout_redirect_signature_is_checked(http: TestClient, idp: MockIdP) -> None:
    flow = Flow(http, idp)
    request = build_logout_request(
        flow.config,
        logged_in(flow),
        request_store=flow.requests,
        clock=flow.clock,
        relay_state="bye",
    )
    location = urlsplit(http.get(request.url).headers["location"])
    params = dict(parse_qsl(location.query))
    forged = location.query.replace("RelayState=bye", "RelayState=evil")
    with pytest.raises(SamlError) as refused:
        process_logout_response(
            {**params, "RelayState": "evil"},
            flow.config,
            binding="redirect",
            request_store=flow.requests,
            clock=flow.clock,
            query_string=forged,
        )
    assert refused.value.code == "saml.signature_invalid"
    unsigned = {k: v for k, v in params.items() if k != "Signature"}
    with pytest.raises(SamlError) as refused:
        process_logout_response(
            unsigned,
            flow.config,
            binding="redirect",
            request_store=flow.requests,
            clock=flow.clock,
        )
    assert refused.value.code == "saml.unsigned"


def test_logout_over_post(http: TestClient, idp: MockIdP) -> None:
    """With only an HTTP-POST SLO endpoint in the metadata, the IdP answers with a form."""
    flow = Flow(http, idp)
    metadata = etree.fromstring(sp_metadata(flow.config).encode())
    for endpoint in metadata.findall(".//md:SingleLogoutService", NS):
        if endpoint.get("Binding").endswith(":HTTP-Redirect"):
            endpoint.getparent().remove(endpoint)
    idp.add_service_provider({"metadata": etree.tostring(metadata).decode()})
    request = build_logout_request(
        flow.config, logged_in(flow), request_store=flow.requests, clock=flow.clock
    )
    answer = http.get(request.url)
    assert answer.status_code == 200, answer.text
    fields = form_fields(answer.text)
    assert fields["action"] == SLO
    done = process_logout_response(
        fields, flow.config, binding="post", request_store=flow.requests, clock=flow.clock
    )
    assert done == request.request_id
    root = etree.fromstring(base64.b64decode(fields["SAMLResponse"]))
    root.set("InResponseTo", "_forged")
    forged = {"SAMLResponse": base64.b64encode(etree.tostring(root)).decode()}
    with pytest.raises(SamlError) as refused:
        process_logout_response(
            forged, flow.config, binding="post", request_store=flow.requests, clock=flow.clock
        )
    assert refused.value.code == "saml.signature_invalid"


def test_logout_response_does_not_answer_an_authn_request(http: TestClient, idp: MockIdP) -> None:
    flow = Flow(http, idp)
    name_id = logged_in(flow)
    pending = build_authn_request(flow.config, request_store=flow.requests, clock=flow.clock)
    request = build_logout_request(
        flow.config, name_id, request_store=flow.requests, clock=flow.clock
    )
    location = urlsplit(http.get(request.url).headers["location"])
    params = dict(parse_qsl(location.query))
    assert (
        process_logout_response(
            params,
            flow.config,
            binding="redirect",
            request_store=flow.requests,
            clock=flow.clock,
            query_string=location.query,
        )
        == request.request_id
    )
    assert flow.requests.consume(pending.request_id, flow.clock.now())


def test_requests_expire(http: TestClient) -> None:
    clock = FixedClock(dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC))
    config = attrs.evolve(configure(http), request_lifetime=dt.timedelta(minutes=5))
    store = InMemoryRequestStore()
    request = build_authn_request(config, request_store=store, clock=clock)
    root = etree.fromstring(inflate(parse_qs(urlsplit(request.url).query)["SAMLRequest"][0]))
    assert root.get("IssueInstant") == "2026-03-01T12:00:00Z"
    assert not store.consume(request.request_id, clock.moment + dt.timedelta(minutes=5))


def test_logout_response_for_another_endpoint(http: TestClient, idp: MockIdP) -> None:
    flow = Flow(http, idp)
    request = build_logout_request(
        flow.config, logged_in(flow), request_store=flow.requests, clock=flow.clock
    )
    location = urlsplit(http.get(request.url).headers["location"])
    with pytest.raises(SamlError) as refused:
        process_logout_response(
            dict(parse_qsl(location.query)),
            attrs.evolve(flow.config, slo_url=SLO + "/other"),
            binding="redirect",
            request_store=flow.requests,
            clock=flow.clock,
            query_string=location.query,
        )
    assert refused.value.code == "saml.wrong_destination"


def test_relay_state_is_limited(http: TestClient) -> None:
    store = InMemoryRequestStore()
    with pytest.raises(InvalidInput) as refused:
        build_authn_request(
            configure(http), request_store=store, clock=SystemClock(), relay_state="x" * 81
        )
    assert refused.value.code == "saml.relay_state_too_long"
    build_authn_request(
        configure(http), request_store=store, clock=SystemClock(), relay_state="x" * 80
    )


def test_the_login_reports_the_second_factor_the_idp_asked(http: TestClient, idp: MockIdP) -> None:
    # every login at the mock is a password and then an SMS code: a two-factor class, which
    # the broker's second-factor policy counts as done at the IdP, as it does over OIDC
    flow = Flow(http, idp)
    result = process_response(
        flow.login(),
        flow.config,
        request_store=flow.requests,
        replay_cache=flow.replays,
        clock=flow.clock,
    )
    assert result.authn_context == "urn:oasis:names:tc:SAML:2.0:ac:classes:MobileTwoFactorContract"
    assert SecondFactorPolicy().idp_reported_mfa(authn_context=result.authn_context)
