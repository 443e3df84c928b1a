"""ESIA v2/v3 in the relying party: request building, the echoed state, GOST tokens, errors."""

from __future__ import annotations

import json
import re
import uuid
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import attrs
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jose import jwt

from helpers.clock import NOW, FixedClock
from helpers.keys import self_signed
from sso_bridge.errors import BridgeError, ConfigError
from sso_bridge.esia import gost
from sso_bridge.esia.config import EsiaAuthMethod, esia_provider_config
from sso_bridge.esia.secret import certificate_hash, check_timestamp, verify_client_secret
from sso_bridge.esia.signer import InProcessGostSigner
from sso_bridge.esia.tokens import certificate_kid, sign_gost_jwt
from sso_bridge.oidc import InMemoryStateStore, ProviderConfig, check_callback
from sso_bridge.oidc.client_auth import token_request
from sso_bridge.oidc.flow import authorization_request
from sso_bridge.oidc.http import HttpResponse
from sso_bridge.oidc.rp import RelyingParty

BASE = "https://esia.example"
ISSUER = "http://esia.example/"
REDIRECT = "https://school.example/cb"
CLIENT_KEY = gost.generate_private_key()
CLIENT_CERT = gost.self_signed_certificate(CLIENT_KEY, "SCHOOL01", NOW)
SIGNER = InProcessGostSigner(CLIENT_KEY, CLIENT_CERT)
IDP_KEY = gost.generate_private_key()
IDP_CERT = gost.self_signed_certificate(IDP_KEY, "ESIA", NOW)
UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


def config(**changes: Any) -> ProviderConfig:
    settings: dict[str, Any] = {"certificates": [IDP_CERT]}
    settings.update(changes)
    return esia_provider_config(BASE, "SCHOOL01", SIGNER, REDIRECT, "openid fullname", **settings)


def test_the_helper_configures_esia_v2_without_discovery() -> None:
    made = config()
    assert made.authorization_endpoint == BASE + "/aas/oauth2/v2/ac"
    assert made.token_endpoint == BASE + "/aas/oauth2/v3/te"
    assert made.issuer == ISSUER  # ESIA's tokens name an http:// issuer
    assert made.auth_method is EsiaAuthMethod.GOST
    assert made.algorithms == ("GOST3410_2012_256",)
    assert made.esia_person_api == BASE


def test_the_helper_keeps_v1_behind_configuration() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    made = esia_provider_config(
        BASE,
        "SCHOOL01",
        None,
        REDIRECT,
        "openid",
        token_alg="RS256",
        version="v1",
        client_key=key,
        client_certificate=self_signed(key, "SCHOOL01")[2],
    )
    assert made.auth_method is EsiaAuthMethod.CMS
    assert made.authorization_endpoint == BASE + "/aas/oauth2/ac"
    assert made.token_endpoint == BASE + "/aas/oauth2/te"


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"signer": None}, "needs a signer"),
        ({"certificates": ()}, "need gost_certificates"),
        ({"version": "v9"}, "not v1 or v2"),
    ],
)
def test_bad_esia_settings_are_refused(changes: dict[str, Any], reason: str) -> None:
    signer = changes.pop("signer", SIGNER)
    alg = changes.pop("token_alg", "GOST3410_2012_256")
    with pytest.raises(ConfigError, match=reason):
        esia_provider_config(BASE, "SCHOOL01", signer, REDIRECT, "openid", token_alg=alg, **{
            "certificates": [IDP_CERT], **changes
        })  # fmt: skip


def test_gost_cannot_share_the_allow_list_with_another_algorithm() -> None:
    with pytest.raises(ConfigError, match="only algorithm"):
        attrs.evolve(config(), algorithms=("GOST3410_2012_256", "RS256"))


def _query(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))


def test_the_v2_authorization_request_has_exactly_esia_s_parameters() -> None:
    request = authorization_request(config(scope_org="org_emps"), NOW)
    assert request.url.startswith(BASE + "/aas/oauth2/v2/ac?")
    params = _query(request.url)
    assert set(params) == {
        "client_id",
        "client_secret",
        "client_certificate_hash",
        "redirect_uri",
        "scope",
        "scope_org",
        "response_type",
        "state",
        "access_type",
        "timestamp",
        "code_challenge",
        "code_challenge_method",
    }
    assert "nonce" not in params
    assert params["response_type"] == "code"
    assert params["access_type"] == "online"
    assert params["scope"] == "openid fullname"
    assert params["scope_org"] == "org_emps"
    assert UUID_RE.fullmatch(params["state"])
    assert params["state"] == request.pending.state
    assert params["client_certificate_hash"] == certificate_hash(CLIENT_CERT, case="upper")
    check_timestamp(params["timestamp"], NOW, timedelta(0))
    verify_client_secret(
        CLIENT_CERT,
        params["client_secret"],
        client_id="SCHOOL01",
        scope="openid fullname",
        scope_org="org_emps",
        timestamp=params["timestamp"],
        state=params["state"],
        redirect_uri=REDIRECT,
    )


