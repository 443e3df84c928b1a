"""A clock that says what it is told."""

from __future__ import annotations

import datetime as dt

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
"""The moment fixed clocks show unless told otherwise (whole seconds, as in SAML)."""


class FixedClock:
    """A :class:`~sso_bridge.clock.Clock` that shows ``moment`` until it is moved."""

    def __init__(self, now: dt.datetime = NOW) -> None:
        self.moment = now

    def now(self) -> dt.datetime:
        return self.moment

    def advance(self, by: dt.timedelta) -> None:
        self.moment += by
