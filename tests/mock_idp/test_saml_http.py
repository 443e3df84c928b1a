"""SAML through the mock IdP's HTTP interface: metadata, SSO with the login page, faults."""

from __future__ import annotations

import base64
import html
import re
import zlib
from importlib import resources
from pathlib import Path

import pytest
from lxml import etree
from signxml import SignatureConfiguration, XMLVerifier
from starlette.testclient import TestClient

from mock_idp.app import MockIdP, create_app

BASE = "http://idp.test"
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


@pytest.fixture
def idp() -> MockIdP:
    idp = MockIdP.from_config(SAMPLE, BASE)
    idp.add_service_provider({"entity_id": SP, "acs_url": ACS, "slo_url": SLO})
    return idp


@pytest.fixture
def http(idp: MockIdP) -> TestClient:
    return TestClient(
        create_app(idp), base_url=BASE, follow_redirects=False, headers=idp.admin_headers
    )


def redirect_request(request_id: str = "_r1") -> dict[str, str]:
    xml = (
        f'<samlp:AuthnRequest xmlns:samlp="{NS["samlp"]}" xmlns:saml="{NS["saml"]}" '
        f'ID="{request_id}" Version="2.0" IssueInstant="2026-01-01T00:00:00Z" '
        f'AssertionConsumerServiceURL="{ACS}"><saml:Issuer>{SP}</saml:Issuer></samlp:AuthnRequest>'
    )
    squeezer = zlib.compressobj(9, zlib.DEFLATED, -15)
    data = squeezer.compress(xml.encode()) + squeezer.flush()
    return {"SAMLRequest": base64.b64encode(data).decode(), "RelayState": "back-to-grades"}


def idp_certificate(http: TestClient) -> str:
    metadata = etree.fromstring(http.get("/idp/shibboleth").content)
    body = metadata.findtext(".//ds:X509Certificate", namespaces=NS).strip()
    return f"-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----\n"


def saml_login(http: TestClient, idp: MockIdP, request_id: str = "_r1") -> tuple[bytes, str]:
    http.cookies.clear()  # a new browser: no IdP session to answer from
    page = http.get("/idp/profile/SAML2/Redirect/SSO", params=redirect_request(request_id))
    assert page.status_code == 200, page.text
    txn = re.search(r'name="txn" value="([^"]+)"', page.text)
    assert txn is not None
    http.post(
        "/login", data={"txn": txn.group(1), "login": "+7 (900) 000-01-01", "password": "parol-101"}
    )
    done = http.post("/login/code", data={"txn": txn.group(1), "code": idp.last_code()})
    assert done.status_code == 200
    action = re.search(r'action="([^"]+)"', done.text)
    response = re.search(r'name="SAMLResponse" value="([^"]+)"', done.text)
    relay = re.search(r'name="RelayState" value="([^"]+)"', done.text)
    assert action and response and relay
    assert html.unescape(action.group(1)) == ACS
    return base64.b64decode(html.unescape(response.group(1))), html.unescape(relay.group(1))


def test_metadata_at_the_entity_id(http: TestClient) -> None:
    answer = http.get("/idp/shibboleth")
    assert answer.headers["content-type"].startswith("application/samlmetadata+xml")
    root = etree.fromstring(answer.content)
    assert root.get("entityID") == BASE + "/idp/shibboleth"
    locations = {e.get("Location") for e in root.findall(".//md:SingleSignOnService", NS)}
    assert locations == {
        BASE + "/idp/profile/SAML2/Redirect/SSO",
        BASE + "/idp/profile/SAML2/POST/SSO",
    }


def test_sso_through_the_login_page(http: TestClient, idp: MockIdP) -> None:
    xml, relay = saml_login(http, idp)
    assert relay == "back-to-grades"
    config = SignatureConfiguration(
        location="./{urn:oasis:names:tc:SAML:2.0:assertion}Assertion/", expect_references=1
    )
    verified = XMLVerifier().verify(xml, x509_cert=idp_certificate(http), expect_config=config)
    assertion = verified.signed_xml
    assert assertion.find(".//saml:SubjectConfirmationData", NS).get("InResponseTo") == "_r1"
    values = {
        a.get("Name"): a.findtext("saml:AttributeValue", namespaces=NS)
        for a in assertion.findall(".//saml:Attribute", NS)
    }
    assert values["userId"] == "1000000101"
    assert values["lastName"] == "Смирнова"
    assert values["birthDate"] == "12.03.1984"
    assert values["personSNILS"] == "123-456-789 64"
    assert values["trusted"] == "true"


def test_saml_faults_over_the_admin_api(http: TestClient, idp: MockIdP) -> None:
    assert http.post("/admin/faults", json={"faults": ["saml:wrong_audience"]}).json() == {
        "ok": True
    }
    xml, _ = saml_login(http, idp, "_r2")
    audience = etree.fromstring(xml).findtext(".//saml:Audience", namespaces=NS)
    assert audience != SP
    xml, _ = saml_login(http, idp, "_r3")  # once only
    assert etree.fromstring(xml).findtext(".//saml:Audience", namespaces=NS) == SP


def test_bad_requests_get_a_page(http: TestClient) -> None:
    page = http.get("/idp/profile/SAML2/Redirect/SSO", params={"SAMLRequest": "bm90IHhtbA=="})
    assert page.status_code == 400
    assert "saml.bad_request" in page.text
    unknown = redirect_request()
    page = http.post(
        "/idp/profile/SAML2/POST/SSO",
        data={
            "SAMLRequest": base64.b64encode(
                f'<samlp:AuthnRequest xmlns:samlp="{NS["samlp"]}" xmlns:saml="{NS["saml"]}" '
                'ID="_x" Version="2.0" IssueInstant="2026-01-01T00:00:00Z"><saml:Issuer>https://nobody.test'
                "</saml:Issuer></samlp:AuthnRequest>".encode()
            ).decode(),
            "RelayState": unknown["RelayState"],
        },
    )
    assert page.status_code == 400
    assert "saml.unknown_sp" in page.text


def test_single_logout_over_http(http: TestClient, idp: MockIdP) -> None:
    xml, _ = saml_login(http, idp, "_r9")
    name_id = etree.fromstring(xml).findtext(".//saml:NameID", namespaces=NS)
    request = (
        f'<samlp:LogoutRequest xmlns:samlp="{NS["samlp"]}" xmlns:saml="{NS["saml"]}" ID="_lo"'
        f' Version="2.0" IssueInstant="2026-01-01T00:00:00Z"'
        f' Destination="{BASE}/idp/profile/SAML2/POST/SLO">'
        f"<saml:Issuer>{SP}</saml:Issuer><saml:NameID>{name_id}</saml:NameID>"
        "</samlp:LogoutRequest>"
    )
    answer = http.post(
        "/idp/profile/SAML2/POST/SLO",
        data={"SAMLRequest": base64.b64encode(request.encode()).decode(), "RelayState": "r"},
    )
    assert answer.status_code == 200
    action = re.search(r'action="([^"]+)"', answer.text)
    response = re.search(r'name="SAMLResponse" value="([^"]+)"', answer.text)
    assert action and response
    assert html.unescape(action.group(1)) == SLO
    logout = etree.fromstring(base64.b64decode(html.unescape(response.group(1))))
    assert logout.get("InResponseTo") == "_lo"
    assert logout.find("samlp:Status/samlp:StatusCode", NS).get("Value").endswith(":Success")
    assert http.post("/idp/profile/SAML2/POST/SLO", data={"SAMLRequest": "Zm9v"}).status_code == 400
