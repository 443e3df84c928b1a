"""The mock IdP behaves as ESIA does: ESIA's error numbers with ESIA's meaning, PKCE and
``kid`` as per-client switches off for ESIA clients, no ``openid`` requirement, ESIA-shaped
access tokens, the certificates archive, one-time signed v2/ac requests, the organisation
API, and certificate hashes in either case."""

from __future__ import annotations

import io
import re
import secrets
import threading
import uuid
import zipfile
from datetime import timedelta
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from jose import jwt
from starlette.testclient import TestClient

from helpers.clock import NOW, FixedClock
from mock_idp import errors as mock_errors
from mock_idp.app import CERTIFICATES_ARCHIVE_PATH, MockIdP, create_app
from mock_idp.clients import Client, client_from_dict
from mock_idp.errors import ESIA_ERRORS, EsiaError
from mock_idp.esia_v2 import SKEW, ReplayGuard
from mock_idp.keys import KeyRing, certificate_pem
from mock_idp.orgs import valid_inn, valid_ogrn
from mock_idp.provider import SCOPES
from sso_bridge import base64url
from sso_bridge.esia import gost, secret
from sso_bridge.esia.errors_table import ESIA_NUMBERS, esia_refusal
from sso_bridge.esia.signer import InProcessGostSigner
from sso_bridge.esia.tokens import verify_gost_jwt
from sso_bridge.oidc.flow import pkce_challenge

BASE = "http://idp.test"
SAMPLE = Path(str(resources.files("mock_idp") / "sample.yaml"))
REDIRECT = "https://portal.test/cb"
GOST = "GOST3410_2012_256"
MARIA = 1000000101  # chief of ООО «УЦ „Парус“» (oid 1000000902)
ANNA = 1000000103  # a teacher of Школа № 17 (oid 1000000901)
SCHOOL = 1000000901
PARUS = 1000000902
_KEY = gost.generate_private_key()
SIGNER = InProcessGostSigner(_KEY, gost.self_signed_certificate(_KEY, "portal", NOW))
ACCESS_CLAIMS = {
    "iss",
    "client_id",
    "urn:esia:sbj_id",
    "urn:esia:sid",
    "scope",
    "iat",
    "nbf",
    "exp",
}


@pytest.fixture
def idp() -> MockIdP:
    idp = MockIdP.from_config(SAMPLE, BASE)
    idp.provider.clock = FixedClock(NOW)
    idp.add_client({"client_id": "portal", "secret": "s3cret", "redirect_uris": [REDIRECT]})
    for client_id, alg in (("gost", GOST), ("gost-rsa", "RS256")):
        idp.add_client(
            {
                "client_id": client_id,
                "auth_method": "esia_gost",
                "certificate_pem": certificate_pem(SIGNER.certificate),
                "id_token_alg": alg,
                "redirect_uris": [REDIRECT],
            }
        )
    return idp


@pytest.fixture
def http(idp: MockIdP) -> TestClient:
    return TestClient(create_app(idp), base_url=BASE, follow_redirects=False)


def signed(client_id: str = "gost", code: str | None = None, **fields: str) -> dict[str, str]:
    """A v2/ac (no ``code``) or v3/te request of an ``esia_gost`` client, GOST-signed."""
    params = {
        "client_id": client_id,
        "scope": "openid fullname",
        "scope_org": "",
        "timestamp": secret.esia_timestamp(NOW),
        "state": str(uuid.uuid4()),
        "redirect_uri": REDIRECT,
    }
    params.update(fields)
    message = {k: params[k] for k in ("scope", "scope_org", "timestamp", "state", "redirect_uri")}
    params["client_secret"] = secret.client_secret(
        SIGNER, client_id=client_id, code=code, **message
    )
    params["client_certificate_hash"] = secret.certificate_hash(SIGNER.certificate)
    if code is None:
        params.setdefault("access_type", "online")
        params["response_type"] = "code"
    else:
        params.update(code=code, grant_type="authorization_code", token_type="Bearer")
    return params


