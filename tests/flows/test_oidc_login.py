"""The OIDC relying party against the running mock IdP: happy paths and every refusal."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import attrs
import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from jose import jwk

from mock_idp.server import RunningIdP
from sso_bridge.esia import cms as esia_cms
from sso_bridge.oidc import (
    HttpResponse,
    HttpxClient,
    OidcError,
    PendingLogin,
    RelyingParty,
    discover,
    pkce_challenge,
)

CALLBACK = "http://127.0.0.1:8000/oidc/callback"
TRUSTED = 1000000101
SIMPLIFIED = 1000000107
ESIA_SCOPES = ("openid", "fullname", "birthdate", "snils", "id_doc", "contacts")


@pytest.fixture(scope="module")
def http() -> Iterator[HttpxClient]:
    client = HttpxClient(httpx.Client(timeout=10))
    yield client
    client.close()


@pytest.fixture(scope="module")
def client_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="module")
def client_certificate(client_key: ec.EllipticCurvePrivateKey) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "rp-esia")])
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(client_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .sign(client_key, hashes.SHA256())
    )


Make = Callable[..., RelyingParty]


@pytest.fixture
def make_rp(mock_idp: RunningIdP, http: HttpxClient) -> Make:
    """Register a client with the mock and build a relying party for it from discovery."""

    def make(
        client_id: str = "rp-basic",
        *,
        http_client: Any = None,
        id_token_alg: str = "RS256",
        mock_client: Mapping[str, Any] | None = None,
        rp_options: Mapping[str, Any] | None = None,
        **settings: Any,
    ) -> RelyingParty:
        registration: dict[str, Any] = {
            "client_id": client_id,
            "redirect_uris": [CALLBACK],
            "auth_method": "client_secret_basic",
            "secret": "rp-secret",
            "id_token_alg": id_token_alg,
        }
        registration.update(mock_client or {})
        mock_idp.idp.add_client(registration)
        settings.setdefault("client_secret", "rp-secret")
        config = discover(
            http_client or http,
            mock_idp.idp.issuer,
            client_id=client_id,
            redirect_uri=CALLBACK,
            algorithms=(id_token_alg,),
            **settings,
        )
        return RelyingParty(config, http_client or http, **(rp_options or {}))

    return make


def callback(
    mock_idp: RunningIdP, rp: RelyingParty, pending: PendingLogin, oid: int = TRUSTED
) -> dict[str, str]:
    """The callback's query as if ``oid`` had logged in at the IdP."""
    code = mock_idp.idp.authorization_code(
        rp.config.client_id,
        oid,
        redirect_uri=pending.redirect_uri,
        nonce=pending.nonce,
        code_challenge=pkce_challenge(pending.code_verifier),
        scopes=rp.config.scopes,
    )
    return {"code": code, "state": pending.state, "iss": mock_idp.idp.issuer}


def login(mock_idp: RunningIdP, rp: RelyingParty, oid: int = TRUSTED) -> Any:
    pending = rp.start().pending
    return rp.complete(callback(mock_idp, rp, pending, oid), pending)


def refused(code: str) -> Any:
    return pytest.raises(OidcError, match=re.escape(code) + ":")


# --- happy paths --------------------------------------------------------------------------


