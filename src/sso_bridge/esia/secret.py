"""ESIA v2/v3 client authentication: the GOST-signed ``client_secret``.

The client signs the UTF-8 bytes of ``client_id + scope + scope_org + timestamp + state +
redirect_uri`` (the token request appends ``code``) with GOST R 34.10-2012 256-bit and
Streebog-256, and sends the raw 64-byte signature base64url without padding. The timestamp
is Moscow time, ``yyyy.MM.dd HH:mm:ss +0300``; ``client_certificate_hash`` is the hex
Streebog-256 of the certificate's DER, sent in uppercase by default (the form CryptoPro's
``cpverify`` prints and ESIA's clients send); hashes are compared case-insensitively.

Only the byte order OpenSSL's gost engine writes is accepted (see
:mod:`sso_bridge.esia.gost`), so that a secret has one form. Errors: ``esia.secret_malformed``,
``esia.secret_bad_signature``, ``esia.timestamp_invalid``, ``esia.timestamp_stale``,
``esia.field_too_long``.

Every signed field is size-checked before anything is hashed (:data:`FIELD_LIMITS`, in
UTF-8 bytes; each well above what ESIA's clients send): the longest message that can be
hashed is :data:`MAX_MESSAGE_BYTES`. One check then costs about 1.3 ms of CPU with OpenSSL's
GOST provider, 10-16 ms where Streebog runs in Python
(:func:`sso_bridge.esia.gost.streebog_implementation`).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Final

from sso_bridge import base64url
from sso_bridge.errors import InvalidInput
from sso_bridge.esia import gost
from sso_bridge.esia.errors import EsiaClientAuthError, EsiaError, EsiaTimestampError
from sso_bridge.esia.gost import GostCertificate
from sso_bridge.esia.gost_keys import pem_body
from sso_bridge.esia.signer import Signer

__all__ = [
    "FIELD_LIMITS",
    "HASH_CASES",
    "MAX_MESSAGE_BYTES",
    "MAX_TIMESTAMP_OFFSET",
    "MOSCOW",
    "certificate_hash",
    "check_field_sizes",
    "check_timestamp",
    "client_secret",
    "esia_timestamp",
    "parse_esia_timestamp",
    "secret_message",
    "verify_client_secret",
]

MOSCOW: Final = timezone(timedelta(hours=3), "MSK")
"""Moscow time, UTC+3 all year: the zone of ESIA's timestamps."""

_MAX_SECRET_LENGTH: Final = 128  # 64 bytes make 86 characters

FIELD_LIMITS: Final[Mapping[str, int]] = {
    "client_id": 128,  # ESIA mnemonics are a few dozen characters
    "scope": 1024,  # a dozen scopes, or a few organisation scopes with their oid
    "scope_org": 1024,
    "timestamp": 32,  # exactly 25 characters
    "state": 256,  # a UUID: 36 characters
    "redirect_uri": 1024,
    "code": 2048,  # ESIA's codes are JWTs of under 1 KB
    "client_secret": _MAX_SECRET_LENGTH,  # 86 characters
    "client_certificate_hash": 64,  # exactly 64 hex digits
}
"""The longest value (UTF-8 bytes) of each client-authentication field; a longer one is
``esia.field_too_long`` before anything is hashed or verified."""

_SIGNED_FIELDS: Final = ("client_id", "scope", "scope_org", "timestamp", "state", "redirect_uri")
MAX_MESSAGE_BYTES: Final = sum(FIELD_LIMITS[name] for name in (*_SIGNED_FIELDS, "code"))
"""The longest signed message (5,536 bytes): the sum of the signed fields' limits."""

MAX_TIMESTAMP_OFFSET: Final = timedelta(hours=14)
"""The largest UTC offset a timestamp may carry (UTC+14 is the furthest zone in use)."""

_TIMESTAMP_RE: Final = re.compile(
    r"([0-9]{4})\.([0-9]{2})\.([0-9]{2}) ([0-9]{2}):([0-9]{2}):([0-9]{2})"
    r" ([+-])([0-9]{2})([0-9]{2})"
)