def test_without_scope_org_the_parameter_is_left_out() -> None:
    params = _query(authorization_request(config(), NOW).url)
    assert "scope_org" not in params
    verify_client_secret(
        CLIENT_CERT,
        params["client_secret"],
        client_id="SCHOOL01",
        scope="openid fullname",
        scope_org="",
        timestamp=params["timestamp"],
        state=params["state"],
        redirect_uri=REDIRECT,
    )


def test_the_v3_token_request_signs_a_fresh_state_and_the_code() -> None:
    made = config()
    pending = authorization_request(made, NOW).pending
    later = NOW + timedelta(seconds=20)
    data, headers = token_request(made, "CODE-1", pending.code_verifier, later)
    assert set(data) == {
        "client_id",
        "code",
        "grant_type",
        "client_secret",
        "client_certificate_hash",
        "redirect_uri",
        "scope",
        "timestamp",
        "token_type",
        "state",
        "code_verifier",
    }
    assert data["grant_type"] == "authorization_code"
    assert data["token_type"] == "Bearer"
    assert data["client_certificate_hash"] == certificate_hash(CLIENT_CERT, case="upper")
    assert UUID_RE.fullmatch(data["state"]) and data["state"] != pending.state
    assert "Authorization" not in headers
    fields = {
        "client_id": "SCHOOL01",
        "scope": "openid fullname",
        "scope_org": "",
        "timestamp": data["timestamp"],
        "state": data["state"],
        "redirect_uri": REDIRECT,
    }
    verify_client_secret(CLIENT_CERT, data["client_secret"], code="CODE-1", **fields)
    with pytest.raises(BridgeError):
        verify_client_secret(CLIENT_CERT, data["client_secret"], **fields)
    again, _ = token_request(made, "CODE-1", pending.code_verifier, later)
    assert again["state"] != data["state"]


class FakeEsia:
    """Answers the token endpoint as told; the answer may echo the request's state."""

    def __init__(self) -> None:
        self.forms: list[dict[str, str]] = []
        self.status = 200
        self.body: dict[str, Any] = {}
        self.echo = True

    def get(self, url: str, *, headers: Any = None) -> HttpResponse:
        raise AssertionError(f"unexpected GET {url}")

    def post(self, url: str, *, data: Any = None, headers: Any = None) -> HttpResponse:
        self.forms.append(dict(data))
        body = dict(self.body)
        if self.echo and self.status == 200:
            body.setdefault("state", data["state"])
        return HttpResponse(status=self.status, body=json.dumps(body).encode())


def id_token(alg: str = "GOST3410_2012_256", **changes: Any) -> str:
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "sub": "1000299654",
        "aud": "SCHOOL01",
        "exp": int(NOW.timestamp()) + 600,
        "iat": int(NOW.timestamp()),
    }
    claims.update(changes)
    if alg == "RS256":
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return str(jwt.encode(claims, key, algorithm="RS256"))
    return sign_gost_jwt(claims, IDP_KEY, certificate_kid(IDP_CERT))


def relying_party(http: FakeEsia, **changes: Any) -> tuple[RelyingParty, Any]:
    rp = RelyingParty(config(**changes), http, clock=FixedClock(NOW))  # type: ignore[arg-type]
    return rp, rp.start().pending


def test_a_gost_token_without_nonce_is_accepted() -> None:
    http = FakeEsia()
    http.body = {"access_token": "at", "token_type": "Bearer", "id_token": id_token()}
    rp, pending = relying_party(http)
    tokens = rp.exchange_code("CODE-1", pending)
    assert tokens.id_token.subject == "1000299654"
    assert http.forms[0]["code"] == "CODE-1"


@pytest.mark.parametrize("echoed", [None, "", "0b3a5e7c-2f1d-4c8a-9e6b-7d5f3a1c9e2b"])
def test_a_token_answer_with_another_state_is_refused(echoed: str | None) -> None:
    http = FakeEsia()
    http.body = {"access_token": "at", "token_type": "Bearer", "id_token": id_token()}
    if echoed is None:
        http.echo = False
    else:
        http.body["state"] = echoed
    rp, pending = relying_party(http)
    with pytest.raises(BridgeError) as caught:
        rp.exchange_code("CODE-1", pending)
    assert caught.value.code == "esia.state_mismatch"


