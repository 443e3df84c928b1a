"""ESIA v2/v3 client authentication: the GOST-signed ``client_secret``.

The client signs the UTF-8 bytes of ``client_id + scope + scope_org + timestamp + state +
redirect_uri`` (the token request appends ``code``) with GOST R 34.10-2012 256-bit and
Streebog-256, and sends the raw 64-byte signature base64url without padding. The timestamp
is Moscow time, ``yyyy.MM.dd HH:mm:ss +0300``; ``client_certificate_hash`` is the hex
Streebog-256 of the certificate's DER.

Only the byte order OpenSSL's gost engine writes is accepted (see
:mod:`sso_bridge.esia.gost`), so that a secret has one form. Errors: ``esia.secret_malformed``,
``esia.secret_bad_signature``, ``esia.timestamp_invalid``, ``esia.timestamp_stale``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Final

from sso_bridge import base64url
from sso_bridge.errors import InvalidInput
from sso_bridge.esia import gost
from sso_bridge.esia.errors import EsiaError
from sso_bridge.esia.gost import GostCertificate
from sso_bridge.esia.signer import Signer

__all__ = [
    "MOSCOW",
    "certificate_hash",
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
    """Parse ``yyyy.MM.dd HH:mm:ss ±hhmm`` exactly (any offset; ESIA sends ``+0300``) to UTC."""
    match = _TIMESTAMP_RE.fullmatch(text)
    if match is None:
        raise EsiaError(
            f"timestamp {text[:40]!r} does not have the form 'yyyy.MM.dd HH:mm:ss +0300'",
            code="esia.timestamp_invalid",
        )
    year, month, day, hour, minute, second, sign, hours, minutes = match.groups()
    offset = timedelta(hours=int(hours), minutes=int(minutes)) * (-1 if sign == "-" else 1)
    try:
        moment = datetime(
            int(year),
            int(month),
            int(day),
            int(hour),
            int(minute),
            int(second),
            0,
            timezone(offset),
        )
    except ValueError:
        raise EsiaError(
            f"timestamp {text!r} is not a valid date and time", code="esia.timestamp_invalid"
        ) from None
    return moment.astimezone(UTC)


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
        raise EsiaError(
            f"timestamp {timestamp!r} is {abs(offset)} {where}; at most {skew} is allowed",
            code="esia.timestamp_stale",
        )
    return moment


def certificate_hash(certificate: GostCertificate | bytes) -> str:
    """``client_certificate_hash``: lowercase hex Streebog-256 of the certificate's DER.

    ``bytes`` may be DER or PEM; PEM is decoded first, since the hash is never of the text.
    """
    if isinstance(certificate, GostCertificate):
        der = certificate.der
    else:
        try:
            der = gost._pem_body(certificate, "CERTIFICATE")
        except ValueError as exc:
            raise EsiaError(f"not a certificate: {exc}", code="esia.gost_bad_certificate") from None
    return gost.streebog256(der).hex()


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

    Raises ``esia.secret_malformed`` unless ``secret`` is base64url of 64 bytes, and
    ``esia.secret_bad_signature`` when the signature does not verify. The timestamp's
    freshness is the caller's check (:func:`check_timestamp`).
    """
    if len(secret) > _MAX_SECRET_LENGTH:
        raise EsiaError("the client_secret is too long", code="esia.secret_malformed")
    try:
        signature = base64url.decode(secret)
    except InvalidInput:
        raise EsiaError(
            "the client_secret is not base64url", code="esia.secret_malformed"
        ) from None
    if len(signature) != 64:
        raise EsiaError(
            f"the client_secret has {len(signature)} bytes, not a 64-byte GOST signature",
            code="esia.secret_malformed",
        )
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
        raise EsiaError(
            f"the client_secret is not a signature of {certificate.subject} over these fields",
            code="esia.secret_bad_signature",
        )
