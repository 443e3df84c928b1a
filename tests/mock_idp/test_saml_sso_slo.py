"""Single sign-on and single logout at the mock's SAML IdP, over HTTP: a session answers
the next AuthnRequest (not a ForceAuthn one), IsPassive without a session is NoPassive,
an SP's LogoutRequest ends the IdP session it names, and the IdP's own LogoutRequest is
signed and its answer checked."""

from __future__ import annotations

import base64
import html
import re
import zlib
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from cryptography import x509
from lxml import etree  # type: ignore[import-untyped]
from starlette.testclient import TestClient

from helpers.mock_idp_sso import MARIA, authorize, back, browser, finish_login, new_idp
from mock_idp.app import MockIdP
from mock_idp.backchannel import Delivery
from mock_idp.saml import Endpoint, PostForm, Redirect, SamlRequestError, SamlSigningKey
from mock_idp.saml.assertions import MessageSigner
from mock_idp.saml.logout import logout_answer
from sso_bridge.integrations.pysaml2 import XmlSecBackend
from sso_bridge.saml.codec import BINDING_POST, BINDING_REDIRECT, verify_redirect_signature
from sso_bridge.saml.verify import verify_enveloped

SP = "https://sp.test/saml"
ACS = "https://sp.test/saml/acs"
SLO = "https://sp.test/saml/slo"
NS = {
    "samlp": "urn:oasis:names:tc:SAML:2.0:protocol",
    "saml": "urn:oasis:names:tc:SAML:2.0:assertion",
}
SSO_PATH = "/idp/profile/SAML2/Redirect/SSO"


@pytest.fixture(scope="module")
def sp_key() -> SamlSigningKey:
    return SamlSigningKey.generate("sp.test", datetime.now(UTC))


@pytest.fixture
def idp(sp_key: SamlSigningKey) -> MockIdP:
    idp = new_idp(backchannel_logout_uri="http://127.0.0.1:9/logout")
    idp.add_service_provider(
        {
            "entity_id": SP,
            "acs_url": ACS,
            "slo_url": SLO,
            "certificate_pem": sp_key.certificate_pem().decode(),
        }
    )
    idp.backchannel.synchronous = True
    idp.backchannel.transport = lambda uri, form, timeout: 200
    return idp


def authn_request(request_id: str = "_r1", **flags: str) -> dict[str, str]:
    attributes = "".join(f' {name}="{value}"' for name, value in flags.items())
    xml = (
        f'<samlp:AuthnRequest xmlns:samlp="{NS["samlp"]}" xmlns:saml="{NS["saml"]}" '
        f'ID="{request_id}" Version="2.0" IssueInstant="2026-01-01T00:00:00Z"{attributes} '
        f'AssertionConsumerServiceURL="{ACS}"><saml:Issuer>{SP}</saml:Issuer></samlp:AuthnRequest>'
    )
    squeezer = zlib.compressobj(9, zlib.DEFLATED, -15)
    data = squeezer.compress(xml.encode()) + squeezer.flush()
    return {"SAMLRequest": base64.b64encode(data).decode(), "RelayState": "rs"}


def saml_response(page: Any) -> Any:
    """The Response in the auto-submitting form of ``page``."""
    assert page.status_code == 200, page.text
    found = re.search(r'name="SAMLResponse" value="([^"]+)"', page.text)
    assert found is not None, page.text
    return etree.fromstring(base64.b64decode(html.unescape(found.group(1))))


def authn_statement(response: Any) -> tuple[str, str]:
    statement = response.find(".//saml:AuthnStatement", NS)
    return statement.get("AuthnInstant"), statement.get("SessionIndex")


def saml_login(http: TestClient, idp: MockIdP) -> Any:
    page = http.get(SSO_PATH, params=authn_request())
    return saml_response(finish_login(http, idp, page))


def idp_certificate(idp: MockIdP) -> x509.Certificate:
    return x509.load_pem_x509_certificate(idp.saml.signing_key.certificate_pem())


def test_a_session_answers_the_next_authn_request(idp: MockIdP) -> None:
    http = browser(idp)
    first = saml_login(http, idp)
    instant, index = authn_statement(first)
    session = idp.sessions.of_person(MARIA, idp.provider.clock.now())[0]
    assert index == session.sid and SP in session.participants
    second = saml_response(http.get(SSO_PATH, params=authn_request("_r2")))
    assert second.get("InResponseTo") == "_r2"
    assert authn_statement(second) == (instant, index)
    # the same session answers an OIDC client too
    assert back(authorize(http))["code"]
    forced = http.get(SSO_PATH, params=authn_request("_r3", ForceAuthn="true"))
    assert 'name="txn"' in forced.text  # the login page


def test_is_passive_without_a_session_is_no_passive(idp: MockIdP) -> None:
    response = saml_response(browser(idp).get(SSO_PATH, params=authn_request(IsPassive="true")))
    codes = response.findall(".//samlp:StatusCode", NS)
    assert [c.get("Value").rsplit(":", 1)[1] for c in codes] == ["Responder", "NoPassive"]
    assert response.find(".//saml:Assertion", NS) is None