def back(response: Any) -> dict[str, str]:
    assert response.status_code == 302, response.text
    assert response.headers["location"].startswith(REDIRECT)
    return {k: v[0] for k, v in parse_qs(urlsplit(response.headers["location"]).query).items()}


def portal_tokens(
    http: TestClient, idp: MockIdP, oid: int = MARIA, scopes: tuple[str, ...] = ("openid",)
) -> dict[str, Any]:
    code = idp.authorization_code("portal", oid, scopes=scopes)
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
    answer = http.post("/aas/oauth2/v3/te", data=form, auth=("portal", "s3cret"))
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def gost_tokens(
    http: TestClient,
    idp: MockIdP,
    client_id: str = "gost",
    oid: int = ANNA,
    scopes: tuple[str, ...] = ("openid", "fullname"),
) -> dict[str, Any]:
    code = idp.authorization_code(client_id, oid, scopes=scopes)
    answer = http.post(
        "/aas/oauth2/v3/te", data=signed(client_id, code=code, scope=" ".join(scopes))
    )
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def refusal_code(description: str) -> str | None:
    """What the relying party reads from the mock's ``error_description``."""
    found = esia_refusal(description)
    return None if found is None else found.code


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# -- 1. one table of ESIA numbers -----------------------------------------------------------


def test_every_number_the_mock_can_send_is_esia_s() -> None:
    sent = {kind.esia_code for kind in ESIA_ERRORS.values()} - {None}
    assert sent <= ESIA_NUMBERS.keys(), sorted(sent - ESIA_NUMBERS.keys())
    # and no number is written into the mock's sources outside ESIA's table
    source = Path(str(resources.files("mock_idp")))
    for path in source.rglob("*.py"):
        for number in re.findall(r"ESIA-[0-9]{6}", path.read_text(encoding="utf-8")):
            assert number in ESIA_NUMBERS, (path.name, number)
    for code, kind in ESIA_ERRORS.items():
        if kind.esia_code is None:
            assert EsiaError("plain", code=code).description == "plain"


@pytest.mark.parametrize(
    ("code", "meaning"),
    [
        ("esia.invalid_scope", "esia.scope_refused"),  # was read as idp_failed
        ("esia.scope_missing", "esia.scope_refused"),
        ("esia.invalid_grant", "esia.code_refused"),  # a used code; was account_not_confirmed
        ("esia.code_expired", "esia.code_refused"),
        ("esia.not_confirmed", "esia.account_not_confirmed"),
        ("esia.invalid_request", "esia.request_invalid"),  # was certificate_not_registered
        ("esia.request_replayed", "esia.request_invalid"),
        ("esia.bad_redirect_uri", "esia.redirect_uri_refused"),
        ("esia.unknown_client", "esia.certificate_not_registered"),
        ("esia.wrong_credentials", "esia.access_denied"),
        ("esia.second_factor_failed", "esia.access_denied"),
        ("esia.invalid_client", "esia.client_auth_failed"),
        ("esia.certificate_hash_wrong", "esia.client_secret_wrong"),
        ("esia.unsupported_grant_type", "esia.grant_unsupported"),
        ("esia.unsupported_response_type", "esia.grant_unsupported"),
        ("esia.pkce_verifier_unexpected", "esia.pkce_refused"),
        ("esia.pkce_mismatch", "esia.pkce_refused"),
        ("esia.forbidden", "esia.permission_missing"),
        ("esia.server_error", "esia.idp_failed"),
    ],
)
def test_the_relying_party_reads_the_intended_meaning(code: str, meaning: str) -> None:
    assert refusal_code(EsiaError("why", code=code).description) == meaning


