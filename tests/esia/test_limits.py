"""ESIA input from outside is range- and size-checked into stable codes before any work.

Timestamps with extreme offsets or dates, fields larger than any real client sends, and
tokens longer than ESIA's are refused with a code, never an overflow; what is hashed is
bounded, and a token is hashed once however many certificates are pinned.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from helpers.clock import NOW
from sso_bridge import base64url
from sso_bridge.errors import BridgeError
from sso_bridge.esia import cms as esia_cms
from sso_bridge.esia import gost, secret, tokens
from sso_bridge.esia.errors import EsiaError
from sso_bridge.esia.keys import GostKeyring
from sso_bridge.esia.secret import check_timestamp, parse_esia_timestamp, verify_client_secret
from sso_bridge.esia.signer import InProcessGostSigner
from sso_bridge.oidc.errors import IdTokenError

KEY = gost.generate_private_key()
CERTIFICATE = gost.self_signed_certificate(KEY, "school-portal", NOW)
SIGNER = InProcessGostSigner(KEY, CERTIFICATE)
OTHERS = [
    gost.self_signed_certificate(gost.generate_private_key(), f"other-{n}", NOW) for n in range(19)
]
FIELDS: dict[str, Any] = {
    "client_id": "SCHOOL01",
    "scope": "openid fullname",
    "scope_org": "",
    "timestamp": "2026.03.01 15:04:05 +0300",
    "state": "0b3a5e7c-2f1d-4c8a-9e6b-7d5f3a1c9e2b",
    "redirect_uri": "https://school.example/cb",
}


def cpu_seconds(action: Callable[[], object], tries: int = 3) -> float:
    """The least CPU time of ``tries`` runs of ``action`` (exceptions are expected)."""
    best = float("inf")
    for _ in range(tries):
        start = time.process_time()
        with contextlib.suppress(BridgeError):
            action()
        best = min(best, time.process_time() - start)
    return best


# --- timestamps ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "9999.12.31 23:59:59 -1400",  # in UTC after year 9999
        "9999.12.31 23:59:59 -0100",
        "0001.01.01 00:00:00 +1400",  # in UTC before year 1
        "0001.01.01 00:00:00 +0001",
        "9999.12.31 23:59:59 +9999",  # offset hours and minutes out of range
        "0001.01.01 00:00:00 -2359",
        "2026.03.01 15:04:05 +1401",  # beyond ±14:00
        "2026.03.01 15:04:05 -1500",
        "2026.03.01 15:04:05 +0360",  # 60 minutes
        "2026.03.01 15:04:05 +03:00",
        "2026.03.01 15:04:05 +٠٣٠٠",  # non-ASCII digits
        "2026.13.01 15:04:05 +0300",
        "2026.02.30 15:04:05 +0300",
        "2026.03.01 24:00:00 +0300",
        "0000.01.01 00:00:00 +0000",
        "twenty-six o'clock",
        "2026.03.01 15:04:05 +0300" + " " * 100_000,
    ],
)
def test_extreme_timestamps_are_invalid_not_overflows(text: str) -> None:
    with pytest.raises(EsiaError) as caught:
        parse_esia_timestamp(text)
    assert caught.value.code == "esia.timestamp_invalid"
    with pytest.raises(EsiaError) as checked:
        check_timestamp(text, NOW, timedelta(minutes=5))
    assert checked.value.code == "esia.timestamp_invalid"


@pytest.mark.parametrize(
    ("text", "utc"),
    [
        ("2026.03.01 15:04:05 +1400", datetime(2026, 3, 1, 1, 4, 5, tzinfo=UTC)),
        ("2026.03.01 15:04:05 -1400", datetime(2026, 3, 2, 5, 4, 5, tzinfo=UTC)),
        ("2026.03.01 15:04:05 +0545", datetime(2026, 3, 1, 9, 19, 5, tzinfo=UTC)),
        ("9999.12.31 23:59:59 +0000", datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)),
        ("0001.01.01 00:00:00 -0000", datetime(1, 1, 1, tzinfo=UTC)),
    ],
)
def test_timestamps_at_the_edges_of_the_range_parse(text: str, utc: datetime) -> None:
    assert parse_esia_timestamp(text) == utc


@pytest.mark.parametrize("text", ["9999.12.31 23:59:59 +0000", "0001.01.01 00:00:00 +0000"])
def test_far_but_valid_timestamps_are_stale(text: str) -> None:
    with pytest.raises(EsiaError) as caught:
        check_timestamp(text, NOW, timedelta(minutes=5))
    assert caught.value.code == "esia.timestamp_stale"


def test_v1_timestamps_at_the_ends_of_the_calendar_are_stale_not_overflows() -> None:
    for text in ("9999.12.31 23:59:59 +0000", "0001.01.01 00:00:00 +0000"):
        with pytest.raises(BridgeError) as caught:
            esia_cms.check_timestamp(text, NOW, timedelta(minutes=5))
        assert caught.value.code == "esia.timestamp_stale"
    with pytest.raises(BridgeError) as bad:
        esia_cms.check_timestamp("9999.12.31 23:59:59 -2359", NOW, timedelta(minutes=5))
    assert bad.value.code == "esia.timestamp_invalid"


# --- field sizes --------------------------------------------------------------------------


def _signed(**changes: Any) -> tuple[dict[str, Any], str]:
    fields = {**FIELDS, **changes}
    return fields, secret.client_secret(SIGNER, **fields)


@pytest.mark.parametrize(
    "field", ["client_id", "scope", "scope_org", "timestamp", "state", "redirect_uri", "code"]
)
def test_an_oversized_field_is_refused_before_anything_is_hashed(
    field: str, hashed: list[int]
) -> None:
    fields = {**FIELDS, "code": "c0de", field: "x" * 1_000_000}
    with pytest.raises(EsiaError) as caught:
        verify_client_secret(CERTIFICATE, "A" * 86, **fields)
    assert caught.value.code == "esia.field_too_long"
    assert hashed == []


def test_a_field_is_measured_in_utf8_bytes(hashed: list[int]) -> None:
    limit = secret.FIELD_LIMITS["redirect_uri"]
    fields = {**FIELDS, "redirect_uri": "я" * (limit // 2 + 1)}  # two bytes a letter
    with pytest.raises(EsiaError) as caught:
        verify_client_secret(CERTIFICATE, "A" * 86, **fields)
    assert caught.value.code == "esia.field_too_long"
    assert hashed == []


def test_fields_at_their_limits_verify() -> None:
    at_limit = {
        name: "x" * secret.FIELD_LIMITS[name]
        for name in ("client_id", "scope", "scope_org", "state", "redirect_uri", "code")
    }
    fields, made = _signed(**at_limit)
    verify_client_secret(CERTIFICATE, made, **fields)
    assert len(secret.secret_message(**fields)) <= secret.MAX_MESSAGE_BYTES


def test_the_largest_allowed_secret_check_costs_under_20_ms() -> None:
    at_limit = {
        name: "x" * secret.FIELD_LIMITS[name]
        for name in ("client_id", "scope", "scope_org", "state", "redirect_uri", "code")
    }
    fields, _ = _signed(**at_limit)
    wrong = base64url.encode(bytes(range(64)))

    def attempt() -> None:
        verify_client_secret(CERTIFICATE, wrong, **fields)

    assert cpu_seconds(attempt) < 0.020


def test_an_oversized_field_costs_almost_nothing() -> None:
    fields = {**FIELDS, "scope": "x" * 1_000_000}
    assert cpu_seconds(lambda: verify_client_secret(CERTIFICATE, "A" * 86, **fields)) < 0.002


def test_the_certificate_hash_is_computed_once_per_certificate(hashed: list[int]) -> None:
    first = secret.certificate_hash(OTHERS[0])
    for _ in range(5):
        assert secret.certificate_hash(OTHERS[0]) == first
    assert hashed.count(len(OTHERS[0].der)) <= 1


# --- tokens -------------------------------------------------------------------------------


def _token(extra: str = "", kid: str | None = None) -> str:
    claims = {"iss": "https://esia.example/", "sub": "1000299353", "x": extra}
    return tokens.sign_gost_jwt(claims, KEY, kid)


def _split(token: str) -> tuple[bytes, bytes]:
    head, payload, signature = token.encode("ascii").split(b".")
    return head + b"." + payload, base64url.decode(signature)


@pytest.mark.parametrize("with_kid", [False, True])
def test_a_token_is_hashed_once_for_many_certificates(hashed: list[int], with_kid: bool) -> None:
    certificates = [*OTHERS, CERTIFICATE]  # the right one last: every other is tried first
    for certificate in certificates:
        secret.certificate_hash(certificate)  # kids are cached: only the token counts below
    token = _token("y" * 2000, kid="0" * 64 if with_kid else None)  # an unknown kid
    signing_input, signature = _split(token)
    hashed.clear()
    assert tokens.gost_signature_valid(signing_input, signature, certificates)
    assert hashed == [len(signing_input)]
    hashed.clear()
    assert tokens.verify_gost_jwt(token, certificates)["sub"] == "1000299353"
    assert hashed.count(len(signing_input)) == 1


def test_a_keyring_hashes_a_token_once_across_a_refetch(hashed: list[int]) -> None:
    class Http:
        def get(self, url: str, headers: dict[str, str] | None = None) -> Any:
            from sso_bridge.oidc.http import HttpResponse  # noqa: PLC0415

            return HttpResponse(200, {}, b'{"certificates": []}')

    keyring = GostKeyring(OTHERS, certificates_uri="https://esia.example/certs", http=Http())
    for certificate in OTHERS:
        secret.certificate_hash(certificate)
    signing_input, signature = _split(_token("z" * 1000))
    hashed.clear()
    assert not keyring.verify(signing_input, signature, None)
    assert hashed == [len(signing_input)]


def test_an_oversized_token_is_refused_before_it_is_hashed(hashed: list[int]) -> None:
    token = _token("y" * gost.MAX_GOST_TOKEN_LENGTH)
    hashed.clear()
    with pytest.raises(IdTokenError) as caught:
        tokens.verify_gost_jwt(token, [CERTIFICATE])
    assert caught.value.code == "oidc.malformed_token"
    signing_input, signature = _split(token)
    assert not tokens.gost_signature_valid(signing_input, signature, [CERTIFICATE] * 20)
    assert hashed == []


def test_the_largest_allowed_token_costs_under_20_ms() -> None:
    room = gost.MAX_GOST_TOKEN_LENGTH - len(_token())
    token = _token("y" * (room * 3 // 4))  # base64url makes 4 characters of 3 bytes
    assert gost.MAX_GOST_TOKEN_LENGTH - 4 <= len(token) <= gost.MAX_GOST_TOKEN_LENGTH
    signing_input, signature = _split(token)
    wrong = signature[:32] + bytes(reversed(signature[32:]))  # r and s in range: a full check
    for published in ([OTHERS[0], OTHERS[1], CERTIFICATE], [*OTHERS, CERTIFICATE]):
        for certificate in published:
            secret.certificate_hash(certificate)

        def check(certificates: list[gost.GostCertificate] = published) -> None:
            tokens.gost_signature_valid(signing_input, wrong, certificates)

        assert cpu_seconds(check) < 0.020, len(published)
        assert tokens.gost_signature_valid(signing_input, signature, published)


def test_an_oversized_token_costs_almost_nothing() -> None:
    token = _token("y" * 200_000)
    assert cpu_seconds(lambda: tokens.verify_gost_jwt(token, [*OTHERS, CERTIFICATE])) < 0.002


def test_an_oversized_gost_id_token_is_malformed_before_it_is_hashed(hashed: list[int]) -> None:
    from sso_bridge.esia.config import GOST_TOKEN_ALGORITHM  # noqa: PLC0415
    from sso_bridge.oidc import ProviderConfig, validate_id_token  # noqa: PLC0415
    from sso_bridge.oidc.idtoken import at_hash  # noqa: PLC0415

    config = ProviderConfig(
        issuer="https://esia.example/",
        authorization_endpoint="https://esia.example/aas/oauth2/v2/ac",
        token_endpoint="https://esia.example/aas/oauth2/v3/te",
        jwks_uri="https://esia.example/jwks",
        client_id="SCHOOL01",
        redirect_uri="https://school.example/cb",
        client_secret="s",
        algorithms=(gost.GOST_JWT_ALG,),
        token_algorithms=(GOST_TOKEN_ALGORITHM,),
    )
    keyring = GostKeyring([*OTHERS, CERTIFICATE])
    token = _token("y" * gost.MAX_GOST_TOKEN_LENGTH)
    hashed.clear()
    with pytest.raises(IdTokenError) as caught:
        validate_id_token(token, config, keyring.key, nonce=None, now=NOW)
    assert caught.value.code == "oidc.malformed_token"
    with pytest.raises(IdTokenError) as long_access:
        at_hash("a" * (gost.MAX_GOST_TOKEN_LENGTH + 1), GOST_TOKEN_ALGORITHM)
    assert long_access.value.code == "oidc.bad_at_hash"
    assert hashed == []


@pytest.mark.parametrize("curve", gost.CURVES)
def test_the_compiled_check_agrees_with_the_standard_formula(curve: str) -> None:
    """Verification runs as one compiled ECDSA check (twice as fast); it must accept and
    refuse exactly what GOST R 34.10-2012's own formula does."""
    import secrets as random  # noqa: PLC0415

    key = gost.generate_private_key(curve)
    public = key.public_key()
    c = gost._curve(curve)
    point = gost._point(public)
    for n in range(12):
        message = random.token_bytes(n * 7)
        signature = gost.sign(key, message)
        e = gost._digest_number(c, message)
        s, r = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
        cases = [
            (e, r, s, True),
            (e, r, (s + 1) % c.q or 1, False),
            (e, (r + 1) % c.q or 1, s, False),
            ((e + 1) % c.q or 1, r, s, False),
            (e, c.q - r, s, False),
            (e, r, c.q - s, False),
        ]
        for digest_number, r_, s_, expected in cases:
            assert gost._verify_digest_python(c, point, digest_number, r_, s_) is expected
            assert gost._verify_digest(c, point, digest_number, r_, s_) is expected
    for r_, s_ in ((0, 1), (1, 0), (c.q, 1), (1, c.q)):
        assert not gost._verify_digest(c, point, 5, r_, s_)