def esia_timestamp(now: datetime) -> str:
    """``now`` in Moscow time as ESIA wants it: ``2026.11.22 13:37:03 +0300``.

    Fractions of a second are dropped. A naive datetime raises ``ValueError``.
    """
    if now.utcoffset() is None:
        raise ValueError("esia_timestamp needs a timezone-aware datetime")
    return now.astimezone(MOSCOW).strftime("%Y.%m.%d %H:%M:%S +0300")


def parse_esia_timestamp(text: str) -> datetime:
    """Parse ``yyyy.MM.dd HH:mm:ss ±hhmm`` exactly (any offset; ESIA sends ``+0300``) to UTC.

    Every part is range-checked into ``esia.timestamp_invalid``: the date and time must
    exist, the offset's minutes be under 60 and the offset at most
    :data:`MAX_TIMESTAMP_OFFSET` either way, and the moment in UTC fall within years
    1 to 9999.
    """
    match = _TIMESTAMP_RE.fullmatch(text) if len(text) <= FIELD_LIMITS["timestamp"] else None
    if match is None:
        raise EsiaTimestampError(
            f"timestamp {text[:40]!r} does not have the form 'yyyy.MM.dd HH:mm:ss +0300'",
            code="esia.timestamp_invalid",
        )
    year, month, day, hour, minute, second, sign, hours, minutes = match.groups()
    if int(minutes) >= 60:
        raise EsiaTimestampError(
            f"timestamp {text!r} has an offset with {minutes} minutes",
            code="esia.timestamp_invalid",
        )
    offset = timedelta(hours=int(hours), minutes=int(minutes)) * (-1 if sign == "-" else 1)
    if abs(offset) > MAX_TIMESTAMP_OFFSET:
        raise EsiaTimestampError(
            f"timestamp {text!r} has an offset beyond ±14:00", code="esia.timestamp_invalid"
        )
    try:
        local = datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second), tzinfo=UTC
        )
        # the same instant in UTC; near year 1 or 9999 the shift leaves the calendar
        return local - offset
    except (ValueError, OverflowError):
        raise EsiaTimestampError(
            f"timestamp {text!r} is not a valid date and time", code="esia.timestamp_invalid"
        ) from None


def check_timestamp(timestamp: str, now: datetime, skew: timedelta) -> datetime:
    """Parse ``timestamp`` and require it within ``skew`` of ``now`` either way (UTC result).

    ``esia.timestamp_invalid`` for a malformed one, ``esia.timestamp_stale`` outside the
    window (exactly ``skew`` passes). A naive ``now`` or a negative ``skew`` is ``ValueError``.
    """
    return within_skew(parse_esia_timestamp(timestamp), timestamp, now, skew)


def within_skew(moment: datetime, timestamp: str, now: datetime, skew: timedelta) -> datetime:
    """``moment`` (parsed from ``timestamp``) when it is within ``skew`` of ``now``; else
    ``esia.timestamp_stale``. Shared by the v1 and v2 timestamp checks."""
    if now.utcoffset() is None:
        raise ValueError("check_timestamp needs a timezone-aware 'now'")
    if skew < timedelta(0):
        raise ValueError("skew must not be negative")
    offset = moment - now
    if abs(offset) > skew:
        where = "in the future" if offset > timedelta(0) else "old"
        raise EsiaTimestampError(
            f"timestamp {timestamp!r} is {abs(offset)} {where}; at most {skew} is allowed",
            code="esia.timestamp_stale",
        )
    return moment


HASH_CASES: Final = ("upper", "lower")
"""The spellings of a hex ``client_certificate_hash``: ``upper`` (the default sent) or
``lower``."""


def certificate_hash(certificate: GostCertificate | bytes, *, case: str = "lower") -> str:
    """Hex Streebog-256 of the certificate's DER: lowercase (the ``kid`` form, and what
    hashes are compared in), or uppercase with ``case="upper"`` (the form sent as
    ``client_certificate_hash``).

    ``bytes`` may be DER or PEM; PEM is decoded first, since the hash is never of the text.
    A ``case`` other than ``upper`` or ``lower`` is ``ValueError``.
    """
    if case not in HASH_CASES:
        raise ValueError(f"case must be 'upper' or 'lower', not {case!r}")
    if isinstance(certificate, GostCertificate):
        der = certificate.der
    else:
        try:
            der = pem_body(certificate, "CERTIFICATE")
        except ValueError as exc:
            raise EsiaError(f"not a certificate: {exc}", code="esia.gost_bad_certificate") from None
    digest = _der_hash(der)
    return digest.upper() if case == "upper" else digest


