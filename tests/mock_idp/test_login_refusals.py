"""A login that ends without success at the mock IdP goes back to where it came from: to
the SAML service provider as a signed Response with a failure status (over HTTP-POST, with
the request's RelayState), to the OIDC client with ``error=``; the pages say it in Russian."""

from __future__ import annotations

import base64
import html
import re
import zlib
from importlib import resources
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from lxml import etree
from signxml import SignatureConfiguration, XMLVerifier
from starlette.testclient import TestClient

from mock_idp.app import MockIdP, create_app
from mock_idp.grants import MAX_CODE_ATTEMPTS

BASE = "http://idp.test"
SAMPLE = Path(str(resources.files("mock_idp") / "sample.yaml"))
SP = "https://sp.test/saml"
ACS = "https://sp.test/saml/acs"
REDIRECT = "https://portal.test/cb"
NS = {
    "samlp": "urn:oasis:names:tc:SAML:2.0:protocol",
    "saml": "urn:oasis:names:tc:SAML:2.0:assertion",
    "ds": "http://www.w3.org/2000/09/xmldsig#",
}
AUTHN_FAILED = "urn:oasis:names:tc:SAML:2.0:status:AuthnFailed"
RESPONDER = "urn:oasis:names:tc:SAML:2.0:status:Responder"
PASSWORD = {"login": "+7 (900) 000-01-01", "password": "parol-101"}


@pytest.fixture
def idp() -> MockIdP:
    idp = MockIdP.from_config(SAMPLE, BASE)
    idp.add_service_provider({"entity_id": SP, "acs_url": ACS})
    idp.add_client(
        {
            "client_id": "portal",
            "secret": "s3cret",
            "redirect_uris": [REDIRECT],
            "require_pkce": False,
        }
    )
    return idp


@pytest.fixture
def http(idp: MockIdP) -> TestClient:
    return TestClient(create_app(idp), base_url=BASE, follow_redirects=False)


def idp_certificate(http: TestClient) -> str:
    metadata = etree.fromstring(http.get("/idp/shibboleth").content)
    body = metadata.findtext(".//ds:X509Certificate", namespaces=NS).strip()
    return f"-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----\n"


def redirect_request(request_id: str) -> dict[str, str]:
    """An unsigned AuthnRequest over HTTP-Redirect, with a RelayState."""
    xml = (
        f'<samlp:AuthnRequest xmlns:samlp="{NS["samlp"]}" xmlns:saml="{NS["saml"]}" '
        f'ID="{request_id}" Version="2.0" IssueInstant="2026-01-01T00:00:00Z" '
        f'AssertionConsumerServiceURL="{ACS}"><saml:Issuer>{SP}</saml:Issuer></samlp:AuthnRequest>'
    )
    squeezer = zlib.compressobj(9, zlib.DEFLATED, -15)
    data = squeezer.compress(xml.encode()) + squeezer.flush()
    return {"SAMLRequest": base64.b64encode(data).decode(), "RelayState": "back-to-grades"}


def saml_login_page(http: TestClient) -> str:
    """A new browser's SAML login at the IdP: the transaction id of its login page."""
    http.cookies.clear()
    page = http.get("/idp/profile/SAML2/Redirect/SSO", params=redirect_request("_r7"))
    assert page.status_code == 200, page.text
    txn = re.search(r'name="txn" value="([^"]+)"', page.text)
    assert txn is not None
    return txn.group(1)


def posted_back(page_html: str) -> tuple[etree._Element, str, str]:
    """The auto-posting form's SAML Response (signature verified), RelayState and action."""
    action = re.search(r'action="([^"]+)"', page_html)
    response = re.search(r'name="SAMLResponse" value="([^"]+)"', page_html)
    relay = re.search(r'name="RelayState" value="([^"]+)"', page_html)
    assert action and response and relay, page_html
    xml = base64.b64decode(html.unescape(response.group(1)))
    return (
        etree.fromstring(xml),
        html.unescape(relay.group(1)),
        html.unescape(action.group(1)),
    )


