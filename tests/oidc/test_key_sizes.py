"""One RSA minimum (2048 bits) for every key, and JWK numbers bounded before a key is built.

The rule lives in :mod:`sso_bridge.keysize`; the OIDC key set, ESIA's CMS client secrets
and the mock IdP's keys all use it. A setting may raise the minimum, never lower it.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from functools import cache
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jose import jwk, jwt

from helpers.keys import self_signed
from sso_bridge import base64url, keysize
from sso_bridge.errors import BridgeError, ConfigError
from sso_bridge.esia import cms as esia_cms
from sso_bridge.oidc import OidcError, ProviderConfig, parse_jwks, validate_id_token
from sso_bridge.oidc import keys as oidc_keys
from sso_bridge.oidc.http import HttpResponse
from sso_bridge.oidc.idtoken import verifies
from sso_bridge.oidc.keys import JwksCache, select_key

ISSUER = "https://idp.example/"
NOW = dt.datetime(2026, 11, 22, 12, 0, tzinfo=dt.UTC)


@cache
def rsa_key(bits: int) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def rsa_jwk(bits: int, kid: str = "k1") -> dict[str, Any]:
    data: dict[str, Any] = jwk.construct(rsa_key(bits), "RS256").public_key().to_dict()
    return data | {"kid": kid}


def config(**changes: Any) -> ProviderConfig:
    fields: dict[str, Any] = {
        "issuer": ISSUER,
        "authorization_endpoint": ISSUER + "authorize",
        "token_endpoint": ISSUER + "token",
        "jwks_uri": ISSUER + "jwks",
        "client_id": "rp",
        "redirect_uri": "https://rp.example/cb",
        "client_secret": "s",
        "algorithms": ("RS256",),
    }
    return ProviderConfig(**(fields | changes))


def token(bits: int, kid: str | None = "k1") -> str:
    claims = {
        "iss": ISSUER,
        "sub": "42",
        "aud": "rp",
        "exp": int(NOW.timestamp()) + 600,
        "iat": int(NOW.timestamp()),
    }
    headers = {"kid": kid} if kid else {}
    signed: str = jwt.encode(claims, rsa_key(bits), algorithm="RS256", headers=headers)
    return signed


def validate(raw: str, document: dict[str, Any], **cache_options: Any) -> Any:
    class Http:
        def get(self, url: str, headers: dict[str, str] | None = None) -> HttpResponse:
            import json  # noqa: PLC0415

            return HttpResponse(200, {}, json.dumps(document).encode())

    keys = JwksCache(Http(), ISSUER + "jwks", ("RS256",), **cache_options)  # type: ignore[arg-type]
    return validate_id_token(raw, config(), keys.key, nonce=None, now=NOW)


def refused(code: str) -> Any:
    return pytest.raises(OidcError, match=re.escape(code) + ":")


# --- the rule -----------------------------------------------------------------------------


def test_the_minimum_is_2048_and_may_only_be_raised() -> None:
    assert keysize.MIN_RSA_KEY_BITS == 2048
    assert keysize.rsa_minimum() == 2048
    assert keysize.rsa_minimum(3072) == 3072
    for setting in (1024, 2047, 0, -1, True, 2048.0, "4096", 1 << 20):
        with pytest.raises(ConfigError) as caught:
            keysize.rsa_minimum(setting)  # type: ignore[arg-type]
        assert caught.value.code == "config.invalid"


def test_keys_and_certificates_are_measured_alike() -> None:
    _, _, certificate = self_signed(rsa_key(1024), "weak")
    assert keysize.rsa_bits(certificate) == 1024
    assert not keysize.rsa_key_acceptable(certificate)
    assert not keysize.rsa_key_acceptable(rsa_key(1024).public_key(), minimum=512)
    assert keysize.rsa_key_acceptable(rsa_key(2048))
    assert not keysize.rsa_key_acceptable(rsa_key(2048), minimum=3072)
    assert keysize.rsa_key_acceptable(ec.generate_private_key(ec.SECP256R1()))  # not RSA


# --- JWKS ---------------------------------------------------------------------------------


def test_a_1024_bit_key_in_the_jwks_is_refused_as_weak() -> None:
    with refused("oidc.weak_key"):
        validate(token(1024), {"keys": [rsa_jwk(1024)]})
    with refused("oidc.weak_key"):  # without a kid, the only key that fits is weak
        validate(token(1024, kid=None), {"keys": [rsa_jwk(1024)]})


def test_a_2048_bit_key_in_the_jwks_is_accepted() -> None:
    assert validate(token(2048), {"keys": [rsa_jwk(2048)]}).subject == "42"
    mixed = {"keys": [rsa_jwk(1024, "old"), rsa_jwk(2048)]}
    assert validate(token(2048), mixed).subject == "42"
    assert validate(token(2048, kid=None), mixed).subject == "42"


def test_a_raised_minimum_refuses_2048_and_a_lowered_one_is_a_config_error() -> None:
    with refused("oidc.weak_key"):
        validate(token(2048), {"keys": [rsa_jwk(2048)]}, min_rsa_bits=3072)
    with pytest.raises(ConfigError) as caught:
        validate(token(1024), {"keys": [rsa_jwk(1024)]}, min_rsa_bits=1024)
    assert caught.value.code == "config.invalid"
    # parse_jwks never goes below the floor, whatever it is asked
    weak = parse_jwks({"keys": [rsa_jwk(1024)]}, ("RS256",), min_rsa_bits=512)
    with refused("oidc.weak_key"):
        select_key(weak, "k1", "RS256")


def test_a_weak_key_hidden_behind_leading_zeros_is_not_a_key() -> None:
    entry = rsa_jwk(1024)
    padded = b"\x00" * 200 + base64url.decode(entry["n"])  # 3,648 "bits" on the wire
    entry["n"] = base64url.encode(padded)
    assert parse_jwks({"keys": [entry]}, ("RS256",)) == ()
    with refused("oidc.unknown_kid"):
        validate(token(1024), {"keys": [entry]})


@pytest.fixture
def constructed(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every JWK python-jose is asked to build while the test runs."""
    built: list[Any] = []
    real = jwk.construct

    def counting(data: Any, algorithm: Any = None) -> Any:
        built.append(data)
        return real(data, algorithm)

    monkeypatch.setattr(oidc_keys.jwk, "construct", counting)
    return built


