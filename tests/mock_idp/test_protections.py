"""The mock IdP on a shared network: its admin token, the login bound to the browser,
bounded bodies and fields, range-checked input, response headers and its own address."""

from __future__ import annotations

import itertools
import json
import re
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jose import jwk, jwt
from starlette.testclient import TestClient

from helpers.aio import post_asgi
from helpers.clock import NOW, FixedClock
from helpers.keys import self_signed
from mock_idp.app import (
    MAX_ADMIN_BODY_BYTES,
    MAX_FORM_BODY_BYTES,
    MAX_SAML_BODY_BYTES,
    MockIdP,
    create_app,
)
from mock_idp.keys import KeyRing, certificate_pem
from sso_bridge.errors import InvalidInput
from sso_bridge.esia import gost, secret
from sso_bridge.esia.signer import InProcessGostSigner

BASE = "http://idp.test"
SAMPLE = Path(str(resources.files("mock_idp") / "sample.yaml"))
REDIRECT = "https://portal.test/esia/cb"
SCOPE = "openid fullname"
ANNA = 1000000103
KEY = gost.generate_private_key()
SIGNER = InProcessGostSigner(KEY, gost.self_signed_certificate(KEY, "portal", NOW))
HEADERS = {
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
}


@pytest.fixture
def idp() -> MockIdP:
    idp = MockIdP.from_config(SAMPLE, BASE)
    idp.provider.clock = FixedClock(NOW)
    idp.add_client(
        {
            "client_id": "gost-portal",
            "auth_method": "esia_gost",
            "certificate_pem": certificate_pem(SIGNER.certificate),
            "redirect_uris": [REDIRECT],
            "require_pkce": False,
        }
    )
    idp.add_client(
        {
            "client_id": "portal",
            "secret": "s3cret",
            "redirect_uris": [REDIRECT],
            "require_pkce": False,
        }
    )
    return idp


def browser(idp: MockIdP, **options: Any) -> TestClient:
    """A client of the mock without the admin token: a browser, or another machine."""
    return TestClient(create_app(idp), base_url=BASE, follow_redirects=False, **options)


@pytest.fixture
def http(idp: MockIdP) -> TestClient:
    return browser(idp)


def signed(
    *, code: str | None = None, timestamp: str | None = None, **fields: str
) -> dict[str, str]:
    """A v2/ac (no ``code``) or v3/te request of ``gost-portal``, GOST-signed."""
    params = {
        "client_id": "gost-portal",
        "scope": SCOPE,
        "scope_org": "",
        "timestamp": timestamp or secret.esia_timestamp(NOW),
        "state": str(uuid.uuid4()),
        "redirect_uri": REDIRECT,
    }
    params.update(fields)
    message = {k: params[k] for k in ("scope", "scope_org", "timestamp", "state", "redirect_uri")}
    params["client_secret"] = secret.client_secret(
        SIGNER, client_id="gost-portal", code=code, **message
    )
    params["client_certificate_hash"] = secret.certificate_hash(SIGNER.certificate)
    if code is not None:
        params.update(code=code, grant_type="authorization_code")
    else:
        params.update(response_type="code")
    return params


def back(response: Any) -> dict[str, str]:
    assert response.status_code == 302, response.text
    return {k: v[0] for k, v in parse_qs(urlsplit(response.headers["location"]).query).items()}


def login_page(client: TestClient) -> str:
    page = client.get(
        "/aas/oauth2/v2/ac",
        params={
            "client_id": "portal",
            "redirect_uri": REDIRECT,
            "response_type": "code",
            "scope": "openid",
            "state": "st",
        },
    )
    assert page.status_code == 200, page.text
    found = re.search(r'name="txn" value="([^"]+)"', page.text)
    assert found is not None
    return found.group(1)


# --- (a) the login transaction belongs to the browser that opened it ---------------------


def test_a_login_cannot_be_posted_from_another_browser(idp: MockIdP) -> None:
    victim, attacker = browser(idp), browser(idp)
    txn = login_page(victim)
    login_page(attacker)  # the attacker has a cookie of its own: not the victim's
    credentials = {"txn": txn, "login": "+7 (900) 000-01-01", "password": "parol-101"}
    for path, form in (
        ("/login", credentials),
        ("/login/code", {"txn": txn, "code": "123456"}),
        ("/login/resend", {"txn": txn}),
        ("/login/cancel", {"txn": txn}),
    ):
        refused = attacker.post(path, data=form)
        assert refused.status_code == 403, (path, refused.text)
        assert "в другом браузере" in refused.text
        assert "location" not in refused.headers
    cookieless = browser(idp).post("/login", data=credentials)
    assert cookieless.status_code == 403
    assert idp.outbox == []  # nothing was sent for the foreign posts
    # the victim's own login is untouched by the refusals
    assert victim.post("/login", data=credentials).status_code == 200
    done = victim.post("/login/code", data={"txn": txn, "code": idp.last_code()})
    assert "code" in back(done)


