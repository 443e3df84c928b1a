"""ESIA v2/v3 client secrets: message, timestamp, certificate hash, signing and checking."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from helpers.clock import NOW
from sso_bridge import base64url
from sso_bridge.esia import gost
from sso_bridge.esia.errors import EsiaError
from sso_bridge.esia.secret import (
    certificate_hash,
    check_timestamp,
    client_secret,
    esia_timestamp,
    parse_esia_timestamp,
    secret_message,
    verify_client_secret,
)
from sso_bridge.esia.signer import InProcessGostSigner

KEY = gost.generate_private_key()
CERTIFICATE = gost.self_signed_certificate(KEY, "school-portal", NOW)
SIGNER = InProcessGostSigner(KEY, CERTIFICATE)
FIELDS: dict[str, Any] = {
    "client_id": "SCHOOL01",
    "scope": "openid fullname",
    "scope_org": "",
    "timestamp": "2026.03.01 15:04:05 +0300",
    "state": "0b3a5e7c-2f1d-4c8a-9e6b-7d5f3a1c9e2b",
    "redirect_uri": "https://школа.example/cb",
}


def test_message_is_the_fields_in_esia_order() -> None:
    message = secret_message(
        client_id="C", scope="S", scope_org="O", timestamp="T", state="X", redirect_uri="R"
    )
    assert message == b"CSOTXR"
    with_code = secret_message(
        client_id="C", scope="S", scope_org="O", timestamp="T", state="X", redirect_uri="R",
        code="K",
    )  # fmt: skip
    assert with_code == b"CSOTXRK"


def test_message_is_utf8() -> None:
    assert secret_message(**FIELDS).endswith("https://школа.example/cb".encode())


def test_timestamp_is_moscow_time() -> None:
    assert esia_timestamp(datetime(2026, 12, 31, 22, 30, 5, 999, tzinfo=UTC)) == (
        "2027.01.01 01:30:05 +0300"
    )
    other_zone = datetime(2026, 6, 1, 12, 0, tzinfo=timezone(timedelta(hours=-5)))
    assert esia_timestamp(other_zone) == "2026.06.01 20:00:00 +0300"
    assert re.fullmatch(r"\d{4}\.\d\d\.\d\d \d\d:\d\d:\d\d \+0300", esia_timestamp(NOW))


def test_timestamp_needs_an_aware_datetime() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        esia_timestamp(datetime(2026, 1, 1))


def test_timestamp_parses_back_to_utc() -> None:
    assert parse_esia_timestamp(esia_timestamp(NOW)) == NOW
    assert parse_esia_timestamp("2026.01.01 00:00:00 +0000") == datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    "text",
    ["2026-01-01 00:00:00 +0300", "2026.01.01 00:00:00", "2026.02.30 00:00:00 +0300",
     "2026.01.01 00:00:00 +9900", " 2026.01.01 00:00:00 +0300"],
)  # fmt: skip
def test_malformed_timestamps(text: str) -> None:
    with pytest.raises(EsiaError) as caught:
        parse_esia_timestamp(text)
    assert caught.value.code == "esia.timestamp_invalid"


def test_check_timestamp_window() -> None:
    skew = timedelta(minutes=5)
    assert check_timestamp(esia_timestamp(NOW - skew), NOW, skew) == NOW - skew
    for moment in (NOW - skew - timedelta(seconds=1), NOW + skew + timedelta(seconds=1)):
        with pytest.raises(EsiaError) as caught:
            check_timestamp(esia_timestamp(moment), NOW, skew)
        assert caught.value.code == "esia.timestamp_stale"


def test_secret_is_unpadded_base64url_of_64_bytes() -> None:
    secret = client_secret(SIGNER, **FIELDS)
    assert re.fullmatch(r"[A-Za-z0-9_-]{86}", secret)
    signature = base64url.decode(secret)
    assert gost.verify(CERTIFICATE.public_key, secret_message(**FIELDS), signature)


@pytest.mark.parametrize("code", [None, "auth-code-1"])
def test_round_trip(code: str | None) -> None:
    secret = client_secret(SIGNER, **FIELDS, code=code)
    verify_client_secret(CERTIFICATE, secret, **FIELDS, code=code)


@pytest.mark.parametrize("field", [*FIELDS, "code"])
def test_a_changed_field_fails(field: str) -> None:
    fields = {**FIELDS, "code": "auth-code-1"}
    secret = client_secret(SIGNER, **fields)
    changed = {**fields, field: fields[field] + "x"}
    with pytest.raises(EsiaError) as caught:
        verify_client_secret(CERTIFICATE, secret, **changed)
    assert caught.value.code == "esia.secret_bad_signature"


def test_a_missing_code_fails() -> None:
    secret = client_secret(SIGNER, **FIELDS, code="auth-code-1")
    with pytest.raises(EsiaError) as caught:
        verify_client_secret(CERTIFICATE, secret, **FIELDS)
    assert caught.value.code == "esia.secret_bad_signature"


def test_another_certificate_fails() -> None:
    other = gost.self_signed_certificate(gost.generate_private_key(), "other", NOW)
    with pytest.raises(EsiaError) as caught:
        verify_client_secret(other, client_secret(SIGNER, **FIELDS), **FIELDS)
    assert caught.value.code == "esia.secret_bad_signature"


def test_reversed_cryptopro_order_fails() -> None:
    raw = base64url.decode(client_secret(SIGNER, **FIELDS))
    with pytest.raises(EsiaError) as caught:
        verify_client_secret(CERTIFICATE, base64url.encode(raw[::-1]), **FIELDS)
    assert caught.value.code == "esia.secret_bad_signature"


@pytest.mark.parametrize(
    "secret",
    ["", "not base64url!", base64url.encode(b"\x01" * 63), base64url.encode(b"\x01" * 65),
     "A" * 500],
    ids=["empty", "alphabet", "short", "long", "huge"],
)  # fmt: skip
def test_malformed_secrets(secret: str) -> None:
    with pytest.raises(EsiaError) as caught:
        verify_client_secret(CERTIFICATE, secret, **FIELDS)
    assert caught.value.code == "esia.secret_malformed"


def test_certificate_hash_is_streebog_of_the_der() -> None:
    digest = certificate_hash(CERTIFICATE)
    assert re.fullmatch(r"[0-9a-f]{64}", digest)
    assert digest == gost.streebog256(CERTIFICATE.der).hex()
    assert digest == certificate_hash(CERTIFICATE.der)
    pem = gost._pem("CERTIFICATE", CERTIFICATE.der)
    assert certificate_hash(pem) == digest
    assert digest != gost.streebog256(pem).hex()
    assert digest != hashlib.sha256(CERTIFICATE.der).hexdigest()
    assert hashlib.sha1(CERTIFICATE.der).hexdigest() not in digest  # noqa: S324
    assert digest != gost.streebog256(CERTIFICATE.der)[::-1].hex()


def test_certificate_hash_of_bad_pem() -> None:
    with pytest.raises(EsiaError) as caught:
        certificate_hash(b"-----BEGIN PRIVATE KEY-----\nMAA=\n-----END PRIVATE KEY-----\n")
    assert caught.value.code == "esia.gost_bad_certificate"