def check_failure(http: TestClient, page_html: str, message: str) -> None:
    """``page_html`` posts to the ACS a signed Response: Responder/AuthnFailed, no assertion,
    ESIA's number and ``message`` in StatusMessage, the request's id and RelayState."""
    root, relay, action = posted_back(page_html)
    assert action == ACS
    assert relay == "back-to-grades"
    assert root.get("InResponseTo") == "_r7"
    assert root.get("Destination") == ACS
    top = root.find("samlp:Status/samlp:StatusCode", NS)
    assert top is not None and top.get("Value") == RESPONDER
    second = top.find("samlp:StatusCode", NS)
    assert second is not None and second.get("Value") == AUTHN_FAILED
    assert root.findtext("samlp:Status/samlp:StatusMessage", namespaces=NS) == (
        f"ESIA-007004: {message}"
    )
    assert root.find("saml:Assertion", NS) is None
    config = SignatureConfiguration(location="./", expect_references=1)
    xml = etree.tostring(root)
    XMLVerifier().verify(xml, x509_cert=idp_certificate(http), expect_config=config)


def test_too_many_wrong_codes_answer_the_service_provider(http: TestClient, idp: MockIdP) -> None:
    txn = saml_login_page(http)
    http.post("/login", data={"txn": txn, **PASSWORD})
    sent = idp.last_code()
    wrong = "000000" if sent != "000000" else "111111"
    for left in range(MAX_CODE_ATTEMPTS - 1, 0, -1):
        page = http.post("/login/code", data={"txn": txn, "code": wrong})
        assert f"Осталось попыток: {left}." in page.text
        assert "SAMLResponse" not in page.text
    last = http.post("/login/code", data={"txn": txn, "code": wrong})
    assert last.status_code == 200
    assert last.headers["cache-control"] == "no-store"
    check_failure(http, last.text, "too many wrong codes")
    # the attempt is over: the right code now gets the IdP's own page, in Russian
    over = http.post("/login/code", data={"txn": txn, "code": sent})
    assert over.status_code == 400
    assert '<html lang="ru">' in over.text
    assert "Эта попытка входа уже завершена." in over.text
    assert "Код ошибки: ESIA-007004" in over.text
    assert "SAMLResponse" not in over.text
    person = idp.provider.people.by_login(PASSWORD["login"])
    assert person is not None
    assert not idp.sessions.of_person(person.oid, idp.provider.clock.now())


def test_a_wrong_password_answers_the_service_provider(http: TestClient) -> None:
    txn = saml_login_page(http)
    page = http.post("/login", data={"txn": txn, "login": PASSWORD["login"], "password": "x"})
    check_failure(http, page.text, "wrong login or password")


@pytest.mark.parametrize("step", ["password", "code"])
def test_cancelling_answers_the_service_provider(http: TestClient, step: str) -> None:
    txn = saml_login_page(http)
    if step == "code":
        code_page = http.post("/login", data={"txn": txn, **PASSWORD})
        assert "/login/cancel" in code_page.text
        assert "Отменить вход" in code_page.text
    page = http.post("/login/cancel", data={"txn": txn})
    check_failure(http, page.text, "the person cancelled the login")


def test_cancelling_an_oidc_login_redirects_with_an_error(http: TestClient) -> None:
    page = http.get(
        "/aas/oauth2/v2/ac",
        params={"client_id": "portal", "redirect_uri": REDIRECT, "response_type": "code",
                "scope": "openid", "state": "s1"},
    )  # fmt: skip
    assert "Отменить вход" in page.text
    txn = re.search(r'name="txn" value="([^"]+)"', page.text)
    assert txn is not None
    back = http.post("/login/cancel", data={"txn": txn.group(1)})
    assert back.status_code == 302
    location = back.headers["location"]
    assert location.startswith(REDIRECT)
    params = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    assert params["error"] == "access_denied"
    assert params["state"] == "s1"
    assert params["error_description"].startswith("ESIA-007004: ")


def test_the_error_page_speaks_english_only_when_asked(http: TestClient) -> None:
    txn = saml_login_page(http)
    http.post("/login/cancel", data={"txn": txn})
    russian = http.post("/login/cancel", data={"txn": txn})
    assert "Эта попытка входа уже завершена." in russian.text
    assert "attempt" not in russian.text
    english = http.post("/login/cancel", data={"txn": txn, "lang": "en"})
    assert '<html lang="en">' in english.text
    assert "This sign-in attempt is already over." in english.text


def test_a_bad_saml_request_gets_a_russian_page_with_the_detail(http: TestClient) -> None:
    page = http.get("/idp/profile/SAML2/Redirect/SSO", params={"SAMLRequest": "not-base64!"})
    assert page.status_code == 400
    assert "Запрос на вход не принят" in page.text
    assert "Подробности для администратора" in page.text
    assert "saml.bad_request" in page.text