@functools.lru_cache(maxsize=256)
def _der_hash(der: bytes) -> str:
    # A certificate is hashed once: checking a kid or a client_certificate_hash against a
    # list of certificates would otherwise hash each of them for every request.
    return gost.streebog256(der).hex()


def check_field_sizes(fields: Mapping[str, str | None]) -> None:
    """Refuse (``esia.field_too_long``) any field over its :data:`FIELD_LIMITS` entry.

    Cheap: the length in characters is compared first, the UTF-8 length only when a
    character could take more than a byte. Fields without a limit are not looked at.
    """
    for name, value in fields.items():
        limit = FIELD_LIMITS.get(name)
        if limit is None or value is None:
            continue
        if len(value) > limit or (not value.isascii() and len(value.encode("utf-8")) > limit):
            raise EsiaClientAuthError(
                f"{name} is longer than {limit} bytes", code="esia.field_too_long"
            )


def secret_message(
    *,
    client_id: str,
    scope: str,
    scope_org: str,
    timestamp: str,
    state: str,
    redirect_uri: str,
    code: str | None = None,
) -> bytes:
    """The signed bytes: ``client_id + scope + scope_org + timestamp + state + redirect_uri``,
    then ``code`` for the token request, in UTF-8."""
    parts = [client_id, scope, scope_org, timestamp, state, redirect_uri]
    if code is not None:
        parts.append(code)
    return "".join(parts).encode("utf-8")


def client_secret(
    signer: Signer,
    *,
    client_id: str,
    scope: str,
    scope_org: str,
    timestamp: str,
    state: str,
    redirect_uri: str,
    code: str | None = None,
) -> str:
    """The ``client_secret``: base64url, unpadded, of ``signer``'s signature of the message."""
    message = secret_message(
        client_id=client_id,
        scope=scope,
        scope_org=scope_org,
        timestamp=timestamp,
        state=state,
        redirect_uri=redirect_uri,
        code=code,
    )
    return base64url.encode(signer.sign(message))


def _signature_of(secret: str) -> bytes:
    """The 64 bytes of a ``client_secret``, or ``esia.secret_malformed``."""
    if len(secret) > _MAX_SECRET_LENGTH:
        raise EsiaClientAuthError("the client_secret is too long", code="esia.secret_malformed")
    try:
        signature = base64url.decode(secret)
    except InvalidInput:
        raise EsiaClientAuthError(
            "the client_secret is not base64url", code="esia.secret_malformed"
        ) from None
    if len(signature) != 64:
        raise EsiaClientAuthError(
            f"the client_secret has {len(signature)} bytes, not a 64-byte GOST signature",
            code="esia.secret_malformed",
        )
    return signature


def verify_client_secret(
    certificate: GostCertificate,
    secret: str,
    *,
    client_id: str,
    scope: str,
    scope_org: str,
    timestamp: str,
    state: str,
    redirect_uri: str,
    code: str | None = None,
) -> None:
    """Check that ``secret`` is ``certificate``'s signature over these fields.

    Raises ``esia.field_too_long`` when a field is over its :data:`FIELD_LIMITS` entry
    (checked before anything is hashed), ``esia.secret_malformed`` unless ``secret`` is
    base64url of 64 bytes, and ``esia.secret_bad_signature`` when the signature does not
    verify. The timestamp's
    freshness is the caller's check (:func:`check_timestamp`).
    """
    check_field_sizes(
        {
            "client_id": client_id,
            "scope": scope,
            "scope_org": scope_org,
            "timestamp": timestamp,
            "state": state,
            "redirect_uri": redirect_uri,
            "code": code,
        }
    )
    signature = _signature_of(secret)
    message = secret_message(
        client_id=client_id,
        scope=scope,
        scope_org=scope_org,
        timestamp=timestamp,
        state=state,
        redirect_uri=redirect_uri,
        code=code,
    )
    if not gost.verify(certificate.public_key, message, signature):
        raise EsiaClientAuthError(
            f"the client_secret is not a signature of {certificate.subject} over these fields",
            code="esia.secret_bad_signature",
        )