def test_the_collisions_read_right_over_http(http: TestClient, idp: MockIdP) -> None:
    base = {"client_id": "portal", "redirect_uri": REDIRECT, "response_type": "code"}
    pkce = {"code_challenge": pkce_challenge("v" * 43), "code_challenge_method": "S256"}
    got = back(http.get("/aas/oauth2/ac", params={**base, **pkce, "scope": "x", "state": "s"}))
    assert refusal_code(got["error_description"]) == "esia.scope_refused"
    got = back(http.get("/aas/oauth2/ac", params={**base, **pkce, "scope": "openid"}))
    assert refusal_code(got["error_description"]) == "esia.request_invalid"  # no state
    page = http.get("/aas/oauth2/ac", params={**base, "redirect_uri": REDIRECT + "/x"})
    assert re.search(r"ESIA-007023", page.text) and page.status_code == 400
    code = idp.authorization_code("portal", MARIA)
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
    assert http.post("/aas/oauth2/te", data=form, auth=("portal", "s3cret")).status_code == 200
    used = http.post("/aas/oauth2/te", data=form, auth=("portal", "s3cret")).json()
    assert refusal_code(used["error_description"]) == "esia.code_refused"


def test_an_unconfirmed_account_reads_as_such(http: TestClient, idp: MockIdP) -> None:
    idp.add_client(
        {"client_id": "strict", "secret": "s", "redirect_uris": [REDIRECT], "require_trusted": True}
    )
    page = http.get(
        "/aas/oauth2/ac",
        params={
            "client_id": "strict",
            "redirect_uri": REDIRECT,
            "response_type": "code",
            "scope": "openid",
            "state": "s",
            "code_challenge": pkce_challenge("v" * 43),
            "code_challenge_method": "S256",
        },
    )
    txn = re.search(r'name="txn" value="([^"]+)"', page.text)
    assert txn is not None
    got = back(
        http.post(
            "/login", data={"txn": txn[1], "login": "+7 (900) 000-01-07", "password": "parol-107"}
        )
    )
    assert got["error_description"].startswith("ESIA-007055: ")
    assert refusal_code(got["error_description"]) == "esia.account_not_confirmed"


def test_the_numbers_come_from_esia_s_table() -> None:
    assert ESIA_NUMBERS["ESIA-007003"].number == mock_errors.ESIA_BAD_REQUEST
    assert ESIA_ERRORS["esia.invalid_token"].esia_code is None
    assert ESIA_ERRORS["esia.not_found"].esia_code is None


# -- 2. PKCE: a per-client switch, off for ESIA clients --------------------------------------


@pytest.mark.parametrize(
    ("method", "expected"),
    [
        ("esia_gost", False),
        ("esia_cms", False),
        ("client_secret_basic", True),
        ("client_secret_post", True),
        ("none", True),
    ],
)
def test_pkce_and_kid_defaults_follow_the_method(method: str, expected: bool) -> None:
    data: dict[str, Any] = {"client_id": "c", "redirect_uris": [REDIRECT], "auth_method": method}
    if method == "esia_gost":
        data["certificate_pem"] = certificate_pem(SIGNER.certificate)
    client = client_from_dict(data)
    assert (client.require_pkce, client.token_kid) == (expected, expected)
    switched = client_from_dict({**data, "require_pkce": not expected, "token_kid": not expected})
    assert (switched.require_pkce, switched.token_kid) == (not expected, not expected)
    assert Client("c", (REDIRECT,)).require_pkce is True


def test_an_esia_client_logs_in_without_pkce(http: TestClient) -> None:
    page = http.get("/aas/oauth2/v2/ac", params=signed())
    assert page.status_code == 200, page.text


def test_pkce_is_checked_when_used(http: TestClient, idp: MockIdP) -> None:
    verifier = secrets.token_urlsafe(32)
    challenge = pkce_challenge(verifier)

    def exchange(code_challenge: str | None, code_verifier: str | None) -> Any:
        code = idp.authorization_code("gost", ANNA, code_challenge=code_challenge)
        form = signed(code=code)
        if code_verifier is not None:
            form["code_verifier"] = code_verifier
        return http.post("/aas/oauth2/v3/te", data=form)

    assert exchange(challenge, verifier).status_code == 200
    assert exchange(None, None).status_code == 200
    for given, expected in ((None, verifier), (challenge, "wrong" * 9), (challenge, None)):
        refused = exchange(given, expected)
        assert refused.status_code == 400, refused.text
        number = "ESIA-007039" if given is None else "ESIA-007040"
        assert refused.json()["error"] == "invalid_grant"
        assert refused.json()["error_description"].startswith(number + ": ")