def test_the_authorization_state_echoed_on_the_token_answer_is_refused() -> None:
    http = FakeEsia()
    rp, pending = relying_party(http)
    http.body = {"access_token": "at", "token_type": "Bearer", "id_token": id_token()}
    http.body["state"] = pending.state
    with pytest.raises(BridgeError) as caught:
        rp.exchange_code("CODE-1", pending)
    assert caught.value.code == "esia.state_mismatch"


def test_an_rs256_token_is_refused_when_gost_is_pinned() -> None:
    http = FakeEsia()
    http.body = {"access_token": "at", "token_type": "Bearer", "id_token": id_token("RS256")}
    rp, pending = relying_party(http)
    with pytest.raises(BridgeError) as caught:
        rp.exchange_code("CODE-1", pending)
    assert caught.value.code == "oidc.alg_not_allowed"


def test_a_gost_token_is_refused_when_rs256_is_pinned() -> None:
    http = FakeEsia()
    http.body = {"access_token": "at", "token_type": "Bearer", "id_token": id_token()}
    rp, pending = relying_party(http, token_alg="RS256", certificates=())
    with pytest.raises(BridgeError) as caught:
        rp.exchange_code("CODE-1", pending)
    assert caught.value.code == "oidc.alg_not_allowed"


def test_a_gost_token_of_another_key_is_refused() -> None:
    http = FakeEsia()
    stranger = gost.generate_private_key()
    claims = {"iss": ISSUER, "sub": "1", "aud": "SCHOOL01", "exp": int(NOW.timestamp()) + 60}
    claims["iat"] = int(NOW.timestamp())
    token = sign_gost_jwt(claims, stranger, None)
    http.body = {"access_token": "at", "token_type": "Bearer", "id_token": token}
    rp, pending = relying_party(http)
    with pytest.raises(BridgeError) as caught:
        rp.exchange_code("CODE-1", pending)
    assert caught.value.code == "oidc.bad_signature"


def test_claims_are_still_checked_for_gost_tokens() -> None:
    http = FakeEsia()
    http.body = {"access_token": "at", "token_type": "Bearer", "id_token": id_token(aud="X")}
    rp, pending = relying_party(http)
    with pytest.raises(BridgeError) as caught:
        rp.exchange_code("CODE-1", pending)
    assert caught.value.code == "oidc.wrong_audience"


@pytest.mark.parametrize(
    ("description", "code"),
    [
        (
            "ESIA-007014: The request doesn`t contain the mandatory parameter "
            "[client_certificate_hash].",
            "esia.parameter_missing",
        ),
        ("ESIA-007053: OAuthErrorEnum.clientSecretWrong", "esia.client_secret_wrong"),
        ("ESIA-007015: wrong request time", "esia.request_time_wrong"),
        ("ESIA-007005: The client is not authorized", "esia.client_not_authorized"),
        ("ESIA-007011: code expired", "esia.code_refused"),
        ("ESIA-999999: something new", "oidc.client_auth_failed"),
        ("no number at all", "oidc.client_auth_failed"),
    ],
)
def test_esia_token_errors_get_stable_codes(description: str, code: str) -> None:
    http = FakeEsia()
    http.status = 400
    http.body = {"error": "invalid_client", "error_description": description}
    rp, pending = relying_party(http)
    with pytest.raises(BridgeError) as caught:
        rp.exchange_code("CODE-1", pending)
    assert caught.value.code == code


def test_an_esia_token_error_message_tells_the_administrator_what_to_fix() -> None:
    http = FakeEsia()
    http.status = 400
    http.body = {"error": "invalid_client", "error_description": "ESIA-007053: wrong"}
    rp, pending = relying_party(http)
    with pytest.raises(BridgeError, match="Streebog-256 of the certificate's DER"):
        rp.exchange_code("CODE-1", pending)


@pytest.mark.parametrize(
    ("description", "code"),
    [
        ("ESIA-007004: The resource owner denied the request.", "esia.access_denied"),
        ("ESIA-007014: mandatory parameter [client_certificate_hash]", "esia.parameter_missing"),
        ("ESIA-007053: clientSecretWrong", "esia.client_secret_wrong"),
        (None, "oidc.access_denied"),
    ],
)
def test_esia_callback_errors_get_stable_codes(description: str | None, code: str) -> None:
    made = config()
    pending = authorization_request(made, NOW).pending
    params = {"state": pending.state, "error": "access_denied"}
    if description is not None:
        params["error_description"] = description
    with pytest.raises(BridgeError) as caught:
        check_callback(made, pending, params, now=NOW, state_store=InMemoryStateStore())
    assert caught.value.code == code


def test_a_uuid_state_is_random() -> None:
    made = config()
    states = {authorization_request(made, NOW).pending.state for _ in range(20)}
    assert len(states) == 20
    assert all(uuid.UUID(s).version == 4 for s in states)
