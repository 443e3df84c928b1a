"""ESIA v1's timestamp: ``YYYY.MM.DD HH:MM:SS +0000``, in UTC, within a window of ``now``."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Final

from sso_bridge.esia.errors import EsiaTimestampError
from sso_bridge.esia.secret import within_skew

__all__ = ["check_timestamp", "esia_timestamp", "parse_esia_timestamp"]

_TIMESTAMP_FORMAT: Final = "YYYY.MM.DD HH:MM:SS +0000"
_TIMESTAMP_RE: Final = re.compile(
    r"([0-9]{4})\.([0-9]{2})\.([0-9]{2}) ([0-9]{2}):([0-9]{2}):([0-9]{2}) \+0000"
)


def esia_timestamp(moment: datetime) -> str:
    """Format an aware datetime as ESIA wants it, in UTC: ``2026.11.22 10:37:03 +0000``.

    Fractions of a second are dropped. A naive datetime raises ``ValueError``.
    """
    if moment.utcoffset() is None:
        raise ValueError("esia_timestamp needs a timezone-aware datetime")
    m = moment.astimezone(UTC)
    return (
        f"{m.year:04d}.{m.month:02d}.{m.day:02d} {m.hour:02d}:{m.minute:02d}:{m.second:02d} +0000"
    )


def parse_esia_timestamp(text: str) -> datetime:
    """Parse ``YYYY.MM.DD HH:MM:SS +0000`` (exactly; only the ``+0000`` offset) to aware UTC."""
    match = _TIMESTAMP_RE.fullmatch(text)
    if match is None:
        raise EsiaTimestampError(
            f"timestamp {text[:40]!r} does not have the form {_TIMESTAMP_FORMAT!r}",
            code="esia.timestamp_invalid",
        )
    year, month, day, hour, minute, second = (int(part) for part in match.groups())
    try:
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError:
        raise EsiaTimestampError(
            f"timestamp {text!r} is not a valid date and time", code="esia.timestamp_invalid"
        ) from None


def check_timestamp(timestamp: str, now: datetime, skew: timedelta) -> datetime:
    """Parse ``timestamp`` and require it to be within ``skew`` of ``now`` either way.

    Returns the parsed moment. Raises ``esia.timestamp_invalid`` for a malformed timestamp and
    ``esia.timestamp_stale`` outside the window (a difference of exactly ``skew`` passes).
    A naive ``now`` or a negative ``skew`` raises ``ValueError``.
    """
    return within_skew(parse_esia_timestamp(timestamp), timestamp, now, skew)