def test_a_challenge_at_v2_ac_must_be_s256(http: TestClient) -> None:
    params = signed(code_challenge=pkce_challenge("v" * 43), code_challenge_method="plain")
    got = back(http.get("/aas/oauth2/v2/ac", params=params))
    assert got["error_description"].startswith("ESIA-007003: ")
    params = signed(code_challenge=pkce_challenge("v" * 43), code_challenge_method="S256")
    assert http.get("/aas/oauth2/v2/ac", params=params).status_code == 200


# -- 3. no openid requirement ---------------------------------------------------------------


def test_a_scope_without_openid_gets_no_id_token(http: TestClient, idp: MockIdP) -> None:
    params = signed(scope="fullname usr_org")
    assert http.get("/aas/oauth2/v2/ac", params=params).status_code == 200
    answer = gost_tokens(http, idp, scopes=("fullname", "usr_org"))
    assert set(answer) == {
        "access_token",
        "token_type",
        "expires_in",
        "refresh_token",
        "scope",
        "state",
    }
    person = http.get(f"/rs/prns/{ANNA}", headers=bearer(answer["access_token"])).json()
    assert person["lastName"] == "Кузнецова"
    portal = portal_tokens(http, idp, scopes=("fullname",))
    assert "id_token" not in portal and "state" not in portal
    assert "id_token" in portal_tokens(http, idp, scopes=("openid",))


@pytest.mark.parametrize(("scope", "number"), [("", "ESIA-007013"), ("fullname x", "ESIA-007006")])
def test_scopes_must_be_given_and_known(http: TestClient, scope: str, number: str) -> None:
    got = back(http.get("/aas/oauth2/v2/ac", params=signed(scope=scope)))
    assert (got["error"], got["error_description"][:11]) == ("invalid_scope", number)


# -- 4. ESIA-shaped access tokens -----------------------------------------------------------


def test_an_rs256_access_token_is_esia_shaped(http: TestClient, idp: MockIdP) -> None:
    tokens = portal_tokens(http, idp, scopes=("openid", "fullname", "usr_org"))
    token = tokens["access_token"]
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "RS256" and header["typ"] == "JWT"
    assert (header["sbt"], header["ver"]) == ("access", 1)
    assert header["kid"] == idp.provider.keys.active("RS256").kid  # portal's kid switch is on
    claims = jwt.decode(token, http.get("/jwks").json(), algorithms=["RS256"])
    assert set(claims) == ACCESS_CLAIMS
    assert claims["iss"] == BASE + "/" and claims["client_id"] == "portal"
    assert claims["urn:esia:sbj_id"] == MARIA and isinstance(claims["urn:esia:sbj_id"], int)
    assert re.fullmatch(r"[0-9a-f]{32}", claims["urn:esia:sid"])
    assert claims["scope"] == f"openid fullname?oid={MARIA} usr_org?oid={MARIA}"
    assert all(isinstance(claims[k], int) for k in ("iat", "nbf", "exp"))
    assert claims["iat"] == claims["nbf"] == int(NOW.timestamp())
    assert claims["exp"] - claims["iat"] == tokens["expires_in"] == 3600
    # the ID token's at_hash is of this token
    id_claims = jwt.decode(
        tokens["id_token"], http.get("/jwks").json(), audience="portal", access_token=token
    )
    assert id_claims["sub"] == str(MARIA)


def test_a_gost_access_token_is_esia_shaped_and_short(http: TestClient, idp: MockIdP) -> None:
    every = ("openid", *sorted(SCOPES - {"openid"}))
    token = gost_tokens(http, idp, scopes=every)["access_token"]
    assert len(token) < 2048
    header = jwt.get_unverified_header(token)
    assert header == {"alg": GOST, "typ": "JWT", "sbt": "access", "ver": 1}
    certificates = [gost.load_certificate(p.encode()) for p in idp.certificates()]
    claims = verify_gost_jwt(token, certificates)
    assert set(claims) == ACCESS_CLAIMS and claims["urn:esia:sbj_id"] == ANNA
    assert claims["scope"].split()[0] == "openid"
    assert all(s.endswith(f"?oid={ANNA}") for s in claims["scope"].split()[1:])