def test_a_certificate_with_a_huge_oid_is_refused_quickly() -> None:
    from sso_bridge.esia import _der  # noqa: PLC0415

    huge = b"\x2a" + b"\xff" * 100_000 + b"\x01"
    start = time.process_time()
    with pytest.raises(ValueError, match="OBJECT IDENTIFIER"):
        _der.oid_text(huge)
    assert time.process_time() - start < 0.01
    assert _der.oid_text(_der.oid("1.2.643.7.1.1.1.1")[2:]) == "1.2.643.7.1.1.1.1"


@pytest.mark.parametrize("curve", gost.CURVES)
def test_many_keys_are_checked_at_once_exactly_as_one_by_one(curve: str) -> None:
    """With more keys than it costs, the signer's public key is recovered from the
    signature and looked up; it must accept exactly what checking each key accepts."""
    import secrets as random  # noqa: PLC0415

    private = [gost.generate_private_key(curve) for _ in range(12)]
    public = [key.public_key() for key in private]
    for n in range(6):
        message = random.token_bytes(n * 11)
        signer = n * 5 % len(private)
        signature = gost.sign(private[signer], message)
        digest = gost.streebog256(message)
        tampered = signature[:40] + bytes([signature[40] ^ 1]) + signature[41:]
        for keys in (public, public[signer : signer + 1], public * 2):
            assert gost.verify_digest_any(keys, digest, signature)
        others = public[:signer] + public[signer + 1 :]
        assert not gost.verify_digest_any(others, digest, signature)
        assert not gost.verify_digest_any(public, digest, tampered)
        assert not gost.verify_digest_any(public, gost.streebog256(message + b"!"), signature)
        for key in public:
            one = gost.verify_digest(key, digest, signature)
            assert one is (key == public[signer])
    assert not gost.verify_digest_any(public, bytes(32), bytes(64))
    assert not gost.verify_digest_any([], bytes(32), bytes(range(64)))


def test_checking_twenty_certificates_costs_about_as_much_as_three() -> None:
    signing_input, signature = _split(_token("q" * 100))
    digest = gost.streebog256(signing_input)
    wrong = signature[:32] + bytes(reversed(signature[32:]))
    many = [c.public_key for c in [*OTHERS, CERTIFICATE]]
    few = many[-3:]
    assert gost.verify_digest_any(many, digest, signature)
    many_cost = cpu_seconds(lambda: gost.verify_digest_any(many, digest, wrong))
    few_cost = cpu_seconds(lambda: gost.verify_digest_any(few, digest, wrong))
    assert many_cost < 2 * few_cost + 0.002
