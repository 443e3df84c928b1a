"""Checking TOTP codes of enrolled accounts: the window, and no step twice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sso_bridge.errors import InvalidInput
from sso_bridge.mfa.credentials import CredentialStore
from sso_bridge.mfa.errors import MfaError, TotpStepReused, WrongCode
from sso_bridge.mfa.otp import totp
from sso_bridge.mfa.totp import TotpVerifier

SECRET = b"12345678901234567890123456789012"
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
STEP = int(NOW.timestamp()) // 30


def code_at(moment: datetime, digits: int = 6) -> str:
    return totp(SECRET, int(moment.timestamp()), digits=digits, algorithm="sha256")


@pytest.fixture
def verifier(credentials: CredentialStore) -> TotpVerifier:
    credentials.set_totp("a1", SECRET, algorithm="sha256")
    return TotpVerifier(credentials)


def test_current_code_passes_and_returns_its_step(verifier: TotpVerifier) -> None:
    assert verifier.verify("a1", code_at(NOW), NOW) == STEP
    record = verifier.credentials.get("a1")
    assert record is not None
    assert record.totp_last_step == STEP


def test_one_step_either_side_passes(verifier: TotpVerifier) -> None:
    earlier = NOW - timedelta(seconds=30)
    assert verifier.verify("a1", code_at(earlier), NOW) == STEP - 1
    assert verifier.verify("a1", code_at(NOW + timedelta(seconds=30)), NOW) == STEP + 1


def test_two_steps_away_is_wrong(verifier: TotpVerifier) -> None:
    for moment in (NOW - timedelta(seconds=60), NOW + timedelta(seconds=60)):
        with pytest.raises(WrongCode) as exc:
            verifier.verify("a1", code_at(moment), NOW)
        assert exc.value.code == "mfa.wrong_code"


def test_a_used_step_is_refused(verifier: TotpVerifier) -> None:
    code = code_at(NOW)
    verifier.verify("a1", code, NOW)
    with pytest.raises(TotpStepReused) as exc:
        verifier.verify("a1", code, NOW + timedelta(seconds=10))
    assert exc.value.code == "mfa.totp_step_reused"


def test_an_older_step_than_the_last_used_is_refused(verifier: TotpVerifier) -> None:
    verifier.verify("a1", code_at(NOW + timedelta(seconds=30)), NOW)
    with pytest.raises(TotpStepReused):
        verifier.verify("a1", code_at(NOW), NOW)


def test_not_enrolled(credentials: CredentialStore) -> None:
    verifier = TotpVerifier(credentials)
    assert not verifier.enrolled("a2")
    with pytest.raises(MfaError) as exc:
        verifier.verify("a2", "123456", NOW)
    assert exc.value.code == "mfa.totp_not_enrolled"
    credentials.set_totp("a2", SECRET)
    assert verifier.enrolled("a2")
    credentials.remove_totp("a2")
    with pytest.raises(MfaError) as exc:
        verifier.verify("a2", "123456", NOW)
    assert exc.value.code == "mfa.totp_not_enrolled"


def test_the_enrolled_length_is_used(credentials: CredentialStore) -> None:
    credentials.set_totp("a1", SECRET, algorithm="sha256", digits=8)
    verifier = TotpVerifier(credentials)
    with pytest.raises(WrongCode):
        verifier.verify("a1", code_at(NOW), NOW)
    assert verifier.verify("a1", code_at(NOW, digits=8), NOW) == STEP


def test_window_zero_and_bounds(credentials: CredentialStore) -> None:
    credentials.set_totp("a1", SECRET, algorithm="sha256")
    strict = TotpVerifier(credentials, window=0)
    with pytest.raises(WrongCode):
        strict.verify("a1", code_at(NOW - timedelta(seconds=30)), NOW)
    with pytest.raises(InvalidInput):
        TotpVerifier(credentials, window=-1)