def test_access_tokens_still_expire_and_faults_spare_them(http: TestClient, idp: MockIdP) -> None:
    idp.inject("bad_signature", "wrong_iss")
    tokens = portal_tokens(http, idp)
    claims = jwt.decode(tokens["access_token"], http.get("/jwks").json(), algorithms=["RS256"])
    assert claims["iss"] == BASE + "/"  # the fault went to the ID token only
    assert jwt.get_unverified_claims(tokens["id_token"])["iss"] != BASE + "/"
    assert http.get("/userinfo", headers=bearer(tokens["access_token"])).status_code == 200
    assert isinstance(idp.provider.clock, FixedClock)
    idp.provider.clock.advance(timedelta(hours=1, seconds=1))
    assert http.get("/userinfo", headers=bearer(tokens["access_token"])).status_code == 401
    forged = tokens["access_token"][:-4] + "AAAA"
    assert http.get("/userinfo", headers=bearer(forged)).status_code == 401


# -- 5. no kid by default for ESIA clients --------------------------------------------------


def test_esia_clients_get_tokens_without_kid(http: TestClient, idp: MockIdP) -> None:
    for client_id in ("gost", "gost-rsa"):
        tokens = gost_tokens(http, idp, client_id=client_id)
        for name in ("id_token", "access_token"):
            assert "kid" not in jwt.get_unverified_header(tokens[name]), (client_id, name)
    idp.add_client(
        {
            "client_id": "gost",
            "auth_method": "esia_gost",
            "certificate_pem": certificate_pem(SIGNER.certificate),
            "id_token_alg": GOST,
            "redirect_uris": [REDIRECT],
            "token_kid": True,
        }
    )
    tokens = gost_tokens(http, idp)
    kid = idp.provider.keys.active_gost().kid
    assert jwt.get_unverified_header(tokens["id_token"])["kid"] == kid
    assert jwt.get_unverified_header(tokens["access_token"])["kid"] == kid


def test_kid_faults_still_work(http: TestClient, idp: MockIdP) -> None:
    idp.inject("unknown_kid")
    token = gost_tokens(http, idp)["id_token"]
    assert jwt.get_unverified_header(token)["kid"].startswith("unknown-")
    idp.inject("no_kid")
    assert "kid" not in jwt.get_unverified_header(portal_tokens(http, idp)["id_token"])


# -- 6. the certificates archive ------------------------------------------------------------


