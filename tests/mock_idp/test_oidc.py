"""The mock IdP's OIDC side, end to end through its HTTP interface."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import time
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from jose import jwt
from starlette.testclient import TestClient

from mock_idp.app import MockIdP, create_app
from mock_idp.keys import SigningKey
from mock_idp.provider import ESIA_ERRORS, EsiaError, RedirectableError, WrongCode
from sso_bridge.errors import BridgeError
from sso_bridge.esia import cms as esia_cms
from sso_bridge.mfa.otp import decode_secret, totp

BASE = "http://idp.test"
SAMPLE = Path(str(resources.files("mock_idp") / "sample.yaml"))
REDIRECT = "https://portal.test/cb"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.fixture
def idp() -> MockIdP:
    idp = MockIdP.from_config(SAMPLE, BASE)
    idp.add_client({"client_id": "portal", "secret": "s3cret", "redirect_uris": [REDIRECT]})
    return idp


@pytest.fixture
def http(idp: MockIdP) -> TestClient:
    return TestClient(
        create_app(idp), base_url=BASE, follow_redirects=False, headers=idp.admin_headers
    )


def start(http: TestClient, **extra: str) -> tuple[str, dict[str, str]]:
    verifier = secrets.token_urlsafe(32)
    params = {
        "client_id": "portal",
        "redirect_uri": REDIRECT,
        "response_type": "code",
        "scope": "openid fullname birthdate snils",
        "state": "st-" + secrets.token_hex(4),
        "nonce": "nn-" + secrets.token_hex(4),
        "code_challenge": b64url(hashlib.sha256(verifier.encode()).digest()),
        "code_challenge_method": "S256",
    }
    params.update(extra)
    http.cookies.clear()  # a new browser: no IdP session to answer from
    page = http.get("/aas/oauth2/v2/ac", params=params)
    assert page.status_code == 200, page.text
    txn = re.search(r'name="txn" value="([^"]+)"', page.text)
    assert txn is not None
    params["verifier"] = verifier
    return txn.group(1), params


def redirect_params(response) -> dict[str, str]:  # type: ignore[no-untyped-def]
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    assert location.startswith(REDIRECT)
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def log_in(
    http: TestClient,
    idp: MockIdP,
    login: str = "+7 (900) 000-01-01",
    password: str = "parol-101",
    **extra: str,
) -> tuple[dict[str, str], dict[str, str]]:
    txn, params = start(http, **extra)
    page = http.post("/login", data={"txn": txn, "login": login, "password": password})
    assert page.status_code == 200, page.text
    done = http.post("/login/code", data={"txn": txn, "code": idp.last_code()})
    return redirect_params(done), params


def exchange(http: TestClient, code: str, verifier: str | None = None, **extra: str):  # type: ignore[no-untyped-def]
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
    if verifier is not None:
        form["code_verifier"] = verifier
    form.update(extra)
    return http.post("/aas/oauth2/v3/te", data=form, auth=("portal", "s3cret"))


def test_discovery_and_jwks(http: TestClient) -> None:
    meta = http.get("/.well-known/openid-configuration").json()
    assert meta["issuer"] == BASE + "/"
    assert meta["authorization_endpoint"] == BASE + "/aas/oauth2/v2/ac"
    assert meta["token_endpoint"] == BASE + "/aas/oauth2/v3/te"
    assert meta["authorization_response_iss_parameter_supported"] is True
    assert meta["code_challenge_methods_supported"] == ["S256"]
    keys = http.get("/jwks").json()["keys"]
    assert {k["alg"] for k in keys} == {"RS256", "ES256"}


def test_full_code_flow_with_sms(http: TestClient, idp: MockIdP) -> None:
    back, params = log_in(http, idp)
    assert back["state"] == params["state"]
    assert back["iss"] == BASE + "/"  # RFC 9207
    assert idp.outbox[-1]["phone"] == "+7 (900) 000-01-01"
    tokens = exchange(http, back["code"], params["verifier"]).json()
    assert tokens["token_type"] == "Bearer"
    header = jwt.get_unverified_header(tokens["id_token"])
    key = next(k for k in http.get("/jwks").json()["keys"] if k["kid"] == header["kid"])
    claims = jwt.decode(
        tokens["id_token"],
        key,
        algorithms=["RS256"],
        audience="portal",
        issuer=BASE + "/",
        access_token=tokens["access_token"],
    )
    assert claims["sub"] == "1000000101"
    assert claims["nonce"] == params["nonce"]
    assert claims["urn:esia:sbj"]["urn:esia:sbj:is_tru"] is True
    info = http.get(
        "/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    ).json()
    assert info == {
        "sub": "1000000101",
        "trusted": True,
        "family_name": "Смирнова",
        "given_name": "Мария",
        "middle_name": "Петровна",
        "birthdate": "1984-03-12",
        "snils": "123-456-789 64",
    }
    refreshed = http.post(
        "/aas/oauth2/te",
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        auth=("portal", "s3cret"),
    )
    assert refreshed.status_code == 200
    assert refreshed.json()["refresh_token"] != tokens["refresh_token"]


def test_totp_second_factor(http: TestClient, idp: MockIdP) -> None:
    txn, params = start(http)
    page = http.post(
        "/login", data={"txn": txn, "login": "a.kuznetsova@example.org", "password": "parol-103"}
    )
    assert "приложения-аутентификатора" in page.text
    person = idp.provider.people.get(1000000103)
    assert person is not None and person.totp_secret
    code = totp(decode_secret(person.totp_secret), int(idp.provider.clock.now().timestamp()))
    back = redirect_params(http.post("/login/code", data={"txn": txn, "code": code}))
    assert back["state"] == params["state"]
    # the same step cannot be used twice
    txn2, _ = start(http)
    http.post(
        "/login", data={"txn": txn2, "login": "a.kuznetsova@example.org", "password": "parol-103"}
    )
    again = http.post("/login/code", data={"txn": txn2, "code": code})
    assert again.status_code == 200 and "Неверный код" in again.text


def test_wrong_password_goes_back_with_an_esia_error(http: TestClient) -> None:
    txn, params = start(http)
    back = redirect_params(
        http.post("/login", data={"txn": txn, "login": "+7 900 000-01-01", "password": "x"})
    )
    assert back["error"] == "access_denied"
    assert back["error_description"].startswith("ESIA-007004")
    assert back["state"] == params["state"]
    # the attempt is over
    assert (
        http.post(
            "/login", data={"txn": txn, "login": "+7 900 000-01-01", "password": "parol-101"}
        ).status_code
        == 400
    )


def test_unknown_user_and_unconfirmed_account(http: TestClient, idp: MockIdP) -> None:
    txn, _ = start(http)
    back = redirect_params(
        http.post("/login", data={"txn": txn, "login": "nobody@example.org", "password": "x"})
    )
    assert back["error_description"].startswith("ESIA-007004")
    idp.add_client(
        {"client_id": "strict", "secret": "s", "redirect_uris": [REDIRECT], "require_trusted": True}
    )
    txn, _ = start(http, client_id="strict")
    back = redirect_params(
        http.post(
            "/login", data={"txn": txn, "login": "+7 (900) 000-01-07", "password": "parol-107"}
        )
    )
    assert back["error_description"].startswith("ESIA-007055")


def test_five_wrong_codes_end_the_attempt(http: TestClient, idp: MockIdP) -> None:
    txn, _params = start(http)
    http.post("/login", data={"txn": txn, "login": "+7 (900) 000-01-01", "password": "parol-101"})
    for left in (4, 3, 2, 1):
        page = http.post(
            "/login/code",
            data={"txn": txn, "code": "000000" if idp.last_code() != "000000" else "111111"},
        )
        assert f"Осталось попыток: {left}" in page.text
    back = redirect_params(http.post("/login/code", data={"txn": txn, "code": "999999x"}))
    assert back["error_description"].startswith("ESIA-007004")
    assert http.post("/login/code", data={"txn": txn, "code": idp.last_code()}).status_code == 400


def test_resend_has_a_cooldown(http: TestClient, idp: MockIdP) -> None:
    txn, _ = start(http)
    http.post(
        "/login",
        data={"txn": txn, "login": "+7 (900) 000-01-01", "password": "parol-101", "lang": "en"},
    )
    page = http.post("/login/resend", data={"txn": txn, "lang": "en"})
    assert "a little later" in page.text
    assert len(idp.outbox) == 1


@pytest.mark.parametrize(
    ("change", "status", "description"),
    [
        ({"client_id": "nobody"}, 400, "ESIA-007002"),
        ({"redirect_uri": REDIRECT + "/"}, 400, "ESIA-007023"),  # exact match only
    ],
)
def test_bad_clients_get_a_page_not_a_redirect(
    http: TestClient, change: dict[str, str], status: int, description: str
) -> None:
    params = {
        "client_id": "portal",
        "redirect_uri": REDIRECT,
        "response_type": "code",
        "scope": "openid",
        "state": "s",
        "code_challenge": "x" * 43,
        "code_challenge_method": "S256",
    }
    params.update(change)
    page = http.get("/aas/oauth2/ac", params=params)
    assert page.status_code == status
    assert description in page.text


@pytest.mark.parametrize(
    ("change", "error", "number"),
    [
        ({"response_type": "token"}, "unsupported_response_type", "ESIA-007012"),
        ({"scope": "openid nonsense"}, "invalid_scope", "ESIA-007006"),
        ({"scope": ""}, "invalid_scope", "ESIA-007013"),
        ({"scope": "  "}, "invalid_scope", "ESIA-007013"),
        ({"state": ""}, "invalid_request", "ESIA-007003"),
        ({"code_challenge_method": "plain"}, "invalid_request", "ESIA-007003"),
        ({"code_challenge": ""}, "invalid_request", "ESIA-007003"),  # portal demands PKCE
    ],
)
def test_bad_requests_go_back_with_state(
    http: TestClient, change: dict[str, str], error: str, number: str
) -> None:
    params = {
        "client_id": "portal",
        "redirect_uri": REDIRECT,
        "response_type": "code",
        "scope": "openid",
        "state": "s1",
        "code_challenge": "x" * 43,
        "code_challenge_method": "S256",
    }
    params.update(change)
    back = redirect_params(http.get("/aas/oauth2/ac", params=params))
    assert back["error"] == error
    assert back["error_description"].startswith(number + ": ")
    assert back.get("state", "") == params["state"]


def test_token_endpoint_refusals(http: TestClient, idp: MockIdP) -> None:
    back, _ = log_in(http, idp)
    assert exchange(http, back["code"], "wrong-verifier").json()["error"] == "invalid_grant"
    back, params = log_in(http, idp)
    bad_secret = http.post(
        "/aas/oauth2/te",
        data={
            "grant_type": "authorization_code",
            "code": back["code"],
            "redirect_uri": REDIRECT,
            "code_verifier": params["verifier"],
        },
        auth=("portal", "nope"),
    )
    assert bad_secret.status_code == 401
    assert bad_secret.json()["error"] == "invalid_client"
    first = exchange(http, back["code"], params["verifier"])
    assert first.status_code == 200
    token = first.json()["access_token"]
    replay = exchange(http, back["code"], params["verifier"])
    assert replay.json()["error"] == "invalid_grant"
    # a replayed code revokes what it gave
    assert http.get("/userinfo", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert http.get("/userinfo").status_code == 401


def test_client_secret_post_and_faults_over_the_admin_api(http: TestClient, idp: MockIdP) -> None:
    assert (
        http.post(
            "/admin/clients",
            json={
                "client_id": "post",
                "secret": "p",
                "auth_method": "client_secret_post",
                "redirect_uris": [REDIRECT],
                "id_token_alg": "ES256",
            },
        ).status_code
        == 200
    )
    assert http.post("/admin/faults", json={"faults": ["wrong_nonce"]}).json() == {"ok": True}

    def post_client_login() -> tuple[dict[str, str], dict[str, str]]:
        back, params = log_in(http, idp, client_id="post")
        form = {
            "grant_type": "authorization_code",
            "code": back["code"],
            "redirect_uri": REDIRECT,
            "code_verifier": params["verifier"],
            "client_id": "post",
            "client_secret": "p",
        }
        return http.post("/aas/oauth2/te", data=form).json(), params

    tokens, params = post_client_login()
    claims = jwt.get_unverified_claims(tokens["id_token"])
    assert jwt.get_unverified_header(tokens["id_token"])["alg"] == "ES256"
    assert claims["nonce"] != params["nonce"]  # the injected fault
    tokens, params = post_client_login()
    assert jwt.get_unverified_claims(tokens["id_token"])["nonce"] == params["nonce"]  # used once
    assert http.post("/admin/faults", json={"faults": ["no_such_fault"]}).status_code == 400


def test_key_rotation_and_reset(http: TestClient, idp: MockIdP) -> None:
    before = {k["kid"] for k in http.get("/jwks").json()["keys"]}
    kid = http.post("/admin/rotate", json={}).json()["kid"]
    after = {k["kid"] for k in http.get("/jwks").json()["keys"]}
    assert after == before | {kid}
    back, params = log_in(http, idp)
    token = exchange(http, back["code"], params["verifier"]).json()["id_token"]
    assert jwt.get_unverified_header(token)["kid"] == kid
    http.post(
        "/admin/users",
        json={
            "oid": 5,
            "login": "x@example.org",
            "password": "p",
            "last_name": "Тест",
            "first_name": "Тест",
            "birth_date": "01.01.2000",
        },
    )
    assert idp.provider.people.get(5) is not None
    http.post("/admin/reset")
    assert idp.provider.people.get(5) is None
    assert "idp.test" not in str(http.post("/admin/nothing").json())


def test_logout_redirects_only_to_registered_addresses(http: TestClient) -> None:
    ok = http.get("/idp/ext/Logout", params={"client_id": "portal", "redirect_url": REDIRECT})
    assert ok.status_code == 302
    bad = http.get(
        "/idp/ext/Logout", params={"client_id": "portal", "redirect_url": "https://evil.test/"}
    )
    assert bad.status_code == 400


def test_english_login_page(http: TestClient) -> None:
    page = http.get(
        "/aas/oauth2/ac",
        params={
            "client_id": "portal",
            "redirect_uri": REDIRECT,
            "response_type": "code",
            "scope": "openid",
            "state": "s",
            "code_challenge": "x" * 43,
            "code_challenge_method": "S256",
            "lang": "en",
        },
    )
    assert "Sign in" in page.text and "Русский" in page.text


def _key_and_certificate():  # type: ignore[no-untyped-def]
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "portal")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    return key, cert, cert.public_bytes(serialization.Encoding.PEM).decode()


def test_esia_signed_client_secret(http: TestClient, idp: MockIdP) -> None:
    key, cert, pem = _key_and_certificate()
    idp.add_client(
        {
            "client_id": "esia",
            "auth_method": "esia_cms",
            "certificate_pem": pem,
            "redirect_uris": [REDIRECT],
        }
    )

    def token_request(scope: str, state: str, signer_key=key, signer_cert=cert):  # type: ignore[no-untyped-def]
        back, params = log_in(http, idp, client_id="esia")
        timestamp = esia_cms.esia_timestamp(datetime.now(UTC))
        message = esia_cms.client_secret_message(scope, timestamp, "esia", state)
        secret = esia_cms.sign_client_secret(message, signer_cert, signer_key)
        return http.post(
            "/aas/oauth2/v3/te",
            data={
                "grant_type": "authorization_code",
                "code": back["code"],
                "redirect_uri": REDIRECT,
                "code_verifier": params["verifier"],
                "client_id": "esia",
                "client_secret": secret,
                "scope": scope,
                "state": state,
                "timestamp": timestamp,
            },
        )

    assert token_request("openid", "abc").status_code == 200
    other_key, other_cert, _ = _key_and_certificate()
    refused = token_request("openid", "abc", other_key, other_cert)
    assert refused.status_code == 401
    assert "esia.secret_" in refused.json()["error_description"]


def test_private_key_jwt(http: TestClient, idp: MockIdP) -> None:
    client_key = SigningKey.generate("ES256")
    idp.add_client(
        {
            "client_id": "pkjwt",
            "auth_method": "private_key_jwt",
            "jwks": {"keys": [client_key.public_jwk()]},
            "redirect_uris": [REDIRECT],
        }
    )
    endpoint = BASE + "/aas/oauth2/v3/te"

    def assertion(jti: str) -> str:
        claims = {
            "iss": "pkjwt",
            "sub": "pkjwt",
            "aud": endpoint,
            "jti": jti,
            "exp": int(time.time()) + 60,
        }
        return jwt.encode(
            claims,
            client_key.private_pem().decode(),
            algorithm="ES256",
            headers={"kid": client_key.kid},
        )

    def token_request(signed: str):  # type: ignore[no-untyped-def]
        back, params = log_in(http, idp, client_id="pkjwt")
        return http.post(
            endpoint,
            data={
                "grant_type": "authorization_code",
                "code": back["code"],
                "redirect_uri": REDIRECT,
                "code_verifier": params["verifier"],
                "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                "client_assertion": signed,
            },
        )

    signed = assertion("j1")
    assert token_request(signed).status_code == 200
    assert token_request(signed).json()["error_description"].endswith("client assertion replayed")
    forged = jwt.encode(
        {
            "iss": "pkjwt",
            "sub": "pkjwt",
            "aud": endpoint,
            "jti": "j2",
            "exp": int(time.time()) + 60,
        },
        SigningKey.generate("ES256").private_pem().decode(),
        algorithm="ES256",
        headers={"kid": client_key.kid},
    )
    assert token_request(forged).status_code == 401


def bearer(http: TestClient, idp: MockIdP, scope: str) -> tuple[str, dict[str, str]]:
    back, params = log_in(http, idp, scope=scope)
    token = exchange(http, back["code"], params["verifier"]).json()["access_token"]
    return token, {"Authorization": f"Bearer {token}"}


def test_person_api_follows_the_scopes(http: TestClient, idp: MockIdP) -> None:
    _, auth = bearer(http, idp, "openid fullname")
    person = http.get("/rs/prns/1000000101", headers=auth).json()
    assert person["lastName"] == "Смирнова"
    assert person["trusted"] is True
    assert "birthDate" not in person and "snils" not in person
    _, auth = bearer(
        http,
        idp,
        "openid fullname birthdate gender snils id_doc contacts kid_fullname kid_birthdate",
    )
    person = http.get("/rs/prns/1000000101", headers=auth).json()
    assert (person["birthDate"], person["gender"], person["snils"]) == (
        "12.03.1984",
        "F",
        "123-456-789 64",
    )
    docs = http.get("/rs/prns/1000000101/docs", params={"embed": "(elements)"}, headers=auth).json()
    assert docs["size"] == 1
    assert docs["elements"][0] | {"eTag": ""} == {
        "stateFacts": ["Identifiable"],
        "id": 1,
        "type": "RF_PASSPORT",
        "vrfStu": "VERIFIED",
        "series": "4505",
        "number": "123456",
        "issueDate": "20.04.2004",
        "eTag": "",
    }
    links = http.get("/rs/prns/1000000101/ctts", headers=auth).json()
    assert links["elements"] == [
        BASE + "/rs/prns/1000000101/ctts/1",
        BASE + "/rs/prns/1000000101/ctts/2",
    ]
    mobile = http.get("/rs/prns/1000000101/ctts/1", headers=auth).json()
    assert (mobile["type"], mobile["vrfStu"]) == ("MBT", "VERIFIED")
    embedded = http.get(
        "/rs/prns/1000000101",
        params={"embed": "(contacts.elements,documents.elements,kids.elements)"},
        headers=auth,
    ).json()
    assert embedded["kids"]["elements"][0]["firstName"] == "Артём"
    assert embedded["kids"]["elements"][0]["birthDate"] == "01.09.2012"
    assert embedded["documents"]["elements"][0]["series"] == "4505"


def test_person_api_refusals(http: TestClient, idp: MockIdP) -> None:
    _, auth = bearer(http, idp, "openid fullname")
    assert http.get("/rs/prns/1000000103", headers=auth).status_code == 403  # someone else
    assert http.get("/rs/prns/1000000101").status_code == 401
    assert http.get("/rs/prns/1000000101/addrs", headers=auth).status_code == 404
    assert http.get("/rs/prns/1000000101/docs", headers=auth).json()["size"] == 0  # no id_doc scope
    assert http.get("/rs/prns/1000000101/ctts/9", headers=auth).status_code == 404


def test_codes_without_the_login_page(http: TestClient, idp: MockIdP) -> None:
    code = idp.authorization_code("portal", 1000000103, nonce="n", scopes=("openid", "fullname"))
    tokens = exchange(http, code).json()
    claims = jwt.get_unverified_claims(tokens["id_token"])
    assert (claims["sub"], claims["nonce"]) == ("1000000103", "n")


def test_userinfo_sub_mismatch_fault(http: TestClient, idp: MockIdP) -> None:
    idp.inject("userinfo_sub_mismatch")
    code = idp.authorization_code("portal", 1000000101)
    tokens = exchange(http, code).json()
    assert jwt.get_unverified_claims(tokens["id_token"])["sub"] == "1000000101"  # token intact
    info = http.get(
        "/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    ).json()
    assert info["sub"] != "1000000101"
    code = idp.authorization_code("portal", 1000000101)
    tokens = exchange(http, code).json()
    info = http.get(
        "/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    ).json()
    assert info["sub"] == "1000000101"  # once only


def test_language_switch_only_where_it_can_work(http: TestClient) -> None:
    txn, _ = start(http, lang="en")
    page = http.post(
        "/login",
        data={"txn": txn, "login": "+7 (900) 000-01-01", "password": "parol-101", "lang": "en"},
    )
    assert "Confirm your sign-in" in page.text
    assert "Русский" not in page.text  # no link that would turn this POST into a GET


def test_expired_state_is_forgotten(http: TestClient, idp: MockIdP) -> None:
    class Later:
        moment = datetime.now(UTC)

        def now(self) -> datetime:
            return self.moment

    clock = Later()
    idp.provider.clock = clock
    for _ in range(255):
        start(http)
    clock.moment += timedelta(hours=2)
    start(http)  # the 256th transaction sweeps
    assert len(idp.provider._transactions) == 1


def test_malformed_input_never_shows_a_stack_trace(idp: MockIdP) -> None:
    http = TestClient(
        create_app(idp), base_url=BASE, raise_server_exceptions=False, headers=idp.admin_headers
    )
    bad_json = http.post(
        "/admin/users", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert bad_json.status_code == 400
    assert bad_json.json()["error"] == "invalid_request"
    assert http.post("/admin/faults", json=["x"]).status_code == 400
    weird_form = http.post(
        "/aas/oauth2/te",
        content=b"\xff\xfe",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert weird_form.status_code in (400, 401)
    assert "Traceback" not in weird_form.text
    assert weird_form.json()["error_description"].startswith("ESIA-008010: ")


def test_an_internal_error_is_an_esia_style_answer(
    idp: MockIdP, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken() -> dict[str, str]:
        raise RuntimeError("boom")

    monkeypatch.setattr(idp, "discovery", broken)
    http = TestClient(
        create_app(idp), base_url=BASE, raise_server_exceptions=False, headers=idp.admin_headers
    )
    answer = http.get("/.well-known/openid-configuration")
    assert answer.status_code == 500
    assert answer.json() == {
        "error": "server_error",
        "error_description": "ESIA-007007: the service cannot handle this request",
    }
    page = http.get("/.well-known/openid-configuration", headers={"accept": "text/html"})
    assert "ESIA-007007" in page.text
    assert "boom" not in page.text and "Traceback" not in page.text


def test_faults_for_several_responses(http: TestClient, idp: MockIdP) -> None:
    assert (
        http.post("/admin/faults", json={"faults": ["wrong_iss"], "responses": 2}).status_code
        == 200
    )
    idp.inject("missing_sub")  # joins the first of the two

    def claims() -> dict[str, object]:
        code = idp.authorization_code("portal", 1000000101)
        return jwt.get_unverified_claims(exchange(http, code).json()["id_token"])

    first, second, third = claims(), claims(), claims()
    assert first["iss"] != BASE + "/" and "sub" not in first
    assert second["iss"] != BASE + "/" and second["sub"] == "1000000101"
    assert third["iss"] == BASE + "/"


def test_refusals_are_bridge_errors_with_stable_codes(idp: MockIdP) -> None:
    for code, kind in ESIA_ERRORS.items():
        assert re.fullmatch(r"esia\.[a-z]+(_[a-z]+)*", code)
        error = EsiaError("a reason", code=code)
        assert isinstance(error, BridgeError)
        assert (error.code, error.error, error.status) == (code, kind.error, kind.status)
        if kind.esia_code is None:
            assert error.description == "a reason"
        else:
            assert error.description == f"{kind.esia_code}: a reason"
        assert str(error) == f"{code}: a reason"
    with pytest.raises(ValueError, match="unknown ESIA error code"):
        EsiaError("a reason", code="esia.no_such_code")

    provider = idp.provider
    with pytest.raises(EsiaError) as caught:
        provider.authorize({"client_id": "nobody"})
    assert (caught.value.code, caught.value.error, caught.value.status) == (
        "esia.unknown_client",
        "unauthorized_client",
        400,
    )
    assert caught.value.description.startswith("ESIA-007002: ")
    with pytest.raises(RedirectableError) as back:
        provider.authorize({"client_id": "portal", "redirect_uri": REDIRECT, "state": "s"})
    assert (back.value.code, back.value.error, back.value.status) == (
        "esia.unsupported_response_type",
        "unsupported_response_type",
        302,
    )
    assert (back.value.redirect_uri, back.value.state) == (REDIRECT, "s")

    verifier = secrets.token_urlsafe(32)
    txn = provider.authorize(
        {
            "client_id": "portal",
            "redirect_uri": REDIRECT,
            "response_type": "code",
            "scope": "openid",
            "state": "s",
            "code_challenge": b64url(hashlib.sha256(verifier.encode()).digest()),
            "code_challenge_method": "S256",
        }
    )
    provider.check_password(txn, "+7 (900) 000-01-01", "parol-101")
    with pytest.raises(WrongCode) as wrong:
        provider.check_second_factor(txn, "not-a-code")
    assert isinstance(wrong.value, BridgeError)
    assert (wrong.value.code, wrong.value.attempts_left) == ("mock_idp.wrong_code", 4)


def test_a_non_ascii_pkce_verifier_is_a_mismatch(http: TestClient, idp: MockIdP) -> None:
    back, _params = log_in(http, idp)
    refused = exchange(http, back["code"], "проверка-" + "x" * 40)
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_grant"
    assert refused.json()["error_description"].startswith("ESIA-007040: ")


def test_admin_bodies_are_bounded_json(http: TestClient) -> None:
    deep = b'{"faults": ' + b"[" * 100 + b"]" * 100 + b"}"
    refused = http.post("/admin/faults", content=deep, headers={"content-type": "application/json"})
    assert refused.status_code == 400
    assert refused.json()["error_description"].startswith("input.bad_json")
    nan = http.post(
        "/admin/faults", content=b'{"responses": NaN}', headers={"content-type": "application/json"}
    )
    assert nan.status_code == 400
    assert http.post("/admin/reset", content=b"").json() == {"ok": True}