def test_login_through_the_login_page(mock_idp: RunningIdP, make_rp: Make) -> None:
    rp = make_rp()
    request = rp.start()
    with httpx.Client(timeout=10) as browser:
        page = browser.get(request.url)
        assert page.status_code == 200
        txn = re.search(r'name="txn" value="([^"]+)"', page.text)
        assert txn is not None
        form = {"txn": txn.group(1), "login": "+7 (900) 000-01-01", "password": "parol-101"}
        assert browser.post(mock_idp.base_url + "/login", data=form).status_code == 200
        code_form = {"txn": txn.group(1), "code": mock_idp.idp.last_code()}
        back = browser.post(mock_idp.base_url + "/login/code", data=code_form)
    assert back.status_code == 302
    location = urlsplit(back.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == CALLBACK
    result = rp.complete(dict(parse_qsl(location.query)), request.pending)
    assert result.identity.subject == str(TRUSTED)
    assert result.identity.issuer == mock_idp.idp.issuer


def test_client_secret_basic(mock_idp: RunningIdP, make_rp: Make) -> None:
    rp = make_rp(scopes=("openid", "fullname", "birthdate", "snils"))
    identity = login(mock_idp, rp).identity
    assert identity.verified
    assert (identity.last_name, identity.first_name) == ("Смирнова", "Мария")
    assert identity.birth_date == dt.date(1984, 3, 12)
    assert identity.snils == "123-456-789 64"


def test_client_secret_post(mock_idp: RunningIdP, make_rp: Make) -> None:
    rp = make_rp(
        "rp-post",
        auth_method="client_secret_post",
        mock_client={"auth_method": "client_secret_post"},
    )
    assert login(mock_idp, rp).identity.subject == str(TRUSTED)


def test_private_key_jwt(
    mock_idp: RunningIdP, make_rp: Make, client_key: ec.EllipticCurvePrivateKey
) -> None:
    public = jwk.construct(client_key, "ES256").public_key().to_dict()
    public["kid"] = "rp-key-1"
    rp = make_rp(
        "rp-jwt",
        auth_method="private_key_jwt",
        client_secret=None,
        client_key=client_key,
        client_key_id="rp-key-1",
        mock_client={"auth_method": "private_key_jwt", "jwks": {"keys": [public]}},
    )
    assert login(mock_idp, rp).identity.subject == str(TRUSTED)


def test_esia_cms_and_person_api(
    mock_idp: RunningIdP,
    make_rp: Make,
    client_key: ec.EllipticCurvePrivateKey,
    client_certificate: x509.Certificate,
) -> None:
    pem = client_certificate.public_bytes(serialization.Encoding.PEM).decode()
    rp = make_rp(
        "rp-esia",
        auth_method="esia_cms",
        client_secret=None,
        client_key=client_key,
        client_certificate=client_certificate,
        scopes=ESIA_SCOPES,
        esia_person_api=mock_idp.base_url,
        mock_client={"auth_method": "esia_cms", "certificate_pem": pem},
    )
    request = rp.start()
    # ESIA wants the signed client_secret on the authorization request too.
    params = dict(parse_qsl(urlsplit(request.url).query))
    message = esia_cms.client_secret_message(
        params["scope"], params["timestamp"], "rp-esia", params["state"]
    )
    esia_cms.verify_client_secret(params["client_secret"], message, client_certificate)
    assert httpx.get(request.url).status_code == 200

    identity = rp.complete(callback(mock_idp, rp, request.pending), request.pending).identity
    assert identity.verified
    assert (identity.last_name, identity.first_name, identity.middle_name) == (
        "Смирнова",
        "Мария",
        "Петровна",
    )
    assert identity.birth_date == dt.date(1984, 3, 12)
    assert identity.snils == "123-456-789 64"
    assert identity.passport == "4505123456"
    assert identity.email == "m.smirnova@example.org"
    assert identity.phone == "+7 (900) 000-01-01"

    simplified = login(mock_idp, rp, SIMPLIFIED).identity
    assert simplified.subject == str(SIMPLIFIED)
    assert not simplified.verified
    assert simplified.passport is None


def test_userinfo_simplified_person_is_not_verified(mock_idp: RunningIdP, make_rp: Make) -> None:
    rp = make_rp(scopes=("openid", "fullname"))
    assert not login(mock_idp, rp, SIMPLIFIED).identity.verified


def test_es256_client(mock_idp: RunningIdP, make_rp: Make) -> None:
    rp = make_rp("rp-es", id_token_alg="ES256")
    assert login(mock_idp, rp).tokens.id_token.subject == str(TRUSTED)


def test_key_rotation(mock_idp: RunningIdP, make_rp: Make) -> None:
    rp = make_rp(rp_options={"jwks_refetch_interval": dt.timedelta(0)})
    login(mock_idp, rp)  # the JWKS is cached now
    mock_idp.idp.rotate_keys("RS256")
    assert login(mock_idp, rp).identity.subject == str(TRUSTED)


class JunkKeyHttp:
    """Real HTTP, but the JWKS gets unparseable entries in front of the real keys."""

    def __init__(self, inner: HttpxClient) -> None:
        self.inner = inner
        self.jwks_fetches = 0

    def get(self, url: str, *, headers: Mapping[str, str] | None = None) -> HttpResponse:
        response = self.inner.get(url, headers=headers)
        if url.endswith("/jwks"):
            self.jwks_fetches += 1
            keys = json.loads(response.body)["keys"]
            junk = [
                {"kty": "RSA", "kid": "junk-1", "n": "AQAB", "e": "AQAB"},
                {"kty": "EC", "kid": "junk-2", "crv": "P-256", "x": "!!", "y": "??"},
                "not a key",
            ]
            body = json.dumps({"keys": junk + keys}).encode()
            return HttpResponse(response.status, response.headers, body)
        return response

    def post(
        self, url: str, *, data: Mapping[str, str], headers: Mapping[str, str] | None = None
    ) -> HttpResponse:
        return self.inner.post(url, data=data, headers=headers)


def test_unparseable_jwks_entry_is_skipped(
    mock_idp: RunningIdP, make_rp: Make, http: HttpxClient
) -> None:
    fake = JunkKeyHttp(http)
    rp = make_rp(http_client=fake)
    assert login(mock_idp, rp).identity.subject == str(TRUSTED)
    assert fake.jwks_fetches == 1


class OffsetClock:
    def __init__(self) -> None:
        self.offset = dt.timedelta(0)

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC) + self.offset