def _entries(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def test_the_certificates_archive(http: TestClient, idp: MockIdP) -> None:
    answer = http.get(CERTIFICATES_ARCHIVE_PATH)
    assert CERTIFICATES_ARCHIVE_PATH == "/aas/oauth2/certificates.zip"
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/zip"
    assert (
        answer.content == idp.certificates_archive() == http.get(CERTIFICATES_ARCHIVE_PATH).content
    )
    entries = _entries(answer.content)
    assert all(re.fullmatch(r"[A-Za-z0-9_-]+\.(cer|pem)", name) for name in entries)
    gost_files = [data for name, data in entries.items() if name.endswith(".cer")]
    published = [gost.load_certificate(p.encode()).der for p in idp.certificates()]
    assert gost_files == published
    (pem,) = [data for name, data in entries.items() if name.endswith(".pem")]
    certificate = x509.load_pem_x509_certificate(pem)
    # an RS256 relying party verifies a token with the archive's certificate, no JWKS
    token = portal_tokens(http, idp)["id_token"]
    head, body, signature = token.split(".")
    public = certificate.public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    public.verify(
        base64url.decode(signature),
        f"{head}.{body}".encode(),
        padding.PKCS1v15(),
        hashes.SHA256(),
    )
    # the JSON list and the JWKS stay
    assert http.get("/aas/oauth2/certificates").json()["certificates"] == idp.certificates()
    assert http.get("/jwks").status_code == 200


def test_the_archive_follows_rotation_and_persists(tmp_path: Path) -> None:
    ring = KeyRing.load_or_create(tmp_path)
    idp = MockIdP.from_config(SAMPLE, BASE, tmp_path)
    first = _entries(idp.certificates_archive())
    assert first == _entries(
        MockIdP.from_config(SAMPLE, BASE, tmp_path).certificates_archive()
    )  # the same certificates after a restart
    assert len(ring.rsa_certificates()) == 1
    idp.rotate_keys("RS256")
    idp.rotate_keys(GOST)
    rotated = _entries(idp.certificates_archive())
    assert len([n for n in rotated if n.endswith(".pem")]) == 2
    assert len([n for n in rotated if n.endswith(".cer")]) == 2
    assert set(first) <= set(rotated)


# -- 7. a signed v2/ac request is good once --------------------------------------------------


def test_a_replayed_v2_ac_request_is_refused(http: TestClient) -> None:
    params = signed()
    assert http.get("/aas/oauth2/v2/ac", params=params).status_code == 200
    got = back(http.get("/aas/oauth2/v2/ac", params=params))
    assert (got["error"], got["state"]) == ("invalid_request", params["state"])
    assert got["error_description"].startswith("ESIA-007003: ")
    assert refusal_code(got["error_description"]) == "esia.request_invalid"
    assert http.get("/aas/oauth2/v2/ac", params=signed()).status_code == 200  # a new state


def test_the_replay_guard_forgets_after_the_window_and_is_bounded() -> None:
    guard = ReplayGuard(limit=3)
    assert guard.window == 2 * SKEW
    assert guard.first_time("c", "s", "t", NOW)
    assert not guard.first_time("c", "s", "t", NOW + 2 * SKEW - timedelta(seconds=1))
    assert guard.first_time("c", "s", "t", NOW + 2 * SKEW)
    for n in range(10):
        guard.first_time("c", f"s{n}", "t", NOW + 2 * SKEW)
    assert len(guard) == 3
    assert len(ReplayGuard()) == 0


def test_the_replay_guard_admits_a_request_once_across_threads() -> None:
    guard = ReplayGuard()
    admitted: list[bool] = []
    lock = threading.Lock()

    def attempt() -> None:
        result = guard.first_time("c", "s", "t", NOW)
        with lock:
            admitted.append(result)

    threads = [threading.Thread(target=attempt) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(admitted) == [False] * 15 + [True]


# -- 8. the organisations API ---------------------------------------------------------------


def test_the_organisation_document(http: TestClient, idp: MockIdP) -> None:
    token = gost_tokens(http, idp, scopes=("openid", "usr_org"))["access_token"]
    answer = http.get(f"/rs/orgs/{SCHOOL}", headers=bearer(token))
    assert answer.status_code == 200, answer.text
    doc = answer.json()
    assert set(doc) == {
        "oid",
        "fullName",
        "shortName",
        "ogrn",
        "inn",
        "kpp",
        "type",
        "stateFacts",
        "eTag",
    }
    assert (doc["oid"], doc["shortName"], doc["type"]) == (SCHOOL, "Школа № 17", "LEGAL")
    assert (doc["ogrn"], doc["inn"], doc["kpp"]) == ("1027700017014", "7701001703", "770101001")
    assert doc["stateFacts"] == ["EntityRoot"]
    roles = http.get(f"/rs/prns/{ANNA}/roles", headers=bearer(token)).json()["elements"]
    assert roles[0]["oid"] == SCHOOL and "inn" not in roles[0] and "kpp" not in roles[0]


def _with_check_digits(prefix: str, length: int, valid: Any) -> str:
    """The first number of ``length`` digits starting with ``prefix`` that is ``valid``."""
    free = length - len(prefix)
    return next(n for n in (prefix + str(i).zfill(free) for i in range(10**free)) if valid(n))


def test_a_sole_trader_has_no_kpp(http: TestClient, idp: MockIdP) -> None:
    ogrnip = _with_check_digits("30477000000001", 15, valid_ogrn)
    inn = _with_check_digits("7701000000", 12, valid_inn)
    idp.add_user(
        {
            "oid": 1000000150,
            "login": "ip@example.org",
            "password": "p",
            "last_name": "Иванов",
            "first_name": "Иван",
            "birth_date": "01.01.1980",
            "roles": [
                {
                    "oid": 1000000950,
                    "full_name": "ИП Иванов Иван",
                    "ogrn": ogrnip,
                    "inn": inn,
                    "type": "BUSINESS",
                    "chief": True,
                }
            ],
        }
    )
    code = idp.authorization_code("portal", 1000000150, scopes=("usr_org",))
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
    token = http.post("/aas/oauth2/te", data=form, auth=("portal", "s3cret")).json()
    doc = http.get("/rs/orgs/1000000950", headers=bearer(token["access_token"])).json()
    assert doc["type"] == "BUSINESS" and doc["inn"] == inn and "kpp" not in doc


def test_the_organisation_api_refusals(http: TestClient, idp: MockIdP) -> None:
    assert http.get(f"/rs/orgs/{SCHOOL}").status_code == 401
    no_scope = gost_tokens(http, idp, scopes=("openid", "fullname"))["access_token"]
    refused = http.get(f"/rs/orgs/{SCHOOL}", headers=bearer(no_scope))
    assert refused.status_code == 403
    assert refused.json()["error_description"].startswith("ESIA-007019: ")
    anna = gost_tokens(http, idp, scopes=("openid", "usr_org"))["access_token"]
    other = http.get(f"/rs/orgs/{PARUS}", headers=bearer(anna))  # Maria's, not Anna's
    assert other.status_code == 403
    assert refusal_code(other.json()["error_description"]) == "esia.permission_missing"
    for unknown in ("999", "x" * 30, "1" * 40):
        missing = http.get(f"/rs/orgs/{unknown}", headers=bearer(anna))
        assert missing.status_code == 404
        assert missing.json() == {
            "error": "not_found",
            "error_description": "no such organisation",
        }
    person = http.get(f"/rs/prns/{MARIA}", headers=bearer(anna))
    assert person.status_code == 403
    assert person.json()["error_description"].startswith("ESIA-007019: ")


# -- 9. the certificate hash in either case -------------------------------------------------


@pytest.mark.parametrize("case", [str.lower, str.upper])
def test_the_certificate_hash_may_be_either_case(http: TestClient, idp: MockIdP, case: Any) -> None:
    params = signed()
    params["client_certificate_hash"] = case(params["client_certificate_hash"])
    assert http.get("/aas/oauth2/v2/ac", params=params).status_code == 200
    code = idp.authorization_code("gost", ANNA, scopes=("openid", "fullname"))
    form = signed(code=code)
    form["client_certificate_hash"] = case(form["client_certificate_hash"])
    assert http.post("/aas/oauth2/v3/te", data=form).status_code == 200
    form = signed(code=idp.authorization_code("gost", ANNA, scopes=("openid", "fullname")))
    form["client_certificate_hash"] = case("ab" * 32)
    refused = http.post("/aas/oauth2/v3/te", data=form).json()
    assert refused["error_description"].startswith("ESIA-007053: ")
    assert refusal_code(refused["error_description"]) == "esia.client_secret_wrong"


# -- access_type: a refresh token only for offline ------------------------------------------


@pytest.mark.parametrize(("access_type", "refresh"), [("online", False), ("offline", True)])
def test_a_refresh_token_only_for_offline_access(
    http: TestClient, idp: MockIdP, access_type: str, refresh: bool
) -> None:
    txn = idp.provider.authorize(signed(access_type=access_type), browser="b")
    person = idp.provider.people.get(ANNA)
    assert person is not None
    code = idp.provider.grant_after_login(txn, person).code
    answer = http.post("/aas/oauth2/v3/te", data=signed(code=code))
    assert answer.status_code == 200, answer.text
    assert ("refresh_token" in answer.json()) is refresh


def test_access_type_defaults_to_online_and_is_checked(http: TestClient, idp: MockIdP) -> None:
    params = signed()
    del params["access_type"]
    assert idp.provider.authorize(params, browser="b").offline is False
    got = back(http.get("/aas/oauth2/v2/ac", params=signed(access_type="forever")))
    assert got["error_description"].startswith("ESIA-007003: ")
