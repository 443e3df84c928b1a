"""The OIDC core without a server: config, keys, ID token claims, callback, identity."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import attrs
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from jose import jwk, jwt

from sso_bridge.errors import ConfigError
from sso_bridge.oidc import (
    InMemoryStateStore,
    OidcError,
    PendingLogin,
    ProviderConfig,
    at_hash,
    authorization_request,
    check_callback,
    identity_from_claims,
    parse_jwks,
    pkce_challenge,
    validate_id_token,
)
from sso_bridge.oidc.keys import select_key

ISSUER = "https://idp.example/"
NOW = dt.datetime(2026, 11, 22, 12, 0, tzinfo=dt.UTC)
NONCE = "n-0S6_WzA2Mj"


def refused(code: str) -> Any:
    return pytest.raises(OidcError, match=re.escape(code) + ":")


def make_config(**changes: Any) -> ProviderConfig:
    fields: dict[str, Any] = {
        "issuer": ISSUER,
        "authorization_endpoint": ISSUER + "authorize?x=1",
        "token_endpoint": ISSUER + "token",
        "jwks_uri": ISSUER + "jwks",
        "client_id": "rp",
        "redirect_uri": "https://rp.example/cb",
        "client_secret": "s",
        "algorithms": ("ES256",),
        "authorization_response_iss_parameter_supported": True,
    }
    fields.update(changes)
    return ProviderConfig(**fields)


@pytest.fixture(scope="module")
def signing_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def public_jwk(key: ec.EllipticCurvePrivateKey, kid: str | None) -> dict[str, Any]:
    data: dict[str, Any] = jwk.construct(key, "ES256").public_key().to_dict()
    if kid is not None:
        data["kid"] = kid
    return data


def sign(key: ec.EllipticCurvePrivateKey, kid: str | None = "k1", **changes: Any) -> str:
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "sub": "42",
        "aud": "rp",
        "exp": int(NOW.timestamp()) + 600,
        "iat": int(NOW.timestamp()),
        "nonce": NONCE,
    }
    claims.update(changes)
    claims = {k: v for k, v in claims.items() if v is not None}
    headers = {"kid": kid} if kid else {}
    token: str = jwt.encode(claims, key, algorithm="ES256", headers=headers)
    return token


def validate(
    token: str, key: ec.EllipticCurvePrivateKey, config: ProviderConfig | None = None, **kw: Any
) -> Any:
    keys = parse_jwks({"keys": [public_jwk(key, "k1")]}, ("ES256",))

    def lookup(kid: str | None, alg: str) -> Any:
        found = select_key(keys, kid, alg)
        if found is None:
            raise OidcError("unknown", code="oidc.unknown_kid")
        return found

    kw.setdefault("nonce", NONCE)
    kw.setdefault("now", NOW)
    return validate_id_token(token, config or make_config(), lookup, **kw)


# --- config -------------------------------------------------------------------------------


@pytest.mark.parametrize("algs", [("HS256",), ("none",), ("RS256", "HS256"), ()])
def test_allow_list_refuses_symmetric_and_none(algs: tuple[str, ...]) -> None:
    with pytest.raises(ConfigError, match=r"oidc\.config_invalid"):
        make_config(algorithms=algs)


def test_config_needs_credentials_for_its_method() -> None:
    with pytest.raises(ConfigError, match=r"oidc\.config_invalid"):
        make_config(client_secret=None)
    with pytest.raises(ConfigError, match=r"oidc\.config_invalid"):
        make_config(auth_method="private_key_jwt")
    with pytest.raises(ConfigError, match=r"oidc\.config_invalid"):
        make_config(extra_authorization_params={"state": "fixed"})


# --- keys ---------------------------------------------------------------------------------


def test_no_kid_accepted_with_exactly_one_fitting_key(
    signing_key: ec.EllipticCurvePrivateKey,
) -> None:
    rsa_like = {"kty": "RSA", "kid": "r1", "n": "AQAB", "e": "AQAB"}  # a 17-bit "key": weak
    keys = parse_jwks({"keys": [rsa_like, public_jwk(signing_key, None)]}, ("ES256", "RS256"))
    usable = [key for key in keys if key.keys]
    assert len(usable) == 1
    assert select_key(keys, None, "ES256") is usable[0].keys["ES256"]
    with refused("oidc.weak_key"):
        select_key(keys, None, "RS256")
    two = parse_jwks(
        {"keys": [public_jwk(signing_key, "a"), public_jwk(signing_key, "b")]}, ("ES256",)
    )
    with refused("oidc.kid_ambiguous"):
        select_key(two, None, "ES256")


def test_duplicate_kid_is_ambiguous(signing_key: ec.EllipticCurvePrivateKey) -> None:
    other = ec.generate_private_key(ec.SECP256R1())
    keys = parse_jwks({"keys": [public_jwk(signing_key, "k"), public_jwk(other, "k")]}, ("ES256",))
    with refused("oidc.kid_ambiguous"):
        select_key(keys, "k", "ES256")


def test_key_for_another_algorithm_is_not_used(signing_key: ec.EllipticCurvePrivateKey) -> None:
    keys = parse_jwks({"keys": [public_jwk(signing_key, "k")]}, ("ES256", "RS256"))
    with refused("oidc.key_alg_mismatch"):
        select_key(keys, "k", "RS256")


def test_private_and_encryption_keys_are_skipped(signing_key: ec.EllipticCurvePrivateKey) -> None:
    private = jwk.construct(signing_key, "ES256").to_dict()
    private["kid"] = "p"
    enc = public_jwk(signing_key, "e") | {"use": "enc"}
    assert parse_jwks({"keys": [private, enc]}, ("ES256",)) == ()


def test_prepared_keys_are_reused_on_refetch(signing_key: ec.EllipticCurvePrivateKey) -> None:
    jwks = {"keys": [public_jwk(signing_key, "k")]}
    first = parse_jwks(jwks, ("ES256",))
    again = parse_jwks(jwks, ("ES256",), first)
    assert again[0].keys["ES256"] is first[0].keys["ES256"]


# --- ID token -----------------------------------------------------------------------------


def test_valid_token(signing_key: ec.EllipticCurvePrivateKey) -> None:
    token = sign(signing_key, at_hash=at_hash("access", "ES256"))
    assert validate(token, signing_key, access_token="access").subject == "42"


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"aud": ["rp", "other"]}, "oidc.wrong_azp"),
        ({"aud": ["rp", "other"], "azp": "other"}, "oidc.wrong_azp"),
        ({"azp": "other"}, "oidc.wrong_azp"),
        ({"aud": ["other"]}, "oidc.wrong_audience"),
        ({"exp": None}, "oidc.missing_claim"),
        ({"iss": None}, "oidc.missing_claim"),
        ({"nonce": None}, "oidc.nonce_mismatch"),
        ({"nbf": int(NOW.timestamp()) + 3600}, "oidc.not_yet_valid"),
        ({"exp": "tomorrow"}, "oidc.malformed_token"),
        ({"sub": ""}, "oidc.malformed_token"),
        ({"at_hash": at_hash("other", "ES256")}, "oidc.bad_at_hash"),
    ],
)
def test_claim_refusals(
    signing_key: ec.EllipticCurvePrivateKey, changes: dict[str, Any], code: str
) -> None:
    with refused(code):
        validate(sign(signing_key, **changes), signing_key, access_token="access")


def test_azp_with_several_audiences(signing_key: ec.EllipticCurvePrivateKey) -> None:
    token = sign(signing_key, aud=["rp", "other"], azp="rp")
    assert validate(token, signing_key).claims["azp"] == "rp"


def test_skew(signing_key: ec.EllipticCurvePrivateKey) -> None:
    token = sign(signing_key, exp=int(NOW.timestamp()) - 30, iat=int(NOW.timestamp()) - 600)
    assert validate(token, signing_key, make_config(skew=dt.timedelta(seconds=60)))
    with refused("oidc.expired"):
        validate(token, signing_key, make_config(skew=dt.timedelta(seconds=10)))
    future = sign(signing_key, iat=int(NOW.timestamp()) + 30)
    assert validate(future, signing_key, make_config(skew=dt.timedelta(seconds=60)))
    with refused("oidc.issued_in_future"):
        validate(future, signing_key, make_config(skew=dt.timedelta(seconds=10)))


def test_at_hash_required_when_configured(signing_key: ec.EllipticCurvePrivateKey) -> None:
    token = sign(signing_key)
    assert validate(token, signing_key, access_token="access")
    with refused("oidc.missing_claim"):
        validate(token, signing_key, make_config(require_at_hash=True), access_token="access")


def test_at_hash_digest_follows_the_algorithm() -> None:
    assert len(at_hash("token", "RS256")) == 22
    assert len(at_hash("token", "ES384")) == 32
    assert len(at_hash("token", "RS512")) == 43


@pytest.mark.parametrize(
    "token", ["a.b", "!!.e30.", "e30.e30.sig", "WyJ4Il0.e30.sig", "eyJhbGciOiJFUzI1NiJ9.ё.x"]
)
def test_malformed_tokens(signing_key: ec.EllipticCurvePrivateKey, token: str) -> None:
    with pytest.raises(OidcError, match=r"oidc\.(malformed_token|alg_not_allowed):"):
        validate(token, signing_key)


def test_crit_header_is_refused(signing_key: ec.EllipticCurvePrivateKey) -> None:
    claims = {"iss": ISSUER, "sub": "42", "aud": "rp", "exp": 1, "iat": 1, "nonce": NONCE}
    token = jwt.encode(claims, signing_key, algorithm="ES256", headers={"crit": ["x"], "x": 1})
    with refused("oidc.malformed_token"):
        validate(token, signing_key)


def test_token_signed_by_another_key(signing_key: ec.EllipticCurvePrivateKey) -> None:
    with refused("oidc.bad_signature"):
        validate(sign(ec.generate_private_key(ec.SECP256R1())), signing_key)


# --- authorization request and callback ---------------------------------------------------


def test_authorization_request() -> None:
    config = make_config(
        scopes=("openid", "fullname"), extra_authorization_params={"access_type": "online"}
    )
    request = authorization_request(config, NOW)
    url = urlsplit(request.url)
    assert request.url.startswith(ISSUER + "authorize?x=1&")
    params = dict(parse_qsl(url.query))
    pending = request.pending
    assert params["response_type"] == "code"
    assert params["redirect_uri"] == config.redirect_uri == pending.redirect_uri
    assert params["scope"] == "openid fullname"
    assert params["state"] == pending.state
    assert params["nonce"] == pending.nonce
    assert params["code_challenge"] == pkce_challenge(pending.code_verifier)
    assert params["code_challenge_method"] == "S256"
    assert params["access_type"] == "online"
    assert 43 <= len(pending.code_verifier) <= 128
    assert (pending.issuer, pending.created_at) == (ISSUER, NOW)
    assert authorization_request(config, NOW).pending.state != pending.state


def test_pkce_s256_example_of_rfc7636() -> None:
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert pkce_challenge(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_pending_login_round_trip() -> None:
    pending = authorization_request(make_config(), NOW).pending
    assert PendingLogin.from_dict(pending.to_dict()) == pending
    with refused("oidc.pending_invalid"):
        PendingLogin.from_dict({"state": "x"})
    naive = pending.to_dict() | {"created_at": "2026-11-22T12:00:00"}
    with refused("oidc.pending_invalid"):
        PendingLogin.from_dict(naive)


def callback_params(pending: PendingLogin, **changes: str) -> dict[str, str]:
    return {"code": "c", "state": pending.state, "iss": ISSUER} | changes


def test_callback_checks() -> None:
    config = make_config()
    pending = authorization_request(config, NOW).pending
    states = InMemoryStateStore()
    later = NOW + dt.timedelta(minutes=16)
    with refused("oidc.login_expired"):
        check_callback(config, pending, callback_params(pending), now=later, state_store=states)
    fresh = authorization_request(config, NOW).pending
    with refused("oidc.wrong_provider"):
        check_callback(
            attrs.evolve(config, issuer="https://other.example/"),
            fresh,
            callback_params(fresh),
            now=NOW,
            state_store=states,
        )
    with refused("oidc.iss_mismatch"):
        check_callback(
            config,
            fresh,
            callback_params(fresh, iss="https://evil/"),
            now=NOW,
            state_store=states,
        )
    third = authorization_request(config, NOW).pending
    params = callback_params(third)
    del params["code"]
    with refused("oidc.missing_code"):
        check_callback(config, third, params, now=NOW, state_store=states)


def test_iss_is_optional_when_not_announced() -> None:
    config = make_config(authorization_response_iss_parameter_supported=False)
    pending = authorization_request(config, NOW).pending
    params = callback_params(pending)
    del params["iss"]
    assert check_callback(config, pending, params, now=NOW, state_store=InMemoryStateStore()) == "c"


def test_unknown_error_keeps_the_oauth_error() -> None:
    config = make_config()
    pending = authorization_request(config, NOW).pending
    params = {"error": "temporarily_unavailable", "state": pending.state, "iss": ISSUER}
    with refused("oidc.authorization_error") as info:
        check_callback(config, pending, params, now=NOW, state_store=InMemoryStateStore())
    assert info.value.error == "temporarily_unavailable"


# --- identity -----------------------------------------------------------------------------


def test_identity_from_standard_claims() -> None:
    claims = {"iss": ISSUER, "sub": "42", "email": "a@example.org", "email_verified": False}
    info = {
        "sub": "42",
        "trusted": True,
        "family_name": "Иванов",
        "given_name": "Иван",
        "birthdate": "1990-01-31",
        "snils": "112-233-445 95",
    }
    identity = identity_from_claims(ISSUER, claims, info)
    assert identity.verified
    assert identity.last_name == "Иванов"
    assert identity.birth_date == dt.date(1990, 1, 31)
    assert identity.email is None  # not verified
    assert not identity_from_claims(ISSUER, claims).verified
    with refused("oidc.userinfo_sub_mismatch"):
        identity_from_claims(ISSUER, claims, {"sub": "43"})


def test_memory_state_store_forgets_only_expired_states() -> None:
    state_store = InMemoryStateStore(prune_every=2)
    until = NOW + dt.timedelta(minutes=15)
    assert state_store.consume("a", until, NOW)
    assert not state_store.consume("a", until, NOW)
    assert not state_store.consume("a", until, NOW + dt.timedelta(minutes=1))
    assert state_store.consume("b", until, NOW + dt.timedelta(minutes=20))  # prunes "a"
    assert state_store.consume("a", until, NOW + dt.timedelta(minutes=20))