def _huge(bits: int) -> str:
    return base64url.encode((1 << (bits - 1) | 1).to_bytes((bits + 7) // 8, "big"))


@pytest.mark.parametrize(
    "changes",
    [
        {"n": _huge(100_000)},  # a 100,000-bit modulus
        {"n": _huge(8200)},  # just over 8,192 bits
        {"e": _huge(100_000)},  # a 100,000-bit exponent
        {"e": _huge(72)},
        {"e": "AQAA"},  # 65,536: even
        {"e": "AQ"},  # 1
        {"e": "AAEAAQ"},  # 65,537 with a leading zero byte
        {"n": 12345},
        {"e": ["AQAB"]},
        {"n": "!" * 400},
        {"d": "AQAB"},  # a private key
    ],
)
def test_bad_rsa_numbers_are_refused_before_a_key_is_built(
    changes: dict[str, Any], constructed: list[Any]
) -> None:
    entry = rsa_jwk(2048) | changes
    constructed.clear()  # making the entry counted too
    start = time.process_time()
    assert parse_jwks({"keys": [entry]}, ("RS256",)) == ()
    assert time.process_time() - start < 0.05
    assert constructed == []


def _ec_jwk(curve: ec.EllipticCurve, alg: str) -> dict[str, Any]:
    key = ec.generate_private_key(curve)
    data: dict[str, Any] = jwk.construct(key, alg).public_key().to_dict()
    return data | {"kid": "e1"}


def test_ec_points_must_lie_on_the_named_curve(constructed: list[Any]) -> None:
    good = _ec_jwk(ec.SECP256R1(), "ES256")
    assert len(parse_jwks({"keys": [good]}, ("ES256",))) == 1
    y = int.from_bytes(base64url.decode(good["y"]), "big")
    off_curve = good | {"y": base64url.encode(((y + 1) % (1 << 256)).to_bytes(32, "big"))}
    p384 = _ec_jwk(ec.SECP384R1(), "ES384")
    wrong_curve = p384 | {"crv": "P-256"}  # a P-384 point called P-256
    p256_as_p384 = good | {"crv": "P-384"}
    short = good | {"x": good["x"][:-1]}
    beyond_field = good | {"x": base64url.encode(b"\xff" * 32)}
    constructed.clear()
    for entry in (off_curve, wrong_curve, short, beyond_field):
        assert parse_jwks({"keys": [entry]}, ("ES256",)) == ()
    assert parse_jwks({"keys": [p256_as_p384]}, ("ES384",)) == ()
    assert constructed == []


# --- ESIA v1 client secrets (CMS, RSA certificates) ---------------------------------------


def test_esia_cms_refuses_weak_rsa_keys_when_signing_and_verifying() -> None:
    message = esia_cms.client_secret_message("openid", "2026.11.22 12:00:00 +0000", "c", "s")
    _, _, weak_certificate = self_signed(rsa_key(1024), "weak")
    with pytest.raises(ConfigError) as signing:
        esia_cms.sign_client_secret(message, weak_certificate, rsa_key(1024))
    assert signing.value.code == "esia.weak_key"
    _, _, strong_certificate = self_signed(rsa_key(2048), "strong")
    made = esia_cms.sign_client_secret(message, strong_certificate, rsa_key(2048))
    esia_cms.verify_client_secret(made, message, strong_certificate)
    with pytest.raises(BridgeError) as verifying:
        esia_cms.verify_client_secret(made, message, weak_certificate)
    assert verifying.value.code == "esia.weak_key"


@pytest.mark.parametrize("alg", ["RS256", "RS384", "RS512"])
def test_an_rsa_key_verifies_its_own_algorithm_only(alg: str) -> None:
    """RSA keys verify straight through ``cryptography`` with the hash of their ``alg``:
    a token of that alg verifies, a changed one or one hashed otherwise does not; the
    parsed keys stay python-jose keys for whoever else takes them."""
    entry = {k: v for k, v in rsa_jwk(2048).items() if k != "alg"}  # a key for any RS alg
    (parsed,) = parse_jwks({"keys": [entry]}, ["RS256", "RS384", "RS512"])
    token = jwt.encode({"sub": "42"}, rsa_key(2048), algorithm=alg)
    signing_input, _, signature = token.encode().rpartition(b".")
    raw = base64url.decode(signature)
    assert jwt.decode(token, parsed.keys[alg], algorithms=[alg]) == {"sub": "42"}
    assert verifies(parsed.keys[alg], alg, signing_input, raw) is True
    assert verifies(parsed.keys[alg], alg, signing_input + b"x", raw) is False
    others = [a for a in ("RS256", "RS384", "RS512") if a != alg]
    assert not any(verifies(parsed.keys[o], o, signing_input, raw) for o in others)
