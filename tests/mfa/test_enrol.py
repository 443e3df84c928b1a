"""Authenticator enrolment: the otpauth URI, its QR code, and confirmation by a code."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sso_bridge.errors import InvalidInput
from sso_bridge.mfa.credentials import InMemoryCredentialStore
from sso_bridge.mfa.enrol import (
    TotpEnrolment,
    confirm_enrolment,
    new_enrolment,
    otpauth_uri,
    qr_png,
    qr_svg,
)
from sso_bridge.mfa.errors import TotpStepReused, WrongCode
from sso_bridge.mfa.otp import decode_secret, totp
from sso_bridge.mfa.totp import TotpVerifier

SECRET = b"12345678901234567890"
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_uri_exact_string() -> None:
    uri = otpauth_uri(SECRET, account_name="m.ivanova@example.org", issuer="Example School")
    assert uri == (
        "otpauth://totp/Example%20School:m.ivanova%40example.org"
        "?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Example%20School"
        "&algorithm=SHA1&digits=6&period=30"
    )


def test_uri_percent_encodes_cyrillic_and_reserved_characters() -> None:
    uri = otpauth_uri(
        b"1234567890",
        account_name="Иванова М.",
        issuer="Школа № 1 & Co",
        algorithm="sha256",
        digits=8,
        period=60,
    )
    assert uri == (
        "otpauth://totp/%D0%A8%D0%BA%D0%BE%D0%BB%D0%B0%20%E2%84%96%201%20%26%20Co:"
        "%D0%98%D0%B2%D0%B0%D0%BD%D0%BE%D0%B2%D0%B0%20%D0%9C."
        "?secret=GEZDGNBVGY3TQOJQ"
        "&issuer=%D0%A8%D0%BA%D0%BE%D0%BB%D0%B0%20%E2%84%96%201%20%26%20Co"
        "&algorithm=SHA256&digits=8&period=60"
    )


@pytest.mark.parametrize(("issuer", "account"), [("A:B", "m"), ("A", "m:n"), ("", "m"), ("A", "")])
def test_labels_without_colons(issuer: str, account: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        otpauth_uri(SECRET, account_name=account, issuer=issuer)
    assert exc.value.code == "mfa.bad_label"


def test_qr_svg_can_be_inlined() -> None:
    svg = qr_svg("otpauth://totp/A:b?secret=GEZDGNBVGY3TQOJQ&issuer=A")
    assert svg.startswith("<svg")
    assert svg.rstrip().endswith("</svg>")
    assert "<?xml" not in svg


def test_qr_png_is_a_png() -> None:
    assert qr_png("otpauth://totp/A:b?secret=GEZDGNBVGY3TQOJQ").startswith(b"\x89PNG\r\n\x1a\n")


def test_new_enrolment_offers_a_fresh_secret() -> None:
    first = new_enrolment(account_name="m", issuer="School", algorithm="sha256")
    second = new_enrolment(account_name="m", issuer="School", algorithm="sha256")
    assert len(first.secret) == 32
    assert first.secret != second.secret
    assert f"secret={first.secret_base32}&" in first.uri
    assert decode_secret(first.secret_base32) == first.secret
    assert "<svg" in first.qr_svg()
    assert first.secret_base32 not in repr(first)
    assert repr(first) == "TotpEnrolment(algorithm='sha256', digits=6)"


def test_a_wrong_code_stores_nothing() -> None:
    store = InMemoryCredentialStore()
    code = totp(SECRET, int(NOW.timestamp()))
    wrong = f"{(int(code) + 1) % 1000000:06d}"
    with pytest.raises(WrongCode):
        confirm_enrolment(store, "a1", SECRET, wrong, NOW)
    assert store.get("a1") is None


def test_the_right_code_stores_the_secret_and_spends_its_step() -> None:
    store = InMemoryCredentialStore()
    code = totp(SECRET, int(NOW.timestamp()))
    step = confirm_enrolment(store, "a1", SECRET, code, NOW)
    assert step == int(NOW.timestamp()) // 30
    record = store.get("a1")
    assert record is not None
    assert (record.totp_secret, record.totp_last_step) == (SECRET, step)
    verifier = TotpVerifier(store)
    with pytest.raises(TotpStepReused):
        verifier.verify("a1", code, NOW)
    later = NOW + timedelta(seconds=30)
    assert verifier.verify("a1", totp(SECRET, int(later.timestamp())), later) == step + 1


def test_confirmation_keeps_the_algorithm_and_length() -> None:
    store = InMemoryCredentialStore()
    enrolment = TotpEnrolment(SECRET, "otpauth://unused", "sha512", 8)
    code = totp(SECRET, int(NOW.timestamp()), digits=8, algorithm="sha512")
    confirm_enrolment(store, "a1", enrolment.secret, code, NOW, "sha512", 8)
    record = store.get("a1")
    assert record is not None
    assert (record.totp_algorithm, record.totp_digits) == ("sha512", 8)
