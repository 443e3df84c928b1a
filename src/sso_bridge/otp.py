"""One-time passwords: HOTP (RFC 4226) and TOTP (RFC 6238)."""

from __future__ import annotations

import base64
import binascii
import hmac
import struct
from datetime import datetime

from sso_bridge.errors import InvalidInput

TOTP_STEP_SECONDS = 30


def decode_secret(secret_b32: str) -> bytes:
    """A base32 TOTP secret as authenticator apps show it (spaces and case ignored)."""
    cleaned = secret_b32.replace(" ", "").upper()
    try:
        return base64.b32decode(cleaned + "=" * (-len(cleaned) % 8))
    except (ValueError, binascii.Error):
        raise InvalidInput("the TOTP secret is not base32", code="otp.bad_secret") from None


def hotp(key: bytes, counter: int, digits: int = 6) -> str:
    """RFC 4226: HMAC-SHA1 of the counter, dynamically truncated."""
    mac = hmac.digest(key, struct.pack(">Q", counter), "sha1")
    offset = mac[-1] & 0x0F
    value = struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(value % 10**digits).zfill(digits)


def totp_step(moment: datetime, step: int = TOTP_STEP_SECONDS) -> int:
    return int(moment.timestamp()) // step


def totp(key: bytes, moment: datetime, digits: int = 6) -> str:
    """RFC 6238 with SHA-1 and 30-second steps, as authenticator apps use."""
    return hotp(key, totp_step(moment), digits)


def totp_match(key: bytes, code: str, moment: datetime, window: int = 1) -> int | None:
    """The time step ``code`` belongs to within ±``window`` steps, or None.

    Callers must refuse a step they have already accepted once.
    """
    now = totp_step(moment)
    found = None
    for step in range(now - window, now + window + 1):
        if hmac.compare_digest(hotp(key, step, len(code)), code):
            found = step
    return found
