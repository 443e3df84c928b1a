"""Bounded JSON and sane numbers wherever the relying party reads JSON from outside."""

from __future__ import annotations

import datetime as dt
import re
import time
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from jose import jwk

from sso_bridge import base64url
from sso_bridge.errors import InvalidInput
from sso_bridge.jsonparse import parse_json
from sso_bridge.oidc import OidcError, ProviderConfig, parse_jwks, validate_id_token
from sso_bridge.oidc.http import HttpResponse
from sso_bridge.oidc.keys import select_key

ISSUER = "https://idp.example/"
NOW = dt.datetime(2026, 11, 22, 12, 0, tzinfo=dt.UTC)
NONCE = "n-0S6_WzA2Mj"
DEEP = "[" * 100_000 + "]" * 100_000


@pytest.fixture(scope="module")
def key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def sign_raw(key: ec.EllipticCurvePrivateKey, header: str, payload: str) -> str:
    """A validly signed ES256 token whose header and payload are exactly the given text."""
    signing_input = f"{base64url.encode(header.encode())}.{base64url.encode(payload.encode())}"
    r, s = decode_dss_signature(key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
    return signing_input + "." + base64url.encode(r.to_bytes(32, "big") + s.to_bytes(32, "big"))


def claims_text(**raw: str) -> str:
    """The payload JSON with some values given as raw JSON text (``1e999``, ``NaN``...)."""
    values = {
        "iss": f'"{ISSUER}"',
        "sub": '"42"',
        "aud": '"rp"',
        "exp": str(int(NOW.timestamp()) + 600),
        "iat": str(int(NOW.timestamp())),
        "nonce": f'"{NONCE}"',
    }
    values.update(raw)
    return "{" + ",".join(f'"{k}":{v}' for k, v in values.items()) + "}"


def validate(key: ec.EllipticCurvePrivateKey, token: str, access_token: str | None = None) -> Any:
    config = ProviderConfig(
        issuer=ISSUER,
        authorization_endpoint=ISSUER + "authorize",
        token_endpoint=ISSUER + "token",
        jwks_uri=ISSUER + "jwks",
        client_id="rp",
        redirect_uri="https://rp.example/cb",
        client_secret="s",
        algorithms=("ES256",),
    )
    public = jwk.construct(key, "ES256").public_key().to_dict() | {"kid": "k1"}
    keys = parse_jwks({"keys": [public]}, ("ES256",))

    def key_for(kid: str | None, alg: str) -> Any:
        return select_key(keys, kid, alg)

    return validate_id_token(
        token, config, key_for, nonce=NONCE, now=NOW, access_token=access_token
    )


HEADER = '{"alg":"ES256","kid":"k1"}'


def test_the_raw_signer_makes_tokens_that_validate(key: ec.EllipticCurvePrivateKey) -> None:
    assert validate(key, sign_raw(key, HEADER, claims_text())).subject == "42"


@pytest.mark.parametrize(
    "raw",
    [
        {"exp": "1e999"},  # valid JSON, an infinite float: a token that never expires
        {"exp": "-1e999"},
        {"exp": "NaN"},
        {"exp": "Infinity"},
        {"iat": "NaN"},
        {"nbf": "-Infinity"},
        {"exp": "1" + "0" * 400},  # 10**400: OverflowError on conversion to float
        {"iat": "-" + "9" * 400},
        {"exp": "true"},
        {"exp": "-5"},
        {"nbf": '"soon"'},
        # auth_time is read by callers (max_age): held to the same rules when present
        {"auth_time": "NaN"},
        {"auth_time": "1e999"},
        {"auth_time": "1" + "0" * 400},
        {"auth_time": "-1"},
        {"auth_time": "true"},
        {"auth_time": '"yesterday"'},
        {"auth_time": "[1700000000]"},
        {"auth_time": "253402300800"},  # a second after 9999-12-31
        # NumericDates are whole seconds
        {"iat": str(int(NOW.timestamp())) + ".5"},
        {"auth_time": str(int(NOW.timestamp())) + ".25"},
    ],
)
def test_numeric_dates_must_be_finite_and_sane(
    key: ec.EllipticCurvePrivateKey, raw: dict[str, str]
) -> None:
    with pytest.raises(OidcError) as info:
        validate(key, sign_raw(key, HEADER, claims_text(**raw)))
    assert info.value.code == "oidc.malformed_token"


@pytest.mark.parametrize(
    "raw",
    [
        {"auth_time": str(int(NOW.timestamp()) - 60)},
        {"iat": f"{int(NOW.timestamp())}.0"},
        {"exp": "1.7955e9"},  # 1,795,500,000: whole, written as a float
        {"nbf": "0"},
    ],
)
def test_sane_numeric_dates_pass(key: ec.EllipticCurvePrivateKey, raw: dict[str, str]) -> None:
    assert validate(key, sign_raw(key, HEADER, claims_text(**raw))).subject == "42"


def test_deeply_nested_payload_is_malformed(key: ec.EllipticCurvePrivateKey) -> None:
    token = sign_raw(key, HEADER, claims_text(extra="[" * 5000 + "]" * 5000))
    with pytest.raises(OidcError, match=re.escape("oidc.malformed_token")):
        validate(key, token)


def test_deeply_nested_header_is_malformed(key: ec.EllipticCurvePrivateKey) -> None:
    header = '{"alg":"ES256","kid":"k1","x":' + "[" * 5000 + "]" * 5000 + "}"
    with pytest.raises(OidcError, match=re.escape("oidc.malformed_token")):
        validate(key, sign_raw(key, header, claims_text()))


def test_huge_token_is_malformed(key: ec.EllipticCurvePrivateKey) -> None:
    token = sign_raw(key, HEADER, claims_text(extra='"' + "x" * 100_000 + '"'))
    with pytest.raises(OidcError, match=re.escape("oidc.malformed_token")):
        validate(key, token)


@pytest.mark.parametrize("body", [DEEP.encode(), b'{"a":' * 50_000 + b"1" + b"}" * 50_000])
def test_deep_response_bodies_are_bad_responses(body: bytes) -> None:
    start = time.perf_counter()
    with pytest.raises(OidcError) as info:
        HttpResponse(200, {}, body).json_object("the JWKS")
    assert info.value.code == "oidc.bad_response"
    assert time.perf_counter() - start < 1.0


@pytest.mark.parametrize("body", [b'{"a": NaN}', b'{"a": 1e999}', b'{"a": -Infinity}'])
def test_non_finite_numbers_in_bodies_are_bad_responses(body: bytes) -> None:
    with pytest.raises(OidcError) as info:
        HttpResponse(200, {}, body).json_object("the token response")
    assert info.value.code == "oidc.bad_response"


def test_parse_json_bounds() -> None:
    assert parse_json('{"a": [1, 2.5, "x[[[{{{"]}') == {"a": [1, 2.5, "x[[[{{{"]}
    assert parse_json("[" * 32 + "]" * 32) is not None
    for bad in ("[" * 33 + "]" * 33, "x" * 11, '"\\ud800', "1e400"):
        with pytest.raises(InvalidInput) as info:
            parse_json(bad, max_bytes=10 if bad == "x" * 11 else 1024)
        assert info.value.code == "input.bad_json"
    # brackets inside strings do not count towards the depth
    assert parse_json('["' + "[" * 100 + '"]') == ["[" * 100]


@pytest.mark.parametrize("segment", ["a", "ab+c", "ab/c", "a b", "Zm9v!", "é"])
def test_base64url_is_strict(segment: str) -> None:
    with pytest.raises(InvalidInput) as info:
        base64url.decode(segment)
    assert info.value.code == "input.bad_base64url"


def test_base64url_round_trip() -> None:
    for data in (b"", b"f", b"fo", b"foo", bytes(range(256))):
        assert base64url.decode(base64url.encode(data)) == data
    assert base64url.decode("Zm8=") == b"fo"


def test_unterminated_strings_cost_linear_time() -> None:
    # Found by the fuzzer: a string scanner that restarts at every quote is quadratic.
    body = b"{" * 40_000 + b'"\\"' * 8_000
    start = time.perf_counter()
    with pytest.raises(OidcError) as info:
        HttpResponse(200, {}, body).json_object("the JWKS")
    assert info.value.code == "oidc.bad_response"
    assert time.perf_counter() - start < 0.5


def test_depth_is_measured_on_the_value_not_on_brackets_in_strings() -> None:
    assert parse_json('"' + "[" * 100 + '"') == "[" * 100
    assert parse_json('{"a": "' + "{" * 50 + '"}') == {"a": "{" * 50}
    with pytest.raises(InvalidInput):
        parse_json('{"a":' * 40 + "1" + "}" * 40)


@pytest.mark.parametrize("claim", ["nonce", "at_hash"])
def test_lone_surrogates_in_compared_claims_are_mismatches(
    key: ec.EllipticCurvePrivateKey, claim: str
) -> None:
    token = sign_raw(key, HEADER, claims_text(**{claim: '"\\ud800"'}))
    with pytest.raises(OidcError) as info:
        validate(key, token, access_token="at-1")
    assert info.value.code == {"nonce": "oidc.nonce_mismatch", "at_hash": "oidc.bad_at_hash"}[claim]


@pytest.mark.parametrize(
    "member",
    [
        {"kty": "EC", "crv": "P-256", "x": 18446744073709551616, "y": "AAAA"},
        {"kty": "EC", "crv": "P-256", "x": 3296101977, "y": "AAAA"},
        {"kty": "RSA", "n": "AQAB", "e": 18446744073709551616},
        {"kty": ["RSA"], "n": "AQAB", "e": "AQAB"},
    ],
)
def test_jwk_members_that_are_not_strings_are_skipped(member: dict[str, Any]) -> None:
    # Found by the fuzzer: integers reached python-jose, which called bytes(n) on them.
    start = time.perf_counter()
    assert parse_jwks({"keys": [member]}, ("ES256", "RS256")) == ()
    assert time.perf_counter() - start < 0.5


def test_duplicate_member_names_are_refused(key: ec.EllipticCurvePrivateKey) -> None:
    # Found by the fuzzer: {"at_hash": "<right>", ..., "at_hash": null} was read as "absent".
    payload = claims_text(at_hash='"R8PYaIQdcYEdkSc9TeGyiQ"')[:-1] + ',"at_hash":null}'
    with pytest.raises(OidcError) as info:
        validate(key, sign_raw(key, HEADER, payload), access_token="at-1")
    assert info.value.code == "oidc.malformed_token"
    with pytest.raises(InvalidInput, match="twice"):
        parse_json('{"a": {"b": 1, "b": 2}}')


def test_a_null_at_hash_is_a_wrong_one(key: ec.EllipticCurvePrivateKey) -> None:
    with pytest.raises(OidcError) as info:
        validate(key, sign_raw(key, HEADER, claims_text(at_hash="null")), access_token="at-1")
    assert info.value.code == "oidc.bad_at_hash"


@pytest.mark.parametrize(
    "member",
    [
        {"kty": "EC", "crv": "P-256", "x": "A" * 43, "y": "A" * 4000},
        {"kty": "EC", "crv": "P-256", "x": "A" * 42, "y": "A" * 43},
        {"kty": "RSA", "n": "u" * 40_000, "e": "AQAB"},
        {"kty": "RSA", "n": "u" * 342, "e": "A" * 50},
    ],
)
def test_key_numbers_of_impossible_size_are_skipped(member: dict[str, Any]) -> None:
    # Found by the fuzzer: a 30,000-digit modulus took seconds to build; a long coordinate
    # raised OverflowError.
    start = time.perf_counter()
    assert parse_jwks({"keys": [member]}, ("ES256", "RS256")) == ()
    assert time.perf_counter() - start < 0.5


def test_entries_with_private_members_are_skipped_unbuilt() -> None:
    # Found by the long fuzzing run: "d": 2811694137 made python-jose allocate gigabytes.
    entry = {"kty": "RSA", "n": "u" * 342, "e": "AQAB", "d": 2811694137}
    start = time.perf_counter()
    assert parse_jwks({"keys": [entry]}, ("RS256",)) == ()
    assert time.perf_counter() - start < 0.5
