"""The second factor and local passwords (docs/mfa.md).

- :mod:`.otp`: HOTP (RFC 4226) and TOTP (RFC 6238);
- :class:`CodeChallenges`: one-time codes by SMS or e-mail, or from an authenticator app,
  kept in an :class:`~sso_bridge.ephemeral.EphemeralStore`;
- :class:`TotpVerifier` and :mod:`.enrol`: authenticator apps, each step used once;
- :class:`SecondFactorPolicy`: who needs a second factor, and whether the IdP did one;
- :class:`LocalPasswords`: argon2id passwords with lockout;
- :class:`CredentialStore`: where passwords, TOTP secrets and contacts are kept;
- :class:`RecoveryCodes`: one-time codes that stand in for a lost authenticator app.

Refusals are :class:`MfaError` (``mfa.*``) and :class:`AuthError` (``auth.*``).
"""

from __future__ import annotations

from sso_bridge.mfa.challenges import CHANNELS, Challenge, CodeChallenges, mask_destination
from sso_bridge.mfa.credentials import Credentials, CredentialStore, InMemoryCredentialStore
from sso_bridge.mfa.enrol import (
    TotpEnrolment,
    confirm_enrolment,
    new_enrolment,
    otpauth_uri,
    qr_png,
    qr_svg,
)
from sso_bridge.mfa.errors import (
    AccountLocked,
    AuthError,
    BadPassword,
    MfaError,
    TotpStepReused,
    WrongCode,
)
from sso_bridge.mfa.otp import decode_secret, encode_secret, hotp, new_secret, totp, totp_match
from sso_bridge.mfa.passwords import LocalPasswords, PasswordPolicy, password_hasher
from sso_bridge.mfa.policy import SecondFactorPolicy
from sso_bridge.mfa.recovery import RecoveryCodes
from sso_bridge.mfa.sender import Message, OutboxSender, Sender
from sso_bridge.mfa.totp import TotpVerifier

__all__ = [
    "CHANNELS",
    "AccountLocked",
    "AuthError",
    "BadPassword",
    "Challenge",
    "CodeChallenges",
    "CredentialStore",
    "Credentials",
    "InMemoryCredentialStore",
    "LocalPasswords",
    "Message",
    "MfaError",
    "OutboxSender",
    "PasswordPolicy",
    "RecoveryCodes",
    "SecondFactorPolicy",
    "Sender",
    "TotpEnrolment",
    "TotpStepReused",
    "TotpVerifier",
    "WrongCode",
    "confirm_enrolment",
    "decode_secret",
    "encode_secret",
    "hotp",
    "mask_destination",
    "new_enrolment",
    "new_secret",
    "otpauth_uri",
    "password_hasher",
    "qr_png",
    "qr_svg",
    "totp",
    "totp_match",
]