def test_unknown_kid_refetch_is_rate_limited(
    mock_idp: RunningIdP, make_rp: Make, http: HttpxClient
) -> None:
    fake = JunkKeyHttp(http)
    clock = OffsetClock()
    rp = make_rp(
        http_client=fake,
        rp_options={"clock": clock, "jwks_refetch_interval": dt.timedelta(seconds=60)},
    )
    login(mock_idp, rp)
    assert fake.jwks_fetches == 1
    clock.offset = dt.timedelta(seconds=61)
    mock_idp.idp.inject("unknown_kid", responses=2)
    with refused("oidc.unknown_kid"):
        login(mock_idp, rp)
    assert fake.jwks_fetches == 2
    with refused("oidc.unknown_kid"):
        login(mock_idp, rp)
    assert fake.jwks_fetches == 2  # no second refetch within the interval


# --- refusals of the ID token -------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "code"),
    [
        ("bad_signature", "oidc.bad_signature"),
        ("alg_none", "oidc.alg_not_allowed"),
        ("hs256_public_key", "oidc.alg_not_allowed"),
        ("wrong_iss", "oidc.wrong_issuer"),
        ("wrong_aud", "oidc.wrong_audience"),
        ("missing_aud", "oidc.missing_claim"),
        ("missing_iat", "oidc.missing_claim"),
        ("missing_sub", "oidc.missing_claim"),
        ("expired", "oidc.expired"),
        ("iat_future", "oidc.issued_in_future"),
        ("wrong_nonce", "oidc.nonce_mismatch"),
        ("bad_at_hash", "oidc.bad_at_hash"),
        ("unknown_kid", "oidc.unknown_kid"),
        ("userinfo_sub_mismatch", "oidc.userinfo_sub_mismatch"),
    ],
)
def test_token_fault_is_refused(mock_idp: RunningIdP, make_rp: Make, fault: str, code: str) -> None:
    rp = make_rp()
    mock_idp.idp.inject(fault)
    with refused(code):
        login(mock_idp, rp)


def test_bad_signature_es256(mock_idp: RunningIdP, make_rp: Make) -> None:
    rp = make_rp("rp-es", id_token_alg="ES256")
    mock_idp.idp.inject("bad_signature")
    with refused("oidc.bad_signature"):
        login(mock_idp, rp)


def test_hs256_is_refused_even_with_both_families_allowed(
    mock_idp: RunningIdP, make_rp: Make, http: HttpxClient
) -> None:
    rp = make_rp()
    rp = RelyingParty(attrs.evolve(rp.config, algorithms=("RS256", "ES256")), http)
    mock_idp.idp.inject("hs256_public_key")
    with refused("oidc.alg_not_allowed"):
        login(mock_idp, rp)


