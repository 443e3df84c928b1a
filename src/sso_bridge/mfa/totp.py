"""Checking TOTP codes of enrolled accounts, each time step accepted at most once."""

from __future__ import annotations

from datetime import datetime

from sso_bridge.mfa.credentials import Credentials, CredentialStore
from sso_bridge.mfa.errors import MfaError, OtpError, TotpStepReused, WrongCode
from sso_bridge.mfa.otp import totp_match

__all__ = ["TOTP_STEP_SECONDS", "TotpVerifier"]

TOTP_STEP_SECONDS = 30
"""The time step of enrolled secrets, as authenticator apps use it."""


class TotpVerifier:
    """Checks a code against the account's enrolled secret within ±``window`` steps.

    A step that has been accepted once, or an earlier one, is refused: an observed code
    cannot be replayed, not even within its own 30 seconds.
    """

    def __init__(self, credentials: CredentialStore, window: int = 1) -> None:
        if not 0 <= window <= 10:
            raise OtpError("a TOTP window is 0 to 10 steps", code="otp.bad_step")
        self.credentials = credentials
        self.window = window

    def enrolled(self, account_id: str) -> bool:
        """Whether the account has a TOTP secret."""
        record = self.credentials.get(account_id)
        return record is not None and record.totp_enrolled

    def require_enrolled(self, account_id: str) -> Credentials:
        """The account's credentials; ``mfa.totp_not_enrolled`` when it has no secret."""
        record = self.credentials.get(account_id)
        if record is None or not record.totp_enrolled:
            raise MfaError(
                "the account has no TOTP authenticator enrolled", code="mfa.totp_not_enrolled"
            )
        return record

    def verify(self, account_id: str, code: str, now: datetime) -> int:
        """The time step ``code`` belongs to, now marked used."""
        record = self.require_enrolled(account_id)
        secret = record.totp_secret or b""
        step = totp_match(
            secret,
            "".join(code.split()),
            int(now.timestamp()),
            window=self.window,
            digits=record.totp_digits,
            step=TOTP_STEP_SECONDS,
            algorithm=record.totp_algorithm,
        )
        if step is None:
            raise WrongCode()
        if not self.credentials.use_totp_step(account_id, step):
            raise TotpStepReused()
        return step