def test_the_browser_cookie_is_http_only_and_lax(idp: MockIdP) -> None:
    client = browser(idp)
    client.get(
        "/aas/oauth2/v2/ac",
        params={"client_id": "portal", "redirect_uri": REDIRECT, "response_type": "code",
                "scope": "openid", "state": "st"},
    )  # fmt: skip
    page = browser(idp).get(
        "/aas/oauth2/v2/ac",
        params={"client_id": "portal", "redirect_uri": REDIRECT, "response_type": "code",
                "scope": "openid", "state": "st"},
    )  # fmt: skip
    cookie = page.headers["set-cookie"]
    assert cookie.startswith("mock_idp_browser=")
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    secure = MockIdP.from_config(SAMPLE, "https://idp.test")
    secure.add_client({"client_id": "portal", "secret": "s", "redirect_uris": [REDIRECT]})
    over_tls = TestClient(create_app(secure), base_url="https://idp.test").get(
        "/aas/oauth2/v2/ac",
        params={"client_id": "portal", "redirect_uri": REDIRECT, "response_type": "code",
                "scope": "openid", "state": "st", "code_challenge": "x" * 43,
                "code_challenge_method": "S256"},
    )  # fmt: skip
    assert over_tls.headers["set-cookie"].startswith("__Host-mock_idp_browser=")
    assert "Secure" in over_tls.headers["set-cookie"]


# --- (b) headers on every response --------------------------------------------------------


def test_every_response_carries_the_security_headers(
    idp: MockIdP, monkeypatch: pytest.MonkeyPatch
) -> None:
    http = browser(idp, raise_server_exceptions=False)
    answers = {
        "discovery": http.get("/.well-known/openid-configuration"),
        "jwks": http.get("/jwks"),
        "login page": http.get(
            "/aas/oauth2/v2/ac",
            params={
                "client_id": "portal",
                "redirect_uri": REDIRECT,
                "response_type": "code",
                "scope": "openid",
                "state": "s",
            },
        ),
        "error page": http.get("/aas/oauth2/v2/ac", params={"client_id": "nobody"}),
        "token error": http.post("/aas/oauth2/v3/te", data={"grant_type": "x"}),
        "not found": http.get("/no/such/page"),
        "admin refusal": http.post("/admin/reset"),
        "too large": http.post("/login", content=b"x" * (MAX_FORM_BODY_BYTES + 1)),
        "saml metadata": http.get("/idp/shibboleth"),
    }

    def broken() -> dict[str, str]:
        raise RuntimeError("boom")

    monkeypatch.setattr(idp, "discovery", broken)
    answers["server error"] = http.get("/.well-known/openid-configuration")
    for name, answer in answers.items():
        for header, value in HEADERS.items():
            assert answer.headers.get(header) == value, (name, header)
        policy = answer.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in policy and "default-src 'none'" in policy, name
        assert "no-store" in answer.headers["cache-control"], name
    assert answers["server error"].status_code == 500


# --- (c) forms post to the configured address ---------------------------------------------


def test_forms_post_to_the_configured_base_url_whatever_the_host_header(idp: MockIdP) -> None:
    http = browser(idp)
    page = http.get(
        "/aas/oauth2/v2/ac",
        params={"client_id": "portal", "redirect_uri": REDIRECT, "response_type": "code",
                "scope": "openid", "state": "s"},
        headers={"host": "evil.example"},
    )  # fmt: skip
    assert page.status_code == 200
    actions = re.findall(r'action="([^"]+)"', page.text)
    assert actions == [BASE + "/login", BASE + "/login/cancel"]
    assert "evil.example" not in page.text