def test_no_kid_with_several_keys(mock_idp: RunningIdP, make_rp: Make) -> None:
    mock_idp.idp.rotate_keys("RS256")  # at least two RSA keys in the JWKS
    rp = make_rp()
    mock_idp.idp.inject("no_kid")
    with refused("oidc.kid_ambiguous"):
        login(mock_idp, rp)


# --- refusals of the callback and the token endpoint --------------------------------------


def test_wrong_state(mock_idp: RunningIdP, make_rp: Make) -> None:
    rp = make_rp()
    pending = rp.start().pending
    params = callback(mock_idp, rp, pending) | {"state": rp.start().pending.state}
    with refused("oidc.state_mismatch"):
        rp.complete(params, pending)


def test_no_pending_login(mock_idp: RunningIdP, make_rp: Make) -> None:
    rp = make_rp()
    pending = rp.start().pending
    with refused("oidc.no_pending_login"):
        rp.complete(callback(mock_idp, rp, pending), None)


def test_state_is_one_time(mock_idp: RunningIdP, make_rp: Make) -> None:
    rp = make_rp()
    pending = rp.start().pending
    params = callback(mock_idp, rp, pending)
    rp.complete(params, pending)
    with refused("oidc.state_reused"):
        rp.complete(params, pending)


def test_missing_iss_when_announced(mock_idp: RunningIdP, make_rp: Make) -> None:
    rp = make_rp()
    assert rp.config.authorization_response_iss_parameter_supported
    pending = rp.start().pending
    params = callback(mock_idp, rp, pending)
    del params["iss"]
    with refused("oidc.iss_missing"):
        rp.complete(params, pending)


def test_iss_of_another_provider(mock_idp: RunningIdP, make_rp: Make) -> None:
    other = "https://other-idp.example/"
    rp = make_rp(rp_options={"other_issuers": (other,)})
    pending = rp.start().pending
    params = callback(mock_idp, rp, pending) | {"iss": other}
    with pytest.raises(OidcError, match="another configured provider") as info:
        rp.complete(params, pending)
    assert info.value.code == "oidc.wrong_provider"  # as docs/protocols.md says


def test_error_response(mock_idp: RunningIdP, make_rp: Make) -> None:
    rp = make_rp()
    pending = rp.start().pending
    params = {
        "error": "access_denied",
        "error_description": "ESIA-007011: wrong login or password",
        "state": pending.state,
        "iss": mock_idp.idp.issuer,
    }
    with refused("oidc.access_denied"):
        rp.complete(params, pending)


def test_replayed_code(mock_idp: RunningIdP, make_rp: Make) -> None:
    rp = make_rp()
    pending = rp.start().pending
    code = rp.callback_code(callback(mock_idp, rp, pending), pending)
    rp.exchange_code(code, pending)
    with refused("oidc.invalid_grant") as info:
        rp.exchange_code(code, pending)
    assert info.value.error == "invalid_grant"


def test_wrong_client_secret(mock_idp: RunningIdP, make_rp: Make) -> None:
    rp = make_rp(client_secret="not-the-secret")
    with refused("oidc.client_auth_failed"):
        login(mock_idp, rp)


def test_discovery_issuer_mismatch(mock_idp: RunningIdP, http: HttpxClient) -> None:
    expected = mock_idp.idp.issuer.rstrip("/")  # the IdP says ".../", with the slash
    with refused("oidc.discovery_issuer_mismatch"):
        discover(http, expected, client_id="x", redirect_uri=CALLBACK, client_secret="s")


def test_transport_failure_is_typed() -> None:
    from mock_idp.server import free_port  # noqa: PLC0415

    with HttpxClient(httpx.Client(timeout=2)) as client, refused("oidc.http_error"):
        client.get(f"http://127.0.0.1:{free_port()}/jwks")


def test_discovery_not_found(mock_idp: RunningIdP, http: HttpxClient) -> None:
    with refused("oidc.discovery_invalid"):
        discover(http, mock_idp.base_url + "/nowhere/", client_id="x", redirect_uri=CALLBACK)
