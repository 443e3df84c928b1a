"""Enrolling an authenticator app: the ``otpauth://`` URI, its QR code, and confirmation.

The secret is shown once (as a QR code and as base32 text) and stored only after the
person has typed a code it produced, which proves the app holds it.
"""

from __future__ import annotations

import io
from datetime import datetime
from urllib.parse import quote

import attrs
import segno

from sso_bridge.mfa.credentials import CredentialStore
from sso_bridge.mfa.errors import MfaInputError, OtpError, WrongCode
from sso_bridge.mfa.otp import check_algorithm, check_digits, encode_secret, new_secret, totp_match
from sso_bridge.mfa.totp import TOTP_STEP_SECONDS

__all__ = [
    "TotpEnrolment",
    "confirm_enrolment",
    "new_enrolment",
    "otpauth_uri",
    "qr_png",
    "qr_svg",
]


def _label_part(value: str, what: str) -> str:
    if not value or ":" in value:
        raise MfaInputError(
            f"the TOTP {what} must be non-empty and without a colon", code="mfa.bad_label"
        )
    return quote(value, safe="")


def otpauth_uri(
    secret: bytes,
    *,
    account_name: str,
    issuer: str,
    algorithm: str = "sha1",
    digits: int = 6,
    period: int = 30,
) -> str:
    """The Key URI Format string an authenticator app reads from a QR code.

    ``otpauth://totp/Issuer:account?secret=BASE32&issuer=Issuer&algorithm=SHA1&digits=6&
    period=30``, each part percent-encoded (UTF-8) and the secret unpadded base32.
    """
    label = f"{_label_part(issuer, 'issuer')}:{_label_part(account_name, 'account name')}"
    name = check_algorithm(algorithm).upper()
    check_digits(digits)
    if period <= 0:
        raise OtpError("a TOTP period is a positive number of seconds", code="otp.bad_step")
    query = (
        f"secret={encode_secret(secret)}&issuer={quote(issuer, safe='')}"
        f"&algorithm={name}&digits={digits}&period={period}"
    )
    return f"otpauth://totp/{label}?{query}"


def _qr(uri: str) -> segno.QRCode:
    return segno.make_qr(uri, error="m")


def qr_svg(uri: str, *, scale: int = 4) -> str:
    """The QR code of ``uri`` as an SVG element, without an XML declaration (to inline)."""
    out = io.BytesIO()
    _qr(uri).save(out, kind="svg", xmldecl=False, nl=False, scale=scale)
    return out.getvalue().decode("utf-8")


def qr_png(uri: str, *, scale: int = 4) -> bytes:
    """The QR code of ``uri`` as a PNG image."""
    out = io.BytesIO()
    _qr(uri).save(out, kind="png", scale=scale)
    return out.getvalue()


@attrs.frozen
class TotpEnrolment:
    """A secret offered to a person, and its URI; both stay out of ``repr``."""

    secret: bytes = attrs.field(repr=False)
    uri: str = attrs.field(repr=False)
    algorithm: str = "sha1"
    digits: int = 6

    @property
    def secret_base32(self) -> str:
        """The secret as text, for typing it in when the camera cannot be used."""
        return encode_secret(self.secret)

    def qr_svg(self) -> str:
        return qr_svg(self.uri)


def new_enrolment(
    *, account_name: str, issuer: str, algorithm: str = "sha1", digits: int = 6
) -> TotpEnrolment:
    """A fresh random secret for ``account_name`` and its URI, not yet stored."""
    secret = new_secret(algorithm)
    uri = otpauth_uri(
        secret,
        account_name=account_name,
        issuer=issuer,
        algorithm=algorithm,
        digits=digits,
        period=TOTP_STEP_SECONDS,
    )
    return TotpEnrolment(secret, uri, check_algorithm(algorithm), digits)


def confirm_enrolment(
    credentials: CredentialStore,
    account_id: str,
    secret: bytes,
    code: str,
    now: datetime,
    algorithm: str = "sha1",
    digits: int = 6,
) -> int:
    """Store ``secret`` for the account if ``code`` is one of its codes (±1 step).

    Returns the code's time step, which is stored as used. A wrong code stores nothing
    and raises ``mfa.wrong_code``; the caller limits how often this may be tried.
    """
    step = totp_match(
        secret,
        "".join(code.split()),
        int(now.timestamp()),
        window=1,
        digits=digits,
        step=TOTP_STEP_SECONDS,
        algorithm=algorithm,
    )
    if step is None:
        raise WrongCode()
    credentials.set_totp(
        account_id, secret, algorithm=check_algorithm(algorithm), digits=digits, last_step=step
    )
    return step