def test_a_client_assertion_is_checked_against_the_configured_token_endpoint(
    idp: MockIdP,
) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = jwk.construct(key, "RS256").public_key().to_dict() | {"kid": "c1"}
    idp.add_client(
        {
            "client_id": "pkjwt",
            "auth_method": "private_key_jwt",
            "jwks": {"keys": [public]},
            "redirect_uris": [REDIRECT],
            "require_pkce": False,
        }
    )
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    http = browser(idp)
    for audience, host, status in (
        ("http://evil.example/aas/oauth2/v3/te", "evil.example", 401),
        (BASE + "/aas/oauth2/v3/te", "evil.example", 200),
    ):
        claims = {"iss": "pkjwt", "sub": "pkjwt", "aud": audience, "jti": uuid.uuid4().hex,
                  "exp": int(time.time()) + 60}  # fmt: skip
        assertion = jwt.encode(claims, pem, algorithm="RS256", headers={"kid": "c1"})
        code = idp.authorization_code("pkjwt", ANNA)
        answer = http.post(
            "/aas/oauth2/v3/te",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": REDIRECT,
                "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                "client_assertion": assertion,
            },
            headers={"host": host},
        )
        assert answer.status_code == status, answer.text


# --- (d) the admin API and the outbox need the token --------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/admin/reset"),
        ("POST", "/admin/users"),
        ("POST", "/admin/clients"),
        ("POST", "/admin/faults"),
        ("POST", "/admin/rotate"),
        ("GET", "/outbox"),
    ],
)
def test_admin_endpoints_refuse_requests_without_the_token(
    idp: MockIdP, method: str, path: str
) -> None:
    http = browser(idp)
    person = {"oid": 77, "login": "x@example.org", "password": "p", "last_name": "X",
              "first_name": "Y", "birth_date": "01.01.1990"}  # fmt: skip
    attempts = [
        {},
        {"X-Mock-IdP-Admin": "wrong"},
        {"Authorization": "Bearer wrong"},
        {"Authorization": "Basic " + idp.admin_token},
        {"X-Mock-IdP-Admin": ""},
    ]
    for headers in attempts:
        answer = http.request(method, path, json=person, headers=headers)
        assert answer.status_code == 401, (headers, answer.text)
    # a form a foreign page could post: no custom header, so no way in
    form = http.request(method, path, data={"oid": "77"})
    assert form.status_code == 401
    assert idp.provider.people.get(77) is None
    for headers in (idp.admin_headers, {"Authorization": f"Bearer {idp.admin_token}"}):
        assert http.request(method, path, json={}, headers=headers).status_code in (200, 400)


def test_each_idp_makes_its_own_admin_token() -> None:
    one, two = MockIdP.from_config(SAMPLE, BASE), MockIdP.from_config(SAMPLE, BASE)
    assert one.admin_token != two.admin_token
    assert len(one.admin_token) >= 40
    given = MockIdP.from_config(SAMPLE, BASE, admin_token="t" * 40)
    assert given.admin_headers == {"X-Mock-IdP-Admin": "t" * 40}


@pytest.mark.parametrize("responses", [10**9, 0, -1, True, 1.5, "2", 101])
def test_the_number_of_fault_responses_is_range_checked(idp: MockIdP, responses: Any) -> None:
    http = browser(idp, headers=idp.admin_headers)
    start = time.process_time()
    answer = http.post("/admin/faults", json={"faults": ["expired"], "responses": responses})
    assert answer.status_code == 400
    assert time.process_time() - start < 0.5
    assert idp.provider.faults == []


@pytest.mark.parametrize(
    "person",
    [
        {"oid": True},
        {"oid": 2**63},
        {"oid": 5, "kids": [{"oid": 10**30}]},
        {"oid": 5, "kids": [{"oid": "12"}]},
        {"oid": 5, "kids": [7]},
    ],
)
def test_admin_person_numbers_are_range_checked(idp: MockIdP, person: dict[str, Any]) -> None:
    base = {"login": "n@example.org", "password": "p", "last_name": "N", "first_name": "M",
            "birth_date": "01.01.1990"}  # fmt: skip
    answer = browser(idp, headers=idp.admin_headers).post("/admin/users", json=base | person)
    assert answer.status_code == 400
    assert "mock_idp.bad_person" in answer.json()["error_description"]


# --- (e) bodies are limited while they stream ---------------------------------------------


