"""Errors of the second factor (``mfa.*``) and of local passwords (``auth.*``)."""

from __future__ import annotations

from datetime import UTC, datetime

from sso_bridge.errors import BridgeError

__all__ = [
    "AccountLocked",
    "AuthError",
    "BadPassword",
    "MfaError",
    "TotpStepReused",
    "WrongCode",
]


class MfaError(BridgeError):
    """A second-factor step was refused; ``code`` says why."""

    code = "mfa.error"


class WrongCode(MfaError):
    """The one-time code does not match; ``attempts_left`` is None when nothing counts them."""

    code = "mfa.wrong_code"

    def __init__(self, attempts_left: int | None = None) -> None:
        if attempts_left is None:
            message = "the code is wrong"
        else:
            message = f"the code is wrong; {attempts_left} attempt(s) left"
        super().__init__(message)
        self.attempts_left = attempts_left


class TotpStepReused(MfaError):
    """The authenticator code's time step was already accepted once (a replay)."""

    code = "mfa.totp_step_reused"

    def __init__(self, attempts_left: int | None = None) -> None:
        message = "this authenticator code was already used; wait for the next one"
        if attempts_left is not None:
            message += f"; {attempts_left} attempt(s) left"
        super().__init__(message)
        self.attempts_left = attempts_left


class AuthError(BridgeError):
    """A local password login was refused, or a new password does not meet the policy."""

    code = "auth.error"


class BadPassword(AuthError):
    """The password is wrong; ``attempts_left`` before the account is locked."""

    code = "auth.bad_password"

    def __init__(self, attempts_left: int) -> None:
        super().__init__(f"the password is wrong; {attempts_left} attempt(s) left before lockout")
        self.attempts_left = attempts_left


class AccountLocked(AuthError):
    """Too many failed logins; ``locked_until`` is None until an administrator unlocks."""

    code = "auth.locked"

    def __init__(self, failures: int, locked_until: datetime | None) -> None:
        if locked_until is None:
            advice = "ask the school administrator to unlock it"
        else:
            advice = f"try again after {locked_until.astimezone(UTC):%H:%M} UTC"
        super().__init__(f"the account is locked after {failures} failed logins; {advice}")
        self.locked_until = locked_until
