"""Errors of the second factor (``mfa.*``) and of local passwords (``auth.*``)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from sso_bridge.errors import BridgeError, Code, InvalidInput, declare

__all__ = [
    "AccountLocked",
    "AuthError",
    "BadPassword",
    "LimitReached",
    "MfaError",
    "MfaInputError",
    "OtpError",
    "SecondFactorLocked",
    "TooManyCodes",
    "TooManyLogins",
    "TotpStepReused",
    "WrongCode",
]


class MfaError(BridgeError):
    """A second-factor step was refused; ``code`` says why."""

    family = "mfa"
    about = "The second factor: one-time codes by SMS or e-mail, and authenticator apps (TOTP)."
    codes = declare(
        Code("mfa.error", 401, "The second factor failed; the message says why."),
        Code("mfa.wrong_code", 401, "The code is wrong; try again while attempts are left."),
        Code(
            "mfa.totp_step_reused",
            401,
            "This authenticator code was used already; wait for the next one.",
        ),
        Code(
            "mfa.too_many_attempts",
            429,
            "Five wrong codes: the challenge is void; start the login again.",
        ),
        Code("mfa.challenge_expired", 401, "The code has expired; ask for a new one."),
        Code(
            "mfa.challenge_unknown", 404, "No such challenge: unknown, used, or another account's."
        ),
        Code(
            "mfa.bad_channel", 400, "The channel is not sms, email or totp, or cannot send again."
        ),
        Code("mfa.no_destination", 400, "There is no phone or e-mail to send the code to."),
        Code(
            "mfa.resend_limit", 429, "The code was sent as often as allowed; start the login again."
        ),
        Code("mfa.resend_too_soon", 429, "Wait a little before asking for another code."),
        Code("mfa.totp_not_enrolled", 404, "The account has no authenticator app enrolled."),
        Code("mfa.bad_label", 400, "A TOTP issuer or account name is empty or has a colon."),
        Code(
            "mfa.code_needed",
            401,
            "New recovery codes need a code from the authenticator app in this session.",
        ),
    )
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


class MfaInputError(MfaError, InvalidInput):
    """A channel, destination or label of the second factor is refused; also an
    :class:`~sso_bridge.errors.InvalidInput`."""

    code = "mfa.bad_channel"


class OtpError(InvalidInput):
    """A one-time-password setting (secret, algorithm, digits, counter, step) is refused."""

    family = "otp"
    about = "Secrets of one-time passwords (TOTP)."
    codes = declare(
        Code("otp.bad_secret", 500, "A TOTP secret is not base32; fix the person's totp_secret."),
        Code("otp.bad_algorithm", 400, "The OTP algorithm must be sha1, sha256 or sha512."),
        Code("otp.bad_digits", 400, "An OTP code has 6 or 8 digits."),
        Code("otp.bad_counter", 400, "An HOTP counter must be an unsigned 64-bit number."),
        Code("otp.bad_step", 400, "A TOTP period or window is out of range."),
    )
    code = "otp.bad_secret"


class AuthError(BridgeError):
    """A local password login was refused, or a new password does not meet the policy."""

    family = "auth"
    about = "Local logins with organisation, login and password (argon2id, lockout)."
    codes = declare(
        Code("auth.error", 401, "A local login was refused; the message says why."),
        Code("auth.bad_password", 401, "Wrong organisation, login or password."),
        Code(
            "auth.locked", 403, "Locked after 5 failed logins; a school administrator unlocks it."
        ),
        Code(
            "auth.account_blocked",
            403,
            "The school account is blocked; a school administrator unblocks it.",
        ),
        Code("auth.no_password", 401, "The account has no local password; set one first."),
        Code(
            "auth.weak_password",
            400,
            "The new password breaks the password policy; the message names the rule.",
        ),
        Code("auth.bad_hash", 500, "A stored password hash is not argon2; set the password again."),
    )
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


def _wait_text(retry_after: timedelta | None) -> str:
    if retry_after is None:
        return "ask the school administrator to unlock it"
    return f"try again in {_minutes(retry_after)}"


def _minutes(wait: timedelta) -> str:
    seconds = max(1, math.ceil(wait.total_seconds()))
    if seconds < 120:
        return f"{seconds} s"
    return f"{math.ceil(seconds / 60)} min"


class LimitReached(MfaError):
    """A limit of docs/mfa.md ("Limits") refused the step; ``retry_after`` is how long
    until it may succeed (None: until an administrator acts)."""

    codes = declare(
        Code(
            "mfa.second_factor_locked",
            429,
            "Too many wrong codes for the account: its second factor is locked for a while.",
        ),
        Code(
            "mfa.account_code_limit",
            429,
            "This account was sent as many one-time codes as allowed for now; wait.",
        ),
        Code(
            "mfa.destination_code_limit",
            429,
            "This phone or address was sent as many one-time codes as allowed for now; wait.",
        ),
        Code(
            "mfa.ip_code_limit",
            429,
            "Too many second-factor codes asked for from this IP address for now; wait.",
        ),
    )
    code = "mfa.second_factor_locked"

    def __init__(self, message: str, retry_after: timedelta | None, *, code: str) -> None:
        super().__init__(message, code=code)
        self.retry_after = retry_after


class SecondFactorLocked(LimitReached):
    """The account's budget of wrong second-factor codes is spent."""

    def __init__(self, retry_after: timedelta | None) -> None:
        super().__init__(
            "too many wrong codes for this account: its second factor is locked; "
            + _wait_text(retry_after),
            retry_after,
            code="mfa.second_factor_locked",
        )


class TooManyCodes(LimitReached):
    """A cap on codes sent (per account, per destination, per IP) is reached."""

    def __init__(self, what: str, retry_after: timedelta, *, code: str) -> None:
        super().__init__(
            f"too many one-time codes {what} for now; try again in {_minutes(retry_after)}",
            retry_after,
            code=code,
        )


class TooManyLogins(AuthError):
    """Too many password logins from one IP address in the window."""

    codes = declare(
        Code(
            "auth.ip_login_limit",
            429,
            "Too many password logins from this IP address for now; wait.",
        ),
    )
    code = "auth.ip_login_limit"

    def __init__(self, retry_after: timedelta) -> None:
        super().__init__(
            "too many logins from this network address; try again in " + _minutes(retry_after)
        )
        self.retry_after = retry_after
