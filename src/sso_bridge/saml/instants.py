"""SAML instants: the one ``xs:dateTime`` parser (:func:`parse_instant`) and the form
SAML writes them in (:func:`format_instant`)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Final

from sso_bridge.saml.errors import refuse

__all__ = ["MAX_INSTANT", "MIN_INSTANT", "format_instant", "parse_instant"]


def format_instant(moment: datetime) -> str:
    """``moment`` as SAML writes instants: UTC, whole seconds, ``Z``."""
    m = moment.astimezone(UTC)
    return f"{m.year:04d}-{m.month:02d}-{m.day:02d}T{m.hour:02d}:{m.minute:02d}:{m.second:02d}Z"


MIN_INSTANT: Final = datetime(1970, 1, 1, tzinfo=UTC)
MAX_INSTANT: Final = datetime(3000, 1, 1, tzinfo=UTC)
"""Instants read from a message lie in [MIN_INSTANT, MAX_INSTANT): far beyond any real
validity period, and far enough from ``datetime``'s own limits (years 1 and 9999) that
adding a skew, a lifetime or a cache period never overflows."""

_MAX_INSTANT_LENGTH: Final = 64
# xs:dateTime: a four-digit year (more digits, a sign or year 0000 are out of range anyway),
# any number of fractional digits, an optional Z or offset of at most 14:00.
_DATETIME: Final = re.compile(
    r"(-?\d{4,})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)?", re.ASCII
)


def parse_instant(value: str | None, what: str) -> datetime:
    """An ``xs:dateTime`` attribute (``what`` names it in refusals) as an aware UTC datetime.

    No time zone means UTC. ``saml.missing_time`` when absent, ``saml.bad_time`` when not
    an xs:dateTime (a 60th second or an offset beyond 14:00 included) and
    ``saml.time_out_of_range`` outside [:data:`MIN_INSTANT`, :data:`MAX_INSTANT`).
    Fractional seconds are cut to microseconds. Never raises anything else.
    """
    if not value:
        raise refuse("saml.missing_time", f"{what} is missing")
    match = _DATETIME.fullmatch(value) if len(value) <= _MAX_INSTANT_LENGTH else None
    if match is None:
        raise refuse("saml.bad_time", f"{what} is not an xs:dateTime: {value[:40]!r}")
    year_text, month, day, hour, minute, second, fraction, zone = match.groups()
    year = int(year_text)
    # Checked before any arithmetic: one year of margin for the time zone offset.
    if not MIN_INSTANT.year - 1 <= year <= MAX_INSTANT.year:
        raise refuse("saml.time_out_of_range", f"{what} is out of range: {value!r}")
    offset = timedelta(0)
    if zone is not None and zone != "Z":
        hours, minutes = int(zone[1:3]), int(zone[4:6])
        if minutes > 59 or hours * 60 + minutes > 14 * 60:
            raise refuse("saml.bad_time", f"{what} has an impossible time zone: {value!r}")
        offset = timedelta(hours=hours, minutes=minutes) * (-1 if zone[0] == "-" else 1)
    try:
        local = datetime(
            year,
            int(month),
            int(day),
            int(hour),
            int(minute),
            int(second),
            int((fraction or "").ljust(6, "0")[:6]),
            tzinfo=UTC,
        )
    except ValueError:
        raise refuse("saml.bad_time", f"{what} is not an xs:dateTime: {value!r}") from None
    moment = local - offset
    if not MIN_INSTANT <= moment < MAX_INSTANT:
        raise refuse("saml.time_out_of_range", f"{what} is out of range: {value!r}")
    return moment