@pytest.mark.parametrize(
    ("path", "limit"),
    [
        ("/admin/users", MAX_ADMIN_BODY_BYTES),
        ("/aas/oauth2/v3/te", MAX_FORM_BODY_BYTES),
        ("/aas/oauth2/te", MAX_FORM_BODY_BYTES),
        ("/login", MAX_FORM_BODY_BYTES),
        ("/login/code", MAX_FORM_BODY_BYTES),
        ("/idp/profile/SAML2/POST/SSO", MAX_SAML_BODY_BYTES),
    ],
)
def test_bodies_over_the_limit_are_413_with_or_without_content_length(
    idp: MockIdP, path: str, limit: int
) -> None:
    http = browser(idp, headers=idp.admin_headers)
    declared = http.post(path, content=b"a=" + b"x" * limit)
    assert declared.status_code == 413, declared.text

    def chunks() -> Iterator[bytes]:
        for _ in range(limit // 4096 + 2):
            yield b"x" * 4096

    chunked = http.post(path, content=chunks())
    assert chunked.status_code == 413
    assert http.post(path, content=b"a=b").status_code != 413


def test_a_streamed_body_is_cut_off_at_the_limit(idp: MockIdP) -> None:
    """Driven as a server does: chunks without Content-Length, never-ending; the mock stops
    reading just past the limit and answers 413 without calling the handler."""
    chunk = b"x" * 1024
    endless = itertools.repeat(chunk)
    headers = [(b"transfer-encoding", b"chunked")]
    answer = post_asgi(create_app(idp), "/aas/oauth2/v3/te", endless, headers, host="idp.test")
    assert answer.status == 413
    assert answer.pulled == (MAX_FORM_BODY_BYTES // len(chunk) + 1) * len(chunk)


# --- dates and numbers from outside (item 5) ----------------------------------------------

EXTREME_TIMESTAMPS = [
    "9999.12.31 23:59:59 +9999",
    "9999.12.31 23:59:59 -1400",
    "0001.01.01 00:00:00 -2359",
    "0001.01.01 00:00:00 +1400",
    "2026.11.22 12:00:00 +1500",
    "2026.11.22 12:00:00 +0399",
    "2026.11.22 12:00:00 +٠٣٠٠",
    "2026.11.22 twelve o'clock",
]


@pytest.mark.parametrize("timestamp", EXTREME_TIMESTAMPS)
def test_extreme_timestamps_at_v2_ac_go_back_as_esia_007015(
    http: TestClient, timestamp: str
) -> None:
    answer = back(http.get("/aas/oauth2/v2/ac", params=signed(timestamp=timestamp)))
    assert answer["error"] == "invalid_client"
    assert answer["error_description"].startswith("ESIA-007015")


@pytest.mark.parametrize("timestamp", EXTREME_TIMESTAMPS)
def test_extreme_timestamps_at_v3_te_are_esia_007015(
    http: TestClient, idp: MockIdP, timestamp: str
) -> None:
    code = idp.authorization_code("gost-portal", ANNA, scopes=("openid",))
    answer = http.post("/aas/oauth2/v3/te", data=signed(code=code, timestamp=timestamp))
    assert answer.status_code == 401, answer.text
    assert answer.json()["error_description"].startswith("ESIA-007015")


@pytest.mark.parametrize(
    "timestamp",
    ["9999.12.31 23:59:59 -2359", "0001.01.01 00:00:00 +9999", "9999.99.99 99:99:99 +0000"],
)
def test_extreme_timestamps_at_v1_te_are_refused(
    http: TestClient, idp: MockIdP, timestamp: str
) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    _, cert_pem, _ = self_signed(key, "esia-v1")
    idp.add_client({"client_id": "esia", "auth_method": "esia_cms",
                    "certificate_pem": cert_pem.decode(), "redirect_uris": [REDIRECT],
                    "require_pkce": False})  # fmt: skip
    code = idp.authorization_code("esia", ANNA)
    answer = http.post(
        "/aas/oauth2/te",
        data={"client_id": "esia", "grant_type": "authorization_code", "code": code,
              "redirect_uri": REDIRECT, "timestamp": timestamp, "client_secret": "AAAA",
              "scope": "openid", "state": "s"},
    )  # fmt: skip
    assert answer.status_code == 401
    assert answer.json()["error"] == "invalid_client"


@pytest.mark.parametrize(
    ("field", "size"),
    [
        ("scope", 40_000),
        ("scope_org", 40_000),
        ("state", 40_000),
        ("redirect_uri", 40_000),
        ("client_secret", 40_000),
        ("client_certificate_hash", 40_000),
        ("timestamp", 40_000),
    ],
)
def test_oversized_fields_are_refused_before_hashing_over_http(
    http: TestClient, idp: MockIdP, hashed: list[int], field: str, size: int
) -> None:
    secret.certificate_hash(SIGNER.certificate)  # the registered certificate's, cached
    request = signed() | {field: "x" * size}
    code = idp.authorization_code("gost-portal", ANNA, scopes=("openid",))
    token_form = signed(code=code) | {field: "x" * size}
    hashed.clear()
    answer = http.get("/aas/oauth2/v2/ac", params=request)
    if field == "redirect_uri":  # an unregistered address gets a page, never a redirect
        assert answer.status_code == 400
    else:
        assert back(answer)["error_description"].startswith("ESIA-007003")
    refused = http.post("/aas/oauth2/v3/te", data=token_form)
    assert refused.status_code == 400, refused.text
    assert refused.json()["error_description"].startswith("ESIA-007003")
    assert hashed == []


def test_an_oversized_code_is_refused_before_hashing(http: TestClient, hashed: list[int]) -> None:
    form = signed(code="c" * 40_000)
    hashed.clear()
    answer = http.post("/aas/oauth2/v3/te", data=form)
    assert answer.status_code == 400
    assert hashed == []


def test_four_megabyte_fields_cost_nothing(http: TestClient, hashed: list[int]) -> None:
    form = signed(code="c") | {k: "x" * 1_000_000 for k in ("scope", "state", "timestamp", "code")}
    body = json.dumps(form).encode()  # any shape: it is refused by its size
    hashed.clear()
    start = time.process_time()
    answer = http.post("/aas/oauth2/v3/te", content=body)
    assert answer.status_code == 413
    assert time.process_time() - start < 0.5
    assert hashed == []


def test_the_person_api_range_checks_the_oid(http: TestClient, idp: MockIdP) -> None:
    code = idp.authorization_code("portal", ANNA, scopes=("openid", "fullname"))
    tokens = http.post(
        "/aas/oauth2/v3/te",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT},
        auth=("portal", "s3cret"),
    ).json()
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert http.get(f"/rs/prns/{ANNA}", headers=bearer).status_code == 200
    for oid in ("9" * 5000, "٣" * 10, str(ANNA) + "0" * 30, "-1", "1e3"):
        for suffix in ("", "/roles", "/ctts", "/ctts/1"):
            answer = http.get(f"/rs/prns/{oid}{suffix}", headers=bearer)
            assert answer.status_code == 403, (oid, suffix, answer.text)


# --- RSA key sizes at the mock --------------------------------------------------------------


def _rsa_client_jwks(bits: int) -> tuple[dict[str, Any], str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    public = jwk.construct(key, "RS256").public_key().to_dict() | {"kid": "c1"}
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return {"keys": [public]}, pem


@pytest.mark.parametrize(("bits", "status"), [(1024, 401), (2048, 200)])
def test_a_private_key_jwt_client_needs_a_2048_bit_rsa_key(
    http: TestClient, idp: MockIdP, bits: int, status: int
) -> None:
    jwks, pem = _rsa_client_jwks(bits)
    idp.add_client({"client_id": "pkjwt", "auth_method": "private_key_jwt", "jwks": jwks,
                    "redirect_uris": [REDIRECT], "require_pkce": False})  # fmt: skip
    claims = {"iss": "pkjwt", "sub": "pkjwt", "aud": BASE + "/aas/oauth2/v3/te",
              "jti": uuid.uuid4().hex, "exp": int(time.time()) + 60}  # fmt: skip
    answer = http.post(
        "/aas/oauth2/v3/te",
        data={
            "grant_type": "authorization_code",
            "code": idp.authorization_code("pkjwt", ANNA),
            "redirect_uri": REDIRECT,
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": jwt.encode(claims, pem, algorithm="RS256", headers={"kid": "c1"}),
        },
    )
    assert answer.status_code == status, answer.text


def test_an_esia_cms_client_needs_a_2048_bit_certificate(idp: MockIdP) -> None:
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505
    _, cert_pem, _ = self_signed(weak, "weak")
    answer = browser(idp, headers=idp.admin_headers).post(
        "/admin/clients",
        json={"client_id": "esia", "auth_method": "esia_cms", "certificate_pem": cert_pem.decode(),
              "redirect_uris": [REDIRECT]},
    )  # fmt: skip
    assert answer.status_code == 400
    assert "2048" in answer.json()["error_description"]


def test_configured_rsa_keys_need_2048_bits() -> None:
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505
    pem = weak.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    with pytest.raises(InvalidInput) as caught:
        KeyRing.from_config([{"alg": "RS256", "private_key_pem": pem}])
    assert caught.value.code == "mock_idp.bad_key"


def test_the_skew_is_still_enforced(http: TestClient) -> None:
    old = secret.esia_timestamp(NOW - timedelta(minutes=6))
    assert back(http.get("/aas/oauth2/v2/ac", params=signed(timestamp=old)))["error"] == (
        "invalid_client"
    )