def logout_request(name_id: str, session_index: str | None) -> dict[str, str]:
    index = (
        "" if session_index is None else f"<samlp:SessionIndex>{session_index}</samlp:SessionIndex>"
    )
    xml = (
        f'<samlp:LogoutRequest xmlns:samlp="{NS["samlp"]}" xmlns:saml="{NS["saml"]}" ID="_lo"'
        f' Version="2.0" IssueInstant="2026-01-01T00:00:00Z">'
        f"<saml:Issuer>{SP}</saml:Issuer><saml:NameID>{name_id}</saml:NameID>{index}"
        "</samlp:LogoutRequest>"
    )
    return {"SAMLRequest": base64.b64encode(xml.encode()).decode()}


def test_sp_initiated_logout_ends_the_session_it_names(idp: MockIdP) -> None:
    http = browser(idp)
    response = saml_login(http, idp)
    back(authorize(http))  # an OIDC client joins the session
    name_id = response.findtext(".//saml:NameID", namespaces=NS)
    _, sid = authn_statement(response)
    slo = "/idp/profile/SAML2/POST/SLO"
    assert http.post(slo, data=logout_request(name_id, "_another")).status_code == 200
    assert idp.sessions.get(sid, idp.provider.clock.now()) is not None  # not that session
    assert http.post(slo, data=logout_request(name_id, sid)).status_code == 200
    assert idp.sessions.get(sid, idp.provider.clock.now()) is None
    assert 'name="txn"' in http.get(SSO_PATH, params=authn_request("_r4")).text
    (delivery,) = idp.backchannel_deliveries
    assert isinstance(delivery, Delivery) and (delivery.client_id, delivery.sid) == ("portal", sid)


def sp_answer(idp: MockIdP, sp_key: SamlSigningKey, request_id: str, binding: str) -> Any:
    """The SP's signed Success LogoutResponse to ``request_id`` over ``binding``."""
    return logout_answer(
        MessageSigner(XmlSecBackend()),
        idp_entity_id=SP,  # the issuer of the answer: the SP
        in_response_to=request_id,
        endpoint=Endpoint(binding, idp.saml.slo_url(binding)),
        relay_state="back",
        now=idp.provider.clock.now(),
        key=sp_key,
    )


def test_idp_initiated_logout_over_redirect(idp: MockIdP, sp_key: SamlSigningKey) -> None:
    http = browser(idp)
    response = saml_login(http, idp)
    _, sid = authn_statement(response)
    admin = http.post("/admin/saml_logout", json={"sp": SP, "sid": sid}, headers=idp.admin_headers)
    assert admin.status_code == 200, admin.text
    url = admin.json()["url"]
    assert url.startswith(SLO + "?")
    query = urlsplit(url).query
    params = dict(parse_qsl(query))
    verify_redirect_signature("SAMLRequest", params, query, [idp_certificate(idp)])
    request = etree.fromstring(zlib.decompress(base64.b64decode(params["SAMLRequest"]), -15))
    assert request.get("Destination") == SLO and request.get("NotOnOrAfter")
    assert request.findtext("saml:NameID", namespaces=NS) == response.findtext(
        ".//saml:NameID", namespaces=NS
    )
    assert request.findtext("samlp:SessionIndex", namespaces=NS) == sid
    assert idp.sessions.get(sid, idp.provider.clock.now()) is None

    answer = sp_answer(idp, sp_key, request.get("ID"), BINDING_REDIRECT)
    assert isinstance(answer, Redirect)
    path = urlsplit(answer.url)
    done = http.get(path.path + "?" + path.query)
    assert done.status_code == 200, done.text
    (outcome,) = idp.saml.logout_outcomes
    assert outcome.success and outcome.sp_entity_id == SP
    assert http.get(path.path + "?" + path.query).status_code == 400  # answered once
    unsigned = "&".join(p for p in path.query.split("&") if not p.startswith("Signature="))
    assert http.get(path.path + "?" + unsigned).status_code == 400


def test_idp_initiated_logout_over_post(idp: MockIdP, sp_key: SamlSigningKey) -> None:
    http = browser(idp)
    _, sid = authn_statement(saml_login(http, idp))
    form = idp.saml_logout_request(SP, sid, binding="post", relay_state="r")
    assert isinstance(form, PostForm) and form.action == SLO
    xml = base64.b64decode(form.fields["SAMLRequest"])
    root = etree.fromstring(xml)
    verify_enveloped(root, root.get("ID"), [idp_certificate(idp)])
    answer = sp_answer(idp, sp_key, root.get("ID"), BINDING_POST)
    assert isinstance(answer, PostForm)
    other = sp_answer(
        idp, SamlSigningKey.generate("evil", datetime.now(UTC)), root.get("ID"), BINDING_POST
    )
    slo = "/idp/profile/SAML2/POST/SLO"
    assert http.post(slo, data=other.fields).status_code == 400  # not the SP's key
    assert http.post(slo, data=answer.fields).status_code == 200
    assert idp.saml.logout_outcomes[-1].success
    with pytest.raises(SamlRequestError, match="no_saml_session"):
        idp.saml_logout_request(SP, sid)  # the session is over: nothing to log out
