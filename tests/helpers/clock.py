"""A clock that says what it is told."""

from __future__ import annotations

import datetime as dt
import os

_SHARED = "SSO_BRIDGE_TEST_NOW"
_given = os.environ.get(_SHARED, "")
NOW = (
    dt.datetime.fromtimestamp(int(_given), dt.UTC)
    if _given.isdigit()
    else dt.datetime.now(dt.UTC).replace(microsecond=0)
)
"""The moment fixed clocks show unless told otherwise (whole seconds, as in SAML).

The same in every process of one run: the first to import it passes it on through the
environment, so that pytest-xdist's workers collect the same parameters (some are times)."""
os.environ.setdefault(_SHARED, str(int(NOW.timestamp())))


class FixedClock:
    """A :class:`~sso_bridge.clock.Clock` that shows ``moment`` until it is moved."""

    def __init__(self, now: dt.datetime = NOW) -> None:
        self.moment = now

    def now(self) -> dt.datetime:
        return self.moment

    def advance(self, by: dt.timedelta) -> None:
        self.moment += by
