"""One-time passwords: HOTP (RFC 4226) and TOTP (RFC 6238), and their secrets.

These functions are a published API: their signatures do not change. They take Unix
seconds rather than a ``datetime`` so that they stay plain arithmetic.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets

from sso_bridge.mfa.errors import OtpError

__all__ = [
    "ALGORITHMS",
    "DIGITS",
    "check_algorithm",
    "check_digits",
    "decode_secret",
    "encode_secret",
    "hotp",
    "new_secret",
    "totp",
    "totp_match",
]

ALGORITHMS: dict[str, int] = {"sha1": 20, "sha256": 32, "sha512": 64}
"""The HMAC algorithms served, each with the secret size (its output size) RFC 6238 uses."""

DIGITS = (6, 8)
"""The code lengths served."""

_MAX_COUNTER = 2**64 - 1


def check_algorithm(algorithm: str) -> str:
    """``algorithm`` in lower case, if it is one of :data:`ALGORITHMS`."""
    name = algorithm.lower()
    if name not in ALGORITHMS:
        raise OtpError(
            f"unsupported OTP algorithm {algorithm!r}; use sha1, sha256 or sha512",
            code="otp.bad_algorithm",
        )
    return name


def check_digits(digits: int) -> int:
    """``digits`` if it is 6 or 8."""
    if digits not in DIGITS:
        raise OtpError(f"an OTP code has 6 or 8 digits, not {digits!r}", code="otp.bad_digits")
    return digits


def hotp(key: bytes, counter: int, digits: int = 6, algorithm: str = "sha1") -> str:
    """RFC 4226: the HMAC of the 8-byte counter, dynamically truncated to ``digits``."""
    check_digits(digits)
    name = check_algorithm(algorithm)
    if not 0 <= counter <= _MAX_COUNTER:
        raise OtpError("an HOTP counter is an unsigned 64-bit number", code="otp.bad_counter")
    mac = hmac.digest(key, counter.to_bytes(8, "big"), name)
    offset = mac[-1] & 0x0F
    value = int.from_bytes(mac[offset : offset + 4], "big") & 0x7FFFFFFF
    return str(value % 10**digits).zfill(digits)


def _counter(at: int, step: int) -> int:
    if step <= 0:
        raise OtpError("a TOTP time step is a positive number of seconds", code="otp.bad_step")
    return at // step


def totp(key: bytes, at: int, digits: int = 6, step: int = 30, algorithm: str = "sha1") -> str:
    """RFC 6238: the HOTP of the time step that holds ``at`` (Unix seconds, T0 = 0)."""
    return hotp(key, _counter(at, step), digits, algorithm)


def totp_match(
    key: bytes,
    code: str,
    at: int,
    *,
    window: int = 1,
    digits: int = 6,
    step: int = 30,
    algorithm: str = "sha1",
) -> int | None:
    """The time step within ±``window`` steps of ``at`` whose code is ``code``, or None.

    Every step of the window is computed and compared in constant time, whichever
    matches, so that the time taken does not say which one did; when two steps match
    (a one-in-a-million collision) the later one is returned. Callers must refuse a step
    at or before the last one they accepted (see :class:`~sso_bridge.mfa.TotpVerifier`).
    """
    check_digits(digits)
    name = check_algorithm(algorithm)
    if window < 0:
        raise OtpError("a TOTP window is zero or more steps", code="otp.bad_step")
    current = _counter(at, step)
    wellformed = len(code) == digits and code.isascii() and code.isdigit()
    given = code.encode() if wellformed else b"-" * digits
    found = None
    for counter in range(max(0, current - window), current + window + 1):
        expected = hotp(key, counter, digits, name).encode()
        if hmac.compare_digest(expected, given):
            found = counter
    return found if wellformed else None


def new_secret(algorithm: str = "sha1") -> bytes:
    """A fresh random secret as long as the algorithm's output (20, 32 or 64 bytes)."""
    return secrets.token_bytes(ALGORITHMS[check_algorithm(algorithm)])


def encode_secret(key: bytes) -> str:
    """``key`` as unpadded upper-case base32, as authenticator apps expect it."""
    return base64.b32encode(key).decode("ascii").rstrip("=")


def decode_secret(secret_b32: str) -> bytes:
    """A base32 secret as authenticator apps show it (spaces, case and padding ignored)."""
    cleaned = secret_b32.replace(" ", "").upper().rstrip("=")
    try:
        key = base64.b32decode(cleaned + "=" * (-len(cleaned) % 8))
    except (ValueError, binascii.Error):
        raise OtpError("the TOTP secret is not base32", code="otp.bad_secret") from None
    if not key:
        raise OtpError("the TOTP secret is empty", code="otp.bad_secret")
    return key
